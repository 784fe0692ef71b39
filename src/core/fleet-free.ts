/**
 * `hosthog free`: which hosts (or resources) are free for a window, best first. Pure: host
 * snapshots, the request, now → ranked options.
 *
 * A host (or resource) is usable when no HOLDING claim of another user that overlaps the
 * window would conflict with the claim asked for (the rule of src/core/conflicts.ts: an
 * exclusive claim on either side conflicts; a whole-host claim covers every resource).
 * Ranking: usable for the whole window first, then fewest other users on the host during the
 * window, then most free resources (nobody on them at all), then the earliest it becomes
 * usable, then the name. A host whose calendar could not be read now is marked stale and
 * ranked after the current ones (never called free on old data without saying so).
 */
import type { Claim } from './types.js';
import type { HostSnapshot } from './fleet-types.js';
import { isExclusive, rule } from './conflicts.js';
import { formatDuration } from './duration.js';

export interface FreeRequest {
  start: Date;
  end: Date;
  /** Resources (GPUs) wanted; undefined = the whole host. */
  gpus?: number;
  exclusive: boolean;
  /** The asking user: their own claims never block them. */
  me: string;
}

export interface FreeOption {
  host: string;
  /** Usable for the whole window. */
  whole: boolean;
  /**
   * When not whole: the earliest start ≥ request start with the whole duration usable (null: not within
   * the data).
   */
  from: Date | null;
  /** Other users with claims on the host during the window. */
  others: string[];
  /** Resources nobody else claims during the window. */
  freeResources: string[];
  /** Resources to claim (empty = the whole host). */
  take: string[];
  stale: boolean;
  /** The command that claims it. */
  command: string;
}

const overlaps = (c: Claim, a: number, b: number) => c.start.getTime() < b && a < c.end.getTime();
const covers = (c: Claim, r: string) => c.resources.length === 0 || c.resources.includes(r);

/** The other users' holding claims that would block a claim on `res` ([] = whole host) in [a, b). */
function blockers(claims: Claim[], res: string[], a: number, b: number, exclusive: boolean): Claim[] {
  return claims.filter(
    (c) =>
      overlaps(c, a, b) &&
      (exclusive || isExclusive(c)) &&
      (res.length === 0 || c.resources.length === 0 || res.some((r) => covers(c, r))),
  );
}

/** Resources usable in [a, b) (for a --gpus request). */
function usable(claims: Claim[], resources: string[], a: number, b: number, exclusive: boolean): string[] {
  return resources.filter((r) => blockers(claims, [r], a, b, exclusive).length === 0);
}

export function findFree(hosts: HostSnapshot[], req: FreeRequest, now: Date): FreeOption[] {
  const a = req.start.getTime();
  const b = req.end.getTime();
  const dur = b - a;
  const out: FreeOption[] = [];
  for (const h of hosts) {
    if (req.gpus !== undefined && h.resources.length < req.gpus) continue;
    const all = h.occurrences.filter((o): o is Claim => o.kind === 'claim');
    const others = rule(all).holds.filter((c) => c.user !== req.me);
    const ok = (s: number): string[] | null => {
      if (req.gpus === undefined) return blockers(others, [], s, s + dur, req.exclusive).length ? null : [];
      const u = usable(others, h.resources, s, s + dur, req.exclusive);
      return u.length >= req.gpus ? u : null;
    };
    let take = ok(a);
    const whole = take !== null;
    let from: Date | null = whole ? req.start : null;
    if (!whole) {
      // The window can only open when a blocking claim ends.
      const ends = [...new Set(others.map((c) => c.end.getTime()).filter((t) => t > a))].sort(
        (x, y) => x - y,
      );
      for (const t of ends.slice(0, 200)) {
        const u = ok(t);
        if (u) {
          take = u;
          from = new Date(t);
          break;
        }
      }
    }
    const inWindow = others.filter((c) => overlaps(c, a, b));
    const freeResources = h.resources.filter((r) => !inWindow.some((c) => covers(c, r)));
    let chosen: string[] = [];
    if (req.gpus !== undefined && take) {
      // Prefer resources nobody is on at all.
      chosen = [...take]
        .sort((x, y) => Number(!freeResources.includes(x)) - Number(!freeResources.includes(y)))
        .slice(0, req.gpus);
    }
    const start = from ?? req.start;
    out.push({
      host: h.host,
      whole,
      from,
      others: [...new Set(inWindow.map((c) => c.user))].sort(),
      freeResources,
      take: chosen,
      stale: !!h.error,
      command: claimCommand(h.host, chosen, start, dur, req.exclusive, now),
    });
  }
  return out.sort(
    (x, y) =>
      Number(y.whole) - Number(x.whole) ||
      Number(x.stale) - Number(y.stale) ||
      x.others.length - y.others.length ||
      y.freeResources.length - x.freeResources.length ||
      (x.from?.getTime() ?? Infinity) - (y.from?.getTime() ?? Infinity) ||
      (x.host < y.host ? -1 : x.host > y.host ? 1 : 0),
  );
}

/**
 * `hosthog claim --host H gpu0 --at … --for 4h`: what to type (the host name is checked safe by the
 * caller).
 */
export function claimCommand(
  host: string,
  res: string[],
  start: Date,
  durMs: number,
  exclusive: boolean,
  now: Date,
): string {
  const at =
    start.getTime() - now.getTime() > 60_000 ? ` --at ${start.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : '';
  const resources = res.map((r) => ' ' + r).join('');
  const excl = exclusive ? ' --exclusive' : '';
  return `hosthog claim --host ${host}${resources}${at} --for ${formatDuration(durMs)}${excl}`;
}
