/**
 * Times people type on the command line (--at, --until, --for), read in the host's zone.
 * Pure: the clock (`now`) and the zone are passed in. Wall clock → instant goes through
 * zones.ts (Intl data; DST gaps read with the offset before the gap, overlaps as the earlier
 * instant, RFC 5545 §3.3.5).
 *
 * Accepted forms (case-insensitive):
 *  - instants:   2026-12-01T10:00:00+01:00, 2026-12-01T09:00Z
 *  - host zone:  2026-12-01T10:00, 2026-12-01 14:00, 2026-12-01 (= 00:00 that day)
 *  - relative:   now, +2h, in 5m, in 2 hours, in 1h30m
 *  - clock only: 14:00, 9:00, 9, 9am, 5pm, 5:30pm, noon, midnight
 *      → the NEXT such time after now (today if still ahead, else tomorrow); "midnight" is
 *        therefore the coming 00:00.
 *  - day [+ time]: today 18:00, tomorrow, tomorrow 9:00, friday 18:00, fri, next monday 9:00
 *      → today/tomorrow: that day (even if the time is already past; the planner then refuses).
 *      → weekday: the next such day whose time is still ahead of now ("friday 18:00" on a
 *        Friday at 10:00 is today, at 19:00 is a week later). "next" changes nothing.
 *      → a day without a time means 00:00 that day (like 2026-12-01).
 */
import { UsageError } from './errors.js';
import { parseDuration } from './duration.js';
import { utcToZoned, zonedToUtc } from './zones.js';

export const WHEN_FORMS =
  'use e.g. "18:00", "5pm", "tomorrow 9:00", "fri 18:00", "2026-12-01 14:00", ' +
  '"2026-12-01T14:00:00+01:00", "in 2h", "+30m", "now"';

/** ISO 8601 / "YYYY-MM-DD[ HH:MM[:SS]]" with optional offset. */
const ISO_FORM =
  /^(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(z|[+-]\d{2}(?::?\d{2})?)?)?$/;

const DAY_NAMES: [string[], number][] = [
  [['sunday', 'sun'], 0],
  [['monday', 'mon'], 1],
  [['tuesday', 'tue', 'tues'], 2],
  [['wednesday', 'wed'], 3],
  [['thursday', 'thu', 'thur', 'thurs'], 4],
  [['friday', 'fri'], 5],
  [['saturday', 'sat'], 6],
];
const WEEKDAY = new Map<string, number>(
  DAY_NAMES.flatMap(([names, n]) => names.map((x) => [x, n] as [string, number])),
);

interface Clock {
  hour: number;
  minute: number;
  second: number;
}

function bad(text: string): UsageError {
  return new UsageError(`cannot read the time "${text.slice(0, 60)}"`, WHEN_FORMS);
}

/** Wall-clock date + clock in tz → instant, after checking the fields are a real date. */
function wall(y: number, mo: number, d: number, c: Clock, tz: string, text: string): Date {
  const probe = new Date(Date.UTC(y, mo - 1, d));
  if (mo < 1 || mo > 12 || probe.getUTCDate() !== d || c.hour > 23 || c.minute > 59 || c.second > 59)
    throw bad(text);
  return zonedToUtc({ year: y, month: mo, day: d, ...c }, tz);
}

/** The host-zone date `days` after now's date. */
function dayAfter(
  now: Date,
  tz: string,
  days: number,
): { y: number; mo: number; d: number; weekday: number } {
  const p = utcToZoned(now, tz);
  const t = new Date(Date.UTC(p.year, p.month - 1, p.day + days));
  return { y: t.getUTCFullYear(), mo: t.getUTCMonth() + 1, d: t.getUTCDate(), weekday: t.getUTCDay() };
}

/** "14:00", "9", "9am", "5:30pm", "noon", "midnight", "14:00:30" → clock, or null. */
function parseClock(s: string): Clock | null {
  if (s === 'noon') return { hour: 12, minute: 0, second: 0 };
  if (s === 'midnight') return { hour: 0, minute: 0, second: 0 };
  const m = /^(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?\s*(am|pm|a\.m\.|p\.m\.)?$/.exec(s);
  if (!m) return null;
  let hour = Number(m[1]);
  const minute = m[2] ? Number(m[2]) : 0;
  const second = m[3] ? Number(m[3]) : 0;
  const ampm = m[4]?.replace(/\./g, '');
  if (!m[2] && !ampm && m[1].length > 2) return null;
  if (ampm) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (ampm === 'pm' ? 12 : 0);
  }
  if (hour > 23 || minute > 59 || second > 59) return null;
  return { hour, minute, second };
}

/** Parse a time typed by a person into an instant. Throws UsageError listing the forms. */
export function parseWhen(text: string, now: Date, tz: string): Date {
  const s = text.trim().toLowerCase().replace(/\s+/g, ' ');
  if (!s) throw bad(text);
  if (s === 'now') return new Date(now.getTime());

  // Relative: "+2h", "in 5m", "in 2 hours".
  const rel = /^(?:\+|in )\s*(.+)$/.exec(s);
  if (rel) {
    const ms = parseDuration(rel[1]);
    if (ms === null || ms <= 0) throw bad(text);
    return new Date(now.getTime() + ms);
  }

  // ISO 8601 / "YYYY-MM-DD[ HH:MM[:SS]]" with optional offset.
  const iso = ISO_FORM.exec(s);
  if (iso) {
    const [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    const clock = {
      hour: iso[4] ? Number(iso[4]) : 0,
      minute: iso[5] ? Number(iso[5]) : 0,
      second: iso[6] ? Number(iso[6]) : 0,
    };
    if (iso[7]) {
      // Validate the wall fields, then apply the given offset.
      wall(y, mo, d, clock, 'UTC', text);
      let offMin = 0;
      if (iso[7] !== 'z') {
        const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(iso[7])!;
        offMin = (om[1] === '-' ? -1 : 1) * (Number(om[2]) * 60 + Number(om[3] ?? 0));
        if (Math.abs(offMin) > 18 * 60) throw bad(text);
      }
      return new Date(Date.UTC(y, mo - 1, d, clock.hour, clock.minute, clock.second) - offMin * 60_000);
    }
    return wall(y, mo, d, clock, tz, text);
  }

  // [today|tomorrow|[next] weekday] [clock]
  const words = s.split(' ');
  let dayWord: string | null = null;
  let weekday: number | null = null;
  if (words[0] === 'next' && words.length >= 2 && WEEKDAY.has(words[1])) words.shift();
  if (words[0] === 'today' || words[0] === 'tomorrow') dayWord = words.shift()!;
  else if (WEEKDAY.has(words[0])) {
    weekday = WEEKDAY.get(words[0])!;
    dayWord = words.shift()!;
  }
  const saidAt = words[0] === 'at';
  if (saidAt) words.shift();
  const rest = words.join(' ');
  const clock =
    rest === '' ? (dayWord && !saidAt ? { hour: 0, minute: 0, second: 0 } : null) : parseClock(rest);
  if (!clock) throw bad(text);

  const on = (days: number) => {
    const d = dayAfter(now, tz, days);
    return wall(d.y, d.mo, d.d, clock, tz, text);
  };
  if (dayWord === 'today') return on(0);
  if (dayWord === 'tomorrow') return on(1);
  if (weekday !== null) {
    const today = dayAfter(now, tz, 0).weekday;
    let ahead = (weekday - today + 7) % 7;
    let t = on(ahead);
    if (t.getTime() <= now.getTime()) {
      ahead += 7;
      t = on(ahead);
    }
    return t;
  }
  // Clock only: the next such time.
  const t = on(0);
  return t.getTime() > now.getTime() ? t : on(1);
}

/** "5m", "2h", "3d", "1h30m" → milliseconds (> 0). Throws UsageError otherwise. */
export function parseDurationArg(text: string, allowZero = false): number {
  const ms = parseDuration(text);
  if (ms === null || !(ms > 0 || (allowZero && ms === 0))) {
    throw new UsageError(
      `cannot read the duration "${text.trim().slice(0, 60)}"`,
      'use e.g. "30m", "2h", "3d", "1h30m"',
    );
  }
  return ms;
}

/**
 * An end typed by a person (`--until`), for something starting at `start`. Words that name a
 * day or a distance ("tomorrow 21:00", "friday 9:00", "in 4h", ISO dates) mean what they mean
 * now, as in `--at`; a bare clock time ("18:00", "2am") is the next such time after the start,
 * so `--at 22:00 --until 02:00` ends the next night.
 */
export function parseEnd(text: string, start: Date, now: Date, tz: string): Date {
  const t = parseWhen(text, now, tz);
  if (t.getTime() > start.getTime()) return t;
  const s = text.trim().toLowerCase().replace(/\s+/g, ' ').replace(/^at /, '');
  return parseClock(s) ? parseWhen(s, start, tz) : t;
}

/**
 * A claim's start and end from what a person typed (`--at` or `--in`, then `--for` or
 * `--until`); null end when neither was given. Claims made "now" or "in 5m" start and end on
 * the whole minute, as everything shows them (a claim shown as 16:13–16:23 must not block one
 * at 16:23 by hidden seconds), unless that would leave nothing of a very short claim.
 */
export function claimTimes(
  o: { at?: string; in?: string; for?: string; until?: string },
  now: Date,
  tz: string,
): { start: Date; end: Date | null } {
  const wholeMinute = (t: number) => new Date(Math.floor(t / 60_000) * 60_000);
  const exact = o.at
    ? parseWhen(o.at, now, tz)
    : new Date(now.getTime() + (o.in ? parseDurationArg(o.in, true) : 0)); // --in 0m: now
  const start = o.at ? exact : wholeMinute(exact.getTime());
  const end = o.for
    ? new Date(start.getTime() + parseDurationArg(o.for))
    : o.until
      ? parseEnd(o.until, start, now, tz)
      : null;
  if (!end || o.at) return { start, end };
  const exactEnd = o.for ? new Date(exact.getTime() + parseDurationArg(o.for)) : end;
  const rounded = wholeMinute(exactEnd.getTime());
  return rounded.getTime() > Math.max(start.getTime(), now.getTime())
    ? { start, end: rounded }
    : { start: exact, end: exactEnd };
}
