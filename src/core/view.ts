/**
 * What the host should say right now: the pure summary the motd, `hosthog status` and the
 * JSON output are rendered from. Pure: (snapshot, config, now) → HostView.
 *
 * Decisions:
 *  - Only claims that hold (see rule() in conflicts.ts) appear as active/upcoming.
 *  - active: holding claims with start ≤ now < end, sorted by start.
 *  - upcoming: holding claims with now < start < now + 24 h, sorted by start.
 *  - announcements: those active at now AND those starting within the next 24 h; the renderers
 *    tell them apart by start > now ("from 20:00").
 *  - conflicts: overruled claims that touch [now, now + 24 h).
 *  - exclusiveHolder: the active holding exclusive (or hog) claim on the whole host; a hog one
 *    is preferred if a user holds several.
 *  - stale: when the host never synced, or the last good sync is strictly older than
 *    stalePolls × pollMs (exactly at the limit is still fresh). `since` is when syncs started
 *    failing if known, else null.
 */
import type { Announcement, Claim, Snapshot } from './types.js';
import type { Config } from '../config/schema.js';
import { isExclusive, rule, type Ruling } from './conflicts.js';
import { UsageError } from './errors.js';
import { formatTime } from './format-time.js';

export const HORIZON_MS = 24 * 3_600_000;

export interface HostView {
  host: string;
  now: Date;
  timezone: string;
  /** Holding claims active at now. */
  active: Claim[];
  /** Holding claims starting within the next 24 h (after now). */
  upcoming: Claim[];
  /** Active at now, plus those starting within the next 24 h (start > now). */
  announcements: Announcement[];
  /** Overruled claims that touch [now, now + 24 h). */
  conflicts: { claim: Claim; by: Claim }[];
  /** The active exclusive claim on the whole host, if any. */
  exclusiveHolder: Claim | null;
  /** Set when the last good sync is older than stalePolls × pollMs, or there never was one. */
  stale: { since: Date | null; lastError?: string } | null;
  syncedAt: Date | null;
}

export function isStale(snapshot: Snapshot, config: Config, now: Date): boolean {
  if (!snapshot.syncedAt) return true;
  return now.getTime() - snapshot.syncedAt.getTime() > config.bridge.stalePolls * config.bridge.pollMs;
}

/**
 * The host at `now`. `clock` is the real time, for staleness (`status --at` a week ahead is no
 * reason to call a fresh cache stale); it defaults to `now`.
 */
export function hostView(
  snapshot: Snapshot & { ruling?: PrecomputedRuling },
  config: Config,
  now: Date,
  clock: Date = now,
): HostView {
  const t = now.getTime();
  const horizon = t + HORIZON_MS;
  const claims = snapshot.occurrences.filter((o): o is Claim => o.kind === 'claim');
  const ruling = snapshot.ruling ? applyRuling(claims, snapshot.ruling) : rule(claims);

  const active = ruling.holds.filter((c) => c.start.getTime() <= t && t < c.end.getTime());
  const upcoming = ruling.holds.filter((c) => c.start.getTime() > t && c.start.getTime() < horizon);
  const announcements = snapshot.occurrences
    .filter((o): o is Announcement => o.kind === 'announcement')
    .filter((a) => a.end.getTime() > t && a.start.getTime() < horizon && a.end.getTime() > a.start.getTime())
    .sort((a, b) => a.start.getTime() - b.start.getTime() || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  const conflicts = ruling.overruled.filter(
    ({ claim }) => claim.start.getTime() < horizon && claim.end.getTime() > t,
  );

  const wholeExclusive = active.filter((c) => isExclusive(c) && c.resources.length === 0);
  const exclusiveHolder = wholeExclusive.find((c) => c.hog) ?? wholeExclusive[0] ?? null;

  let stale: HostView['stale'] = null;
  if (isStale(snapshot, config, clock)) {
    stale = { since: snapshot.failingSince ?? null };
    if (snapshot.lastError) stale.lastError = snapshot.lastError;
  }

  return {
    host: config.host,
    now,
    timezone: config.timezone,
    active,
    upcoming,
    announcements,
    conflicts,
    exclusiveHolder,
    stale,
    syncedAt: snapshot.syncedAt,
  };
}

/**
 * Who is overruled by whom, decided over a whole window and stored with a part of it (the
 * snapshot's near part): claim keys, see claimKey.
 */
export interface PrecomputedRuling {
  overruled: [string, string][];
}

/** One occurrence of a claim: uid and recurrence id (or start). */
export function claimKey(c: Claim): string {
  return `${c.uid}\n${c.recurrenceId ?? c.start.toISOString()}`;
}

/** rule()'s answer rebuilt from a stored one (same order: by start, then uid, then recurrence id). */
function applyRuling(claims: Claim[], stored: PrecomputedRuling): Ruling {
  const byKey = new Map(claims.map((c) => [claimKey(c), c]));
  const loser = new Map(stored.overruled);
  const holds: Claim[] = [];
  const overruled: Ruling['overruled'] = [];
  for (const c of claims) {
    const by = loser.get(claimKey(c));
    const winner = by === undefined ? undefined : byKey.get(by);
    if (winner) overruled.push({ claim: c, by: winner });
    else holds.push(c);
  }
  const order = (a: Claim, b: Claim) =>
    a.start.getTime() - b.start.getTime() ||
    cmpStr(a.uid, b.uid) ||
    cmpStr(a.recurrenceId ?? '', b.recurrenceId ?? '');
  holds.sort(order);
  overruled.sort((x, y) => order(x.claim, y.claim));
  return { holds, overruled };
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `status --at`: the cache holds occurrences from `from` to `to` (yesterday to [bridge]
 * window_days ahead); a time whose next 24 h are not all inside would be a guess ("free").
 */
export function checkCovered(at: Date, window: { from?: Date; to?: Date }, tz: string, now: Date): void {
  const { from, to } = window;
  if (!from || !to) return;
  const t = at.getTime();
  if (t >= from.getTime() && t + HORIZON_MS <= to.getTime()) return;
  const cachedTo = formatTime(new Date(to.getTime() - HORIZON_MS), tz, now);
  throw new UsageError(
    `${formatTime(at, tz, now)} is outside what this host has cached ` +
      `(${formatTime(from, tz, now)} to ${cachedTo})`,
    'look further ahead in the calendar app, or raise [bridge] window_days',
  );
}
