/**
 * The notification ledger: which notice keys were already sent, persisted as one JSON file in
 * the state dir (atomic: temp file, fsync, rename, fsync dir), pruned of keys older than a week.
 * Restarts and re-syncs consult it so no notice is ever sent twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic-write.js';
import type { Notice } from '../../core/notify-plan.js';

export const LEDGER_FILE = 'notify-ledger.json';
export const KEEP_MS = 7 * 86_400_000;

interface LedgerFile {
  version: 1;
  lastRun: string | null;
  sent: Record<string, string>;
}

export class Ledger {
  private readonly sentAt = new Map<string, number>();
  lastRun: Date | null = null;

  private constructor(readonly path: string) {}

  /** Load the ledger from a state dir (missing or unreadable file → empty ledger). */
  static load(stateDir: string): Ledger {
    const l = new Ledger(join(stateDir, LEDGER_FILE));
    let text: string;
    try {
      text = readFileSync(l.path, 'utf8');
    } catch {
      return l;
    }
    try {
      const data = JSON.parse(text) as Partial<LedgerFile>;
      if (data && typeof data.sent === 'object' && data.sent) {
        for (const [k, v] of Object.entries(data.sent)) {
          const ms = Date.parse(String(v));
          if (Number.isFinite(ms)) l.sentAt.set(k, ms);
        }
      }
      if (typeof data.lastRun === 'string' && Number.isFinite(Date.parse(data.lastRun)))
        l.lastRun = new Date(data.lastRun);
    } catch {
      // A corrupt ledger (should not happen with atomic writes) is treated as empty.
    }
    return l;
  }

  has(key: string): boolean {
    return this.sentAt.has(key);
  }

  /** The keys as the planner wants them. */
  keys(): ReadonlySet<string> {
    return new Set(this.sentAt.keys());
  }

  /** Record a notice (and every key it covers) as sent at `now`. */
  markSent(n: Notice | string, now: Date): void {
    const keys = typeof n === 'string' ? [n] : [n.key, ...(n.covers ?? [])];
    for (const k of keys) this.sentAt.set(k, now.getTime());
  }

  get size(): number {
    return this.sentAt.size;
  }

  /** Drop keys older than keepMs, set lastRun and write the file atomically. */
  save(now: Date, keepMs = KEEP_MS): void {
    for (const [k, ms] of this.sentAt) if (now.getTime() - ms > keepMs) this.sentAt.delete(k);
    this.lastRun = now;
    const data: LedgerFile = {
      version: 1,
      lastRun: now.toISOString(),
      sent: Object.fromEntries([...this.sentAt].map(([k, ms]) => [k, new Date(ms).toISOString()])),
    };
    writeFileAtomic(this.path, JSON.stringify(data) + '\n', 0o600);
  }
}
