/**
 * Keep every host calendar's per-user cache current and decode it. One cache per calendar in
 * ~/.cache/hosthog/<hash of the source> (the same directory `--calendar URL` and `--host` use),
 * each the bridge's Mirror, synced with its sync token, at most [fleet] parallel at once.
 *
 * A calendar whose token (from discovery's one PROPFIND) is the one the cache last decoded
 * costs no request and no parsing: the decoded occurrences are kept next to the cache
 * (fleet-decoded.json, per window) and reused while the token and the window are the same.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import type { FleetCalendar } from './discover.js';
import type { HostSnapshot } from '../core/fleet-types.js';
import type { Occurrence } from '../core/types.js';
import { CalDavSource } from '../caldav/caldav-source.js';
import { Mirror } from '../bridge/mirror.js';
import { decodeObjects } from '../core/ics-read.js';
import { errorLine } from '../core/errors.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';

export interface FleetSyncOptions {
  cacheRoot: string;
  username: string;
  password: string;
  parallel: number;
  timeoutMs: number;
  fullReconcileMs: number;
  timezone: string;
  /** The span to decode. */
  from: Date;
  to: Date;
  resourcesOf: (host: string) => string[];
  now: Date;
  /** Sync even when the token says nothing changed. */
  force?: boolean;
}

export interface FleetSyncStats {
  requests: number;
  bytes: number;
  synced: number;
  skipped: number;
  failed: number;
}

export function cacheDirFor(cacheRoot: string, description: string): string {
  return join(cacheRoot, createHash('sha256').update(description).digest('hex').slice(0, 16));
}

interface Decoded {
  token: string | null;
  lastFullAt: string | null;
  syncedAt: string | null;
  window: string;
  occurrences: Occurrence[];
}
const DECODED = 'fleet-decoded.json';

function readDecoded(dir: string): Decoded[] {
  try {
    const raw = JSON.parse(readFileSync(join(dir, DECODED), 'utf8')) as Decoded[];
    return Array.isArray(raw) ? raw : [];
  } catch {
    return [];
  }
}

function revive(o: Occurrence): Occurrence {
  const r = o as Occurrence & { start: Date | string; end: Date | string; created?: Date | string };
  r.start = new Date(r.start);
  r.end = new Date(r.end);
  if (r.created) r.created = new Date(r.created);
  return r;
}

/** Run fn over items, at most `bound` at once, results in order. */
export async function bounded<T, R>(items: T[], bound: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(bound, items.length)) }, worker));
  return out;
}

export async function syncFleet(
  cals: FleetCalendar[],
  o: FleetSyncOptions,
): Promise<{ hosts: HostSnapshot[]; stats: FleetSyncStats }> {
  const stats: FleetSyncStats = { requests: 0, bytes: 0, synced: 0, skipped: 0, failed: 0 };
  const window = `${o.from.toISOString()}/${o.to.toISOString()}`;
  const hosts = await bounded(cals, o.parallel, async (cal): Promise<HostSnapshot> => {
    const source = new CalDavSource({
      url: cal.url,
      username: o.username,
      password: o.password,
      timeoutMs: o.timeoutMs,
    });
    const dir = cacheDirFor(o.cacheRoot, source.description);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const base = { host: cal.host, url: cal.url, resources: o.resourcesOf(cal.host) };
    const kept = readDecoded(dir);
    const hit = kept.find((d) => d.window === window);
    const fresh = (d: Decoded) =>
      d.lastFullAt !== null && o.now.getTime() - Date.parse(d.lastFullAt) < o.fullReconcileMs;
    if (!o.force && hit && cal.token !== null && hit.token === cal.token && fresh(hit)) {
      stats.skipped++;
      return { ...base, occurrences: hit.occurrences.map(revive), syncedAt: o.now };
    }
    const mirror = await Mirror.open(dir, source);
    try {
      let error: string | undefined;
      const unchanged =
        !o.force &&
        cal.token !== null &&
        mirror.meta.token === cal.token &&
        mirror.meta.source === source.description &&
        mirror.meta.lastFullAt !== null &&
        o.now.getTime() - Date.parse(mirror.meta.lastFullAt) < o.fullReconcileMs;
      if (unchanged) stats.skipped++;
      else {
        try {
          const r = await mirror.sync(o.now, o.fullReconcileMs);
          stats.requests += r.stats.requests;
          stats.bytes += r.stats.bytes;
          stats.synced++;
        } catch (e) {
          error = errorLine(e);
          stats.failed++;
        }
      }
      const meta = mirror.meta;
      const sameToken = hit && hit.token === meta.token && meta.token !== null;
      const occurrences = sameToken
        ? hit.occurrences.map(revive)
        : decodeObjects(mirror.liveObjects(o.from.getTime()), {
            timezone: o.timezone,
            from: o.from,
            to: o.to,
            maxOccurrences: 20_000,
          }).occurrences;
      if (!error && !sameToken) {
        const entry: Decoded = {
          token: meta.token,
          lastFullAt: meta.lastFullAt,
          syncedAt: meta.syncedAt,
          window,
          occurrences,
        };
        writeFileAtomic(
          join(dir, DECODED),
          JSON.stringify([
            entry,
            ...kept.filter((d) => d.window !== window && d.token === meta.token).slice(0, 2),
          ]),
          0o600,
        );
      } else if (!error && hit && hit.lastFullAt !== meta.lastFullAt) {
        writeFileAtomic(
          join(dir, DECODED),
          JSON.stringify([{ ...hit, lastFullAt: meta.lastFullAt }, ...kept.filter((d) => d !== hit)]),
          0o600,
        );
      }
      const syncedAt = error ? (meta.syncedAt ? new Date(meta.syncedAt) : null) : o.now;
      return { ...base, occurrences, syncedAt, ...(error ? { error } : {}) };
    } finally {
      mirror.close();
    }
  });
  return { hosts, stats };
}
