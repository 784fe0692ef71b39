/**
 * The hog enforcer's crash-safe record of its mounts (JSON, temp file + fsync + rename): each
 * mount is written as "intended" BEFORE it is made and "active" AFTER, so a crash at any point
 * leaves a file that names every mount that may exist. Reconcile trusts /proc/PID/mountinfo
 * for what really exists; this file only says what belongs to which hog.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic-write.js';

export interface HogMountRecord {
  /** Where the cover is mounted (path in the sshd mount namespace, directory symlinks resolved). */
  target: string;
  /** The key file path as planned (differs from target when ~/.ssh is a symlink). */
  file?: string;
  /** Overlay file bind-mounted over it. */
  overlay: string;
  user: string;
  status: 'intended' | 'active';
  mode?: 'message' | 'empty';
}

export interface HogState {
  version: 1;
  /** uid (+ recurrence-id) of the hog claim the mounts enforce. */
  hogUid: string | null;
  /** The process whose mount namespace holds the mounts. */
  nsPid: number;
  /** The message the 'message' overlays print. */
  message?: string;
  mounts: HogMountRecord[];
  updatedAt: string;
}

export const STATE_FILE = 'hog-mounts.json';

export function emptyState(nsPid: number): HogState {
  return { version: 1, hogUid: null, nsPid, mounts: [], updatedAt: new Date(0).toISOString() };
}

/** The state in stateDir, or null when there is none or it is unreadable (reconcile then scans mountinfo). */
export function readHogState(stateDir: string): HogState | null {
  let text: string;
  try { text = readFileSync(join(stateDir, STATE_FILE), 'utf8'); } catch { return null; }
  try {
    const s = JSON.parse(text) as Partial<HogState>;
    if (s.version !== 1 || !Array.isArray(s.mounts) || typeof s.nsPid !== 'number') return null;
    const mounts = s.mounts.filter((m): m is HogMountRecord =>
      !!m && typeof m.target === 'string' && typeof m.overlay === 'string' && typeof m.user === 'string' && (m.status === 'intended' || m.status === 'active') && (m.file === undefined || typeof m.file === 'string'));
    return { version: 1, hogUid: typeof s.hogUid === 'string' ? s.hogUid : null, nsPid: s.nsPid, message: typeof s.message === 'string' ? s.message : undefined, mounts, updatedAt: String(s.updatedAt ?? '') };
  } catch { return null; }
}

export function writeHogState(stateDir: string, state: HogState): void {
  state.updatedAt = new Date().toISOString();
  writeFileAtomic(join(stateDir, STATE_FILE), JSON.stringify(state, null, 2) + '\n', 0o600);
}

export function removeHogState(stateDir: string): void {
  rmSync(join(stateDir, STATE_FILE), { force: true });
}
