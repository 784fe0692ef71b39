/**
 * The message of the day: what a lab member reads at login. Pure: HostView → text.
 * Every line fits 80 terminal columns (wide characters count 2), at most MOTD_MAX_LINES lines
 * ("+N more" beyond), no control characters: every calendar-derived piece goes through
 * cleanText, every line through fitColumns. Times are in the host's zone.
 */
import { cleanText } from './sanitize.js';
import type { Announcement, Claim } from './types.js';
import type { HostView } from './view.js';
import { formatSpan, formatStamp, formatTime } from './format-time.js';

export const COLS = 80;
export const MOTD_MAX_LINES = 15;

// ---- terminal width ------------------------------------------------------------------------

const ZERO = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const PRESENTATION = /^\p{Emoji_Presentation}$/u;

/** Columns one code point takes: 0 (combining, format), 2 (East Asian wide, emoji), else 1. */
export function codePointWidth(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (cp === 0 || ZERO.test(ch)) return 0;
  if (cp < 0x1100) return 1;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f1e6 && cp <= 0x1f1ff) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return PRESENTATION.test(ch) ? 2 : 1;
}

let segmenter: Intl.Segmenter | undefined;
const PLAIN = /^[\x20-\x7e]*$/;
/**
 * Text where every UTF-16 unit is a grapheme cluster of its own: Latin, punctuation (– … ·),
 * arrows, box drawing and symbols; nothing that combines (marks, ZWJ, variation selectors,
 * regional indicators, surrogate pairs).
 */
const SIMPLE = /^[\x20-\x7e\u00a0-\u02ff\u2010-\u2027\u2030-\u205e\u2190-\u23ff\u2500-\u27bf]*$/;

/**
 * Grapheme clusters of s. Simple text (almost every motd line) is split per character and
 * skips Intl.Segmenter, whose first use loads ICU data (~15 ms of a CLI start).
 */
function clusters(s: string): Iterable<string> {
  if (SIMPLE.test(s)) return s;
  segmenter ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  const it = segmenter.segment(s);
  return {
    *[Symbol.iterator]() {
      for (const x of it) yield x.segment;
    },
  };
}

function clusterWidth(g: string): number {
  if (g.includes('\ufe0f')) return 2; // emoji presentation selector
  let w = 0;
  for (const ch of g) w = Math.max(w, codePointWidth(ch.codePointAt(0)!));
  return w;
}

/** Columns the text takes in a terminal. */
export function displayWidth(s: string): number {
  if (PLAIN.test(s)) return s.length;
  let w = 0;
  for (const segment of clusters(s)) w += clusterWidth(segment);
  return w;
}

/** Split into lines of at most `cols` columns (at spaces when possible), at most maxLines. */
export function wrapColumns(s: string, cols: number, maxLines: number): string[] {
  const lines: string[] = [];
  let rest = s.trim();
  while (rest && lines.length < maxLines) {
    if (displayWidth(rest) <= cols) {
      lines.push(rest);
      rest = '';
      break;
    }
    if (lines.length === maxLines - 1) {
      lines.push(fitColumns(rest, cols));
      rest = '';
      break;
    }
    let cut = '';
    let w = 0;
    for (const segment of clusters(rest)) {
      const cw = clusterWidth(segment);
      if (w + cw > cols) break;
      cut += segment;
      w += cw;
    }
    const space = cut.lastIndexOf(' ');
    if (space > cols / 3) cut = cut.slice(0, space);
    lines.push(cut.trimEnd());
    rest = rest.slice(cut.length).trimStart();
  }
  return lines;
}

/** Cut to at most `cols` columns, ending with "…" when cut; never splits a character. */
export function fitColumns(s: string, cols: number = COLS): string {
  if (displayWidth(s) <= cols) return s;
  let out = '';
  let w = 0;
  for (const segment of clusters(s)) {
    const cw = clusterWidth(segment);
    if (w + cw > cols - 1) break;
    out += segment;
    w += cw;
  }
  return out.trimEnd() + '…';
}

// ---- pieces shared with status-render ------------------------------------------------------

/** Calendar text made safe and short. */
export function clean(s: unknown, max = 200): string {
  return cleanText(s, max);
}

export function who(c: Claim): string {
  return clean(c.user, 32) || '(unknown)';
}

/** "shared", "exclusive", "exclusive, hog" (a hog is always exclusive). */
export function modeText(c: Claim): string {
  return c.hog ? 'exclusive, hog' : c.mode === 'exclusive' ? 'exclusive' : 'shared';
}

export function whereText(c: Claim, max = 40): string {
  if (c.resources.length === 0) return 'whole host';
  return clean(c.resources.map((r) => clean(r, 40)).join(','), max);
}

export function activeLine(c: Claim, v: HostView): string {
  const note = clean(c.note);
  const until = formatTime(c.end, v.timezone, v.now);
  return `${who(c)} · ${modeText(c)} · ${whereText(c)} · until ${until}${note ? ` · ${note}` : ''}`;
}

export function upcomingLine(c: Claim, v: HostView): string {
  const note = clean(c.note);
  const span = formatSpan(c, v.timezone, v.now);
  return `${span} ${who(c)} · ${modeText(c)} · ${whereText(c)}${note ? ` · ${note}` : ''}`;
}

export function announcementLine(a: Announcement, v: HostView): string {
  const when =
    a.start.getTime() > v.now.getTime()
      ? formatSpan(a, v.timezone, v.now)
      : `until ${formatTime(a.end, v.timezone, v.now)}`;
  return `ANNOUNCEMENT ${when}: ${clean(a.text) || clean(a.title) || '(no text)'}`;
}

export function conflictLine(x: { claim: Claim; by: Claim }, v: HostView): string {
  const kind = x.claim.hog ? 'hog' : x.claim.mode === 'exclusive' ? 'exclusive' : 'shared';
  const on = x.claim.resources.length ? ` on ${whereText(x.claim, 24)}` : '';
  const range = formatSpan(x.claim, v.timezone, v.now);
  const holder = who(x.by);
  return `! conflict: ${who(x.claim)}'s ${kind} claim${on} ${range} overlaps ${holder}'s (${holder} holds)`;
}

/** The stale warning, or null when the calendar is fresh. */
export function staleLine(v: HostView): string | null {
  if (!v.stale) return null;
  if (!v.syncedAt) {
    const since = v.stale.since ? ` (failing since ${formatTime(v.stale.since, v.timezone, v.now)})` : '';
    return `! calendar never synced${since}: claims on this host are unknown`;
  }
  const last = formatTime(v.syncedAt, v.timezone, v.now);
  if (v.stale.since) {
    const since = formatTime(v.stale.since, v.timezone, v.now);
    return `! calendar unreachable since ${since} (last sync ${last}): showing what was known`;
  }
  return `! calendar not synced since ${last}: showing what was known`;
}

export function freeLine(v: HostView): string {
  return `${clean(v.host, 64)} is free: no claims in the next 24 h. Claim it: hosthog claim --for 2h`;
}

export function headerLine(v: HostView): string {
  return `${clean(v.host, 64)} · hosthog · ${formatStamp(v.now, v.timezone)} ${clean(v.timezone, 40)}`;
}

/** At most `cap` lines: items beyond become "+N more". */
function capped(items: string[], cap: number, indent: string, what = ''): string[] {
  if (items.length <= cap) return items.map((s) => indent + s);
  const shown = items.slice(0, Math.max(cap - 1, 0)).map((s) => indent + s);
  return [
    ...shown,
    `${indent}+${items.length - shown.length} more${what ? ' ' + what : ''} (hosthog status)`,
  ];
}

/**
 * Announcements, most urgent first: those still to come (within the day: the view holds no
 * later ones), soonest first, are never hidden; then the active ones, newest first, in what is
 * left of two lines.
 */
export function announcementLines(v: HostView): string[] {
  const t = v.now.getTime();
  const coming = v.announcements
    .filter((a) => a.start.getTime() > t)
    .sort((a, b) => a.start.getTime() - b.start.getTime());
  const active = v.announcements
    .filter((a) => a.start.getTime() <= t)
    .sort((a, b) => b.start.getTime() - a.start.getTime());
  const room = Math.max(2 - coming.length, active.length ? 1 : 0);
  return [
    ...coming.map((a) => announcementLine(a, v)),
    ...capped(
      active.map((a) => announcementLine(a, v)),
      room,
      '',
      'announcements',
    ),
  ];
}

/**
 * The motd of a bridge that stopped: what it last said, under a first line that says it may
 * be out of date (the bridge writes it when it stops; nothing else updates the file after).
 */
export function stoppedMotd(last: string, at: Date, zone: string): string {
  const stopped = `! hosthog bridge stopped at ${formatTime(at, zone, at)}`;
  const head = `${stopped}: this may be out of date (hosthog doctor)`;
  const rest = last
    .split('\n')
    .filter((l) => !l.startsWith('! hosthog bridge stopped'))
    .join('\n');
  return fitColumns(head, COLS) + '\n' + rest;
}

// ---- the motd -------------------------------------------------------------------------------

export function renderMotd(view: HostView): string {
  const lines: string[] = [];
  const stale = staleLine(view);
  const neverSynced = view.stale !== null && view.syncedAt === null;
  const busy = view.active.length > 0 || view.upcoming.length > 0;

  if (busy || neverSynced) lines.push(headerLine(view));
  else lines.push(freeLine(view));

  // Budget (15): header 1, NOW 1+3, NEXT 1+4, announcements 2, conflicts 2, stale 1.
  // Sections left empty give their lines to NOW/NEXT.
  const annLines = announcementLines(view);
  const fixed = 1 + annLines.length + Math.min(view.conflicts.length, 2) + (stale ? 1 : 0);
  const room = MOTD_MAX_LINES - fixed; // lines for NOW and NEXT 24H, labels included
  const labels = (view.active.length ? 1 : 0) + (view.upcoming.length ? 1 : 0);
  let used = 0;
  if (view.active.length) {
    const nowCap = Math.max(1, room - labels - Math.min(view.upcoming.length, 4));
    const nowLines = capped(
      view.active.map((c) => activeLine(c, view)),
      nowCap,
      '  ',
    );
    lines.push('NOW:', ...nowLines);
    used = nowLines.length;
  }
  if (view.upcoming.length) {
    const nextCap = Math.max(1, room - labels - used);
    lines.push(
      'NEXT 24H:',
      ...capped(
        view.upcoming.map((c) => upcomingLine(c, view)),
        nextCap,
        '  ',
      ),
    );
  }
  lines.push(...annLines);
  lines.push(
    ...capped(
      view.conflicts.map((x) => conflictLine(x, view)),
      2,
      '',
      'conflicts',
    ),
  );
  if (stale) lines.push(stale);

  return lines.map((l) => fitColumns(l, COLS)).join('\n') + '\n';
}
