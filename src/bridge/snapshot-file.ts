/**
 * The decoded calendar, as the bridge last knew it: occurrences in the expansion window plus
 * sync state, in one small JSON file (state_dir/snapshot.json, mode 0644). Readers such as
 * `hosthog status` load only this file: no ical.js, no cache, no network, so they start fast.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Occurrence, Snapshot } from '../core/types.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';

export const SNAPSHOT_FILE = 'snapshot.json';

export interface StoredSnapshot extends Snapshot {
  /** Expansion window the occurrences cover. */
  from: Date;
  to: Date;
  /** Events that could not be read (href + one line), for `hosthog doctor` and logs. */
  problems: { href: string; message: string; shown?: boolean }[];
}

/**
 * How the last syncs went (state_dir/sync-state.json, a few hundred bytes). Rewritten after
 * every poll, while snapshot.json (megabytes for a big calendar) is rewritten only when the
 * decoded calendar changed. Readers take the sync state from here when it exists.
 */
export const SYNC_STATE_FILE = 'sync-state.json';

export interface SyncState { syncedAt: Date | null; failingSince?: Date | null; lastError?: string }

export function writeSnapshotFile(stateDir: string, snap: StoredSnapshot): void {
  writeFileAtomic(join(stateDir, SNAPSHOT_FILE), JSON.stringify({ version: 1, ...snap }), 0o644);
}

export function writeSyncState(stateDir: string, state: SyncState): void {
  const { syncedAt, failingSince, lastError } = state;
  writeFileAtomic(join(stateDir, SYNC_STATE_FILE), JSON.stringify({ version: 1, syncedAt, failingSince: failingSince ?? null, lastError }), 0o644);
}

const DATE_KEYS = new Set(['start', 'end', 'created', 'syncedAt', 'failingSince', 'from', 'to']);

function reviveDates(o: Record<string, unknown>): void {
  for (const k of DATE_KEYS) if (typeof o[k] === 'string') o[k] = new Date(o[k] as string);
}

/** The stored snapshot, or null when the bridge never wrote one. */
export function readSnapshotFile(stateDir: string): StoredSnapshot | null {
  let text: string;
  try { text = readFileSync(join(stateDir, SNAPSHOT_FILE), 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
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
    if (state.lastError) doc.lastError = state.lastError; else delete doc.lastError;
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
