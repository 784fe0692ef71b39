/**
 * Calendar objects → occurrences in [from, to). Pure, never throws: anything unreadable becomes
 * a `problems` entry. Time rules (docs/events.md):
 *  - DATE (all-day) values are whole days in the host's zone; floating times are host time;
 *  - a TZID that names an IANA zone (also "/Europe/Berlin", "/mozilla.org/…/Europe/Berlin",
 *    Windows names like "W. Europe Standard Time") is converted with Intl (zones.ts), even when
 *    a VTIMEZONE is present; other TZIDs use their VTIMEZONE (anywhere in the VCALENDAR) through
 *    ical.js; an unknown TZID without VTIMEZONE is read as host time, every occurrence marked
 *    "(time zone unknown)" and the object named in `problems` (shown: true);
 *  - recurrence expanded with ical.js in wall-clock time, then each occurrence converted, so
 *    09:00 stays 09:00 local across DST;
 *  - no DTEND: DURATION; else all-day = 1 day, timed = 1 minute (a zero-length claim would be
 *    invisible to "who holds the host now").
 */
import ICAL from 'ical.js';
import type { CalendarObject, Occurrence, Mode, Claim, Announcement } from './types.js';
import { cleanText } from './sanitize.js';
import { readRequests, REQUEST_PROP } from './fleet-request.js';
import { parseTitle, USER } from './title.js';
import { zonedToUtc, utcToZoned, resolveTzid, wallAt, type WallParts } from './zones.js';
import { oversizeProblem } from './oversize.js';

export interface DecodeOptions {
  timezone: string;
  from: Date;
  to: Date;
  /** Occurrences of one series in the window; more are left out and named (default 1000). */
  maxOccurrences?: number;
  /** Expansion budget of one event: CPU ms and iterator steps (defaults 250 ms, 1,000,000). */
  budgetMs?: number;
  budgetSteps?: number;
}
export interface DecodeResult {
  occurrences: Occurrence[];
  /** `shown`: the event is shown anyway (e.g. with an unknown time zone, marked); else it is left out. */
  problems: { href: string; message: string; shown?: boolean }[];
}

type ICALTime = InstanceType<typeof ICAL.Time>;
type ICALComp = InstanceType<typeof ICAL.Component>;
type ICALProp = InstanceType<typeof ICAL.Property>;

const MAX_ITERATIONS = 200_000;

/**
 * The expansion budget. ical.js can spin inside ONE iterator.next() call: for DAILY and
 * finer rules it steps until the rule's filters match, and a rule whose filters never match
 * (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) never returns. Every step of its iterator passes
 * check_contracting_rules (and next_month/next_year for the coarser rules), so those are
 * counted here; past the event's step or time budget they throw OverBudget, and the event is
 * left out and named as a problem. The clock is this process's CPU time (a loaded machine
 * slows the wall clock, not the work), read every 1024 steps only: it bounds the work, it
 * decides nothing about the calendar.
 */
class OverBudget extends Error {}
const budget = { steps: 0, maxSteps: Infinity, deadline: Infinity };
/** CPU time (user + system) of this process, in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function charge(): void {
  budget.steps++;
  if (budget.steps > budget.maxSteps || ((budget.steps & 1023) === 0 && cpuMs() > budget.deadline)) {
    throw new OverBudget();
  }
}
const PATCHED = Symbol.for('hosthog.icalBudget');
const iterProto = (ICAL as any).RecurIterator.prototype;
if (!iterProto[PATCHED]) {
  iterProto[PATCHED] = true;
  for (const name of ['check_contracting_rules', 'next_month', 'next_year']) {
    const orig = iterProto[name] as (...a: unknown[]) => unknown;
    iterProto[name] = function (this: unknown, ...a: unknown[]) {
      charge();
      return orig.apply(this, a);
    };
  }
}
const DAY = 86_400_000;

/** How a time value is turned into an instant. */
type Zone = { kind: 'iana'; tz: string; key: string } | { kind: 'vtz'; zone: any; key: string };

interface Ctx {
  opts: DecodeOptions;
  href: string;
  problems: DecodeResult['problems'];
  unknownZone?: boolean;
}

/** The mark on every occurrence whose TZID is unknown (read in the host's zone). */
export const ZONE_UNKNOWN = '(time zone unknown)';

/** The wall-clock fields of an ical.js time (a DATE is its midnight). */
export function wallOf(t: ICALTime): WallParts {
  return {
    year: t.year,
    month: t.month,
    day: t.day,
    hour: t.isDate ? 0 : t.hour,
    minute: t.isDate ? 0 : t.minute,
    second: t.isDate ? 0 : t.second,
  };
}
function wallMs(p: WallParts): number {
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

function zoneOf(time: ICALTime, prop: ICALProp | null, ctx: Ctx): Zone {
  const host: Zone = { kind: 'iana', tz: ctx.opts.timezone, key: `iana:${ctx.opts.timezone}` };
  if (time.isDate) return host;
  const z = (time as any).zone;
  if (z && z.tzid === 'UTC') return { kind: 'iana', tz: 'UTC', key: 'iana:UTC' };
  const tzid = (prop?.getParameter('tzid') as string | undefined) ?? (time as any).timezone;
  if (!tzid) return host;
  const iana = resolveTzid(String(tzid));
  if (iana) return { kind: 'iana', tz: iana, key: `iana:${iana}` };
  if (z && z.tzid && z.tzid !== 'floating' && z.component)
    return { kind: 'vtz', zone: z, key: `vtz:${z.tzid}` };
  // Read as host time, and said so: every occurrence of this object is marked (decodeObjects),
  // and the problem is named once (doctor lists it as shown, not hidden).
  if (!ctx.unknownZone) {
    const shownAs = `shown in ${ctx.opts.timezone} time, marked ${ZONE_UNKNOWN}`;
    const message = `unknown time zone ${cleanText(tzid, 80)}: ${shownAs}`;
    ctx.problems.push({ href: ctx.href, shown: true, message });
  }
  ctx.unknownZone = true;
  return host;
}

function toInstant(p: WallParts, zone: Zone): Date {
  if (zone.kind === 'iana') return zonedToUtc(p, zone.tz);
  const t = new ICAL.Time({ ...p, isDate: false }, zone.zone);
  return new Date(t.toUnixTime() * 1000);
}

interface Item {
  comp: ICALComp;
  start: ICALTime;
  startZone: Zone;
  allDay: boolean;
  /** end from a start wall time */
  endFor(startWall: WallParts, startInstant: Date): Date;
}

/** An event's UID, cleaned for a problem message. */
function uidText(comp: ICALComp): string {
  return cleanText(String(comp.getFirstPropertyValue('uid') ?? ''), 80);
}

function itemOf(comp: ICALComp, ctx: Ctx): Item | null {
  const sp = comp.getFirstProperty('dtstart');
  const start = sp?.getFirstValue() as ICALTime | undefined;
  if (!sp || !start || typeof (start as any).year !== 'number') {
    if (sp)
      ctx.problems.push({
        href: ctx.href,
        message: `event ${uidText(comp)} has an unreadable DTSTART`,
      });
    return null;
  }
  const startZone = zoneOf(start, sp, ctx);
  const allDay = !!start.isDate;
  const ep = comp.getFirstProperty('dtend');
  const end = ep?.getFirstValue() as ICALTime | undefined;
  let endFor: Item['endFor'];
  if (ep && end && typeof (end as any).year === 'number') {
    const endZone = zoneOf(end, ep, ctx);
    if (endZone.key === startZone.key && !!end.isDate === allDay) {
      const diff = wallMs(wallOf(end)) - wallMs(wallOf(start));
      endFor = (sw) => toInstant(wallAt(wallMs(sw) + diff), startZone);
    } else {
      const abs = toInstant(wallOf(end), endZone).getTime() - toInstant(wallOf(start), startZone).getTime();
      endFor = (_sw, si) => new Date(si.getTime() + abs);
    }
  } else if (comp.hasProperty('duration')) {
    const d = comp.getFirstPropertyValue('duration') as any;
    const sign = d.isNegative ? -1 : 1;
    const days = sign * ((d.weeks ?? 0) * 7 + (d.days ?? 0));
    const secs = sign * ((d.hours ?? 0) * 3600 + (d.minutes ?? 0) * 60 + (d.seconds ?? 0));
    endFor = (sw) => new Date(toInstant(wallAt(wallMs(sw) + days * DAY), startZone).getTime() + secs * 1000);
  } else if (allDay) {
    endFor = (sw) => toInstant(wallAt(wallMs(sw) + DAY), startZone);
  } else {
    endFor = (_sw, si) => new Date(si.getTime() + 60_000);
  }
  // An end at or before the start (a client's bug, or a typo) would show as "12:00–11:00" and
  // take part in conflicts: the event is left out, and doctor names it.
  const s0 = toInstant(wallOf(start), startZone);
  if (endFor(wallOf(start), s0).getTime() <= s0.getTime()) {
    ctx.problems.push({
      href: ctx.href,
      message: `event ${uidText(comp)} does not end after it starts: ignored`,
    });
    return null;
  }
  return { comp, start, startZone, allDay, endFor };
}

function cancelled(comp: ICALComp): boolean {
  return String(comp.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED';
}

/** Undo RFC 5545 TEXT escaping (X- properties arrive raw from ical.js). */
export function unescapeText(s: string): string {
  return s.replace(/\\([\\;,nN])/g, (_m, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

function rawX(comp: ICALComp, name: string): string | null {
  const p = comp.getFirstProperty(name);
  if (!p) return null;
  const v = p.getFirstValue();
  if (v === null || v === undefined) return '';
  return p.type === 'text' ? String(v) : unescapeText(String(v));
}

const RESOURCE_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

/** A comma list from an X- property; invalid names are dropped (user names keep their case). */
function list(s: string | null, valid: RegExp): string[] {
  if (!s) return [];
  const out: string[] = [];
  for (const x of s.split(',')) {
    const c = valid === USER ? cleanText(x, 64).trim() : cleanText(x, 64).toLowerCase();
    if (c && valid.test(c) && !out.includes(c)) out.push(c);
  }
  return out;
}

function truthy(s: string | null): boolean {
  return !!s && /^(true|yes|1)$/i.test(s.trim());
}

type Meaning =
  | {
      kind: 'claim';
      user: string;
      mode: Mode;
      hog: boolean;
      resources: string[];
      note: string;
      allow: string[];
    }
  | { kind: 'announcement'; text: string };

/** What an event means: hosthog's X- properties while the SUMMARY is as hosthog wrote it, else the title. */
export function meaningOf(comp: ICALComp): Meaning {
  const summary = String(comp.getFirstPropertyValue('summary') ?? '');
  const kind = rawX(comp, 'x-hosthog-kind')?.trim().toLowerCase();
  const xsum = rawX(comp, 'x-hosthog-summary');
  const xuser = cleanText(rawX(comp, 'x-hosthog-user') ?? '', 64).trim();
  const allow = list(rawX(comp, 'x-hosthog-allow'), USER);
  if (kind && xsum !== null && xsum === summary) {
    if (kind === 'announcement') return { kind: 'announcement', text: cleanText(summary) };
    if (kind === 'claim' && USER.test(xuser)) {
      const hog = truthy(rawX(comp, 'x-hosthog-hog'));
      const mode: Mode =
        hog || rawX(comp, 'x-hosthog-mode')?.trim().toLowerCase() === 'exclusive' ? 'exclusive' : 'shared';
      return {
        kind: 'claim',
        user: xuser,
        mode,
        hog,
        resources: list(rawX(comp, 'x-hosthog-resources'), RESOURCE_NAME),
        note: cleanText(rawX(comp, 'x-hosthog-note') ?? ''),
        allow,
      };
    }
  }
  // A hosthog event whose title a person edited: its CATEGORIES are hosthog's stale ones too.
  const cats: string[] = [];
  if (!kind)
    for (const p of comp.getAllProperties('categories')) for (const v of p.getValues()) cats.push(String(v));
  const t = parseTitle(summary, cats);
  if (t.kind === 'announcement') return t;
  return { ...t, allow: kind === 'claim' && t.user === xuser ? allow : [] };
}

function dateOf(comp: ICALComp, name: string, ctx: Ctx): Date | undefined {
  const p = comp.getFirstProperty(name);
  const v = p?.getFirstValue() as ICALTime | undefined;
  if (!p || !v || typeof (v as any).year !== 'number') return undefined;
  return toInstant(wallOf(v), zoneOf(v, p, ctx));
}

function makeOccurrence(
  m: Meaning,
  base: Omit<Claim, 'kind' | 'user' | 'mode' | 'hog' | 'resources' | 'note' | 'allow'>,
  comp?: ICALComp,
): Occurrence {
  if (m.kind === 'claim') {
    const requests = comp?.hasProperty(REQUEST_PROP) ? readRequests(comp) : [];
    return {
      kind: 'claim',
      ...base,
      user: m.user,
      mode: m.mode,
      hog: m.hog,
      resources: m.resources,
      note: m.note,
      allow: m.allow,
      ...(requests.length ? { requests } : {}),
    } as Claim;
  }
  return { kind: 'announcement', ...base, text: m.text } as Announcement;
}

function decodeOne(obj: CalendarObject, ctx: Ctx, out: Occurrence[]): void {
  const { from, to } = ctx.opts;
  const max = ctx.opts.maxOccurrences ?? 1000;
  const parsed = ICAL.parse(obj.data) as any;
  const jcals: any[] = Array.isArray(parsed[0]) ? parsed : [parsed];
  const vevents: ICALComp[] = [];
  for (const j of jcals) {
    const c = new ICAL.Component(j);
    if (c.name === 'vevent') vevents.push(c);
    else vevents.push(...c.getAllSubcomponents('vevent'));
  }
  if (vevents.length === 0) return;
  const byUid = new Map<string, { master?: ICALComp; overrides: ICALComp[] }>();
  for (const v of vevents) {
    const uid = v.getFirstPropertyValue('uid');
    if (!uid || !String(uid).trim()) {
      ctx.problems.push({ href: ctx.href, message: 'event without UID ignored' });
      continue;
    }
    const key = String(uid);
    let g = byUid.get(key);
    if (!g) {
      g = { overrides: [] };
      byUid.set(key, g);
    }
    if (v.hasProperty('recurrence-id')) g.overrides.push(v);
    else if (g.master)
      ctx.problems.push({ href: ctx.href, message: `duplicate event ${cleanText(key, 80)} ignored` });
    else g.master = v;
  }
  const inWindow = (s: Date, e: Date) => s < to && (e > from || (e.getTime() === s.getTime() && s >= from));

  for (const [uidRaw, g] of byUid) {
    const uid = cleanText(uidRaw, 200);
    const mark = out.length;
    budget.steps = 0;
    budget.maxSteps = ctx.opts.budgetSteps ?? 1_000_000;
    budget.deadline = cpuMs() + (ctx.opts.budgetMs ?? 250);
    try {
      expandGroup(uid, g, obj, ctx, out, max, inWindow);
    } catch (e) {
      if (!(e instanceof OverBudget)) throw e;
      out.length = mark;
      const tooCostly = 'its repeat rule is too costly to expand (over the time or step budget)';
      const message = `event ${uid}: ${tooCostly}: left out`;
      ctx.problems.push({ href: ctx.href, message });
    } finally {
      budget.maxSteps = Infinity;
      budget.deadline = Infinity;
    }
  }
}

type Group = { master?: ICALComp; overrides: ICALComp[] };

function expandGroup(
  uid: string,
  g: Group,
  obj: CalendarObject,
  ctx: Ctx,
  out: Occurrence[],
  max: number,
  inWindow: (s: Date, e: Date) => boolean,
): void {
  const { to } = ctx.opts;
  {
    const base = (
      comp: ICALComp,
      start: Date,
      end: Date,
      allDay: boolean,
      recurring: boolean,
      recurrenceId: string | undefined,
      created: Date | undefined,
    ) => ({
      uid,
      href: obj.href,
      recurring,
      start,
      end,
      allDay,
      title: cleanText(comp.getFirstPropertyValue('summary') ?? ''),
      ...(recurrenceId ? { recurrenceId } : {}),
      ...(created ? { created } : {}),
    });
    if (!g.master) {
      // Overrides without their master: show each as it stands.
      for (const o of g.overrides) {
        if (cancelled(o)) continue;
        const it = itemOf(o, ctx);
        if (!it) {
          if (!o.hasProperty('dtstart'))
            ctx.problems.push({ href: ctx.href, message: `event ${uid} has no DTSTART` });
          continue;
        }
        const s = toInstant(wallOf(it.start), it.startZone);
        const e = it.endFor(wallOf(it.start), s);
        const rid = dateOf(o, 'recurrence-id', ctx);
        if (inWindow(s, e))
          out.push(
            makeOccurrence(
              meaningOf(o),
              base(
                o,
                s,
                e,
                it.allDay,
                true,
                rid?.toISOString(),
                dateOf(o, 'created', ctx) ?? dateOf(o, 'dtstamp', ctx),
              ),
              o,
            ),
          );
      }
      return;
    }
    const master = g.master;
    if (cancelled(master)) return;
    const mItem = itemOf(master, ctx);
    if (!mItem) {
      if (!master.hasProperty('dtstart'))
        ctx.problems.push({ href: ctx.href, message: `event ${uid} has no DTSTART` });
      return;
    }
    const created = dateOf(master, 'created', ctx) ?? dateOf(master, 'dtstamp', ctx);
    const event = new ICAL.Event(master, { strictExceptions: false, exceptions: g.overrides } as any);
    const masterMeaning = meaningOf(master);
    if (!event.isRecurring()) {
      const s = toInstant(wallOf(mItem.start), mItem.startZone);
      const e = mItem.endFor(wallOf(mItem.start), s);
      if (inWindow(s, e))
        out.push(
          makeOccurrence(masterMeaning, base(master, s, e, mItem.allDay, false, undefined, created), master),
        );
      return;
    }
    // EXDATEs and RECURRENCE-IDs are matched by instant as well (ical.js matches them by
    // wall-clock text, which misses e.g. a UTC EXDATE against a TZID known only to Intl).
    const exdates = new Set<number>();
    const exdays = new Set<string>();
    for (const p of master.getAllProperties('exdate')) {
      for (const v of p.getValues() as ICALTime[]) {
        if (!v || typeof (v as any).year !== 'number') continue;
        if (v.isDate && !mItem.allDay) exdays.add(`${v.year}-${v.month}-${v.day}`);
        else exdates.add(toInstant(wallOf(v), zoneOf(v, p, ctx)).getTime());
      }
    }
    const byRid = new Map<number, ICALComp>();
    for (const o of g.overrides) {
      const r = dateOf(o, 'recurrence-id', ctx);
      if (r) byRid.set(r.getTime(), o);
    }
    const items = new Map<ICALComp, Item | null>();
    const iter = event.iterator();
    let n = 0,
      emitted = 0;
    const stopAt = to.getTime() + 31 * DAY;
    for (let next = iter.next(); next; next = iter.next()) {
      if (++n > MAX_ITERATIONS) {
        ctx.problems.push({
          href: ctx.href,
          message: `event ${uid}: recurrence expansion stopped after ${MAX_ITERATIONS} steps`,
        });
        break;
      }
      // An RDATE may be written in UTC while DTSTART has a zone: then its wall time is UTC.
      const nextZone: Zone =
        (next as any).zone?.tzid === 'UTC' && mItem.startZone.key !== 'iana:UTC'
          ? { kind: 'iana', tz: 'UTC', key: 'iana:UTC' }
          : mItem.startZone;
      let ridWall = wallOf(next);
      let rid = toInstant(ridWall, nextZone);
      if (nextZone !== mItem.startZone && mItem.startZone.kind === 'iana') {
        const z = utcToZoned(rid, mItem.startZone.tz);
        ridWall = {
          year: z.year,
          month: z.month,
          day: z.day,
          hour: z.hour,
          minute: z.minute,
          second: z.second,
        };
        rid = toInstant(ridWall, mItem.startZone);
      }
      if (rid.getTime() >= stopAt) break;
      if (exdates.has(rid.getTime()) || exdays.has(`${ridWall.year}-${ridWall.month}-${ridWall.day}`))
        continue;
      // RANGE=THISANDFUTURE overrides are left to ical.js; plain ones are matched above.
      const ranged = (event as any).rangeExceptions?.length
        ? event.getOccurrenceDetails(next).item?.component
        : undefined;
      const comp: ICALComp = byRid.get(rid.getTime()) ?? ranged ?? master;
      let it: Item | null = mItem;
      let sw = ridWall;
      if (comp !== master) {
        if (cancelled(comp)) continue;
        if (!items.has(comp)) items.set(comp, itemOf(comp, ctx));
        it = items.get(comp) ?? null;
        if (!it) continue;
        sw = wallOf(it.start);
      }
      const s = toInstant(sw, it.startZone);
      const e = it.endFor(sw, s);
      if (!inWindow(s, e)) continue;
      if (emitted >= max) {
        ctx.problems.push({
          href: ctx.href,
          message: `event ${uid}: more than ${max} occurrences in the window, rest ignored`,
        });
        break;
      }
      emitted++;
      const meaning = comp === master ? masterMeaning : meaningOf(comp);
      out.push(
        makeOccurrence(meaning, base(comp, s, e, mItem.allDay, true, rid.toISOString(), created), master),
      );
    }
  }
}

export function decodeObjects(objects: Iterable<CalendarObject>, opts: DecodeOptions): DecodeResult {
  const parts: { href: string; occurrences: Occurrence[] }[] = [];
  const problems: DecodeResult['problems'] = [];
  for (const obj of objects) {
    const href = obj?.href ?? '';
    const ctx: Ctx = { opts, href, problems };
    const mine: Occurrence[] = [];
    const oversize = oversizeProblem(obj?.data ?? '');
    if (oversize) {
      problems.push({ href, message: oversize });
      continue;
    }
    try {
      decodeOne(obj, ctx, mine);
      parts.push({ href, occurrences: ctx.unknownZone ? mine.map(markZoneUnknown) : mine });
    } catch (err) {
      const why = cleanText(err instanceof Error ? err.message : String(err), 160);
      problems.push({ href, message: `unreadable calendar object: ${why}` });
    }
  }
  const occurrences = withUniqueUids(parts, problems);
  occurrences.sort(occurrenceOrder);
  return { occurrences, problems };
}

/**
 * One UID, one event: a UID is unique in a calendar (CalDAV servers refuse a second), but two
 * files in a vdir can share one, and the copies would hide each other's conflicts. The object
 * with the smallest href keeps the UID; the others are left out and named as problems.
 */
export function withUniqueUids(
  parts: { href: string; occurrences: Occurrence[] }[],
  problems: DecodeResult['problems'],
): Occurrence[] {
  const owner = new Map<string, string>();
  for (const p of parts)
    for (const o of p.occurrences) {
      const h = owner.get(o.uid);
      if (h === undefined || p.href < h) owner.set(o.uid, p.href);
    }
  const out: Occurrence[] = [];
  for (const p of parts) {
    let dup: string | null = null;
    for (const o of p.occurrences) {
      if (owner.get(o.uid) === p.href) out.push(o);
      else dup = o.uid;
    }
    if (dup !== null)
      problems.push({
        href: p.href,
        message:
          `UID ${cleanText(dup, 80)} is also used by ` +
          `${cleanText(owner.get(dup)!.split('/').pop(), 80)}: this copy is ignored`,
      });
  }
  return out;
}

/** The occurrence with the unknown-zone mark where people read it (claim note, announcement text). */
function markZoneUnknown(o: Occurrence): Occurrence {
  const title = `${o.title} ${ZONE_UNKNOWN}`.trim();
  if (o.kind === 'claim') return { ...o, title, note: `${o.note} ${ZONE_UNKNOWN}`.trim() };
  return { ...o, title, text: `${o.text} ${ZONE_UNKNOWN}`.trim() };
}

/** Plain code-unit order (localeCompare would load ICU collation data into the bridge). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The one order of occurrences everywhere: by start, end, uid, recurrence id. */
export function occurrenceOrder(a: Occurrence, b: Occurrence): number {
  return (
    a.start.getTime() - b.start.getTime() ||
    a.end.getTime() - b.end.getTime() ||
    cmp(a.uid, b.uid) ||
    cmp(a.recurrenceId ?? '', b.recurrenceId ?? '')
  );
}
