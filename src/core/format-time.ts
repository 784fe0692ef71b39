/**
 * Times as people on the host read them: in the host's zone (IANA name), 24-hour clock. Pure;
 * `now` is passed in. Uses Intl, so DST transitions follow the zone database.
 */

import { offsetAt } from './zones.js';

interface Local {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  wd: string;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Wall-clock fields of d in zone tz. */
export function localParts(d: Date, tz: string): Local {
  // The zone's offset (cached per zone and year in zones.ts), then plain UTC arithmetic: no ICU
  // call per formatted time, which keeps listing hundreds of claims fast.
  const l = new Date(d.getTime() + offsetAt(d.getTime(), tz));
  return {
    y: l.getUTCFullYear(),
    mo: l.getUTCMonth() + 1,
    d: l.getUTCDate(),
    h: l.getUTCHours(),
    mi: l.getUTCMinutes(),
    s: l.getUTCSeconds(),
    wd: DAY_NAMES[l.getUTCDay()],
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Calendar days from now's local date to d's local date (negative = past). */
export function dayDiff(d: Date, tz: string, now: Date): number {
  const a = localParts(d, tz);
  const b = localParts(now, tz);
  return Math.round((Date.UTC(a.y, a.mo - 1, a.d) - Date.UTC(b.y, b.mo - 1, b.d)) / 86_400_000);
}

function hm(l: Local): string {
  return `${pad(l.h)}:${pad(l.mi)}`;
}

/** "14:05" today, "Tue 09:00" within 6 days either side, "2026-12-01 09:00" otherwise. */
export function formatTime(d: Date, tz: string, now: Date): string {
  const l = localParts(d, tz);
  const diff = dayDiff(d, tz, now);
  if (diff === 0) return hm(l);
  if (Math.abs(diff) <= 6) return `${l.wd} ${hm(l)}`;
  return `${l.y}-${pad(l.mo)}-${pad(l.d)} ${hm(l)}`;
}

/**
 * "14:05–14:15" (both today), "Tue 09:00–11:00" (same other day),
 * "today 14:00 – Fri 18:00" (different days).
 */
export function formatRange(start: Date, end: Date, tz: string, now: Date): string {
  const ds = dayDiff(start, tz, now);
  const de = dayDiff(end, tz, now);
  if (ds === de) return `${formatTime(start, tz, now)}–${hm(localParts(end, tz))}`;
  const side = (d: Date, diff: number) =>
    diff === 0 ? `today ${formatTime(d, tz, now)}` : formatTime(d, tz, now);
  return `${side(start, ds)} – ${side(end, de)}`;
}

/** Offset of zone tz from UTC at instant d, in minutes (east positive). */
export function offsetMinutes(d: Date, tz: string): number {
  const l = localParts(d, tz);
  const asUtc = Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s);
  const whole = Math.floor(d.getTime() / 1000) * 1000;
  return Math.round((asUtc - whole) / 60_000);
}

/** "2026-12-01T10:00:00+01:00" (milliseconds added only when non-zero). */
export function isoWithOffset(d: Date, tz: string): string {
  const l = localParts(d, tz);
  const off = offsetMinutes(d, tz);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const ms = ((d.getTime() % 1000) + 1000) % 1000;
  const frac = ms ? `.${pad(ms, 3)}` : '';
  const date = `${pad(l.y, 4)}-${pad(l.mo)}-${pad(l.d)}`;
  const time = `${pad(l.h)}:${pad(l.mi)}:${pad(l.s)}${frac}`;
  return `${date}T${time}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** "Sun 2026-11-22 13:10": a full local stamp for headers. */
export function formatStamp(d: Date, tz: string): string {
  const l = localParts(d, tz);
  return `${l.wd} ${l.y}-${pad(l.mo)}-${pad(l.d)} ${hm(l)}`;
}

function dayLabel(d: Date, tz: string, now: Date): string {
  const diff = dayDiff(d, tz, now);
  if (diff === 0) return 'today';
  if (diff === 1) return 'tomorrow';
  const l = localParts(d, tz);
  if (Math.abs(diff) <= 6) return l.wd;
  return `${l.y}-${pad(l.mo)}-${pad(l.d)}`;
}

/** Whole-day events (end exclusive): "all day today", "all day Tue", "Tue – Thu (all day)". */
export function formatDayRange(start: Date, end: Date, tz: string, now: Date): string {
  const last = new Date(Math.max(start.getTime(), end.getTime() - 1));
  const a = dayLabel(start, tz, now);
  const z = dayLabel(last, tz, now);
  return dayDiff(start, tz, now) === dayDiff(last, tz, now) ? `all day ${a}` : `${a} – ${z} (all day)`;
}

/** formatRange, or formatDayRange for whole-day events. */
export function formatSpan(o: { start: Date; end: Date; allDay: boolean }, tz: string, now: Date): string {
  return o.allDay ? formatDayRange(o.start, o.end, tz, now) : formatRange(o.start, o.end, tz, now);
}
