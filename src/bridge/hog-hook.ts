/**
 * Hog enforcement in the bridge: after every refresh, decideHog (pure) says whether a hog holds;
 * planCovers (pure) says which key files to cover; the enforcer (src/host/hog/hog-mounts.ts) makes
 * the mounts match in sshd's mount namespace. At start, what a crashed bridge left behind is
 * reconciled with the cached calendar. A hog ends at its claim's end even with no network: the
 * decision runs on every minute's refresh from the cache.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Claim, Occurrence } from '../core/types.js';
import { decideHog, planCovers, type CoverPlan, type PathKind } from '../core/hog-plan.js';
import { errorLine, PermissionError } from '../core/errors.js';
import { formatTime } from '../core/format-time.js';
import { createHogEnforcer, hogKey, type HogEnforcer } from '../host/hog/hog-mounts.js';
import { createQuietHost, type QuietHost } from '../host/hog/quiet-host.js';
import { readHogState } from '../host/hog/hog-state.js';
import { listUsers } from '../host/rpc/users-db.js';
import { authorizedKeysFiles } from '../host/hog/sshd-config.js';
import type { Log } from '../host/store/log.js';
import type { RefreshHook } from './bridge.js';
import type { ExtraHandler } from './rpc-handlers.js';

export function pathKind(p: string): PathKind {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  } catch { return 'missing'; }
}

/** The mount namespace sshd lives in: its pid file's process if it is alive, else PID 1. */
export function sshdNamespacePid(pidFile: string): number {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) { lstatSync(`/proc/${pid}/ns/mnt`); return pid; }
  } catch { /* fall through */ }
  return 1;
}

export interface Hogging {
  hook: RefreshHook;
  handlers: Record<string, ExtraHandler>;
  /** At start, before the first refresh hook: adopt or remove what a previous run left. */
  reconcileAtStart(occurrences: Occurrence[], syncedAt: Date | null, now: Date): Promise<void>;
  enforcer: HogEnforcer;
  quiet: QuietHost;
}

/** `occurrences`: the bridge's current decoded calendar (read at request time). */
export function hogging(config: Config, log: Log, occurrences: () => Occurrence[]): Hogging {
  const overlayDir = join(config.bridge.stateDir, 'overlays');
  const nsPid = () => sshdNamespacePid(config.hog.sshdPidFile);
  const enforcer = createHogEnforcer({ stateDir: config.bridge.stateDir, overlayDir, nsPid: nsPid(), log });
  const quiet = createQuietHost({ stateDir: config.bridge.stateDir, systemctl: config.hog.systemctl, log });
  /** Quiet host never decides whether a hog holds: its failures are logged, the covers go on. */
  const quietly = async (what: string, fn: () => Promise<unknown>) => {
    try { await fn(); } catch (e) { log.warn({ err: errorLine(e) }, `quiet host: ${what} failed`); }
  };
  let keyFiles: { at: number; files: string[] } | null = null;
  let current: string | null = null;

  const claimsOf = (occ: Occurrence[]) => occ.filter((o): o is Claim => o.kind === 'claim');
  const ageOf = (syncedAt: Date | null, now: Date) => (syncedAt ? now.getTime() - syncedAt.getTime() : Infinity);

  async function plan(hog: Claim): Promise<CoverPlan> {
    if (!keyFiles || Date.now() - keyFiles.at > 3_600_000) {
      keyFiles = { at: Date.now(), files: await authorizedKeysFiles('/usr/sbin/sshd', config.hog.sshdConfig) };
    }
    const users = await listUsers({ minUid: config.hog.minUid });
    return planCovers(hog, users, keyFiles.files, pathKind, config);
  }

  // One decision at a time: the bridge's refreshes and the end-of-hog timer share the enforcer.
  let chain: Promise<void> = Promise.resolve();
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };
  let endTimer: NodeJS.Timeout | null = null;
  let lastNext: Parameters<RefreshHook>[1] | null = null;
  const disarm = () => { if (endTimer) { clearTimeout(endTimer); endTimer = null; } };
  /**
   * A hog starts at its claim's start and ends at its end, not at the next poll (polls back off
   * while the calendar is unreachable): decide again from the last snapshot at the next such
   * boundary. The decision itself still applies every rule (a stale cache starts nothing).
   */
  const armNext = (claims: Claim[], now: Date) => {
    disarm();
    const t = now.getTime();
    const next = Math.min(...claims.filter((c) => c.hog).flatMap((c) => [c.start.getTime(), c.end.getTime()]).filter((x) => x > t));
    if (!Number.isFinite(next)) return;
    const ms = next - Date.now() + 200;
    if (ms > 2_000_000_000) return; // beyond setTimeout's range: a later refresh arms it
    endTimer = setTimeout(() => {
      endTimer = null;
      const snap = lastNext;
      if (!snap) return;
      serial(() => decide(snap, new Date())).catch((e) => log.error({ err: errorLine(e) }, 'hog decision at a claim boundary failed'));
    }, Math.max(0, ms));
    endTimer.unref();
  };

  const decide = async (next: Parameters<RefreshHook>[1], now: Date): Promise<void> => {
    try { await decideNow(next, now); } finally { armNext(claimsOf(next.occurrences), now); }
  };

  const decideNow = async (next: Parameters<RefreshHook>[1], now: Date): Promise<void> => {
    // Only covers say a hog is being enforced (and so may continue from a stale cache): units
    // that failed to start again must not switch that safety off.
    const enforcing = enforcer.active().length > 0 || current !== null;
    const d = decideHog(claimsOf(next.occurrences), now, ageOf(next.syncedAt, now), config, enforcing);
    if (d.active) {
      const p = await plan(d.active);
      await enforcer.apply(p, d.active);
      const hog = d.active;
      await quietly('stopping units', () => quiet.apply(hogKey(hog), config.hog.quietUnits));
      const key = `${d.active.uid}|${d.active.end.toISOString()}|${p.covers.length}`;
      if (key !== current) {
        log.info({ holder: d.active.user, until: d.active.end.toISOString(), covered: p.covers.length, skipped: p.skipped.length, reason: d.reason }, 'hog holds: other users\' ssh keys are covered');
        for (const s of p.skipped) log.debug({ user: s.user, file: s.file, why: s.why }, 'hog: not covered');
        current = key;
      }
    } else if (enforcing) {
      try {
        await enforcer.release();
      } finally {
        await quietly('starting units again', () => quiet.release());
      }
      log.info({ reason: d.reason }, 'hog ended: everyone may log in again');
      current = null;
    } else if (quiet.recorded().length) {
      await quietly('starting units again', () => quiet.release()); // retried until they start
    } else if (d.reason && /not starting/.test(d.reason)) {
      log.warn({ reason: d.reason }, 'hog not started');
    }
  };

  const handlers: Record<string, ExtraHandler> = {
    /** `hosthog hog --dry-run`: exactly which files would be covered, nothing touched. */
    'hog-dry-run': async (_caller, actor, p) => {
      const now = new Date();
      const claims = claimsOf(occurrences());
      const { findMyClaim, checkHoggable } = await import('../core/plan-write.js');
      const claim = findMyClaim(claims, actor.user, now, typeof p.uid === 'string' ? p.uid : undefined, config.timezone);
      if (claim.user !== actor.user && !actor.isAdmin) throw new PermissionError(`claim ${claim.uid} is ${claim.user}'s`, 'only the holder may hog it');
      checkHoggable(claim);
      const allow = Array.isArray(p.allow) ? (p.allow as string[]) : claim.allow;
      const cp = await plan({ ...claim, hog: true, mode: 'exclusive', allow });
      let units: { stop: string[]; refused: { unit: string; why: string }[]; error?: string } | undefined;
      let unitCommand: string | null = null;
      if (config.hog.quietUnits.length) {
        try { const q = await quiet.dryRun(config.hog.quietUnits); units = { stop: q.stop, refused: q.refused }; unitCommand = q.command; } catch (e) { units = { stop: [], refused: [], error: errorLine(e) }; }
      }
      return {
        action: 'dry-run', summary: `${claim.start.getTime() > now.getTime() ? `from ${formatTime(claim.start, config.timezone, now)} (when the claim starts), ` : ''}would cover ${cp.covers.length} key file(s), skip ${cp.skipped.length}${units ? `, stop ${units.stop.length} unit(s)` : ''}`,
        covers: cp.covers.map((c) => ({ user: c.user, file: c.file, mode: c.mode, ...(c.viaLink ? { viaLink: true } : {}) })), skipped: cp.skipped,
        ...(units ? { units } : {}),
        commands: [...enforcer.dryRun(cp), ...(unitCommand ? [unitCommand] : [])],
      };
    },
  };
  const wrapped: RefreshHook = async (_prev, next, _view, now) => {
    lastNext = next;
    try { await serial(() => decide(next, now)); } catch (e) { log.error({ err: errorLine(e) }, 'hog enforcement failed'); throw e; }
  };

  return {
    hook: wrapped,
    handlers,
    enforcer,
    quiet,
    async reconcileAtStart(atStart, syncedAt, now) {
      const wasEnforcing = (readHogState(config.bridge.stateDir)?.mounts.length ?? 0) > 0;
      const d = decideHog(claimsOf(atStart), now, ageOf(syncedAt, now), config, wasEnforcing);
      const r = await enforcer.reconcile(d.active);
      if (r.kept.length || r.removed.length) log.info({ kept: r.kept.length, removed: r.removed.length, holder: d.active?.user }, 'hog mounts reconciled at start');
      const active = d.active;
      await quietly('reconciling units at start', async () => {
        const q = await quiet.reconcile(active ? hogKey(active) : null);
        if (q.kept.length || q.started.length) log.info({ kept: q.kept, started: q.started, failed: q.failed }, 'quiet host reconciled at start');
      });
    },
  };
}
