/**
 * What runs on each GPU, against who claimed it. Pure: (active claims, the last GPU reading,
 * config, now, idle-tracking state) → per-GPU rows, flags and the next idle state.
 *
 * Decisions:
 *  - Resources: [gpus] resources maps names to GPUs (index, uuid or PCI bus id); every other GPU
 *    of the reading is "gpuN" for its index N. With no usable reading, the host's gpuN
 *    resources and the mapped names are listed as unknown: never "free".
 *  - A GPU is claimed by the users of active claims naming it, and by the holder of an active
 *    exclusive claim on the whole host.
 *  - Flags, per process of a known user: during another user's exclusive whole-host claim (not
 *    in its allow list) → "during-exclusive"; on a GPU claimed by others only →
 *    "claimed-by-other"; on an unclaimed GPU → "unclaimed" (shown, not a conflict). A process
 *    whose user is unknown (another pid namespace) is shown and never flagged.
 *  - Idle: a GPU named by a user's active claim with no process of that user since
 *    max(claim start, last seen busy) for idle_after is "claimed, idle since …".
 *  - The reading counts as unknown when the last sample failed or is older than 3 samples
 *    (plus the sample timeout).
 */
import type { Claim } from './types.js';
import type { Config } from '../config/schema.js';
import type { GpuInfo } from './gpu-parse.js';
import { cleanText } from './sanitize.js';
import { formatTime } from './format-time.js';

/** A compute process on a GPU, its user resolved on the host (null: another pid namespace). */
export interface GpuProcess {
  pid: number;
  user: string | null;
  memoryMib: number | null;
  gpuUuid: string | null;
  gpuBusId: string | null;
  /** The process's start (clock ticks after boot, /proc/PID/stat): one job = pid + start. */
  start: string | null;
}

export interface GpuReading {
  at: Date;
  gpus: GpuInfo[];
  processes: GpuProcess[];
}

/** The sampler's last result: the last good reading and, when the latest attempt failed, why. */
export interface GpuSource {
  reading: GpuReading | null;
  failure: { at: Date; error: string } | null;
}

export type GpuFlagKind = 'claimed-by-other' | 'during-exclusive' | 'unclaimed' | 'idle';

export interface GpuFlag {
  resource: string;
  kind: GpuFlagKind;
  /** A conflict with the calendar (notified); "unclaimed" and "idle" are only shown. */
  conflict: boolean;
  user: string | null;
  holder: string | null;
  pid: number | null;
  /** pid:start of the process: one job (notices are sent once per job). */
  job: string | null;
  text: string;
}

export interface GpuProcessJson {
  pid: number;
  user: string | null;
  memory_mib: number | null;
}

export interface GpuRow {
  resource: string;
  index: number | null;
  uuid: string | null;
  state: 'ok' | 'unknown';
  utilization: number | null;
  memory_used_mib: number | null;
  memory_total_mib: number | null;
  claimed_by: string[];
  processes: GpuProcessJson[];
  /** The first flag of this GPU (a conflict before unclaimed use before idle), or null. */
  flag: GpuFlag | null;
  /** ISO time the holder's processes were last seen (or the claim started), when marked idle. */
  idle_since: string | null;
}

/** "resource|user" → ISO time the user was last seen running on the resource. */
export type GpuIdleState = Record<string, string>;

export interface GpuPlan {
  at: string;
  reading_at: string | null;
  /** Why the GPUs are unknown, or null when the reading is usable. */
  unknown: string | null;
  gpus: GpuRow[];
  flags: GpuFlag[];
  idle: GpuIdleState;
}

/** Readings older than this count as unknown. */
export function maxReadingAgeMs(config: Config): number {
  return 3 * config.gpus.sampleMs + config.gpus.timeoutMs;
}

function busKey(s: string): string | null {
  const m = /^(?:([0-9A-Fa-f]{1,8}):)?([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\.([0-7])$/.exec(s.trim());
  if (!m) return null;
  return [m[1] ?? '0', m[2], m[3], m[4]].map((x) => parseInt(x, 16)).join(':');
}

/** Does the selector ("0", "GPU-…", a PCI bus id) name this GPU? */
export function selects(sel: string, g: GpuInfo): boolean {
  if (/^\d+$/.test(sel)) return Number(sel) === g.index;
  if (/^(GPU|MIG)-/i.test(sel)) return sel.toLowerCase() === g.uuid.toLowerCase();
  const k = busKey(sel);
  return k !== null && g.busId !== null && busKey(g.busId) === k;
}

/** Resource name → GPU of the reading (explicit mapping first, then gpuN for the rest). */
export function mapResources(config: Config, gpus: GpuInfo[]): { resource: string; gpu: GpuInfo | null }[] {
  const out: { resource: string; gpu: GpuInfo | null }[] = [];
  const used = new Set<GpuInfo>();
  const explicit = config.gpus.resources;
  for (const [name, sel] of Object.entries(explicit)) {
    const g = gpus.find((x) => selects(sel, x)) ?? null;
    if (g) used.add(g);
    out.push({ resource: name, gpu: g });
  }
  for (const g of [...gpus].sort((a, b) => a.index - b.index)) {
    const name = `gpu${g.index}`;
    if (used.has(g) || name in explicit) continue;
    out.push({ resource: name, gpu: g });
  }
  return out;
}

/** The resource names a host has without a reading: the mapped ones and its gpuN resources. */
function knownNames(config: Config): string[] {
  const names = [...Object.keys(config.gpus.resources)];
  for (const r of config.resources) if (/^gpu\d+$/.test(r) && !names.includes(r)) names.push(r);
  return names;
}

const ORDER: Record<GpuFlagKind, number> = {
  'during-exclusive': 0,
  'claimed-by-other': 1,
  unclaimed: 2,
  idle: 3,
};

export interface GpuPlanInput {
  claims: Claim[];
  source: GpuSource;
  config: Config;
  now: Date;
  idle: GpuIdleState;
}

export function planGpus(args: GpuPlanInput): GpuPlan {
  const { config, now, source } = args;
  const t = now.getTime();
  const active = args.claims.filter((c) => c.start.getTime() <= t && t < c.end.getTime());
  const wholeExclusive = active.filter((c) => (c.hog || c.mode === 'exclusive') && c.resources.length === 0);
  const named = (r: string) => active.filter((c) => c.resources.includes(r));
  const claimants = (r: string) => [...new Set([...named(r), ...wholeExclusive].map((c) => c.user))];

  const reading = source.reading;
  let unknown: string | null = null;
  const failed = source.failure && (!reading || source.failure.at.getTime() >= reading.at.getTime());
  if (failed) unknown = clean(source.failure!.error, 160);
  else if (!reading) unknown = 'not sampled yet';
  else if (t - reading.at.getTime() > maxReadingAgeMs(config)) {
    unknown = `no reading since ${formatTime(reading.at, config.timezone, now)}`;
  }

  const base = (resource: string): GpuRow => ({
    resource,
    index: null,
    uuid: null,
    state: 'unknown',
    utilization: null,
    memory_used_mib: null,
    memory_total_mib: null,
    claimed_by: claimants(resource),
    processes: [],
    flag: null,
    idle_since: null,
  });
  const plan: GpuPlan = {
    at: now.toISOString(),
    reading_at: reading ? reading.at.toISOString() : null,
    unknown,
    gpus: [],
    flags: [],
    idle: { ...args.idle },
  };
  if (unknown || !reading) {
    plan.gpus = knownNames(config).map(base);
    return plan;
  }

  const idle: GpuIdleState = {};
  for (const { resource, gpu } of mapResources(config, reading.gpus)) {
    const row = base(resource);
    plan.gpus.push(row);
    if (!gpu) continue; // a mapped GPU this reading does not have: unknown
    Object.assign(row, {
      index: gpu.index,
      uuid: gpu.uuid,
      state: 'ok',
      utilization: gpu.utilization,
      memory_used_mib: gpu.memoryUsedMib,
      memory_total_mib: gpu.memoryTotalMib,
    });
    const onThis = (p: GpuProcess) =>
      p.gpuUuid
        ? p.gpuUuid === gpu.uuid
        : p.gpuBusId !== null && gpu.busId !== null && busKey(p.gpuBusId) === busKey(gpu.busId);
    const procs = reading.processes.filter(onThis);
    row.processes = procs.map((p) => ({ pid: p.pid, user: p.user, memory_mib: p.memoryMib }));
    const flags: GpuFlag[] = [];
    for (const p of procs) {
      const u = p.user;
      if (u === null) continue;
      const job = `${p.pid}:${p.start ?? '?'}`;
      const ex = wholeExclusive.find((c) => c.user !== u && !c.allow.includes(u));
      // The whole-host exclusive holder (and whom they allow) is dealt with above:
      // here only the claims naming this GPU.
      const owners = [...new Set(named(resource).map((c) => c.user))];
      const f = (kind: GpuFlagKind, holder: string | null, text: string): GpuFlag => ({
        resource,
        kind,
        conflict: kind !== 'unclaimed',
        user: u,
        holder,
        pid: p.pid,
        job,
        text: clean(text, 160),
      });
      if (ex) {
        flags.push(
          f('during-exclusive', ex.user, `${u} uses ${resource} during ${ex.user}'s exclusive claim`),
        );
      } else if (owners.length && !owners.includes(u)) {
        flags.push(
          f('claimed-by-other', owners[0], `${u} uses ${resource}, claimed by ${owners.join(', ')}`),
        );
      } else if (!owners.length && !wholeExclusive.length) {
        flags.push(f('unclaimed', null, `${u} uses ${resource} without a claim`));
      }
    }
    // Idle tracking per (resource, holder) of claims naming this GPU.
    for (const c of named(resource)) {
      const key = `${resource}|${c.user}`;
      if (key in idle) continue;
      const busy = procs.some((p) => p.user === c.user);
      const starts = named(resource)
        .filter((x) => x.user === c.user)
        .map((x) => x.start.getTime());
      const since = Math.max(...starts, Date.parse(args.idle[key] ?? '') || 0);
      idle[key] = busy ? now.toISOString() : new Date(since).toISOString();
      if (!busy && t - since >= config.gpus.idleAfterMs && !row.idle_since) {
        row.idle_since = new Date(since).toISOString();
        const text = clean(`${c.user}'s claim on ${resource} is idle`, 160);
        flags.push({
          resource,
          kind: 'idle',
          conflict: false,
          user: null,
          holder: c.user,
          pid: null,
          job: null,
          text,
        });
      }
    }
    flags.sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
    row.flag = flags[0] ?? null;
    plan.flags.push(...flags);
  }
  plan.idle = idle;
  return plan;
}

/**
 * The published plan as a reader sees it at `now`: one the bridge wrote longer ago than a
 * reading may be old (the bridge stopped) says unknown, never the old "free".
 */
export function publishedAsOf<P extends Omit<GpuPlan, 'idle'>>(p: P, config: Config, now: Date): P {
  const at = Date.parse(p.at);
  if (p.unknown || (Number.isFinite(at) && now.getTime() - at <= maxReadingAgeMs(config))) return p;
  const since = Number.isFinite(at) ? formatTime(new Date(at), config.timezone, now) : 'ever';
  return {
    ...p,
    unknown: `the bridge has published no GPU reading since ${since}`,
    gpus: p.gpus.map((r) => ({
      ...r,
      state: 'unknown',
      utilization: null,
      memory_used_mib: null,
      processes: [],
      flag: null,
      idle_since: null,
    })),
    flags: [],
  };
}

function clean(s: string, max: number): string {
  return cleanText(s, max);
}
