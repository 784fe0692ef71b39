/**
 * The bridge's GPU part: runs the sampler on its own timer (never inside a refresh), plans the
 * GPU rows after each sample and each refresh (pure: src/core/gpu-plan.ts), publishes them in
 * state_dir/gpus.json, keeps the idle-tracking state in state_dir/gpu-idle.json, gives the
 * motd its GPU lines and the notify hook its GPU notices (once per job, through the ledger).
 */
import type { Config } from '../config/schema.js';
import type { Claim } from '../core/types.js';
import { planGpus, type GpuPlan } from '../core/gpu-plan.js';
import { gpuMotdLines } from '../core/gpu-render.js';
import { gpuNotices } from '../core/gpu-notices.js';
import { errorLine } from '../core/errors.js';
import { GpuSampler } from '../host/gpus/sampler.js';
import { readIdleState, writeGpusFile, writeIdleState } from '../host/gpus/gpus-file.js';
import type { Log } from '../host/store/log.js';
import type { RefreshHook } from './bridge.js';
import type { ExtraPlanner } from './notify-hook.js';

export interface GpuWatch {
  hook: RefreshHook;
  motdLines: () => string[];
  planner: ExtraPlanner;
  start: () => void;
  stop: () => Promise<void>;
}

export function gpuWatch(
  config: Config,
  log: Log,
  activeClaims: () => Claim[],
  clock: () => Date = () => new Date(),
): GpuWatch {
  const dir = config.bridge.stateDir;
  let idle = readIdleState(dir);
  let plan: GpuPlan | null = null;
  let lastUnknown: string | null = null;
  const update = (now: Date) => {
    try {
      plan = planGpus({ claims: activeClaims(), source: sampler.source(), config, now, idle });
      if (JSON.stringify(plan.idle) !== JSON.stringify(idle)) {
        idle = plan.idle;
        writeIdleState(dir, idle);
      }
      writeGpusFile(dir, plan);
      if (plan.unknown !== lastUnknown) {
        if (plan.unknown) log.warn({ why: plan.unknown }, 'GPUs unknown');
        else log.info({ gpus: plan.gpus.length }, 'GPUs sampled');
        lastUnknown = plan.unknown;
      }
    } catch (e) {
      log.error({ err: errorLine(e) }, 'GPU plan failed');
    }
  };
  const { command, sampleMs, timeoutMs } = config.gpus;
  const sampler = new GpuSampler({ command, sampleMs, timeoutMs, clock, onSample: () => update(clock()) });
  return {
    hook: async (_prev, _next, _view, now) => {
      update(now);
    },
    // Planned afresh (pure, nothing written): the motd is rendered before the hooks run, and
    // must show the claims of this very refresh.
    motdLines: () => {
      const now = clock();
      const claims = activeClaims();
      const fresh = plan ? planGpus({ claims, source: sampler.source(), config, now, idle }) : null;
      return gpuMotdLines(fresh, config.timezone, now);
    },
    planner: (sent, now) => (plan && !plan.unknown ? gpuNotices(plan, sent, config.host, now) : []),
    start: () => sampler.start(),
    stop: () => sampler.stop(),
  };
}
