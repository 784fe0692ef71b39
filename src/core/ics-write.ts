/**
 * Events hosthog writes (encodeEvent) and edits (patchEvent). See docs/events.md.
 * Written events carry a human SUMMARY (formatTitle), CATEGORIES and X-HOSTHOG-* properties;
 * X-HOSTHOG-SUMMARY repeats the SUMMARY so a reader can tell whether a person edited the title
 * in a calendar app since (then the title wins).
 */
import ICAL from 'ical.js';
import type { Mode } from './types.js';
import { UsageError, NotFoundError } from './errors.js';
import { cleanText } from './sanitize.js';
import { formatTitle, USER } from './title.js';
import { escapeText, foldLine, utcStamp } from './ics-text.js';
import { meaningOf, wallOf } from './ics-read.js';
import { isValidZone, resolveTzid, utcToZoned, zonedToUtc, vtimezone, type WallParts } from './zones.js';

export interface ClaimSpec {
  kind: 'claim';
  uid: string;
  host: string;
  user: string;
  mode: Mode;
  hog: boolean;
  resources: string[];
  note: string;
  allow: string[];
  start: Date;
  end: Date;
  timezone: string;
  rrule?: string;
  /** CREATED when not now (a forced claim: booked first, src/core/plan-write.ts). */
  created?: Date;
}
export interface AnnouncementSpec {
  kind: 'announcement';
  uid: string;
  host: string;
  text: string;
  start: Date;
  end: Date;
  timezone: string;
  rrule?: string;
  author?: string;
}
export interface EventPatch {
  start?: Date;
  end?: Date;
  note?: string;
  hog?: boolean;
  allow?: string[];
  mode?: Mode;
  resources?: string[];
  text?: string;
  cancelled?: boolean;
}

export const PRODID = '-//hosthog//hosthog 0.1//EN';
const OURS = new Set(['hosthog', 'claim', 'announcement', 'exclusive', 'shared', 'hog']);
const YEAR = 365 * 86_400_000;

type ICALComp = InstanceType<typeof ICAL.Component>;
type ICALTime = InstanceType<typeof ICAL.Time>;

function localStamp(p: WallParts): string {
  const z = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${z(p.year, 4)}${z(p.month)}${z(p.day)}T${z(p.hour)}${z(p.minute)}${z(p.second)}`;
}
function isUtc(tz: string): boolean {
  return /^(utc|etc\/utc|gmt|etc\/gmt|z)$/i.test(tz);
}

function checkZone(tz: string): string {
  if (isUtc(tz)) return 'UTC';
  if (!isValidZone(tz))
    throw new UsageError(
      `unknown time zone "${cleanText(tz, 60)}"`,
      'use an IANA name such as Europe/Berlin',
    );
  return tz;
}

function checkRrule(rrule: string | undefined): string | undefined {
  if (rrule === undefined || rrule === '') return undefined;
  const r = rrule.replace(/^RRULE:/i, '').trim();
  if (!/^[A-Za-z0-9=;,:+\-]+$/.test(r) || !/FREQ=/i.test(r))
    throw new UsageError(
      `bad recurrence rule "${cleanText(rrule, 80)}"`,
      'e.g. FREQ=WEEKLY;BYDAY=MO;UNTIL=20270301T000000Z',
    );
  try {
    ICAL.Recur.fromString(r);
  } catch {
    throw new UsageError(`bad recurrence rule "${cleanText(rrule, 80)}"`);
  }
  return r.toUpperCase();
}

function untilOf(rrule: string | undefined): Date | null {
  const m = rrule && /UNTIL=(\d{8})(?:T(\d{6})Z?)?/i.exec(rrule);
  if (!m) return null;
  const d = m[1],
    t = m[2] ?? '000000';
  return new Date(
    Date.UTC(
      +d.slice(0, 4),
      +d.slice(4, 6) - 1,
      +d.slice(6, 8),
      +t.slice(0, 2),
      +t.slice(2, 4),
      +t.slice(4, 6),
    ),
  );
}

const USER_NAME = USER; // case kept: "Secdave" and "secdave" are two users
const RESOURCE_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

/** Lower-case (not user names), de-duplicate and check a list of names; a bad name is a UsageError. */
function cleanList(xs: string[], valid: RegExp, what: string): string[] {
  const out: string[] = [];
  for (const x of xs) {
    const c = valid === USER_NAME ? cleanText(x, 64).trim() : cleanText(x, 64).toLowerCase();
    if (!c) continue;
    if (!valid.test(c)) throw new UsageError(`bad ${what} name "${c}"`);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

interface Fields {
  kind: 'claim' | 'announcement';
  user: string;
  mode: Mode;
  hog: boolean;
  resources: string[];
  note: string;
  allow: string[];
  text: string;
  host: string;
  author?: string;
}

function summaryOf(f: Fields): string {
  return f.kind === 'claim'
    ? formatTitle({ user: f.user, mode: f.mode, hog: f.hog, resources: f.resources, note: f.note })
    : f.text;
}

/** [name, raw value already escaped] pairs hosthog owns. */
function hosthogProps(f: Fields): { categories: string[]; x: [string, string][]; summary: string } {
  const summary = summaryOf(f);
  const categories =
    f.kind === 'claim'
      ? ['hosthog', 'claim', f.mode, ...(f.hog ? ['hog'] : [])]
      : ['hosthog', 'announcement'];
  const x: [string, string][] = [
    ['X-HOSTHOG-KIND', f.kind],
    ['X-HOSTHOG-HOST', f.host],
  ];
  if (f.kind === 'claim') {
    x.push(
      ['X-HOSTHOG-USER', f.user],
      ['X-HOSTHOG-MODE', f.mode],
      ['X-HOSTHOG-HOG', f.hog ? 'TRUE' : 'FALSE'],
      ['X-HOSTHOG-RESOURCES', f.resources.join(',')],
      ['X-HOSTHOG-NOTE', f.note],
      ['X-HOSTHOG-ALLOW', f.allow.join(',')],
    );
  } else if (f.author) {
    x.push(['X-HOSTHOG-USER', f.author]);
  }
  x.push(['X-HOSTHOG-SUMMARY', summary]);
  return { categories, x: x.map(([k, v]) => [k, escapeText(v)]), summary };
}

function fieldsOfSpec(spec: ClaimSpec | AnnouncementSpec): Fields {
  const host = cleanText(spec.host, 64);
  if (spec.kind === 'claim') {
    const user = cleanText(spec.user, 33).trim();
    if (!USER_NAME.test(user)) throw new UsageError(`bad user name "${user}"`);
    const hog = !!spec.hog;
    return {
      kind: 'claim',
      user,
      mode: hog ? 'exclusive' : spec.mode === 'exclusive' ? 'exclusive' : 'shared',
      hog,
      resources: cleanList(spec.resources, RESOURCE_NAME, 'resource'),
      note: cleanText(spec.note),
      allow: cleanList(spec.allow, USER_NAME, 'user'),
      text: '',
      host,
    };
  }
  const text = cleanText(spec.text);
  if (!text) throw new UsageError('an announcement needs some text');
  return {
    kind: 'announcement',
    user: '',
    mode: 'shared',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    text,
    host,
    author: spec.author ? cleanText(spec.author, 33).trim() : undefined,
  };
}

export function encodeEvent(spec: ClaimSpec | AnnouncementSpec, now: Date): string {
  const tz = checkZone(spec.timezone);
  if (
    !(spec.start instanceof Date) ||
    isNaN(spec.start.getTime()) ||
    !(spec.end instanceof Date) ||
    isNaN(spec.end.getTime())
  )
    throw new UsageError('start and end must be valid times');
  if (spec.end.getTime() <= spec.start.getTime()) throw new UsageError('the end must be after the start');
  const uid = String(spec.uid ?? '');
  if (!/^[\x21-\x7e]{1,200}$/.test(uid)) throw new UsageError('bad event UID');
  const rrule = checkRrule(spec.rrule);
  const f = fieldsOfSpec(spec);
  const { categories, x, summary } = hosthogProps(f);
  const lines: string[] = ['BEGIN:VCALENDAR', 'VERSION:2.0', `PRODID:${PRODID}`, 'CALSCALE:GREGORIAN'];
  if (tz !== 'UTC') {
    const until = untilOf(rrule);
    const to = rrule ? (until ?? new Date(spec.start.getTime() + 5 * YEAR)) : spec.end;
    lines.push(...vtimezone(tz, spec.start, to).trimEnd().split('\r\n'));
  }
  const when = (d: Date) =>
    tz === 'UTC' ? `:${utcStamp(d)}` : `;TZID=${tz}:${localStamp(utcToZoned(d, tz))}`;
  const stamp = utcStamp(now);
  const created = spec.kind === 'claim' && spec.created ? utcStamp(spec.created) : stamp;
  lines.push(
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${stamp}`,
    `CREATED:${created}`,
    `LAST-MODIFIED:${stamp}`,
    'SEQUENCE:0',
    `SUMMARY:${escapeText(summary)}`,
    `DTSTART${when(spec.start)}`,
    `DTEND${when(spec.end)}`,
  );
  if (rrule) lines.push(`RRULE:${rrule}`);
  lines.push('STATUS:CONFIRMED', 'TRANSP:OPAQUE', `CATEGORIES:${categories.map(escapeText).join(',')}`);
  for (const [k, v] of x) lines.push(`${k}:${v}`);
  lines.push('END:VEVENT', 'END:VCALENDAR');
  return lines.map(foldLine).join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------- patching

function setX(comp: ICALComp, name: string, raw: string): void {
  comp.removeAllProperties(name.toLowerCase());
  const p = new ICAL.Property(name.toLowerCase());
  p.setValue(raw);
  comp.addProperty(p);
}

function bump(comp: ICALComp, now: Date): void {
  const seq = Number(comp.getFirstPropertyValue('sequence') ?? 0);
  comp.updatePropertyWithValue('sequence', (Number.isFinite(seq) ? seq : 0) + 1);
  const t = ICAL.Time.fromJSDate(now, true);
  comp.updatePropertyWithValue('dtstamp', t);
  comp.updatePropertyWithValue('last-modified', t.clone());
}

interface TimeStyle {
  kind: 'utc' | 'tz' | 'date' | 'floating';
  tz: string;
  tzid?: string;
}

/** How the event writes its DTSTART, so new times are written the same way. */
function styleOf(comp: ICALComp, hostTz: string): TimeStyle {
  const p = comp.getFirstProperty('dtstart');
  const v = p?.getFirstValue() as ICALTime | undefined;
  if (!p || !v) return { kind: 'tz', tz: hostTz, tzid: hostTz };
  if (v.isDate) return { kind: 'date', tz: hostTz };
  if ((v as any).zone?.tzid === 'UTC') return { kind: 'utc', tz: 'UTC' };
  const tzid = p.getParameter('tzid') as string | undefined;
  if (!tzid) return { kind: 'floating', tz: hostTz };
  const iana = resolveTzid(tzid);
  if (iana) return { kind: 'tz', tz: iana, tzid };
  return { kind: 'tz', tz: hostTz, tzid: hostTz }; // unknown zone: rewrite in the host zone
}

function setTime(comp: ICALComp, name: string, d: Date, style: TimeStyle, isEnd: boolean): void {
  comp.removeAllProperties(name);
  let t: ICALTime;
  const p = new ICAL.Property(name);
  if (style.kind === 'utc') {
    t = ICAL.Time.fromJSDate(d, true);
  } else if (style.kind === 'date') {
    const z = utcToZoned(d, style.tz);
    let day = Date.UTC(z.year, z.month - 1, z.day);
    if (isEnd && (z.hour || z.minute || z.second)) day += 86_400_000;
    const dd = new Date(day);
    t = ICAL.Time.fromData({
      year: dd.getUTCFullYear(),
      month: dd.getUTCMonth() + 1,
      day: dd.getUTCDate(),
      isDate: true,
    });
    p.resetType('date');
  } else {
    const z = utcToZoned(d, style.tz);
    t = ICAL.Time.fromData({
      year: z.year,
      month: z.month,
      day: z.day,
      hour: z.hour,
      minute: z.minute,
      second: z.second,
      isDate: false,
    });
    if (style.kind === 'tz' && style.tzid) p.setParameter('tzid', style.tzid);
  }
  p.setValue(t);
  comp.addProperty(p);
}

function ensureVtimezone(root: ICALComp, style: TimeStyle, from: Date, to: Date): void {
  if (style.kind !== 'tz' || !style.tzid) return;
  const has = root
    .getAllSubcomponents('vtimezone')
    .some((z) => z.getFirstPropertyValue('tzid') === style.tzid);
  if (has || !isValidZone(style.tzid)) return;
  const vt = new ICAL.Component(ICAL.parse(vtimezone(style.tzid, from, to)) as any);
  root.addSubcomponent(vt);
}

function instantOf(comp: ICALComp, name: string, hostTz: string): Date | null {
  const p = comp.getFirstProperty(name);
  const v = p?.getFirstValue() as ICALTime | undefined;
  if (!p || !v || typeof (v as any).year !== 'number') return null;
  const parts = wallOf(v);
  if ((v as any).zone?.tzid === 'UTC') return zonedToUtc(parts, 'UTC');
  const tzid = p.getParameter('tzid') as string | undefined;
  const iana = v.isDate ? null : resolveTzid(tzid);
  if (iana) return zonedToUtc(parts, iana);
  if (tzid && (v as any).zone?.component) return new Date(v.toUnixTime() * 1000);
  return zonedToUtc(parts, hostTz);
}

function applyFields(comp: ICALComp, patch: EventPatch, host: string | null): void {
  const touches = ['note', 'hog', 'allow', 'mode', 'resources', 'text'].some(
    (k) => (patch as any)[k] !== undefined,
  );
  if (!touches) return;
  const m = meaningOf(comp);
  const f: Fields =
    m.kind === 'claim'
      ? {
          kind: 'claim',
          user: m.user,
          mode: m.mode,
          hog: m.hog,
          resources: m.resources,
          note: m.note,
          allow: m.allow,
          text: '',
          host: host ?? '',
        }
      : {
          kind: 'announcement',
          user: '',
          mode: 'shared',
          hog: false,
          resources: [],
          note: '',
          allow: [],
          text: m.text,
          host: host ?? '',
        };
  if (f.kind === 'claim') {
    if (patch.note !== undefined) f.note = cleanText(patch.note);
    if (patch.resources !== undefined) f.resources = cleanList(patch.resources, RESOURCE_NAME, 'resource');
    if (patch.allow !== undefined) f.allow = cleanList(patch.allow, USER_NAME, 'user');
    if (patch.mode !== undefined) {
      f.mode = patch.mode === 'exclusive' ? 'exclusive' : 'shared';
      if (f.mode === 'shared') f.hog = false;
    }
    if (patch.hog !== undefined) {
      f.hog = !!patch.hog;
      if (f.hog) f.mode = 'exclusive';
    }
  } else if (patch.text !== undefined) {
    const t = cleanText(patch.text);
    if (t) f.text = t;
  }
  if (f.kind === 'announcement') {
    const author = comp.getFirstPropertyValue('x-hosthog-user');
    if (author) f.author = String(author);
  }
  const { categories, x, summary } = hosthogProps(f);
  comp.updatePropertyWithValue('summary', summary);
  // CATEGORIES: keep values that are not ours, then ours.
  const keep: string[] = [];
  for (const p of comp.getAllProperties('categories'))
    for (const v of p.getValues()) {
      const s = String(v);
      if (!OURS.has(s.trim().toLowerCase())) keep.push(s);
    }
  comp.removeAllProperties('categories');
  const cp = new ICAL.Property('categories');
  cp.setValues([...keep, ...categories]);
  comp.addProperty(cp);
  for (const p of comp.getAllProperties()) if (p.name.startsWith('x-hosthog-')) comp.removeProperty(p);
  for (const [k, v] of x) setX(comp, k, v);
}

/**
 * Edit an event as stored (unknown properties, VALARMs and other VEVENTs are kept).
 * Without recurrenceId: the master. With recurrenceId (ISO instant of the occurrence, as
 * decodeObjects reports it): that occurrence's override, created when missing; with
 * `cancelled` the override is dropped and an EXDATE added to the master.
 */
export function patchEvent(
  ics: string,
  patch: EventPatch,
  now: Date,
  opts: { timezone: string; recurrenceId?: string },
): string {
  let root: ICALComp;
  try {
    root = new ICAL.Component(ICAL.parse(ics) as any);
  } catch (err) {
    throw new UsageError(
      `not a valid calendar object: ${cleanText(err instanceof Error ? err.message : String(err), 120)}`,
    );
  }
  const vevents = root.getAllSubcomponents('vevent');
  const master = vevents.find((v) => !v.hasProperty('recurrence-id')) ?? vevents[0];
  if (!master) throw new NotFoundError('the calendar object holds no event');
  const hostTz = opts.timezone;
  const host = master.getFirstPropertyValue('x-hosthog-host');
  const hostName = host === null || host === undefined ? null : String(host);
  const style = styleOf(master, hostTz);

  if (!opts.recurrenceId) {
    const oldStart = instantOf(master, 'dtstart', hostTz);
    const oldEnd = instantOf(master, 'dtend', hostTz);
    if (patch.start || patch.end) {
      const s = patch.start ?? oldStart;
      let e = patch.end ?? oldEnd;
      if (!s) throw new UsageError('the event has no start time');
      if (!e && oldStart && patch.start && !patch.end) e = null;
      if (e && e.getTime() <= s.getTime()) throw new UsageError('the end must be after the start');
      ensureVtimezone(root, style, s, e ?? s);
      if (patch.start) setTime(master, 'dtstart', patch.start, style, false);
      if (patch.end) {
        master.removeAllProperties('duration');
        setTime(master, 'dtend', patch.end, style, true);
      } else if (patch.start && oldEnd && oldStart && master.hasProperty('dtend')) {
        setTime(
          master,
          'dtend',
          new Date(patch.start.getTime() + (oldEnd.getTime() - oldStart.getTime())),
          style,
          true,
        );
      }
    }
    applyFields(master, patch, hostName);
    if (patch.cancelled === true) master.updatePropertyWithValue('status', 'CANCELLED');
    else if (patch.cancelled === false) master.updatePropertyWithValue('status', 'CONFIRMED');
    bump(master, now);
    return root.toString() + '\r\n';
  }

  const rid = new Date(opts.recurrenceId);
  if (isNaN(rid.getTime())) throw new UsageError(`bad occurrence id "${cleanText(opts.recurrenceId, 60)}"`);
  const uid = master.getFirstPropertyValue('uid');
  const existing = vevents.find(
    (v) =>
      v !== master &&
      v.hasProperty('recurrence-id') &&
      instantOf(v, 'recurrence-id', hostTz)?.getTime() === rid.getTime(),
  );
  if (patch.cancelled === true) {
    if (existing) root.removeSubcomponent(existing);
    const p = new ICAL.Property('exdate');
    const tmp = new ICAL.Component('vevent');
    setTime(tmp, 'exdate', rid, style, false);
    const made = tmp.getFirstProperty('exdate')!;
    p.setValue(made.getFirstValue() as any);
    const tzid = made.getParameter('tzid');
    if (tzid) p.setParameter('tzid', tzid as string);
    if (style.kind === 'date') p.resetType('date');
    master.addProperty(p);
    bump(master, now);
    return root.toString() + '\r\n';
  }
  let ov = existing;
  if (!ov) {
    const mStart = instantOf(master, 'dtstart', hostTz);
    const mEnd = instantOf(master, 'dtend', hostTz);
    ov = new ICAL.Component(JSON.parse(JSON.stringify(master.toJSON())));
    for (const name of ['rrule', 'rdate', 'exdate', 'exrule', 'recurrence-id']) ov.removeAllProperties(name);
    setTime(ov, 'recurrence-id', rid, style, false);
    setTime(ov, 'dtstart', rid, style, false);
    if (mStart && mEnd && ov.hasProperty('dtend'))
      setTime(ov, 'dtend', new Date(rid.getTime() + mEnd.getTime() - mStart.getTime()), style, true);
    if (uid) ov.updatePropertyWithValue('uid', uid);
    root.addSubcomponent(ov);
  }
  const oStyle = styleOf(ov, hostTz);
  if (patch.start || patch.end) {
    const oStart = instantOf(ov, 'dtstart', hostTz);
    const oEnd = instantOf(ov, 'dtend', hostTz);
    const s = patch.start ?? oStart!;
    const e =
      patch.end ??
      (oEnd && oStart && patch.start
        ? new Date(patch.start.getTime() + oEnd.getTime() - oStart.getTime())
        : oEnd);
    if (e && e.getTime() <= s.getTime()) throw new UsageError('the end must be after the start');
    ensureVtimezone(root, oStyle, s, e ?? s);
    setTime(ov, 'dtstart', s, oStyle, false);
    if (e) {
      ov.removeAllProperties('duration');
      setTime(ov, 'dtend', e, oStyle, true);
    }
  }
  applyFields(ov, patch, hostName);
  if (patch.cancelled === false) ov.updatePropertyWithValue('status', 'CONFIRMED');
  bump(ov, now);
  return root.toString() + '\r\n';
}
