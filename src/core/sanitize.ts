/**
 * Every text from the calendar is untrusted. Before it reaches a terminal, a notification, a
 * file shown at login or a log line, it goes through cleanText: escape sequences (CSI, OSC,
 * DCS, SS2/3 and the like) are removed whole, every other control character (C0, DEL, C1) and
 * every bidirectional override or isolate is removed, whitespace runs fold to one space, and
 * the length is capped (in code points) with an ellipsis.
 */

// ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/PM/APC/SOS (terminated by BEL or ST),
// and two-byte escapes. Also their 8-bit C1 forms (U+009B CSI, U+009D OSC, U+0090 DCS ...).
const CSI = /(?:\u001b\[|\u009b)[\u0020-\u003f]*[\u0040-\u007e]?/;
const STRING_SEQ =
  /(?:\u001b[\]P^_X]|[\u009d\u0090\u009e\u009f\u0098])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?/;
const TWO_BYTE = /\u001b[\u0020-\u002f]*[\u0030-\u007e]?/;
const ESCAPES = new RegExp(`${CSI.source}|${STRING_SEQ.source}|${TWO_BYTE.source}`, 'g');
// Remaining C0 (incl. tab/newline, handled as space), DEL, C1.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
// Bidi embedding/override/isolate marks and invisible formatting that can reorder or hide text.
const BIDI = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g;

export const DEFAULT_MAX = 200;

export function cleanText(input: unknown, max: number = DEFAULT_MAX): string {
  if (input === null || input === undefined) return '';
  let s = String(input);
  s = s.replace(/[\t\r\n\v\f]/g, ' ');
  s = s.replace(ESCAPES, '');
  s = s.replace(CONTROLS, '');
  s = s.replace(BIDI, '');
  s = s.replace(/\s+/g, ' ').trim();
  return truncate(s, max);
}

/** Cap to max code points, ending with an ellipsis when cut. */
export function truncate(s: string, max: number): string {
  const cps = Array.from(s);
  if (cps.length <= max) return s;
  if (max <= 1) return cps.slice(0, max).join('');
  return (
    cps
      .slice(0, max - 1)
      .join('')
      .trimEnd() + '…'
  );
}

/** True if the text contains nothing a terminal would interpret. */
export function isClean(s: string): boolean {
  return !/[\u0000-\u001f\u007f-\u009f]/.test(s) && !new RegExp(BIDI.source).test(s);
}
