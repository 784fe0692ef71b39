/**
 * Quiet host: stops the configured systemd units when a hog starts and starts exactly those
 * again when it ends (the plan and the record's transitions are pure, in
 * src/core/quiet-plan.ts). Crash-safe:
 * state_dir/hog-units.json (0600, temp + fsync + rename) records each
 * unit as "intended" BEFORE it is stopped and "stopped" after, so a crash at any point leaves
 * a file naming every unit that may be down; at start the bridge reconciles it with the
 * calendar, and `hosthog unhog --force` starts them all again.
 *
 * systemctl runs without a shell (execFile); the command is [hog] systemctl (default
 * ["systemctl"]; e.g. ["nsenter", "-t", "1", "-m", "-p", "systemctl"] for a bridge in a
 * container). Unit names come from systemd's own listing and are checked again before use.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  beginHog,
  isUnitPattern,
  planQuiet,
  recordRelease,
  recordStop,
  restoreOrder,
  type QuietPlan,
  type QuietRecord,
} from '../../core/quiet-plan.js';
import { writeFileAtomic } from '../store/atomic-write.js';

export const QUIET_FILE = 'hog-units.json';

export type { QuietRecord };
export interface QuietState {
  version: 1;
  hogUid: string | null;
  units: QuietRecord[];
  updatedAt: string;
}

export interface QuietLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface QuietHost {
  /** Stop what the patterns match for this hog (idempotent: a hog already quieted is left alone). */
  apply(
    hogUid: string,
    patterns: string[],
  ): Promise<{ stopped: string[]; refused: QuietPlan['refused']; failed: string[] }>;
  /** Start every recorded unit again; units that fail to start stay recorded (retried later). */
  release(): Promise<{ started: string[]; failed: string[] }>;
  /** At start: keep the units down for the hog that still holds, else release. */
  reconcile(keepFor: string | null): Promise<{ kept: string[]; started: string[]; failed: string[] }>;
  /** Units recorded as (maybe) stopped by hosthog. */
  recorded(): string[];
  /** What apply would stop now, and the command it would run (nothing is touched). */
  dryRun(patterns: string[]): Promise<QuietPlan & { command: string | null }>;
}

export interface QuietOptions {
  stateDir: string;
  systemctl: string[];
  log?: QuietLog;
  timeoutMs?: number;
}

const UNIT_NAME = /^[A-Za-z0-9@_.:\\-]+\.(service|timer)$/;

export function readQuietState(stateDir: string): QuietState | null {
  try {
    const s = JSON.parse(readFileSync(join(stateDir, QUIET_FILE), 'utf8')) as Partial<QuietState>;
    if (s.version !== 1 || !Array.isArray(s.units)) return null;
    const units = s.units.filter(
      (u): u is QuietRecord =>
        !!u &&
        typeof u.unit === 'string' &&
        UNIT_NAME.test(u.unit) &&
        (u.status === 'intended' || u.status === 'stopped'),
    );
    return {
      version: 1,
      hogUid: typeof s.hogUid === 'string' ? s.hogUid : null,
      units,
      updatedAt: String(s.updatedAt ?? ''),
    };
  } catch {
    return null;
  }
}

export function createQuietHost(opts: QuietOptions): QuietHost {
  const log = opts.log ?? { info() {}, warn() {} };
  const [cmd, ...pre] = opts.systemctl;
  let state: QuietState = readQuietState(opts.stateDir) ?? {
    version: 1,
    hogUid: null,
    units: [],
    updatedAt: '',
  };

  /** Write the new state first, then adopt it: what is on disk is never behind what we act on. */
  const save = (next: QuietState) => {
    if (next.units.length === 0) rmSync(join(opts.stateDir, QUIET_FILE), { force: true });
    else
      writeFileAtomic(
        join(opts.stateDir, QUIET_FILE),
        JSON.stringify({ ...next, updatedAt: new Date().toISOString() }, null, 2) + '\n',
        0o600,
      );
    state = next;
  };

  const systemctl = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        cmd,
        [...pre, ...args],
        { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 4 << 20 },
        (err, stdout, stderr) => {
          const code = err
            ? typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 127
            : 0;
          resolve({
            code,
            stdout: String(stdout),
            stderr: String(stderr || (err && !stdout ? err.message : '')),
          });
        },
      );
    });

  /** Active services and timers (those the patterns match, or all); throws if systemd cannot be asked. */
  const listActive = async (patterns?: string[]): Promise<string[]> => {
    const r = await systemctl([
      'list-units',
      '--state=active',
      '--plain',
      '--no-legend',
      '--full',
      '--type=service,timer',
      ...(patterns ? ['--', ...patterns] : []),
    ]);
    if (r.code !== 0) throw new Error(`systemctl list-units failed (exit ${r.code}): ${firstLine(r.stderr)}`);
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((u) => !!u && UNIT_NAME.test(u));
  };

  const activeMatching = async (patterns: string[]): Promise<string[]> => {
    const ok = patterns.filter(isUnitPattern);
    return ok.length ? listActive(ok) : [];
  };

  const isActive = async (unit: string): Promise<boolean> =>
    (await systemctl(['is-active', '--', unit])).stdout.trim() === 'active';

  /** Every active service and timer, or null if systemd cannot be asked. */
  const activeAll = async (): Promise<Set<string> | null> => {
    try {
      return new Set(await listActive());
    } catch {
      return null;
    }
  };

  const release = async (): Promise<{ started: string[]; failed: string[] }> => {
    if (state.units.length === 0) return { started: [], failed: [] };
    const units = restoreOrder(state.units.map((u) => u.unit));
    const r = await systemctl(['start', '--', ...units]);
    const started: string[] = [];
    const failed: string[] = [];
    if (r.code === 0) started.push(...units);
    else {
      // One unit that cannot start must not keep the others down: try each alone.
      for (const u of units) ((await systemctl(['start', '--', u])).code === 0 ? started : failed).push(u);
    }
    save({
      ...state,
      units: recordRelease(state.units, failed),
      hogUid: failed.length ? state.hogUid : null,
    });
    if (started.length) log.info({ units: started }, 'quiet host: units started again');
    if (failed.length)
      log.warn(
        { units: failed },
        'quiet host: units could not be started again; retrying at the next refresh',
      );
    return { started, failed };
  };

  /** Stop these recorded units and record what really went down (quiet-plan's recordStop). */
  const stopRecorded = async (
    units: string[],
  ): Promise<{ stopped: string[]; failed: string[]; alongWith: string[] }> => {
    if (units.length === 0) return { stopped: [], failed: [], alongWith: [] };
    const before = await activeAll();
    await systemctl(['stop', '--', ...units]);
    const after = await activeAll();
    const stillActive = new Set<string>();
    for (const u of units) if (after ? after.has(u) : await isActive(u)) stillActive.add(u);
    const wentDown = before && after ? [...before].filter((u) => !after.has(u)) : null;
    const r = recordStop(state.units, units, stillActive, wentDown);
    save({ ...state, units: r.units });
    return r;
  };

  return {
    async apply(hogUid, patterns) {
      // Another hog's units come back first; any that would not start stay recorded (below).
      if (state.hogUid !== null && state.hogUid !== hogUid && state.units.length) await release();
      if (state.hogUid === hogUid) {
        // Already quieted for this hog: finish what a crash may have left "intended".
        const pending = state.units.filter((u) => u.status === 'intended').map((u) => u.unit);
        const r = await stopRecorded(pending);
        return { stopped: r.stopped, refused: [], failed: r.failed };
      }
      const plan = patterns.length ? planQuiet(await activeMatching(patterns)) : { stop: [], refused: [] };
      const begin = beginHog(state.units, plan.stop);
      const fresh = begin.toStop;
      // BEFORE stopping: a crash now still names every unit that may go down. (With nothing to
      // stop, this records that the hog was looked at, so polls do not list units again.)
      save({ version: 1, hogUid, units: begin.units, updatedAt: '' });
      if (fresh.length === 0) return { stopped: [], refused: plan.refused, failed: [] };
      const r = await stopRecorded(fresh);
      log.info(
        {
          stopped: r.stopped,
          alongWith: r.alongWith,
          refused: plan.refused.map((x) => `${x.unit} (${x.why})`),
          failed: r.failed,
        },
        'quiet host: units stopped for the hog',
      );
      return { stopped: [...r.stopped, ...r.alongWith], refused: plan.refused, failed: r.failed };
    },
    release,
    async reconcile(keepFor) {
      if (state.units.length === 0) {
        state = { ...state, hogUid: null };
        return { kept: [], started: [], failed: [] };
      }
      if (keepFor !== null && keepFor === state.hogUid) {
        const pending = state.units.filter((u) => u.status === 'intended').map((u) => u.unit);
        await stopRecorded(pending);
        return { kept: state.units.map((u) => u.unit), started: [], failed: [] };
      }
      const r = await release();
      return { kept: [], ...r };
    },
    recorded: () => state.units.map((u) => u.unit),
    async dryRun(patterns) {
      const plan = planQuiet(await activeMatching(patterns));
      return {
        ...plan,
        command: plan.stop.length ? [cmd, ...pre, 'stop', '--', ...plan.stop].join(' ') : null,
      };
    },
  };
}

function firstLine(s: string): string {
  return (s.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 200);
}
