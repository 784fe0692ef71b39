/**
 * hosthog gpus: the GPU table alone, from what the bridge published (state_dir/gpus.json; no
 * nvidia-smi needed, so a plain user can run it). `--mine --env` prints the CUDA_VISIBLE_DEVICES
 * export line of the GPUs the caller's active claims name; `--mine --hint` the profile.d line.
 */
import { userInfo } from 'node:os';
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import type { Config } from '../../config/schema.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { hostView } from '../../core/view.js';
import { publishedAsOf, type GpuPlan } from '../../core/gpu-plan.js';
import { claimHintLine, cudaEnvLine, mineIndices, renderGpus } from '../../core/gpu-render.js';
import { readGpusFile } from '../../host/gpus/gpus-file.js';

export type PublishedGpus = Omit<GpuPlan, 'idle'>;

/** The bridge's GPU plan as of now; an "unknown" plan when there is none (never "free"). */
export function loadGpus(config: Config, now: Date): PublishedGpus | null {
  const p = readGpusFile(config.bridge.stateDir);
  if (p) return publishedAsOf(p, config, now);
  if (!config.gpus.enabled) return null;
  return unknownPlan(now, `the bridge has not published GPUs yet (${config.bridge.stateDir}/gpus.json)`);
}

function unknownPlan(now: Date, why: string): PublishedGpus {
  return { at: now.toISOString(), reading_at: null, unknown: why, gpus: [], flags: [] };
}

export interface GpusOptions {
  json?: boolean;
  mine?: boolean;
  env?: boolean;
  hint?: boolean;
}

export async function gpus(g: GlobalOptions, o: GpusOptions): Promise<void> {
  const config = configFor(g);
  const now = new Date();
  const plan =
    loadGpus(config, now) ??
    unknownPlan(now, 'GPUs are not watched on this host (no [gpus] section, no gpuN resource)');
  if (o.mine || o.env || o.hint) {
    const me = userInfo().username;
    const snap = readSnapshotFile(config.bridge.stateDir);
    const active = snap ? hostView(snap, config, now).active : [];
    const claimed = active.filter((c) => c.user === me).flatMap((c) => c.resources);
    const mine = mineIndices(plan.gpus, claimed);
    const env = cudaEnvLine(mine);
    if (o.env) {
      if (env) process.stdout.write(env + '\n');
      return;
    }
    if (o.hint) {
      const h = claimHintLine(mine);
      if (h) process.stdout.write(h + '\n');
      return;
    }
    const rows = plan.gpus.filter((r) => mine.some((m) => m.resource === r.resource));
    if (o.json) {
      const flags = plan.flags.filter((f) => rows.some((r) => r.resource === f.resource));
      const out = { ...plan, gpus: rows, flags, cuda_visible_devices: env ? env.split('=')[1] : null };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    const lines = renderGpus({ ...plan, gpus: rows }, config.timezone, now);
    const h = claimHintLine(mine);
    lines.push(h ?? 'no active claim of yours names a GPU');
    process.stdout.write(lines.join('\n') + '\n');
    return;
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    return;
  }
  const lines = renderGpus(plan, config.timezone, now);
  process.stdout.write((lines.length ? lines.join('\n') : 'no GPUs') + '\n');
}
