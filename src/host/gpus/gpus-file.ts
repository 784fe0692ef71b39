/**
 * state_dir/gpus.json (0644, atomic): the bridge's last GPU plan, for `hosthog gpus`, `status`,
 * `who` and the CLI of plain users (no nvidia-smi needed); state_dir/gpu-idle.json (0600): the
 * idle-tracking state, so a restart does not reset "idle since".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic-write.js';
import type { GpuIdleState, GpuPlan } from '../../core/gpu-plan.js';

export const GPUS_FILE = 'gpus.json';
export const GPU_IDLE_FILE = 'gpu-idle.json';

export function writeGpusFile(stateDir: string, plan: GpuPlan): void {
  const { idle: _idle, ...pub } = plan;
  writeFileAtomic(join(stateDir, GPUS_FILE), JSON.stringify(pub) + '\n', 0o644);
}

/** The published plan, or null when there is none (or it is unreadable). */
export function readGpusFile(stateDir: string): Omit<GpuPlan, 'idle'> | null {
  try {
    const p = JSON.parse(readFileSync(join(stateDir, GPUS_FILE), 'utf8')) as GpuPlan;
    if (!p || !Array.isArray(p.gpus) || !Array.isArray(p.flags) || typeof p.at !== 'string') return null;
    return p;
  } catch {
    return null;
  }
}

export function readIdleState(stateDir: string): GpuIdleState {
  try {
    const v = JSON.parse(readFileSync(join(stateDir, GPU_IDLE_FILE), 'utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    const ok = ([, s]: [string, unknown]) => typeof s === 'string' && Number.isFinite(Date.parse(s));
    return Object.fromEntries(Object.entries(v).filter(ok)) as GpuIdleState;
  } catch {
    return {};
  }
}

export function writeIdleState(stateDir: string, s: GpuIdleState): void {
  writeFileAtomic(join(stateDir, GPU_IDLE_FILE), JSON.stringify(s) + '\n', 0o600);
}
