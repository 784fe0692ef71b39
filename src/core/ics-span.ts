/**
 * How late can an event object still occur? A cheap, conservative upper bound read from the
 * iCalendar text without ical.js, so that the cache can leave history (past one-off events,
 * ended series) undecoded and on disk. Pure.
 *
 * Rules (anything not understood is "could occur any time": Infinity):
 *  - the latest DTSTART + duration over all VEVENTs (overridden instances included) and RDATEs;
 *  - RRULE with UNTIL: UNTIL + duration; with COUNT: COUNT × INTERVAL periods (× 7 for a DAILY
 *    rule filtered by BYDAY), only when the other BY parts cannot skip periods (BYDAY without
 *    ordinals, BYHOUR, BYMINUTE, BYSECOND, WKST); no UNTIL and no COUNT: Infinity;
 *  - local and TZID times are read as UTC; MARGIN_MS covers any zone offset and DST.
 *  - no VEVENT at all: Infinity (the decoder then reports what it makes of it).
 */
const MARGIN_MS = 2 * 86_400_000;
const PERIOD_MS: Record<string, number> = {
  SECONDLY: 1000,
  MINUTELY: 60_000,
  HOURLY: 3_600_000,
  DAILY: 86_400_000,
  WEEKLY: 7 * 86_400_000,
};
const SAFE_BY = new Set([
  'BYDAY',
  'BYHOUR',
  'BYMINUTE',
  'BYSECOND',
  'WKST',
  'FREQ',
  'COUNT',
  'INTERVAL',
  'UNTIL',
]);

/** The latest instant (ms) any occurrence of the object can end by, or Infinity if unknown. */
export function lastPossibleEnd(ics: string): number {
  let inEvent = 0;
  let events = 0;
  let latest = -Infinity;
  let ev: { start?: string; end?: string; dur?: string; rrules: string[]; rdates: string[] } = {
    rrules: [],
    rdates: [],
  };
  for (const line of relevantLines(ics)) {
    const colon = valueStart(line);
    if (colon < 0) continue;
    const name = line.slice(0, colon).split(';')[0].toUpperCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'BEGIN' && value.toUpperCase() === 'VEVENT') {
      inEvent++;
      ev = { rrules: [], rdates: [] };
      continue;
    }
    if (name === 'BEGIN' && inEvent) {
      inEvent++;
      continue;
    } // VALARM inside a VEVENT
    if (name === 'END' && inEvent) {
      inEvent--;
      if (inEvent === 0 && value.toUpperCase() === 'VEVENT') {
        events++;
        latest = Math.max(latest, eventEnd(ev));
      }
      continue;
    }
    if (inEvent !== 1) continue;
    if (name === 'DTSTART') ev.start = value;
    else if (name === 'DTEND') ev.end = value;
    else if (name === 'DURATION') ev.dur = value;
    else if (name === 'RRULE') ev.rrules.push(value);
    else if (name === 'RDATE') ev.rdates.push(value);
  }
  if (!events || inEvent) return Infinity;
  return latest === Infinity ? Infinity : latest + MARGIN_MS;
}

function eventEnd(ev: {
  start?: string;
  end?: string;
  dur?: string;
  rrules: string[];
  rdates: string[];
}): number {
  const start = ev.start ? parseTime(ev.start) : NaN;
  if (!Number.isFinite(start)) return Infinity;
  let dur = 0;
  if (ev.end) dur = parseTime(ev.end) - start;
  else if (ev.dur) dur = parseDuration(ev.dur);
  else if (/^\d{8}$/.test(ev.start!)) dur = 86_400_000;
  if (!Number.isFinite(dur)) return Infinity;
  dur = Math.max(0, dur);
  let last = start;
  for (const r of ev.rdates) {
    for (const v of r.split(',')) {
      if (v.includes('/')) return Infinity; // PERIOD values: not worth reading here
      const t = parseTime(v.trim());
      if (!Number.isFinite(t)) return Infinity;
      last = Math.max(last, t);
    }
  }
  for (const r of ev.rrules) last = Math.max(last, ruleEnd(r, start));
  return last + dur;
}

/** The latest start a rule can produce (Infinity when unbounded or not understood). */
function ruleEnd(rule: string, start: number): number {
  const parts = new Map(
    rule.split(';').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).toUpperCase(), p.slice(i + 1)] as [string, string];
    }),
  );
  const until = parts.get('UNTIL');
  if (until) {
    const t = parseTime(until);
    return Number.isFinite(t) ? t : Infinity;
  }
  const count = Number(parts.get('COUNT'));
  if (!Number.isInteger(count) || count < 1) return Infinity;
  const freq = (parts.get('FREQ') ?? '').toUpperCase();
  const period = PERIOD_MS[freq];
  if (!period) return Infinity; // MONTHLY, YEARLY: periods of varying length and skipped months
  for (const [k, v] of parts) {
    if (!SAFE_BY.has(k)) return Infinity;
    if (k === 'BYDAY' && /\d/.test(v)) return Infinity;
  }
  const interval = parts.has('INTERVAL') ? Number(parts.get('INTERVAL')) : 1;
  if (!Number.isInteger(interval) || interval < 1) return Infinity;
  const skip = parts.has('BYDAY') && freq !== 'WEEKLY' ? 7 : 1;
  const filtered =
    parts.has('BYHOUR') || parts.has('BYMINUTE') || parts.has('BYSECOND')
      ? 86_400_000 / Math.min(period, 86_400_000)
      : 1;
  return start + (count + 1) * interval * period * skip * filtered;
}

/** First letters of the properties read here (BEGIN, END, DTSTART, DTEND, DURATION, RRULE, RDATE). */
const WANTED = new Set(['B', 'E', 'D', 'R', 'b', 'e', 'd', 'r']);

/**
 * The unfolded content lines that may matter (one pass, no copy of the whole text): 50,000 objects a
 * first sync.
 */
function* relevantLines(ics: string): Generator<string> {
  let pos = 0;
  let cur: string | null = null;
  while (pos < ics.length) {
    let nl = ics.indexOf('\n', pos);
    if (nl < 0) nl = ics.length;
    const end = nl > pos && ics.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    const c = ics[pos];
    if (c === ' ' || c === '\t') {
      if (cur !== null) cur += ics.slice(pos + 1, end);
    } else {
      if (cur !== null) yield cur;
      cur = WANTED.has(c) ? ics.slice(pos, end) : null;
    }
    pos = nl + 1;
  }
  if (cur !== null) yield cur;
}

/** YYYYMMDD or YYYYMMDDTHHMMSS[Z], read as UTC. */
function parseTime(v: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/i.exec(v);
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
}

function parseDuration(v: string): number {
  const m = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(v);
  if (!m) return NaN;
  const ms =
    ((+(m[2] ?? 0) * 7 + +(m[3] ?? 0)) * 86_400 + +(m[4] ?? 0) * 3600 + +(m[5] ?? 0) * 60 + +(m[6] ?? 0)) *
    1000;
  return m[1] === '-' ? 0 : ms;
}

/** Index of the ':' that ends a content line's name and parameters (outside quotes). */
function valueStart(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ':' && !quoted) return i;
  }
  return -1;
}
