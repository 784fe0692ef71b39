/**
 * `hosthog stats`: how the fleet was used over a period. Pure: host snapshots (occurrences
 * decoded over the period: recurring events are expanded, one occurrence each; cancelled
 * occurrences and EXDATEs are already gone), the period, the grouping → plain numbers that
 * the terminal table (stats-render.ts) and the HTML page (stats-html.ts) both draw.
 *
 * Definitions (also in docs/fleet.md):
 *  - claimed hours: the sum of the claims' durations inside the period (two users sharing a
 *    host for an hour count two hours). Claims overruled by the conflict rule do not count.
 *  - share: host or resource rows: the part of the period during which at least one claim was
 *    on it; user rows: the user's part of all claimed hours.
 *  - exclusive hours / hog hours: claimed hours of exclusive (hog included) / hog claims.
 *  - top: the users with the most claimed hours on that row (the hogs), most first.
 */
import type { Claim, Occurrence } from './types.js';
import type { HostSnapshot } from './fleet-types.js';
import { isExclusive, rule } from './conflicts.js';
import { clip, totalMs, union, type Span } from './fleet-intervals.js';
import { offsetAt } from './zones.js';

export type StatsBy = 'host' | 'user' | 'resource';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface StatsRow {
  key: string;
  claimedHours: number;
  share: number;
  exclusiveHours: number;
  hogHours: number;
  top: { user: string; hours: number }[];
}

export interface StatsResult {
  from: Date;
  to: Date;
  by: StatsBy;
  timezone: string;
  rows: StatsRow[];
  totalHours: number;
  /** Per host: the share of each bucket during which the host was claimed. */
  timeline: { host: string; bucketMs: number; buckets: number[] }[];
  /** Claimed hours per user, most first. */
  users: { user: string; hours: number }[];
  /** Claimed hours by local weekday (0 = Monday) and hour of day. */
  heat: number[][];
}

interface Piece {
  host: string;
  user: string;
  res: string[];
  span: Span;
  excl: boolean;
  hog: boolean;
}

/** A claim that holds on its host (the conflict rule), as the statistics count it. */
export interface StatsPiece {
  user: string;
  res: string[];
  start: number;
  end: number;
  excl: boolean;
  hog: boolean;
}

/** One host's claims that hold, whatever the period: what computeStats counts of that host. */
export function statsPieces(occurrences: Occurrence[]): StatsPiece[] {
  return rule(occurrences.filter((o): o is Claim => o.kind === 'claim')).holds.map((c) => ({
    user: c.user,
    res: c.resources,
    start: c.start.getTime(),
    end: c.end.getTime(),
    excl: isExclusive(c),
    hog: c.hog,
  }));
}

const round = (x: number) => Math.round(x * 100) / 100;

export function computeStats(
  hosts: HostSnapshot[],
  opts: { from: Date; to: Date; by: StatsBy; timezone: string },
): StatsResult {
  const from = opts.from.getTime();
  const to = opts.to.getTime();
  const period = Math.max(1, to - from);
  const pieces: Piece[] = [];
  const ofHost = new Map<string, Piece[]>();
  for (const h of hosts) {
    const mine: Piece[] = [];
    for (const c of h.statsPieces ?? statsPieces(h.occurrences)) {
      const span = clip(c.start, c.end, from, to);
      if (span) mine.push({ host: h.host, user: c.user, res: c.res, span, excl: c.excl, hog: c.hog });
    }
    ofHost.set(h.host, [...(ofHost.get(h.host) ?? []), ...mine]);
    for (const p of mine) pieces.push(p);
  }
  const groups = new Map<string, { pieces: Piece[]; cover: Span[] }>();
  const add = (key: string, p: Piece) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { pieces: [], cover: [] }));
    g.pieces.push(p);
    g.cover.push(p.span);
  };
  if (opts.by === 'resource') {
    for (const h of hosts) {
      const mine = ofHost.get(h.host) ?? [];
      const names = h.resources.length ? h.resources : [...new Set(mine.flatMap((p) => p.res))].sort();
      for (const p of mine) {
        if (!names.length) add(`${h.host}/*`, p);
        else for (const r of names) if (p.res.length === 0 || p.res.includes(r)) add(`${h.host}/${r}`, p);
      }
    }
  } else {
    for (const p of pieces) add(opts.by === 'host' ? p.host : p.user, p);
    if (opts.by === 'host')
      for (const h of hosts) if (!groups.has(h.host)) groups.set(h.host, { pieces: [], cover: [] });
  }
  const hours = (ps: Piece[]) => ps.reduce((t, p) => t + (p.span[1] - p.span[0]), 0) / HOUR;
  const totalHours = hours(pieces);
  const perUser = (ps: Piece[]) => {
    const m = new Map<string, number>();
    for (const p of ps) m.set(p.user, (m.get(p.user) ?? 0) + (p.span[1] - p.span[0]) / HOUR);
    return [...m]
      .map(([user, h]) => ({ user, hours: round(h) }))
      .sort((a, b) => b.hours - a.hours || (a.user < b.user ? -1 : 1));
  };
  const rows: StatsRow[] = [...groups]
    .map(([key, g]) => {
      const claimed = hours(g.pieces);
      return {
        key,
        claimedHours: round(claimed),
        share:
          opts.by === 'user' ? (totalHours ? claimed / totalHours : 0) : totalMs(union(g.cover)) / period,
        exclusiveHours: round(hours(g.pieces.filter((p) => p.excl))),
        hogHours: round(hours(g.pieces.filter((p) => p.hog))),
        top: opts.by === 'user' ? [] : perUser(g.pieces).slice(0, 3),
      };
    })
    .sort((a, b) => b.claimedHours - a.claimedHours || (a.key < b.key ? -1 : 1));

  const bucketMs = period <= 3 * DAY ? HOUR : period <= 31 * DAY ? 6 * HOUR : DAY;
  const n = Math.ceil(period / bucketMs);
  const timeline = hosts
    .map((h) => {
      const buckets = new Array<number>(n).fill(0);
      for (const [a, b] of union((ofHost.get(h.host) ?? []).map((p) => p.span))) {
        for (let i = Math.floor((a - from) / bucketMs); i < n && from + i * bucketMs < b; i++) {
          const s = clip(a, b, from + i * bucketMs, from + (i + 1) * bucketMs);
          if (s) buckets[i] += (s[1] - s[0]) / bucketMs;
        }
      }
      return { host: h.host, bucketMs, buckets: buckets.map((x) => Math.min(1, round(x))) };
    })
    .sort((a, b) => (a.host < b.host ? -1 : 1));

  const heat = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  for (const p of pieces) {
    let t = p.span[0];
    // One offset for the whole piece when it is the same at both ends and the piece is shorter
    // than two days (no zone changes its offset twice within two days); else hour by hour.
    const off = offsetAt(t, opts.timezone);
    const same = p.span[1] - t < 2 * DAY && offsetAt(p.span[1], opts.timezone) === off;
    while (t < p.span[1]) {
      const local = t + (same ? off : offsetAt(t, opts.timezone));
      const hourEnd = Math.min(p.span[1], t + (HOUR - (((local % HOUR) + HOUR) % HOUR)));
      const d = new Date(local);
      heat[(d.getUTCDay() + 6) % 7][d.getUTCHours()] += (hourEnd - t) / HOUR;
      t = hourEnd;
    }
  }
  return {
    from: opts.from,
    to: opts.to,
    by: opts.by,
    timezone: opts.timezone,
    rows,
    totalHours: round(totalHours),
    timeline,
    users: perUser(pieces),
    heat: heat.map((r) => r.map(round)),
  };
}
