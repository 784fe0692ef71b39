/**
 * Which notices to send now: a pure function of (previous occurrences, new occurrences, now,
 * keys already sent, config). Every notice has a stable key; the host's ledger remembers sent
 * keys so restarts and re-syncs never repeat one. The clock is passed in.
 */
import type { Claim, Occurrence, Announcement } from './types.js';
import type { Config } from '../config/schema.js';
import { cleanText } from './sanitize.js';
import { formatDuration } from './duration.js';
import { localParts } from './format-time.js';
import { rule } from './conflicts.js';

export type NoticeKind =
  | 'new'
  | 'changed'
  | 'released'
  | 'cancelled'
  | 'reminder'
  | 'started'
  | 'ending-soon'
  | 'ended'
  | 'announcement'
  | 'message'
  | 'gpu-use'
  | 'overruled';

export interface Notice {
  /** Stable dedupe key, e.g. "reminder:15m:<uid>:<recurrenceId|start ISO>". */
  key: string;
  kind: NoticeKind;
  urgent: boolean;
  to: 'all' | { users: string[] };
  /** Never to these (the author of the change: nobody is told what they just did). */
  except?: string[];
  title: string;
  body: string;
  at: Date;
  /** Further keys this notice stands for (a coalesced summary); the ledger records them too. */
  covers?: string[];
}

export const TITLE_MAX = 100;
export const BODY_MAX = 300;
/** More 'new'/'changed' notices than this in one run become one summary. */
export const COALESCE_OVER = 3;

export interface PlanOptions {
  /** When the planner last ran (reminder moments before it were handled then). */
  lastRun?: Date;
  /** Moments older than this are stale and never notified (default 2 polls, at least 2 min). */
  staleMs?: number;
  /**
   * Who made the changes this run sees, when a write through the bridge caused it (the CLI's
   * verified caller). Unknown (a phone, another client): the claim's holder.
   */
  author?: string;
}

/** "uid:<recurrenceId|start ISO>": one occurrence at one moment (timed keys use it). */
export function occurrenceKey(o: Occurrence): string {
  return `${o.uid}:${o.recurrenceId ?? o.start.toISOString()}`;
}

/** The same occurrence across edits: the uid, plus the recurrence id for a repeating event. */
function identity(o: Occurrence): string {
  return o.recurring ? `${o.uid}:${o.recurrenceId ?? o.start.toISOString()}` : o.uid;
}

/** Claims grouped by uid, each group in input order. */
function groupByUid(claims: Claim[]): Map<string, Claim[]> {
  const m = new Map<string, Claim[]>();
  for (const c of claims) {
    const g = m.get(c.uid);
    if (g) g.push(c);
    else m.set(c.uid, [c]);
  }
  return m;
}

export function planNotices(
  prev: Occurrence[] | null,
  next: Occurrence[],
  now: Date,
  sent: ReadonlySet<string>,
  config: Config,
  opts: PlanOptions = {},
): Notice[] {
  const t = now.getTime();
  const staleMs = opts.staleMs ?? Math.max(2 * config.bridge.pollMs, 120_000);
  const lastRun = opts.lastRun?.getTime();
  const offsets = [...config.notify.remindersMs].filter((x) => x > 0).sort((a, b) => b - a);
  const fmt = new TimeFormat(config.timezone, now);
  const host = cleanText(config.host, 40);
  const out: Notice[] = [];
  const seen = new Set<string>();
  const add = (n: Notice) => {
    if (sent.has(n.key) || seen.has(n.key)) return;
    seen.add(n.key);
    out.push(n);
  };
  /** A timed moment is due if it passed since lastRun and is not stale (never fire long-past moments). */
  const due = (moment: number) =>
    moment <= t && t - moment <= staleMs && (lastRun === undefined || moment > lastRun);

  const claims = next.filter((o): o is Claim => o.kind === 'claim');
  /**
   * Who a timed notice concerns: everyone when it takes the host from them, else the holder and
   * users of the same resources.
   */
  const concerned = (c: Claim): Notice['to'] => {
    if (c.hog || (c.mode === 'exclusive' && c.resources.length === 0)) return 'all';
    const from = Math.max(t, c.start.getTime());
    const users = new Set([c.user]);
    for (const o of claims) {
      if (o.uid === c.uid || o.end.getTime() <= from || o.start.getTime() >= c.end.getTime()) continue;
      if (c.resources.length && o.resources.length && !o.resources.some((r) => c.resources.includes(r)))
        continue;
      users.add(o.user);
    }
    return { users: [...users].sort() };
  };
  const authorOf = (c: Claim) => opts.author ?? c.user;
  const claimNotice = (
    kind: NoticeKind,
    key: string,
    c: Claim,
    fmt: TimeFormat,
    host: string,
    now: Date,
  ): Notice => {
    const n = claimText(kind, key, c, fmt, host, now);
    if (kind === 'new' || kind === 'changed' || kind === 'released' || kind === 'cancelled')
      n.except = [authorOf(c)];
    else if (kind !== 'ending-soon') n.to = concerned(c);
    return n;
  };
  // occurrence keys that got a new/changed/released/cancelled notice this run
  const diffed = new Set<string>();
  const endedEarly = new Set<string>();

  // 1. Differences with the previous sync (never on the first run: that is not news).
  const changes: Notice[] = [];
  if (prev) {
    const prevClaims = prev.filter((o): o is Claim => o.kind === 'claim');
    // Claims by uid, indexed once: comparing every claim with every other by uid was
    // quadratic (26 s a run at 50,000 events). Insertion order keeps the old uid order.
    const prevByUid = groupByUid(prevClaims);
    const nextByUid = groupByUid(claims);
    const uids = [...new Set([...prevByUid.keys(), ...nextByUid.keys()])];
    for (const uid of uids) {
      const P = prevByUid.get(uid) ?? [];
      const N = nextByUid.get(uid) ?? [];
      const pLive = P.filter((o) => o.end.getTime() > t);
      const nLive = N.filter((o) => o.end.getTime() > t);
      if (!P.length) {
        // New event (back-logged ones that are already over are not news).
        if (nLive.length) {
          changes.push(claimNotice('new', `new:${uid}`, nLive[0], fmt, host, now));
          diffed.add(occurrenceKey(nLive[0]));
        }
        continue;
      }
      const nById = new Map(N.map((o) => [identity(o), o]));
      const pById = new Map(P.map((o) => [identity(o), o]));
      let changed: Claim | null = null;
      const gone: Claim[] = [];
      for (const p of pLive) {
        const o = nById.get(identity(p));
        if (!o) {
          gone.push(p);
          continue;
        }
        // Ended early: end moved to the past while it was running (a release).
        if (o.end.getTime() <= t && p.start.getTime() <= t) {
          add(claimNotice('released', `ended:${occurrenceKey(o)}`, o, fmt, host, now));
          diffed.add(occurrenceKey(o));
          endedEarly.add(occurrenceKey(o));
        } else if (o.end.getTime() <= t) {
          gone.push(p); // a future occurrence moved into the past: as good as cancelled
        } else if (!changed && claimSig(o) !== claimSig(p)) {
          changed = o;
        }
      }
      // Occurrences that appeared: beyond the previous horizon they are only the window moving on.
      const pMax = Math.max(...P.map((o) => o.start.getTime()));
      const appeared = nLive.filter((o) => !pById.has(identity(o)) && o.start.getTime() <= pMax);
      if (appeared.length && (gone.length || !changed)) {
        // The series itself moved (or gained dates): one "changed" for it.
        changed = changed ?? appeared[0];
        gone.length = 0;
      }
      if (changed) {
        changes.push(
          claimNotice(
            'changed',
            `changed:${occurrenceKey(changed)}:${hash(claimSig(changed))}`,
            changed,
            fmt,
            host,
            now,
          ),
        );
        diffed.add(occurrenceKey(changed));
      }
      let cancelled = false;
      for (const p of gone) {
        if (p.start.getTime() <= t) {
          add(claimNotice('released', `ended:${occurrenceKey(p)}`, p, fmt, host, now));
          endedEarly.add(occurrenceKey(p));
        } else if (!cancelled) {
          cancelled = true;
          add(claimNotice('cancelled', `cancelled:${occurrenceKey(p)}`, p, fmt, host, now));
        }
      }
    }
  }

  // 1b. A claim that held and is now overruled (an admin's claim --force): its holder is told,
  //     urgently, with who overrules it and their note (the reason).
  if (prev) {
    const held = new Set(rule(prev.filter((o): o is Claim => o.kind === 'claim')).holds.map(occurrenceKey));
    for (const { claim: c, by } of rule(claims).overruled) {
      if (c.end.getTime() <= t || !held.has(occurrenceKey(c))) continue;
      const why = cleanText(by.note, 120);
      add({
        key: `overruled:${occurrenceKey(c)}:${by.uid}`,
        kind: 'overruled',
        urgent: true,
        to: { users: [c.user] },
        title: cleanText(`Your claim on ${host} is overruled by ${cleanText(by.user, 32)}'s`, TITLE_MAX),
        body: cleanText(
          `${what(c)}, ${fmt.range(c.start, c.end, c.allDay)} · ${cleanText(by.user, 32)}: ` +
            `${what(by)}, ${fmt.range(by.start, by.end, by.allDay)}${why ? ` · "${why}"` : ''}`,
          BODY_MAX,
        ),
        at: now,
      });
    }
  }

  // 2. Timed notices from the new occurrences alone, deduplicated by key.
  for (const o of claims) {
    const k = occurrenceKey(o);
    const s = o.start.getTime();
    const e = o.end.getTime();
    if (endedEarly.has(k)) continue;
    // Reminders before start: only the latest due offset (a 15m and a 5m both due → only 5m).
    if (s > t && !diffed.has(k)) {
      const dueOffsets = offsets.filter((off) => due(s - off));
      const off = dueOffsets[dueOffsets.length - 1];
      if (off !== undefined)
        add(claimNotice('reminder', `reminder:${formatDuration(off)}:${k}`, o, fmt, host, now));
    }
    if (s <= t && e > t && due(s)) add(claimNotice('started', `started:${k}`, o, fmt, host, now));
    if (s <= t && e > t) {
      const dueOffsets = offsets.filter((off) => e - off >= s && due(e - off));
      const off = dueOffsets[dueOffsets.length - 1];
      if (off !== undefined)
        add(claimNotice('ending-soon', `ending-soon:${formatDuration(off)}:${k}`, o, fmt, host, now));
    }
    if (e <= t && due(e)) add(claimNotice('ended', `ended:${k}`, o, fmt, host, now));
  }

  // 3. Announcements: once, when they become active (or appear while active).
  const prevKeys = prev ? new Set(prev.map(occurrenceKey)) : null;
  for (const o of next) {
    if (o.kind !== 'announcement') continue;
    const s = o.start.getTime();
    const e = o.end.getTime();
    if (s > t || e <= t) continue;
    const appeared = prevKeys !== null && !prevKeys.has(occurrenceKey(o));
    if (appeared || due(s)) add(announcementNotice(o, fmt, host, now));
  }

  // 4. Coalesce bursts of new/changed.
  const fresh = changes.filter((n) => !sent.has(n.key) && !seen.has(n.key));
  if (fresh.length > COALESCE_OVER) {
    const who = [...new Set(fresh.map((n) => n.title.split(' ')[0]))];
    add({
      key: `summary:${hash(
        fresh
          .map((n) => n.key)
          .sort()
          .join('|'),
      )}`,
      kind: fresh.some((n) => n.kind === 'new') ? 'new' : 'changed',
      urgent: fresh.some((n) => n.urgent),
      to: 'all',
      ...(new Set(fresh.map((n) => n.except?.[0])).size === 1 && fresh[0].except
        ? { except: fresh[0].except }
        : {}),
      title: cleanText(`${host}: ${fresh.length} claims new or changed`, TITLE_MAX),
      body: cleanText(`by ${who.join(', ')}. Run "hosthog status" to see them.`, BODY_MAX),
      at: now,
      covers: fresh.map((n) => n.key),
    });
  } else {
    for (const n of fresh) add(n);
  }
  return out;
}

/** A message someone sent with `hosthog notify`, signed. */
export function messageNotice(from: string, text: string, now: Date, to?: string[]): Notice {
  const who = cleanText(from, 32) || 'unknown';
  return {
    key: `message:${who}:${now.toISOString()}`,
    kind: 'message',
    urgent: false,
    to: to ? { users: to.map((u) => cleanText(u, 32)) } : 'all',
    except: [who],
    title: cleanText(`Message from ${who}`, TITLE_MAX),
    body: truncateSigned(cleanText(text, BODY_MAX), who),
    at: now,
  };
}

function truncateSigned(text: string, who: string): string {
  const sig = ` — from ${who}`;
  const room = BODY_MAX - Array.from(sig).length;
  return cleanText(text, Math.max(room, 20)) + sig;
}

// ---- texts ----

function what(c: Claim): string {
  const res = c.resources.length ? c.resources.map((r) => cleanText(r, 40)).join(', ') : 'the whole host';
  return `${c.hog ? 'exclusive (hog)' : c.mode}: ${res}`;
}

function claimText(
  kind: NoticeKind,
  key: string,
  c: Claim,
  fmt: TimeFormat,
  host: string,
  now: Date,
): Notice {
  const user = cleanText(c.user, 32) || '?';
  const when = fmt.range(c.start, c.end, c.allDay);
  const left = formatDuration(c.start.getTime() - now.getTime());
  const endsIn = formatDuration(c.end.getTime() - now.getTime());
  const head: Record<string, string> = {
    new: `${user} claimed ${host}`,
    // The calendar says what changed, not who changed it (an admin may have): no "bob cancelled".
    changed: `${user}'s claim on ${host} changed`,
    released: `${user}'s claim on ${host} was released`,
    cancelled: `${user}'s claim on ${host} was cancelled`,
    reminder: `${user}'s claim on ${host} starts in ${left}`,
    started: `${user}'s claim on ${host} started`,
    'ending-soon': `Your claim on ${host} ends in ${endsIn}`,
    ended: `${user}'s claim on ${host} ended`,
  };
  const title = cleanText(head[kind] ?? `${user}: ${kind}`, TITLE_MAX);
  const parts = [`${what(c)}, ${when}${c.recurring ? ' (repeats)' : ''}`];
  // The title usually is the claim grammar ("alice exclusive: paper"): then its note says it all.
  const t = cleanText(c.title, 80);
  const note = cleanText(c.note, 120);
  if (note) parts.push(`"${note}"`);
  else if (t) parts.push(`"${t}"`);
  // Urgent only when it takes something from the reader: a hog locks them out, an exclusive
  // claim on the whole host makes them stop; a claim on some resources or a shared one does not.
  const takes = c.hog || (c.mode === 'exclusive' && c.resources.length === 0);
  const urgent = takes && (kind === 'new' || kind === 'changed' || kind === 'reminder' || kind === 'started');
  return {
    key,
    kind,
    urgent,
    to: kind === 'ending-soon' ? { users: [c.user] } : 'all',
    title,
    body: cleanText(parts.join(' · '), BODY_MAX),
    at: now,
  };
}

function announcementNotice(a: Announcement, fmt: TimeFormat, host: string, now: Date): Notice {
  return {
    key: `announcement:${occurrenceKey(a)}`,
    kind: 'announcement',
    urgent: false,
    to: 'all',
    title: cleanText(`Announcement on ${host}: ${cleanText(a.title, 80)}`, TITLE_MAX),
    body: cleanText(`${cleanText(a.text, 240)} (until ${fmt.at(a.end)})`, BODY_MAX),
    at: now,
  };
}

function claimSig(c: Claim): string {
  return JSON.stringify([
    c.user,
    c.mode,
    c.hog,
    [...c.resources].sort(),
    c.start.getTime(),
    c.end.getTime(),
    c.title,
    c.note,
  ]);
}

/** Small stable hash (FNV-1a 32-bit, hex) for keys. */
export function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Host-zone local times: "14:00" today, "Tue 3 Dec 14:00" otherwise (offsets from zones.ts, no Intl). */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');
class TimeFormat {
  private readonly today: string;
  constructor(
    readonly zone: string,
    now: Date,
  ) {
    this.today = this.day(now);
  }
  private day(d: Date): string {
    const l = localParts(d, this.zone);
    return `${l.y}-${two(l.mo)}-${two(l.d)}`;
  }
  private time(d: Date): string {
    const l = localParts(d, this.zone);
    return `${two(l.h)}:${two(l.mi)}`;
  }
  private date(d: Date): string {
    const l = localParts(d, this.zone);
    return `${l.wd} ${l.d} ${MONTHS[l.mo - 1]}`;
  }
  at(d: Date): string {
    return this.day(d) === this.today ? this.time(d) : `${this.date(d)} ${this.time(d)}`;
  }
  range(s: Date, e: Date, allDay: boolean): string {
    if (allDay) {
      const last = new Date(e.getTime() - 1);
      const a = this.date(s);
      const b = this.date(last);
      return a === b ? `${a} (all day)` : `${a} – ${b}`;
    }
    const sameDay = this.day(s) === this.day(new Date(e.getTime() - 1));
    return `${this.at(s)}–${sameDay ? this.time(e) : this.at(e)}`;
  }
}
