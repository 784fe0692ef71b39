/**
 * Hog enforcement in the bridge: after every refresh, decideHog (pure) says which hog is enforced
 * (and which are refused: root's, a system account's, too long, from a calendar app when that is
 * off); the gate's files are written (src/host/hog/gate.ts) and verified as sshd sees them, sshd
 * looked up again each time. The result goes to state_dir/hog-gate.json (0644) for
 * `hosthog status --json`, doctor and the motd; a hog that is not enforced is logged as an error.
 * A hog ends at its claim's end even with no network: the decision runs from the cache.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Config } from '../config/schema.js';
import type { Claim, Occurrence } from '../core/types.js';
import { decideHog, gateAllowText, gateBannerText, refuseHog, type HogFacts } from '../core/hog-plan.js';
import { rule } from '../core/conflicts.js';
import { errorLine, PermissionError } from '../core/errors.js';
import { formatTime } from '../core/format-time.js';
import { cleanText } from '../core/sanitize.js';
import { createQuietHost, type QuietHost } from '../host/hog/quiet-host.js';
import { GateError, verifyGate, writeGate, type GateCheck } from '../host/hog/gate.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';
import type { Log } from '../host/store/log.js';
import type { Caller, RpcRequest } from '../host/rpc/rpc-protocol.js';
import type { RefreshHook } from './bridge.js';
import { actorOf, type ExtraHandler } from './rpc-handlers.js';
import type { FirstSeen } from './first-seen.js';

const run = promisify(execFile);

export const GATE_STATUS_FILE = 'hog-gate.json';

/** What the bridge last found (state_dir/hog-gate.json). */
export interface GateStatus {
  at: string;
  /** The enforced hog's holder and end, when one is active. */
  holder?: string;
  uid?: string;
  until?: string;
  enforced: boolean;
  why?: string;
  sshdPid?: number;
  /** Hogs that hold in the calendar but are not enforced, and why. */
  refused: { user: string; uid: string; why: string }[];
  /** Login methods sshd offers (all of them pass through the PAM account phase when enforced). */
  methods?: string[];
}

export function readGateStatus(stateDir: string): GateStatus | null {
  try {
    return JSON.parse(readFileSync(join(stateDir, GATE_STATUS_FILE), 'utf8')) as GateStatus;
  } catch {
    return null;
  }
}

/** The hog key of an occurrence (uid + recurrence-id). */
export function hogKey(hog: Claim): string {
  return hog.recurrenceId ? `${hog.uid}#${hog.recurrenceId}` : hog.uid;
}

export interface Hogging {
  hook: RefreshHook;
  handlers: Record<string, ExtraHandler>;
  /** Wrap the RPC handler: a hog write answers "hog on" only once the gate holds (else GateError). */
  wrap(
    inner: (caller: Caller, req: RpcRequest) => Promise<unknown>,
  ): (caller: Caller, req: RpcRequest) => Promise<unknown>;
  /** At start, before the first refresh hook: settle the gate and units from the cached calendar. */
  reconcileAtStart(occurrences: Occurrence[], syncedAt: Date | null, now: Date): Promise<void>;
  /** A motd line when a hog is shown but not enforced. */
  motdLines(): string[];
  quiet: QuietHost;
  status(): GateStatus | null;
}

/** uid of a user name through NSS (files, LDAP, sssd); undefined when unknown. */
async function lookupUid(name: string): Promise<number | undefined> {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.@$-]{0,63}$/.test(name)) return undefined;
  try {
    const { stdout } = await run('getent', ['passwd', '--', name], { encoding: 'utf8', timeout: 10_000 });
    const uid = Number(stdout.split(':')[2]);
    return Number.isInteger(uid) && uid >= 0 ? uid : undefined;
  } catch {
    return undefined;
  }
}

/** A bridge that cannot enforce hogs (not root) refuses hog writes up front instead of saying "hog on". */
export function noHogging(inner: (caller: Caller, req: RpcRequest) => Promise<unknown>) {
  return async (caller: Caller, req: RpcRequest): Promise<unknown> => {
    const p = req.params ?? {};
    if (req.method === 'hog' || (['claim', 'edit'].includes(req.method) && p.hog === true)) {
      throw new GateError(
        'the bridge does not run as root: a hog would not be enforced',
        'run the bridge as root (hosthog-bridge.service)',
      );
    }
    return inner(caller, req);
  };
}

export function hogging(config: Config, log: Log, occurrences: () => Occurrence[], seen: FirstSeen): Hogging {
  const gateDir = config.hog.gateDir;
  const quiet = createQuietHost({ stateDir: config.bridge.stateDir, systemctl: config.hog.systemctl, log });
  /** Quiet host never decides whether a hog holds: its failures are logged, the gate goes on. */
  const quietly = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      log.warn({ err: errorLine(e) }, `quiet host: ${what} failed`);
    }
  };
  let current: string | null = null;
  let last: GateStatus | null = null;
  let lastLogged = '';

  const claimsOf = (occ: Occurrence[]) => occ.filter((o): o is Claim => o.kind === 'claim');
  /**
   * The hog claims that hold in a snapshot, ruled once per snapshot (not every minute: a rule()
   * over the window's claims is what an idle tick would cost). Holding claims never conflict
   * with each other, so decideHog rules these to the same decision as all the claims.
   */
  let ruledHogs: { of: Occurrence[]; holding: Claim[]; all: Claim[] } | null = null;
  const hogsOf = (occ: Occurrence[]) => {
    if (ruledHogs?.of !== occ) {
      const claims = claimsOf(occ);
      const holding = rule(claims).holds.filter((c) => c.hog);
      ruledHogs = { of: occ, holding, all: claims.filter((c) => c.hog) };
    }
    return ruledHogs;
  };
  const ageOf = (syncedAt: Date | null, now: Date) =>
    syncedAt ? now.getTime() - syncedAt.getTime() : Infinity;

  const factsFor = async (claims: Claim[]): Promise<HogFacts> => {
    const uids = new Map<string, number | undefined>();
    for (const c of claims) if (c.hog && !uids.has(c.user)) uids.set(c.user, await lookupUid(c.user));
    return { uidOf: (n) => uids.get(n), viaBridge: (uid) => seen.viaBridge(uid) };
  };

  const saveStatus = (s: GateStatus) => {
    last = s;
    try {
      writeFileAtomic(join(config.bridge.stateDir, GATE_STATUS_FILE), JSON.stringify(s) + '\n', 0o644);
    } catch (e) {
      log.error({ err: errorLine(e) }, 'cannot write hog-gate.json');
    }
  };

  // One decision at a time: the bridge's refreshes, RPC checks and the boundary timer.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };
  let endTimer: NodeJS.Timeout | null = null;
  let lastNext: Parameters<RefreshHook>[1] | null = null;
  const disarm = () => {
    if (endTimer) {
      clearTimeout(endTimer);
      endTimer = null;
    }
  };
  /** A hog starts and ends on its claim's times, not at the next poll. */
  const armNext = (claims: Claim[], now: Date) => {
    disarm();
    const t = now.getTime();
    const next = Math.min(
      ...claims
        .filter((c) => c.hog)
        .flatMap((c) => [c.start.getTime(), c.end.getTime()])
        .filter((x) => x > t),
    );
    if (!Number.isFinite(next)) return;
    const ms = next - Date.now() + 200;
    if (ms > 2_000_000_000) return;
    endTimer = setTimeout(
      () => {
        endTimer = null;
        const snap = lastNext;
        if (snap)
          serial(() => decide(snap, new Date())).catch((e) =>
            log.error({ err: errorLine(e) }, 'hog decision at a claim boundary failed'),
          );
      },
      Math.max(0, ms),
    );
    endTimer.unref();
  };

  const decide = async (next: Parameters<RefreshHook>[1], now: Date): Promise<GateStatus> => {
    try {
      return await decideNow(next, now);
    } finally {
      armNext(hogsOf(next.occurrences).all, now);
    }
  };

  const decideNow = async (next: Parameters<RefreshHook>[1], now: Date): Promise<GateStatus> => {
    const claims = hogsOf(next.occurrences).holding;
    const enforcing = current !== null || existsSync(join(gateDir, 'allow'));
    const d = decideHog(claims, now, ageOf(next.syncedAt, now), config, enforcing, await factsFor(claims));
    const refused = (d.refused ?? []).map((r) => ({
      user: cleanText(r.claim.user, 40),
      uid: r.claim.uid,
      why: r.why,
    }));
    for (const r of refused) {
      const k = `refused|${r.uid}|${r.why}`;
      if (k !== lastLogged) {
        log.warn({ holder: r.user, uid: r.uid, why: r.why }, 'hog in the calendar NOT enforced');
        lastLogged = k;
      }
    }
    if (d.active) {
      const hog = d.active;
      const want = { allow: gateAllowText(hog, config), banner: gateBannerText(hog, config) };
      let check: GateCheck;
      try {
        writeGate(gateDir, want.allow, want.banner);
        check = await verifyGate(config.hog.sshdPidFile, gateDir, want);
      } catch (e) {
        check = { enforced: false, missing: [errorLine(e)], methods: [] };
      }
      const s: GateStatus = {
        at: now.toISOString(),
        holder: hog.user,
        uid: hog.uid,
        until: hog.end.toISOString(),
        enforced: check.enforced,
        ...(check.enforced ? {} : { why: check.missing.join('; ') }),
        sshdPid: check.sshd?.pid,
        refused,
        methods: check.methods,
      };
      saveStatus(s);
      await quietly('stopping units', () => quiet.apply(hogKey(hog), config.hog.quietUnits));
      const key = `${hogKey(hog)}|${hog.end.toISOString()}|${s.enforced}|${s.why ?? ''}`;
      if (key !== current) {
        const at = { holder: hog.user, until: s.until, sshd: s.sshdPid, reason: d.reason };
        if (s.enforced) log.info(at, 'hog holds: sshd lets in only the allow list');
        else log.error({ holder: hog.user, until: s.until, why: s.why }, 'hog NOT enforced');
        if (current === null && config.hog.endSessions) await endSessions(hog);
        current = key;
      }
      return s;
    }
    const wasOn = enforcing;
    try {
      writeGate(gateDir, null, '');
    } catch (e) {
      log.error({ err: errorLine(e) }, 'cannot clear the hog gate');
    }
    if (wasOn || quiet.recorded().length) await quietly('starting units again', () => quiet.release());
    if (wasOn) log.info({ reason: d.reason }, 'hog ended: everyone may log in again');
    else if (d.reason && /not starting/.test(d.reason)) log.warn({ reason: d.reason }, 'hog not started');
    current = null;
    const notStarted = d.reason && /not starting/.test(d.reason) ? { why: d.reason } : {};
    const s: GateStatus = { at: now.toISOString(), enforced: false, refused, ...notStarted };
    saveStatus(s);
    return s;
  };

  /**
   * [hog] end_sessions: end the ssh sessions of users the gate does not let in: SIGTERM to each
   * session's privileged monitor ("sshd: NAME [priv]", owned by root); nothing else is touched.
   */
  const endSessions = async (hog: Claim) => {
    const allowed = new Set(gateAllowText(hog, config).trim().split('\n'));
    try {
      const { stdout } = await run('ps', ['-eo', 'pid=,user:64=,args='], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      for (const line of stdout.split('\n')) {
        const m = /^\s*(\d+)\s+root\s+sshd: ([A-Za-z0-9_.][A-Za-z0-9_.@$-]*) \[priv\]\s*$/.exec(line);
        if (!m || allowed.has(m[2])) continue;
        try {
          process.kill(Number(m[1]), 'SIGTERM');
          log.info({ user: m[2], pid: Number(m[1]) }, 'hog start: session ended ([hog] end_sessions)');
        } catch {
          /* gone */
        }
      }
    } catch (e) {
      log.warn({ err: errorLine(e) }, 'hog start: could not end sessions');
    }
  };

  const handlers: Record<string, ExtraHandler> = {
    /** `hosthog hog --dry-run`: who would be let in, and whether the gate would hold now. */
    'hog-dry-run': async (_caller, actor, p) => {
      const now = new Date();
      const claims = claimsOf(occurrences());
      const { findMyClaim, checkHoggable } = await import('../core/plan-write.js');
      const claim = findMyClaim(
        claims,
        actor.user,
        now,
        typeof p.uid === 'string' ? p.uid : undefined,
        config.timezone,
      );
      if (claim.user !== actor.user && !actor.isAdmin) {
        throw new PermissionError(`claim ${claim.uid} is ${claim.user}'s`, 'only the holder may hog it');
      }
      checkHoggable(claim);
      const allow = Array.isArray(p.allow) ? (p.allow as string[]) : claim.allow;
      const hog = { ...claim, hog: true, mode: 'exclusive' as const, allow };
      const refusedWhy = refuseHog(hog, config, await factsFor([hog]));
      const check = await verifyGate(config.hog.sshdPidFile, gateDir, null);
      let units: { stop: string[]; refused: { unit: string; why: string }[]; error?: string } | undefined;
      if (config.hog.quietUnits.length) {
        try {
          const q = await quiet.dryRun(config.hog.quietUnits);
          units = { stop: q.stop, refused: q.refused };
        } catch (e) {
          units = { stop: [], refused: [], error: errorLine(e) };
        }
      }
      const letIn = gateAllowText(hog, config).trim().split('\n');
      const problems = [...(refusedWhy ? [refusedWhy] : []), ...check.missing];
      return {
        action: 'dry-run',
        summary: [
          claim.start.getTime() > now.getTime()
            ? `from ${formatTime(claim.start, config.timezone, now)} (when the claim starts), `
            : '',
          `sshd would let in only ${letIn.join(', ')}`,
          units ? `, stop ${units.stop.length} unit(s)` : '',
          problems.length ? `; NOT enforceable now: ${problems.join('; ')}` : '',
        ].join(''),
        letIn,
        enforceable: problems.length === 0,
        problems,
        methods: check.methods,
        ...(units ? { units } : {}),
      };
    },
  };

  const HOG_WRITES = new Set(['claim', 'hog', 'edit']);
  const wrap: Hogging['wrap'] = (inner) => async (caller, req) => {
    const p = req.params ?? {};
    const isHog = req.method === 'hog' || (HOG_WRITES.has(req.method) && p.hog === true);
    if (!isHog) return inner(caller, req);
    const actor = actorOf(caller, config);
    if (
      req.method === 'claim' &&
      !actor.isAdmin &&
      typeof p.start === 'string' &&
      typeof p.end === 'string'
    ) {
      const len = Date.parse(p.end) - Date.parse(p.start);
      if (len > config.hog.maxLengthMs) {
        const h = Math.round(config.hog.maxLengthMs / 3_600_000);
        throw new PermissionError(
          `a hog longer than ${h} h needs an admin ([hog] max_length)`,
          'book it shorter, or ask an admin',
        );
      }
    }
    const result = (await inner(caller, req)) as { uid?: string; summary?: string };
    const now = new Date();
    if (typeof result?.uid === 'string') seen.markViaBridge(result.uid, actor.isAdmin, now);
    const snap = lastNext;
    const s = snap ? await serial(() => decide(snap, now)) : null;
    const mine = claimsOf(occurrences()).filter((c) => c.uid === result?.uid && c.hog);
    const active = mine.find((c) => c.start.getTime() <= now.getTime() && now.getTime() < c.end.getTime());
    if (active) {
      const refusedWhy = s?.refused.find((r) => r.uid === active.uid)?.why;
      if (refusedWhy) throw new GateError(`hog booked but NOT enforced: ${refusedWhy}`, 'see hosthog doctor');
      if (!s || !s.enforced || s.uid !== active.uid) {
        const other = s?.holder
          ? `${cleanText(s.holder, 40)}'s earlier hog is enforced`
          : 'the bridge could not apply it';
        throw new GateError(`hog booked but NOT enforced: ${s?.why ?? other}`, 'see hosthog doctor');
      }
      const letIn = gateAllowText(active, config).trim().split('\n').join(', ');
      return {
        ...result,
        enforced: true,
        summary: `${result.summary ?? 'hog on'}; checked: sshd (pid ${s.sshdPid}) lets in only ${letIn}`,
      };
    }
    // A hog that starts later: the wiring must hold now, or the holder hears it at once.
    const check = await verifyGate(config.hog.sshdPidFile, gateDir, null);
    if (!check.enforced)
      throw new GateError(
        `hog booked but the gate would NOT hold: ${check.missing.join('; ')}`,
        'see hosthog doctor',
      );
    return { ...result, enforced: 'from its start' };
  };

  const wrapped: RefreshHook = async (_prev, next, _view, now) => {
    lastNext = next;
    try {
      await serial(() => decide(next, now));
    } catch (e) {
      log.error({ err: errorLine(e) }, 'hog enforcement failed');
      throw e;
    }
  };

  return {
    hook: wrapped,
    handlers,
    wrap,
    quiet,
    status: () => last,
    motdLines() {
      if (!last) return [];
      const out: string[] = [];
      if (last.holder && !last.enforced)
        out.push(
          `!! ${cleanText(last.holder, 40)}'s hog is NOT enforced: anyone may log in (hosthog doctor)`,
        );
      for (const r of last.refused)
        out.push(`!! hog by ${r.user} in the calendar is not enforced: ${cleanText(r.why, 120)}`);
      return out;
    },
    async reconcileAtStart(atStart, syncedAt, now) {
      const claims = claimsOf(atStart);
      const was = existsSync(join(gateDir, 'allow'));
      const d = decideHog(claims, now, ageOf(syncedAt, now), config, was, await factsFor(claims));
      if (!d.active) {
        try {
          writeGate(gateDir, null, '');
        } catch (e) {
          log.error({ err: errorLine(e) }, 'cannot clear the hog gate');
        }
      }
      const active = d.active;
      await quietly('reconciling units at start', async () => {
        const q = await quiet.reconcile(active ? hogKey(active) : null);
        if (q.kept.length || q.started.length)
          log.info({ kept: q.kept, started: q.started, failed: q.failed }, 'quiet host reconciled at start');
      });
    },
  };
}
