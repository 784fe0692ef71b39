/**
 * `--repeat` text → an RRULE value (no "RRULE:" prefix, no DTSTART). Pure.
 *
 * The rrule package only reads the "how often" part (RRule.parseText, after our own
 * normalisation); the END of the rule ("until …", "for 10 times", "for 3 weeks") is read
 * here, because rrule reads dates in the process's zone (see caldav-field-notes.md). rrule is
 * never used to expand occurrences.
 *
 * Accepted, e.g.:
 *   every monday until 2027-03-01     every weekday for 10 times    daily for 10 times
 *   every 2 weeks                     weekly until march 2027       every mon and wed until fri
 *   every other day for 2 weeks       fortnightly                   FREQ=WEEKLY;COUNT=3 (raw)
 * End forms:
 *   until <day>    → UNTIL = the last second (23:59:59) of that day in the host zone, as UTC.
 *                    <day>: 2027-03-01, "march 1 2027", "1 march 2027", "march 2027" (= March 1,
 *                    as rrule reads it), or anything parseWhen reads ("friday", "tomorrow"),
 *                    taken relative to the first start.
 *   for N times / N times / for N occurrences → COUNT=N
 *   for <days/weeks> (e.g. "for 3 weeks") → UNTIL = end of the day before firstStart + that span.
 * Frequencies finer than daily are refused. A rule without an end is returned as is; the
 * planner refuses it (claims must end).
 */
import rrule from 'rrule';
import { UsageError } from './errors.js';
import { parseDuration } from './duration.js';
import { parseWhen } from './when.js';
import { utcToZoned, zonedToUtc } from './zones.js';

const { RRule } = rrule;

const HINT =
  'use e.g. "every monday until 2027-03-01", "every weekday for 10 times", ' +
  '"daily for 2 weeks", "every 2 weeks until june 2027"';
const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const ALLOWED_FREQ = new Set(['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY']);
/** Words the "how often" part may use (rrule's parseText silently skips others). */
const KNOWN_WORD = new RegExp(
  '^(?:every|other|and|on|the|in|of|day|days|week|weeks|month|months|year|years|weekday|weekdays|last|' +
    '\\d+|\\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|' +
    '(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|' +
    '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)|' +
    'january|february|march|april|june|july|august|september|october|november|december)$',
);
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function bad(text: string, why = 'cannot read the repeat rule'): UsageError {
  return new UsageError(`${why} "${text.trim().slice(0, 80)}"`, HINT);
}

function monthOf(word: string): number | null {
  const w = word.replace(/\.$/, '');
  if (w.length < 3) return null;
  const i = MONTHS.findIndex((m) => m.startsWith(w));
  return i < 0 ? null : i + 1;
}

function utcStamp(d: Date): string {
  const date = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  return `${date}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
}

/** The last second of a day in tz, as UTC "YYYYMMDDTHHMMSSZ". */
function endOfDay(y: number, mo: number, d: number, tz: string): string {
  return utcStamp(zonedToUtc({ year: y, month: mo, day: d, hour: 23, minute: 59, second: 59 }, tz));
}

function validDay(y: number, mo: number, d: number): boolean {
  const t = new Date(Date.UTC(y, mo - 1, d));
  return (
    mo >= 1 && mo <= 12 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d
  );
}

/** "until X" → UNTIL value (end of the named day in tz). */
function readUntil(x: string, firstStart: Date, tz: string, text: string): string {
  const s = x.trim().replace(/,/g, ' ').replace(/\s+/g, ' ');
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!validDay(y, mo, d)) throw bad(text, 'no such day in the repeat rule');
    return endOfDay(y, mo, d, tz);
  }
  // "march 1 2027", "march 1st 2027", "1 march 2027", "march 2027"
  const words = s.split(' ');
  m = /^(\d{1,2})(?:st|nd|rd|th)?$/.exec(words[1] ?? '');
  if (words.length === 3 && monthOf(words[0]) && m && /^\d{4}$/.test(words[2])) {
    const [y, mo, d] = [Number(words[2]), monthOf(words[0])!, Number(m[1])];
    if (!validDay(y, mo, d)) throw bad(text, 'no such day in the repeat rule');
    return endOfDay(y, mo, d, tz);
  }
  m = /^(\d{1,2})(?:st|nd|rd|th)?$/.exec(words[0]);
  if (words.length === 3 && m && monthOf(words[1]) && /^\d{4}$/.test(words[2])) {
    const [y, mo, d] = [Number(words[2]), monthOf(words[1])!, Number(m[1])];
    if (!validDay(y, mo, d)) throw bad(text, 'no such day in the repeat rule');
    return endOfDay(y, mo, d, tz);
  }
  if (words.length === 2 && monthOf(words[0]) && /^\d{4}$/.test(words[1])) {
    return endOfDay(Number(words[1]), monthOf(words[0])!, 1, tz);
  }
  let when: Date;
  try {
    when = parseWhen(s, firstStart, tz);
  } catch {
    throw bad(text, 'cannot read the end date of the repeat rule');
  }
  const p = utcToZoned(when, tz);
  return endOfDay(p.year, p.month, p.day, tz);
}

/** Split "…how often… [until X | for N times | for SPAN]" into parts. */
function splitEnd(s: string, firstStart: Date, tz: string, text: string): { freq: string; end?: string } {
  let m = /^(.*?)\s*\buntil\b\s*(.+)$/.exec(s);
  if (m) return { freq: m[1], end: `UNTIL=${readUntil(m[2], firstStart, tz, text)}` };
  m = /^(.*?)\s*(?:\bfor\s+)?(\d+)\s*(?:x|times?|occurrences?)$/.exec(s);
  if (m) {
    const n = Number(m[2]);
    if (n < 1) throw bad(text, 'a repeat rule needs at least 1 time in');
    return { freq: m[1], end: `COUNT=${n}` };
  }
  m = /^(.*?)\s*\bx\s*(\d+)$/.exec(s);
  if (m && Number(m[2]) >= 1) return { freq: m[1], end: `COUNT=${Number(m[2])}` };
  m = /^(.*?)\s*\bfor\s+(.+)$/.exec(s);
  if (m) {
    const ms = parseDuration(m[2].replace(/^an? /, '1 '));
    if (ms === null || ms < 86_400_000 || ms % 86_400_000 !== 0)
      throw bad(text, 'cannot read how long it repeats in');
    const p = utcToZoned(firstStart, tz);
    const last = new Date(Date.UTC(p.year, p.month - 1, p.day + ms / 86_400_000 - 1));
    return {
      freq: m[1],
      end: `UNTIL=${endOfDay(last.getUTCFullYear(), last.getUTCMonth() + 1, last.getUTCDate(), tz)}`,
    };
  }
  return { freq: s };
}

function normaliseFreq(f: string): string {
  let s = f
    .trim()
    .replace(/^repeat(?:ing)?\s+/, '')
    .replace(/[.;]+$/, '');
  s = s
    .replace(/\bfortnightly\b/, 'every 2 weeks')
    .replace(/\bevery fortnight\b/, 'every 2 weeks')
    .replace(/\bevery other\b/, 'every 2')
    .replace(/\b(?:work ?days?|weekdays)\b/, 'weekday')
    .replace(/^on\s+/, 'every ')
    .replace(/^each\s+/, 'every ');
  const adverb: Record<string, string> = {
    daily: 'every day',
    weekly: 'every week',
    monthly: 'every month',
    yearly: 'every year',
    annually: 'every year',
  };
  s = s.replace(/^(daily|weekly|monthly|yearly|annually)\b/, (w) => adverb[w]);
  if (!s.startsWith('every')) s = `every ${s}`;
  // "every 2 week" → rrule wants the plural; "every 1 week" → "every week".
  s = s
    .replace(/^every 1 (day|week|month|year)s?\b/, 'every $1')
    .replace(/^every (\d+) (day|week|month|year)\b(?!s)/, 'every $1 $2s');
  return s.replace(/\s+/g, ' ').trim();
}

/** rrule options string → our canonical value: FREQ first, no DTSTART/UNTIL/COUNT. */
function canonical(parts: string[]): string[] {
  const kept = parts.filter((p) => p && !/^(DTSTART|UNTIL|COUNT|WKST)=/.test(p));
  kept.sort((a, b) => (a.startsWith('FREQ=') ? -1 : b.startsWith('FREQ=') ? 1 : 0));
  return kept;
}

/** Parse `--repeat` text. Returns the RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270301T225959Z". */
export function parseRepeat(text: string, firstStart: Date, tz: string): string {
  const s = text.trim().toLowerCase().replace(/\s+/g, ' ');
  if (!s) throw bad(text);

  let parts: string[];
  let end: string | undefined;
  if (/^(rrule:)?freq=/.test(s)) {
    // Raw RRULE: validate, and turn a DATE-valued UNTIL into the end of that day in tz.
    const raw = text
      .trim()
      .replace(/^rrule:/i, '')
      .toUpperCase();
    try {
      RRule.parseString(raw);
    } catch {
      throw bad(text, 'not a valid RRULE');
    }
    const all = raw.split(';').filter(Boolean);
    const u = all.find((p) => p.startsWith('UNTIL='));
    const c = all.find((p) => p.startsWith('COUNT='));
    if (u && c) throw bad(text, 'an RRULE has UNTIL or COUNT, not both:');
    if (u) {
      const v = u.slice(6);
      const d = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
      if (d) end = `UNTIL=${endOfDay(Number(d[1]), Number(d[2]), Number(d[3]), tz)}`;
      else if (/^\d{8}T\d{6}Z$/.test(v)) end = u;
      else throw bad(text, 'UNTIL must be a date or a UTC time (…Z) in');
    } else if (c) end = c;
    parts = canonical(all);
  } else {
    const split = splitEnd(s, firstStart, tz, text);
    end = split.end;
    const freq = normaliseFreq(split.freq);
    const unknown = freq.split(/[\s,]+/).filter((w) => w && !KNOWN_WORD.test(w));
    if (unknown.length) throw bad(text, `cannot read "${unknown[0].slice(0, 20)}" in the repeat rule`);
    let opts;
    try {
      opts = RRule.parseText(freq);
    } catch {
      throw bad(text);
    }
    if (!opts || opts.freq === undefined || opts.freq === null) throw bad(text);
    parts = canonical(
      RRule.optionsToString(opts)
        .replace(/^RRULE:/, '')
        .split(';'),
    );
    // parseText ignores words it does not know; make sure it understood all of it.
    const back = new RRule({ ...opts }).toText().toLowerCase();
    if (!/^every/.test(back)) throw bad(text);
  }
  const freq = parts.find((p) => p.startsWith('FREQ='))?.slice(5);
  if (!freq || !ALLOWED_FREQ.has(freq)) throw bad(text, 'claims repeat at most daily; cannot use');
  const value = [...parts, ...(end ? [end] : [])].join(';');
  try {
    RRule.parseString(value);
  } catch {
    throw bad(text);
  }
  if (!daysExist(parts)) throw bad(text, 'the repeat rule never occurs (no such day in those months):');
  return value;
}

/** Longest month lengths (February 29 exists in leap years). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Does some BYMONTHDAY exist in some BYMONTH? "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30" never
 * occurs, and a calendar reader stepping day by day to find it never stops.
 */
function daysExist(parts: string[]): boolean {
  const nums = (key: string) =>
    parts
      .find((p) => p.startsWith(`${key}=`))
      ?.slice(key.length + 1)
      .split(',')
      .map(Number);
  const days = nums('BYMONTHDAY');
  if (!days) return true;
  const months = nums('BYMONTH') ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  return days.some((d) =>
    months.some((m) => m >= 1 && m <= 12 && d !== 0 && Math.abs(d) <= MONTH_DAYS[m - 1]),
  );
}

/** True when the rule has an end (COUNT or UNTIL). */
export function repeatEnds(rruleValue: string): boolean {
  return /(^|;)(COUNT|UNTIL)=/i.test(rruleValue.replace(/^RRULE:/i, ''));
}

/** "every week on Monday until 2027-03-01" — the UNTIL date is shown in tz (default: process zone). */
export function describeRepeat(
  rruleValue: string,
  tz: string = Intl.DateTimeFormat().resolvedOptions().timeZone,
): string {
  const parts = rruleValue
    .replace(/^RRULE:/i, '')
    .split(';')
    .filter(Boolean);
  const until = parts.find((p) => /^UNTIL=/i.test(p));
  const rest = parts.filter((p) => !/^UNTIL=/i.test(p)).join(';');
  let text: string;
  try {
    text = RRule.fromString(rest).toText();
  } catch {
    text = rest;
  }
  if (!until) return text;
  const v = until.slice(6);
  const d = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/i.exec(v);
  if (!d) return `${text} until ${v}`;
  if (!d[4] || !d[7]) return `${text} until ${d[1]}-${d[2]}-${d[3]}`;
  const inst = new Date(
    Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]), Number(d[4]), Number(d[5]), Number(d[6])),
  );
  const p = utcToZoned(inst, tz);
  return `${text} until ${p.year}-${pad(p.month)}-${pad(p.day)}`;
}
