/**
 * Keep every host calendar's per-user cache current and decode it. One cache per calendar in
 * ~/.cache/hosthog/<hash of the source> (the same directory `--calendar URL` and `--host` use),
 * each the bridge's Mirror, synced with its sync token, at most [fleet] parallel at once.
 *
 * A calendar that discovery's one PROPFIND shows unchanged (its sync token is the one the cache
 * holds; on Radicale, its getlastmodified is the one seen before the cache's last sync and passes
 * the racy guard, see lastModifiedTrusted) costs no request and no parsing: the decoded
 * occurrences are kept next to the cache (fleet-decoded-<hash of the window>.json, one file per
 * window) and reused while the token and the window are the same; `stats` keeps the claims that
 * hold, packed (fleet-stats.json, stats-cache.ts).
 */
import { join } from 'node:path';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import type { FleetCalendar } from './discover.js';
import type { HostSnapshot } from '../core/fleet-types.js';
import type { Occurrence } from '../core/types.js';
import { errorLine } from '../core/errors.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';
import { cacheDirFor } from './cache-dir.js';
import { packPieces, readPieces, unpackPieces, writePieces } from './stats-cache.js';
import { statsPieces } from '../core/stats-compute.js';

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
  /** Also give each host's statsPieces (kept in fleet-stats.json; occurrences may then be empty). */
  pieces?: boolean;
}

export interface FleetSyncStats {
  requests: number;
  bytes: number;
  synced: number;
  skipped: number;
  failed: number;
}

export { cacheDirFor };

interface Decoded {
  token: string | null;
  lastFullAt: string | null;
  syncedAt: string | null;
  window: string;
  occurrences: Occurrence[];
}
/** One file per decoded window (hosts' few days apart from stats' year): fleet-decoded-<hash>.json. */
const decodedFile = (window: string) =>
  `fleet-decoded-${createHash('sha256').update(window).digest('hex').slice(0, 12)}.json`;

function readDecoded(dir: string, window: string): Decoded | null {
  try {
    const d = JSON.parse(readFileSync(join(dir, decodedFile(window)), 'utf8')) as Decoded;
    return d && d.window === window && Array.isArray(d.occurrences) ? d : null;
  } catch {
    return null;
  }
}

/** A decoded file's token, from its head (JSON.stringify writes `token` first); undefined if unreadable. */
function tokenOf(path: string): string | null | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(4096);
    const head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
    const m = /^\{"token":(null|"(?:[^"\\]|\\.)*")/.exec(head);
    return m ? (JSON.parse(m[1]) as string | null) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write this window's decoded file; drop the others of another token, keep at most 2 more. */
function writeDecoded(dir: string, d: Decoded): void {
  const mine = decodedFile(d.window);
  writeFileAtomic(join(dir, mine), JSON.stringify(d), 0o600);
  const others = readdirSync(dir)
    .filter((f) => (f === 'fleet-decoded.json' || /^fleet-decoded-[0-9a-f]+\.json$/.test(f)) && f !== mine)
    .map((f) => ({ f, mtime: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  others.forEach(({ f }, i) => {
    const keep = i < 2 && f !== 'fleet-decoded.json' && tokenOf(join(dir, f)) === d.token;
    if (!keep) rmSync(join(dir, f), { force: true });
  });
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

/**
 * What the cache knew of a calendar's getlastmodified: the value discovery reported and that
 * answer's Date, both from the discovery that preceded the cache's last sync, and the Mirror
 * token that sync left. "Unchanged" is trusted only when the value is in an earlier second than
 * that Date: a change after the sync lands in a later second, so it moves the value.
 */
interface LastMod {
  lastModified: string;
  answeredAt: number | null;
  token: string | null;
}
const LASTMOD = 'fleet-lastmod.json';
function readLastMod(dir: string): LastMod | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, LASTMOD), 'utf8')) as LastMod;
    return typeof m?.lastModified === 'string' ? m : null;
  } catch {
    return null;
  }
}

/** The racy guard: `seen` equals the kept value, and the kept value is older than its answer's second. */
export function lastModifiedTrusted(seen: string | null | undefined, kept: LastMod | null): boolean {
  if (!seen || !kept || kept.lastModified !== seen || kept.answeredAt === null) return false;
  const lm = Date.parse(seen);
  return Number.isFinite(lm) && lm < Math.floor(kept.answeredAt / 1000) * 1000;
}

/**
 * CalDavSource's description of this calendar, which names its cache directory (shared with
 * `--calendar URL` and `--host`), without loading the CalDAV client: a warm run whose calendars
 * are all unchanged never loads it. Checked against the real one whenever a source is made.
 */
function describe(url: string): string {
  return `caldav ${url.endsWith('/') ? url : url + '/'}`;
}

export async function syncFleet(
  cals: FleetCalendar[],
  o: FleetSyncOptions,
): Promise<{ hosts: HostSnapshot[]; stats: FleetSyncStats; lied: string[] }> {
  const stats: FleetSyncStats = { requests: 0, bytes: 0, synced: 0, skipped: 0, failed: 0 };
  const lied: string[] = [];
  const window = `${o.from.toISOString()}/${o.to.toISOString()}`;
  const hosts = await bounded(cals, o.parallel, async (cal): Promise<HostSnapshot> => {
    const dir = cacheDirFor(o.cacheRoot, describe(cal.url));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const base = { host: cal.host, url: cal.url, resources: o.resourcesOf(cal.host) };
    const lastMod = readLastMod(dir);
    const lmTrusted = lastModifiedTrusted(cal.lastModified, lastMod);
    /** Discovery says the server holds what a cache with this token holds. */
    const serverAt = (token: string | null) =>
      token !== null && (cal.token !== null ? token === cal.token : lmTrusted && token === lastMod!.token);
    const fresh = (d: { lastFullAt: string | null }) =>
      d.lastFullAt !== null && o.now.getTime() - Date.parse(d.lastFullAt) < o.fullReconcileMs;
    if (o.pieces && !o.force) {
      const kp = readPieces(dir, window);
      if (kp && serverAt(kp.token) && fresh(kp)) {
        stats.skipped++;
        return { ...base, occurrences: [], statsPieces: unpackPieces(kp), syncedAt: o.now };
      }
    }
    const hit = readDecoded(dir, window);
    /** With o.pieces: the host's statsPieces, kept for the next run unless this one failed. */
    const withPieces = (snap: HostSnapshot, token: string | null, lastFullAt: string | null) => {
      if (!o.pieces) return snap;
      const pieces = statsPieces(snap.occurrences);
      if (!snap.error) writePieces(dir, packPieces(pieces, { window, token, lastFullAt }));
      return { ...snap, statsPieces: pieces };
    };
    if (!o.force && hit && serverAt(hit.token) && fresh(hit)) {
      stats.skipped++;
      const snap = { ...base, occurrences: hit.occurrences.map(revive), syncedAt: o.now };
      return withPieces(snap, hit.token, hit.lastFullAt);
    }
    // Only a calendar that needs its cache loads the CalDAV client, the Mirror and the decoder.
    const [{ CalDavSource }, { Mirror }, { decodeObjects }] = await Promise.all([
      import('../caldav/caldav-source.js'),
      import('../bridge/mirror.js'),
      import('../core/ics-read.js'),
    ]);
    const source = new CalDavSource({
      url: cal.url,
      username: o.username,
      password: o.password,
      timeoutMs: o.timeoutMs,
    });
    if (source.description !== describe(cal.url))
      throw new Error(`fleet cache: ${source.description} is not ${describe(cal.url)} (fleet-sync.ts)`);
    const mirror = await Mirror.open(dir, source);
    try {
      let error: string | undefined;
      const before = mirror.meta.token;
      const unchanged =
        !o.force &&
        serverAt(mirror.meta.token) &&
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
          if (cal.lastModified) {
            const next: LastMod = {
              lastModified: cal.lastModified,
              answeredAt: cal.answeredAt ?? null,
              token: mirror.meta.token,
            };
            writeFileAtomic(join(dir, LASTMOD), JSON.stringify(next), 0o600);
            // The value said "unchanged" (guard passed), yet the content moved: a suspect, that
            // the caller checks once more before it stops trusting this server's value.
            if (lmTrusted && before === lastMod!.token && mirror.meta.token !== before) lied.push(cal.host);
          }
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
        writeDecoded(dir, entry);
      } else if (!error && hit && hit.lastFullAt !== meta.lastFullAt) {
        writeDecoded(dir, { ...hit, lastFullAt: meta.lastFullAt });
      }
      const syncedAt = error ? (meta.syncedAt ? new Date(meta.syncedAt) : null) : o.now;
      const snap = { ...base, occurrences, syncedAt, ...(error ? { error } : {}) };
      return withPieces(snap, meta.token, meta.lastFullAt);
    } finally {
      mirror.close();
    }
  });
  return { hosts, stats, lied };
}
