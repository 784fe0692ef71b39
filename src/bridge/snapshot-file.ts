/**
 * The decoded calendar, as the bridge last knew it: occurrences in the expansion window plus
 * sync state (state_dir/snapshot.json, mode 0644), and its near part (snapshot-near.json: what
 * touches yesterday to the day after tomorrow, and who holds among those). Readers load only
 * these files: no ical.js, no cache, no network. `hosthog status` reads only the near part, so
 * its cost does not grow with the window or the history.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Claim, Occurrence, Snapshot } from '../core/types.js';
import { rule } from '../core/conflicts.js';
import { claimKey, type PrecomputedRuling } from '../core/view.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';

export const SNAPSHOT_FILE = 'snapshot.json';
export const NEAR_FILE = 'snapshot-near.json';
const DAY = 86_400_000;
/** The near part spans from the window's start (yesterday, UTC) this long: now + 24 h always fits. */
const NEAR_MS = 3 * DAY;

export interface StoredSnapshot extends Snapshot {
  /** Expansion window the occurrences cover. */
  from: Date;
  to: Date;
  /** Events that could not be read (href + one line), for `hosthog doctor` and logs. */
  problems: { href: string; message: string; shown?: boolean }[];
  /** href → stamp of every live object decoded into this snapshot (the bridge's decode cache). */
  stamps?: Record<string, string>;
  /** The time zone the occurrences were decoded in. */
  tz?: string;
  /** Near part only: who is overruled, decided over the whole window. */
  ruling?: PrecomputedRuling;
}

/**
 * How the last syncs went (state_dir/sync-state.json, a few hundred bytes). Rewritten after
 * every poll, while snapshot.json (megabytes for a big calendar) is rewritten only when the
 * decoded calendar changed. Readers take the sync state from here when it exists.
 */
export const SYNC_STATE_FILE = 'sync-state.json';

export interface SyncState {
  syncedAt: Date | null;
  failingSince?: Date | null;
  lastError?: string;
}

export function writeSnapshotFile(
  stateDir: string,
  snap: StoredSnapshot,
  near: StoredSnapshot = nearPart(snap),
): void {
  // The near part first: a reader that finds a new snapshot.json never finds an older near part.
  writeFileAtomic(join(stateDir, NEAR_FILE), JSON.stringify({ version: 1, ...near }), 0o644);
  writeFileAtomic(join(stateDir, SNAPSHOT_FILE), JSON.stringify({ version: 1, ...snap }), 0o644);
}

/**
 * The occurrences touching [from, from + NEAR_MS), with who holds among their claims decided
 * here over the whole window (rule() in conflicts.ts) and stored with them (`ruling`: which
 * claim is overruled by which; the overruling claims come along): hostView then gives the same
 * answer from this part as from the whole window, also where claims chain far into the future.
 */
export function nearPart(snap: StoredSnapshot): StoredSnapshot {
  const from = snap.from.getTime();
  const to = Math.min(snap.to.getTime(), from + NEAR_MS);
  const touches = (o: Occurrence) => o.start.getTime() < to && o.end.getTime() > from;
  const picked = new Set(snap.occurrences.filter(touches));
  const overruled: [string, string][] = [];
  const byClaims: Occurrence[] = [];
  for (const { claim, by } of rule(snap.occurrences.filter((o): o is Claim => o.kind === 'claim'))
    .overruled) {
    if (!picked.has(claim)) continue;
    overruled.push([claimKey(claim), claimKey(by)]);
    byClaims.push(by);
  }
  for (const by of byClaims) picked.add(by);
  const occurrences = snap.occurrences.filter((o) => picked.has(o));
  const { stamps: _stamps, ...rest } = snap;
  return { ...rest, occurrences, from: snap.from, to: new Date(to), problems: [], ruling: { overruled } };
}

export function writeSyncState(stateDir: string, state: SyncState): void {
  const { syncedAt, failingSince, lastError } = state;
  // Every poll, so not fsynced: after a power loss an older "last sync" is harmless.
  writeFileAtomic(
    join(stateDir, SYNC_STATE_FILE),
    JSON.stringify({ version: 1, syncedAt, failingSince: failingSince ?? null, lastError }),
    0o644,
    { durable: false },
  );
}

const DATE_KEYS = new Set(['start', 'end', 'created', 'syncedAt', 'failingSince', 'from', 'to']);

function reviveDates(o: Record<string, unknown>): void {
  for (const k of DATE_KEYS) if (typeof o[k] === 'string') o[k] = new Date(o[k] as string);
}

/**
 * The stored snapshot, or null when the bridge never wrote one. With near: only its near part
 * (now and the next 24 h are always inside; falls back to the whole file when there is none).
 */
export function readSnapshotFile(stateDir: string, o: { near?: boolean } = {}): StoredSnapshot | null {
  let text: string;
  try {
    text = readFileSync(join(stateDir, o.near ? NEAR_FILE : SNAPSHOT_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return o.near ? readSnapshotFile(stateDir) : null;
    throw e;
  }
  // Dates are revived in one pass over the two levels that hold them: a JSON.parse reviver
  // would be called for every value in the file and costs several ms per CLI start.
  const doc = JSON.parse(text) as StoredSnapshot & { version: number };
  if (doc.version !== 1) return null;
  reviveDates(doc as unknown as Record<string, unknown>);
  const state = readSyncState(stateDir);
  if (state) {
    doc.syncedAt = state.syncedAt;
    doc.failingSince = state.failingSince ?? null;
    if (state.lastError) doc.lastError = state.lastError;
    else delete doc.lastError;
  }
  if (!Array.isArray(doc.occurrences)) doc.occurrences = [];
  for (const o of doc.occurrences as Occurrence[]) reviveDates(o as unknown as Record<string, unknown>);
  return doc;
}

function readSyncState(stateDir: string): SyncState | null {
  try {
    const doc = JSON.parse(readFileSync(join(stateDir, SYNC_STATE_FILE), 'utf8')) as Record<string, unknown>;
    if (doc.version !== 1) return null;
    reviveDates(doc);
    return doc as unknown as SyncState;
  } catch {
    return null; // missing or torn by an older writer: snapshot.json's own fields stand
  }
}
