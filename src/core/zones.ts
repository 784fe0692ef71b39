/**
 * Time zones from the runtime's Intl data (ical.js' TimezoneService starts empty).
 *
 * Wall-clock → instant (zonedToUtc) follows RFC 5545 §3.3.5:
 *  - a wall time that does not exist (spring-forward gap) is read with the offset in force
 *    BEFORE the gap, so 02:30 on the Berlin spring change becomes 03:30 CEST (01:30Z);
 *  - a wall time that exists twice (autumn overlap) is the EARLIER instant (the first pass,
 *    still in summer time), so 02:30 on the Berlin autumn change is 00:30Z.
 */

import { readFileSync } from 'node:fs';
import { parseTzif, type Tzif } from './tzif.js';

export interface WallParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}
export interface ZonedParts extends WallParts {
  /** 0 = Sunday … 6 = Saturday */ weekday: number;
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function fmt(tz: string): Intl.DateTimeFormat {
  let f = fmtCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    fmtCache.set(tz, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/**
 * The system's compiled file for tz (TZDIR or /usr/share/zoneinfo), parsed once; null when
 * there is none. Reading a zone file costs far less than Intl's first use (see tzif.ts).
 */
const zoneFiles = new Map<string, Tzif | null>();
function zoneFile(tz: string): Tzif | null {
  let z = zoneFiles.get(tz);
  if (z === undefined) {
    z = null;
    // Only plain IANA-style names: no "..", no absolute paths, nothing hidden.
    // posix/ and right/ are copies kept for other tools (right/ counts leap seconds); Intl
    // knows neither, and they must not slip through as zone names.
    if (
      /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9][A-Za-z0-9_+-]*)*$/.test(tz) &&
      !/^(posix|right)\//.test(tz) &&
      !/^(posixrules|localtime|Factory)$/.test(tz)
    ) {
      try {
        z = parseTzif(readFileSync(`${process.env.TZDIR || '/usr/share/zoneinfo'}/${tz}`));
      } catch {
        z = null;
      }
    }
    zoneFiles.set(tz, z);
  }
  return z;
}

/** True when the system's zone files or Intl know the zone name. */
export function isValidZone(tz: string): boolean {
  if (!tz) return false;
  if (zoneFile(tz)) return true;
  try {
    fmt(tz);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock parts of instant d in tz. */
export function utcToZoned(d: Date, tz: string): ZonedParts {
  const t = d.getTime();
  const year = Number.isFinite(t) ? d.getUTCFullYear() : NaN;
  if (!(year >= 1900 && year <= 2200)) return intlParts(d, tz);
  const w = new Date(Math.floor(t / 1000) * 1000 + offsetAt(t, tz));
  return {
    year: w.getUTCFullYear(),
    month: w.getUTCMonth() + 1,
    day: w.getUTCDate(),
    hour: w.getUTCHours(),
    minute: w.getUTCMinutes(),
    second: w.getUTCSeconds(),
    weekday: w.getUTCDay(),
  };
}

function intlParts(d: Date, tz: string): ZonedParts {
  const out: Record<string, string> = {};
  for (const p of fmt(tz).formatToParts(d)) out[p.type] = p.value;
  let year = Number(out.year);
  // formatToParts gives era-less years; negative years are out of scope.
  return {
    year,
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour) % 24,
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: WEEKDAYS[out.weekday] ?? 0,
  };
}

function exactOffset(t: number, tz: string): number {
  const ms = Math.floor(t / 1000) * 1000;
  const p = intlParts(new Date(ms), tz);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms;
}

interface YearOffsets {
  start: number;
  changes: { at: number; toOffset: number }[];
}
const yearCache = new Map<string, YearOffsets>();

/**
 * Offsets for one UTC year, found once, then looked up: from the zone file when its table
 * covers the year (or the zone has no DST rule), else with Intl (Intl calls are slow).
 */
function fromTable(z: Tzif, from: number, to: number): YearOffsets {
  let lo = 0,
    hi = z.at.length; // first transition after `from`
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (z.at[mid] <= from) lo = mid + 1;
    else hi = mid;
  }
  const start = lo === 0 ? z.initial : z.offset[lo - 1];
  const changes: { at: number; toOffset: number }[] = [];
  let o = start;
  for (let i = lo; i < z.at.length && z.at[i] < to; i++) {
    if (z.offset[i] !== o) {
      changes.push({ at: z.at[i], toOffset: z.offset[i] });
      o = z.offset[i];
    }
  }
  return { start, changes };
}

function yearOffsets(tz: string, year: number): YearOffsets {
  const key = `${tz}|${year}`;
  let y = yearCache.get(key);
  if (!y) {
    const from = Date.UTC(year, 0, 1);
    const to = Date.UTC(year + 1, 0, 1);
    const z = zoneFile(tz);
    if (z && (!z.ruleAfterTable || (z.at.length > 0 && z.at[z.at.length - 1] >= to)))
      y = fromTable(z, from, to);
    else {
      try {
        y = {
          start: exactOffset(from, tz),
          changes: scan(tz, from, Date.UTC(year + 1, 0, 1), exactOffset).map((c) => ({
            at: c.at,
            toOffset: c.toOffset,
          })),
        };
      } catch (e) {
        // A zone the system knows but this Node's ICU does not (newer tzdata): past the file's
        // table, keep its last offset rather than fail.
        if (!z) throw e;
        y = fromTable(z, from, to);
      }
    }
    if (yearCache.size > 5000) yearCache.clear();
    yearCache.set(key, y);
  }
  return y;
}

/** Offset of tz from UTC at instant t, in milliseconds (east positive), whole seconds. */
export function offsetAt(t: number, tz: string): number {
  if (!Number.isFinite(t)) return 0;
  const year = new Date(t).getUTCFullYear();
  if (year < 1900 || year > 2200) return exactOffset(t, tz);
  const y = yearOffsets(tz, year);
  let o = y.start;
  for (const c of y.changes) {
    if (c.at <= t) o = c.toOffset;
    else break;
  }
  return o;
}

const DAY = 86_400_000;

export function zonedToUtc(parts: WallParts, tz: string): Date {
  const local = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  if (tz === 'UTC' || tz === 'Etc/UTC') return new Date(local);
  const before = offsetAt(local - DAY, tz);
  const after = offsetAt(local + DAY, tz);
  const candidates: number[] = [];
  for (const o of new Set([before, after])) {
    const t = local - o;
    if (offsetAt(t, tz) === o) candidates.push(t);
  }
  if (candidates.length === 0) {
    // Rare: a change within a day of another; try the offset at the naive instant.
    const o = offsetAt(local, tz);
    const t = local - o;
    if (offsetAt(t, tz) === o) candidates.push(t);
  }
  if (candidates.length === 0) return new Date(local - before); // gap: offset before the gap
  return new Date(Math.min(...candidates)); // overlap: earlier instant
}

/** Instants in [from, to] where the zone's offset changes (second precision). */
export function transitions(
  tz: string,
  from: Date,
  to: Date,
): { at: number; fromOffset: number; toOffset: number }[] {
  return scan(tz, from.getTime(), to.getTime(), offsetAt);
}

function scan(
  tz: string,
  fromMs: number,
  toMs: number,
  offsetAt: (t: number, tz: string) => number,
): { at: number; fromOffset: number; toOffset: number }[] {
  const out: { at: number; fromOffset: number; toOffset: number }[] = [];
  const STEP = 7 * DAY;
  let t = fromMs;
  let o = offsetAt(t, tz);
  while (t < toMs) {
    const n = Math.min(t + STEP, toMs);
    const on = offsetAt(n, tz);
    if (on !== o) {
      // binary search the change between t and n; guard a second change inside the step
      let lo = t,
        hi = n;
      while (hi - lo > 1000) {
        const mid = Math.floor((lo + hi) / 2000) * 1000;
        if (mid <= lo) break;
        if (offsetAt(mid, tz) === o) lo = mid;
        else hi = mid;
      }
      const toOffset = offsetAt(hi, tz);
      out.push({ at: hi, fromOffset: o, toOffset });
      t = hi;
      o = toOffset;
      continue;
    }
    t = n;
    o = on;
  }
  return out;
}

function offsetText(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  let s = Math.abs(Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${sign}${p(h)}${p(m)}${s ? p(s) : ''}`;
}

function localStamp(p: WallParts): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const date = `${String(p.year).padStart(4, '0')}${p2(p.month)}${p2(p.day)}`;
  return `${date}T${p2(p.hour)}${p2(p.minute)}${p2(p.second)}`;
}

function abbreviation(tz: string, t: number): string {
  try {
    const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, timeZoneName: 'short' }).formatToParts(
      new Date(t),
    );
    const n = parts.find((x) => x.type === 'timeZoneName')?.value ?? '';
    return n.replace(/[^A-Za-z0-9+\-:]/g, '');
  } catch {
    return '';
  }
}

/** The wall-clock fields at instant t (ms) shifted by offset (ms; 0: read t as wall time). */
export function wallAt(t: number, offset = 0): WallParts {
  const d = new Date(t + offset);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

function isDst(tz: string, t: number, offset: number): boolean {
  const y = new Date(t).getUTCFullYear();
  const jan = offsetAt(Date.UTC(y, 0, 1), tz);
  const jul = offsetAt(Date.UTC(y, 6, 1), tz);
  return offset > Math.min(jan, jul);
}

interface Obs {
  kind: 'STANDARD' | 'DAYLIGHT';
  from: number;
  to: number;
  name: string;
  starts: WallParts[];
  last: number;
}

/**
 * A VTIMEZONE (CRLF text, ending in CRLF) for tz covering [from, to] (padded by a year each
 * side). Observances with a regular yearly pattern (same month, weekday, week-of-month or last
 * week, same local time) get an RRULE (what phones expect); irregular ones get RDATEs. A zone
 * without changes gets one STANDARD observance.
 */
export function vtimezone(tz: string, from: Date, to: Date): string {
  const lo = new Date(Date.UTC(from.getUTCFullYear() - 1, 0, 1));
  const hi = new Date(Date.UTC(to.getUTCFullYear() + 2, 0, 1));
  const trans = transitions(tz, lo, hi);
  const lines = ['BEGIN:VTIMEZONE', `TZID:${tz}`];
  if (trans.length === 0) {
    const o = offsetAt(from.getTime(), tz);
    lines.push(
      'BEGIN:STANDARD',
      'DTSTART:19700101T000000',
      `TZOFFSETFROM:${offsetText(o)}`,
      `TZOFFSETTO:${offsetText(o)}`,
    );
    const name = abbreviation(tz, from.getTime());
    if (name) lines.push(`TZNAME:${name}`);
    lines.push('END:STANDARD');
  } else {
    const groups = new Map<string, Obs>();
    for (const tr of trans) {
      const kind = isDst(tz, tr.at, tr.toOffset) ? 'DAYLIGHT' : 'STANDARD';
      const name = abbreviation(tz, tr.at);
      const key = `${kind}|${tr.fromOffset}|${tr.toOffset}|${name}`;
      let g = groups.get(key);
      if (!g) {
        g = { kind, from: tr.fromOffset, to: tr.toOffset, name, starts: [], last: tr.at };
        groups.set(key, g);
      }
      g.starts.push(wallAt(tr.at, tr.fromOffset));
      g.last = tr.at;
    }
    for (const g of groups.values()) {
      lines.push(
        `BEGIN:${g.kind}`,
        `DTSTART:${localStamp(g.starts[0])}`,
        `TZOFFSETFROM:${offsetText(g.from)}`,
        `TZOFFSETTO:${offsetText(g.to)}`,
      );
      const rule = yearlyRule(g.starts);
      // A rule that stopped before the end of the scanned range gets an UNTIL.
      const stopped = new Date(g.last).getUTCFullYear() < hi.getUTCFullYear() - 1;
      if (rule)
        lines.push(
          `RRULE:${rule}${
            stopped
              ? `;UNTIL=${new Date(g.last)
                  .toISOString()
                  .replace(/[-:]/g, '')
                  .replace(/\.\d{3}/, '')}`
              : ''
          }`,
        );
      // RDATEs repeat the DTSTART too: ical.js ignores DTSTART as an onset once RDATEs exist.
      else if (g.starts.length > 1) for (const s of g.starts) lines.push(`RDATE:${localStamp(s)}`);
      if (g.name) lines.push(`TZNAME:${g.name}`);
      lines.push(`END:${g.kind}`);
    }
  }
  lines.push('END:VTIMEZONE');
  return lines.join('\r\n') + '\r\n';
}

const DAYNAMES = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

function yearlyRule(starts: WallParts[]): string | null {
  if (starts.length < 2) return null;
  const desc = starts.map((s) => {
    const wd = new Date(Date.UTC(s.year, s.month - 1, s.day)).getUTCDay();
    const dim = new Date(Date.UTC(s.year, s.month, 0)).getUTCDate();
    return { s, wd, last: s.day + 7 > dim, nth: Math.ceil(s.day / 7) };
  });
  const a = desc[0];
  for (let i = 0; i < desc.length; i++) {
    const d = desc[i];
    if (d.s.year !== a.s.year + i) return null;
    if (
      d.s.month !== a.s.month ||
      d.wd !== a.wd ||
      d.s.hour !== a.s.hour ||
      d.s.minute !== a.s.minute ||
      d.s.second !== a.s.second
    )
      return null;
  }
  if (desc.every((d) => d.last)) return `FREQ=YEARLY;BYMONTH=${a.s.month};BYDAY=-1${DAYNAMES[a.wd]}`;
  if (desc.every((d) => d.nth === a.nth))
    return `FREQ=YEARLY;BYMONTH=${a.s.month};BYDAY=${a.nth}${DAYNAMES[a.wd]}`;
  return null;
}

/**
 * Windows (Outlook/Exchange) zone names → IANA: CLDR's windowsZones.xml, territory "001" (the
 * zone Windows means when no country is given).
 */
export const WINDOWS_ZONES: Readonly<Record<string, string>> = {
  'Dateline Standard Time': 'Etc/GMT+12',
  'UTC-11': 'Etc/GMT+11',
  'Aleutian Standard Time': 'America/Adak',
  'Hawaiian Standard Time': 'Pacific/Honolulu',
  'Marquesas Standard Time': 'Pacific/Marquesas',
  'Alaskan Standard Time': 'America/Anchorage',
  'UTC-09': 'Etc/GMT+9',
  'UTC-08': 'Etc/GMT+8',
  'Pacific Standard Time (Mexico)': 'America/Tijuana',
  'Pacific Standard Time': 'America/Los_Angeles',
  'US Mountain Standard Time': 'America/Phoenix',
  'Mountain Standard Time (Mexico)': 'America/Mazatlan',
  'Mountain Standard Time': 'America/Denver',
  'Yukon Standard Time': 'America/Whitehorse',
  'Central America Standard Time': 'America/Guatemala',
  'Central Standard Time': 'America/Chicago',
  'Easter Island Standard Time': 'Pacific/Easter',
  'Central Standard Time (Mexico)': 'America/Mexico_City',
  'Canada Central Standard Time': 'America/Regina',
  'SA Pacific Standard Time': 'America/Bogota',
  'Eastern Standard Time (Mexico)': 'America/Cancun',
  'Eastern Standard Time': 'America/New_York',
  'Haiti Standard Time': 'America/Port-au-Prince',
  'Cuba Standard Time': 'America/Havana',
  'US Eastern Standard Time': 'America/Indiana/Indianapolis',
  'Turks And Caicos Standard Time': 'America/Grand_Turk',
  'Paraguay Standard Time': 'America/Asuncion',
  'Atlantic Standard Time': 'America/Halifax',
  'Venezuela Standard Time': 'America/Caracas',
  'Central Brazilian Standard Time': 'America/Cuiaba',
  'SA Western Standard Time': 'America/La_Paz',
  'Pacific SA Standard Time': 'America/Santiago',
  'Newfoundland Standard Time': 'America/St_Johns',
  'Tocantins Standard Time': 'America/Araguaina',
  'E. South America Standard Time': 'America/Sao_Paulo',
  'SA Eastern Standard Time': 'America/Cayenne',
  'Argentina Standard Time': 'America/Argentina/Buenos_Aires',
  'Greenland Standard Time': 'America/Nuuk',
  'Montevideo Standard Time': 'America/Montevideo',
  'Magallanes Standard Time': 'America/Punta_Arenas',
  'Saint Pierre Standard Time': 'America/Miquelon',
  'Bahia Standard Time': 'America/Bahia',
  'UTC-02': 'Etc/GMT+2',
  'Azores Standard Time': 'Atlantic/Azores',
  'Cape Verde Standard Time': 'Atlantic/Cape_Verde',
  UTC: 'UTC',
  'Coordinated Universal Time': 'UTC',
  'GMT Standard Time': 'Europe/London',
  'Greenwich Standard Time': 'Atlantic/Reykjavik',
  'Sao Tome Standard Time': 'Africa/Sao_Tome',
  'Morocco Standard Time': 'Africa/Casablanca',
  'W. Europe Standard Time': 'Europe/Berlin',
  'Central Europe Standard Time': 'Europe/Budapest',
  'Romance Standard Time': 'Europe/Paris',
  'Central European Standard Time': 'Europe/Warsaw',
  'W. Central Africa Standard Time': 'Africa/Lagos',
  'Jordan Standard Time': 'Asia/Amman',
  'GTB Standard Time': 'Europe/Bucharest',
  'Middle East Standard Time': 'Asia/Beirut',
  'Egypt Standard Time': 'Africa/Cairo',
  'E. Europe Standard Time': 'Europe/Chisinau',
  'Syria Standard Time': 'Asia/Damascus',
  'West Bank Standard Time': 'Asia/Hebron',
  'South Africa Standard Time': 'Africa/Johannesburg',
  'FLE Standard Time': 'Europe/Kyiv',
  'Israel Standard Time': 'Asia/Jerusalem',
  'South Sudan Standard Time': 'Africa/Juba',
  'Kaliningrad Standard Time': 'Europe/Kaliningrad',
  'Sudan Standard Time': 'Africa/Khartoum',
  'Libya Standard Time': 'Africa/Tripoli',
  'Namibia Standard Time': 'Africa/Windhoek',
  'Arabic Standard Time': 'Asia/Baghdad',
  'Turkey Standard Time': 'Europe/Istanbul',
  'Arab Standard Time': 'Asia/Riyadh',
  'Belarus Standard Time': 'Europe/Minsk',
  'Russian Standard Time': 'Europe/Moscow',
  'E. Africa Standard Time': 'Africa/Nairobi',
  'Volgograd Standard Time': 'Europe/Volgograd',
  'Iran Standard Time': 'Asia/Tehran',
  'Arabian Standard Time': 'Asia/Dubai',
  'Astrakhan Standard Time': 'Europe/Astrakhan',
  'Azerbaijan Standard Time': 'Asia/Baku',
  'Russia Time Zone 3': 'Europe/Samara',
  'Mauritius Standard Time': 'Indian/Mauritius',
  'Saratov Standard Time': 'Europe/Saratov',
  'Georgian Standard Time': 'Asia/Tbilisi',
  'Caucasus Standard Time': 'Asia/Yerevan',
  'Afghanistan Standard Time': 'Asia/Kabul',
  'West Asia Standard Time': 'Asia/Tashkent',
  'Ekaterinburg Standard Time': 'Asia/Yekaterinburg',
  'Pakistan Standard Time': 'Asia/Karachi',
  'Qyzylorda Standard Time': 'Asia/Qyzylorda',
  'India Standard Time': 'Asia/Kolkata',
  'Sri Lanka Standard Time': 'Asia/Colombo',
  'Nepal Standard Time': 'Asia/Kathmandu',
  'Central Asia Standard Time': 'Asia/Bishkek',
  'Bangladesh Standard Time': 'Asia/Dhaka',
  'Omsk Standard Time': 'Asia/Omsk',
  'Myanmar Standard Time': 'Asia/Yangon',
  'SE Asia Standard Time': 'Asia/Bangkok',
  'Altai Standard Time': 'Asia/Barnaul',
  'W. Mongolia Standard Time': 'Asia/Hovd',
  'North Asia Standard Time': 'Asia/Krasnoyarsk',
  'N. Central Asia Standard Time': 'Asia/Novosibirsk',
  'Tomsk Standard Time': 'Asia/Tomsk',
  'China Standard Time': 'Asia/Shanghai',
  'North Asia East Standard Time': 'Asia/Irkutsk',
  'Singapore Standard Time': 'Asia/Singapore',
  'W. Australia Standard Time': 'Australia/Perth',
  'Taipei Standard Time': 'Asia/Taipei',
  'Ulaanbaatar Standard Time': 'Asia/Ulaanbaatar',
  'Aus Central W. Standard Time': 'Australia/Eucla',
  'Transbaikal Standard Time': 'Asia/Chita',
  'Tokyo Standard Time': 'Asia/Tokyo',
  'North Korea Standard Time': 'Asia/Pyongyang',
  'Korea Standard Time': 'Asia/Seoul',
  'Yakutsk Standard Time': 'Asia/Yakutsk',
  'Cen. Australia Standard Time': 'Australia/Adelaide',
  'AUS Central Standard Time': 'Australia/Darwin',
  'E. Australia Standard Time': 'Australia/Brisbane',
  'AUS Eastern Standard Time': 'Australia/Sydney',
  'West Pacific Standard Time': 'Pacific/Port_Moresby',
  'Tasmania Standard Time': 'Australia/Hobart',
  'Vladivostok Standard Time': 'Asia/Vladivostok',
  'Lord Howe Standard Time': 'Australia/Lord_Howe',
  'Bougainville Standard Time': 'Pacific/Bougainville',
  'Russia Time Zone 10': 'Asia/Srednekolymsk',
  'Magadan Standard Time': 'Asia/Magadan',
  'Norfolk Standard Time': 'Pacific/Norfolk',
  'Sakhalin Standard Time': 'Asia/Sakhalin',
  'Central Pacific Standard Time': 'Pacific/Guadalcanal',
  'Russia Time Zone 11': 'Asia/Kamchatka',
  'New Zealand Standard Time': 'Pacific/Auckland',
  'UTC+12': 'Etc/GMT-12',
  'Fiji Standard Time': 'Pacific/Fiji',
  'Chatham Islands Standard Time': 'Pacific/Chatham',
  'UTC+13': 'Etc/GMT-13',
  'Tonga Standard Time': 'Pacific/Tongatapu',
  'Samoa Standard Time': 'Pacific/Apia',
  'Line Islands Standard Time': 'Pacific/Kiritimati',
};

/**
 * Common abbreviations that are NOT zone names of their own (EST, MST, HST, CET, EET, WET, MET
 * are: the zone database's meaning wins for those). Each names the region's zone, so the wall
 * time is read with the offset that region has on that date ("EDT" in January is read as
 * New York's -05:00). Ambiguous ones are given their most common meaning: CST = US Central,
 * IST = India, BST = British Summer Time. docs/events.md has this table.
 */
export const ABBREVIATIONS: Readonly<Record<string, string>> = {
  EDT: 'America/New_York',
  CST: 'America/Chicago',
  CDT: 'America/Chicago',
  MDT: 'America/Denver',
  PST: 'America/Los_Angeles',
  PDT: 'America/Los_Angeles',
  AKST: 'America/Anchorage',
  AKDT: 'America/Anchorage',
  AST: 'America/Halifax',
  ADT: 'America/Halifax',
  NST: 'America/St_Johns',
  NDT: 'America/St_Johns',
  BRT: 'America/Sao_Paulo',
  ART: 'America/Argentina/Buenos_Aires',
  BST: 'Europe/London',
  IST: 'Asia/Kolkata',
  WEST: 'Europe/Lisbon',
  CEST: 'Europe/Berlin',
  EEST: 'Europe/Athens',
  MSK: 'Europe/Moscow',
  SAST: 'Africa/Johannesburg',
  WAT: 'Africa/Lagos',
  CAT: 'Africa/Maputo',
  EAT: 'Africa/Nairobi',
  PKT: 'Asia/Karachi',
  ICT: 'Asia/Bangkok',
  WIB: 'Asia/Jakarta',
  SGT: 'Asia/Singapore',
  HKT: 'Asia/Hong_Kong',
  JST: 'Asia/Tokyo',
  KST: 'Asia/Seoul',
  AWST: 'Australia/Perth',
  ACST: 'Australia/Adelaide',
  ACDT: 'Australia/Adelaide',
  AEST: 'Australia/Sydney',
  AEDT: 'Australia/Sydney',
  NZST: 'Pacific/Auckland',
  NZDT: 'Pacific/Auckland',
};

/**
 * Map a TZID as calendars write it to a zone name, or null, in this order: Windows names
 * ("W. Europe Standard Time"); UTC/GMT/Z; every name the system's zone database has a file for
 * ("Europe/Berlin", and also "EST", "CET", "EST5EDT", "Japan": what python's icalendar writes);
 * the abbreviations above ("EDT", "JST", any case); "/Europe/Berlin" and
 * "/mozilla.org/20050126_1/Europe/Berlin"-style prefixes (the longest valid trailing path
 * wins). Area/Location names only Intl knows are accepted too, but never Intl's bare
 * three-letter legacy IDs (ICU reads "BST" as Dhaka). Outlook's "(UTC+01:00) Amsterdam, …"
 * labels are NOT mapped.
 */
const resolved = new Map<string, string | null>();

export function resolveTzid(tzid: string | null | undefined): string | null {
  if (!tzid) return null;
  const hit = resolved.get(tzid);
  if (hit !== undefined) return hit;
  const r = resolveUncached(tzid);
  if (resolved.size > 1000) resolved.clear();
  resolved.set(tzid, r);
  return r;
}

function resolveUncached(tzid: string): string | null {
  const t = tzid.trim().replace(/^"|"$/g, '');
  if (Object.hasOwn(WINDOWS_ZONES, t)) return WINDOWS_ZONES[t];
  if (/^(utc|gmt|z|etc\/utc)$/i.test(t)) return 'UTC';
  if (!t.startsWith('/') && zoneFile(t)) return t;
  const abbr = t.toUpperCase();
  if (Object.hasOwn(ABBREVIATIONS, abbr)) return ABBREVIATIONS[abbr];
  if (!t.startsWith('/') && isValidZone(t) && t.includes('/')) return canonical(t);
  const segs = t.split('/').filter(Boolean);
  for (let i = 0; i < segs.length; i++) {
    const cand = segs.slice(i).join('/');
    if (cand.includes('/') && isValidZone(cand)) return canonical(cand);
  }
  return null;
}

function canonical(t: string): string {
  if (zoneFile(t)) return t; // the system knows it; an alias (US/Eastern) works as well as its target
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: t }).resolvedOptions().timeZone;
  } catch {
    return t;
  }
}
