/**
 * The GPU sampler: one reading per [gpus] sample, in the background on its own timer, never in
 * the bridge's refresh. A reading is two nvidia-smi calls (GPUs, then compute apps), each with
 * the [gpus] timeout (the child's process group is killed past it); pids are mapped to users
 * through /proc. The refresh reads `source()`: the last good reading and, if the latest attempt
 * failed, why (the planner then calls the GPUs unknown, never free).
 */
import { APP_FIELDS, GPU_FIELDS, parseComputeApps, parseQueryGpu } from '../../core/gpu-parse.js';
import type { GpuReading, GpuSource } from '../../core/gpu-plan.js';
import { cleanText } from '../../core/sanitize.js';
import { runBounded } from './run-bounded.js';
import { pidOwner, readPasswdNames } from './proc-users.js';

export interface SamplerOptions {
  command: string[];
  sampleMs: number;
  timeoutMs: number;
  clock?: () => Date;
  procRoot?: string;
  onSample?: (s: GpuSource) => void;
}

/** One reading, or the reason there is none (one line). */
type ReadOptions = Pick<SamplerOptions, 'command' | 'timeoutMs' | 'clock' | 'procRoot'>;

export async function readGpus(o: ReadOptions): Promise<GpuReading | { error: string }> {
  const clock = o.clock ?? (() => new Date());
  const call = async (args: string[]) => {
    const r = await runBounded([...o.command, ...args], o.timeoutMs);
    const what = 'nvidia-smi'; // the command may be a long argv ([gpus] command): the motd has 80 columns
    if (r.timedOut) return { error: `${what} did not answer in ${Math.round(o.timeoutMs / 1000)}s` };
    if (r.error) return { error: r.error };
    if (r.code !== 0) {
      const msg = cleanText((r.stdout + ' ' + r.stderr).trim(), 120);
      return { error: `${what} failed (exit ${r.code})${msg ? `: ${msg}` : ''}` };
    }
    return { out: r.stdout };
  };
  const fmt = '--format=csv,noheader,nounits';
  const g = await call([`--query-gpu=${GPU_FIELDS.join(',')}`, fmt]);
  if ('error' in g) return { error: g.error! };
  const gpus = parseQueryGpu(g.out);
  if (!gpus.items.length) {
    return { error: `nvidia-smi listed no GPU${gpus.bad ? ` (${gpus.bad} unreadable lines)` : ''}` };
  }
  const a = await call([`--query-compute-apps=${APP_FIELDS.join(',')}`, fmt]);
  if ('error' in a) return { error: a.error! };
  const apps = parseComputeApps(a.out);
  const names = readPasswdNames();
  const processes = apps.items.map((p) => ({ ...p, ...pidOwner(p.pid, names, o.procRoot) }));
  return { at: clock(), gpus: gpus.items, processes };
}

export class GpuSampler {
  private last: GpuSource = { reading: null, failure: null };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly o: SamplerOptions) {}

  source(): GpuSource {
    return this.last;
  }

  /** One sample now (skipped while one runs). */
  async sampleOnce(): Promise<GpuSource> {
    if (!this.running) {
      this.running = (async () => {
        const r = await readGpus(this.o);
        const now = (this.o.clock ?? (() => new Date()))();
        this.last =
          'error' in r
            ? { reading: this.last.reading, failure: { at: now, error: r.error } }
            : { reading: r, failure: null };
        try {
          this.o.onSample?.(this.last);
        } catch {
          /* the hook logs its own */
        }
      })().finally(() => {
        this.running = null;
      });
    }
    await this.running;
    return this.last;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      void this.sampleOnce().finally(() => {
        if (!this.stopped) {
          this.timer = setTimeout(loop, this.o.sampleMs);
          this.timer.unref();
        }
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
