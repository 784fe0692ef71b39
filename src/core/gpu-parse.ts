/**
 * Parsers for `nvidia-smi --query-gpu=… / --query-compute-apps=… --format=csv,noheader,nounits`.
 * Pure: (text, the fields asked for) → records. nvidia-smi separates values with ", " and quotes
 * nothing, so a free-text field (a process name a user chose) may itself hold ", ": the fields
 * before it are taken from the left, those after it from the right. Values such as "[N/A]" or
 * "[Not Supported]" become null. Lines that do not fit are counted, never guessed at.
 */

/** The fields one sample asks for (a compute app is tied to its GPU by uuid). */
export const GPU_FIELDS = [
  'index',
  'uuid',
  'pci.bus_id',
  'utilization.gpu',
  'memory.used',
  'memory.total',
] as const;
export const APP_FIELDS = ['pid', 'used_memory', 'gpu_uuid'] as const;

const FREE_TEXT = new Set(['name', 'gpu_name', 'process_name']);

export interface GpuInfo {
  index: number;
  uuid: string;
  busId: string | null;
  /** Percent, or null when the driver does not say. */
  utilization: number | null;
  memoryUsedMib: number | null;
  memoryTotalMib: number | null;
}

export interface ComputeApp {
  pid: number;
  memoryMib: number | null;
  gpuUuid: string | null;
  gpuBusId: string | null;
}

export interface Parsed<T> {
  items: T[];
  bad: number;
}

/** Split one line into the given fields (null when the count does not fit). */
export function splitCsvLine(line: string, fields: readonly string[]): Record<string, string> | null {
  const parts = line.split(', ');
  const free = fields.findIndex((f) => FREE_TEXT.has(f));
  if (parts.length < fields.length || (free < 0 && parts.length !== fields.length)) return null;
  const out: Record<string, string> = {};
  const after = fields.length - free - 1;
  fields.forEach((f, i) => {
    if (free < 0 || i < free) out[f] = parts[i];
    else if (i === free) out[f] = parts.slice(free, parts.length - after).join(', ');
    else out[f] = parts[parts.length - (fields.length - i)];
  });
  for (const k of Object.keys(out)) out[k] = out[k].trim();
  return out;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}

/** A number, or null for "[N/A]", "[Not Supported]" and the like; undefined when malformed. */
function num(v: string | undefined): number | null | undefined {
  if (v === undefined || /^\[.*\]$/.test(v) || v === 'N/A') return null;
  return /^\d+(\.\d+)?$/.test(v) ? Number(v) : undefined;
}

const UUID = /^(GPU|MIG)-[0-9A-Za-z-]+$/;
const BUS = /^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$/;

export function parseQueryGpu(text: string, fields: readonly string[] = GPU_FIELDS): Parsed<GpuInfo> {
  const items: GpuInfo[] = [];
  let bad = 0;
  for (const line of lines(text)) {
    const r = splitCsvLine(line, fields);
    const index = r ? num(r.index) : undefined;
    if (!r || typeof index !== 'number' || !Number.isInteger(index) || !UUID.test(r.uuid ?? '')) {
      bad++;
      continue;
    }
    const util = num(r['utilization.gpu']);
    const used = num(r['memory.used']);
    const total = num(r['memory.total']);
    if (util === undefined || used === undefined || total === undefined) {
      bad++;
      continue;
    }
    const bus = r['pci.bus_id'];
    const busId = bus && BUS.test(bus) ? bus.toUpperCase() : null;
    items.push({ index, uuid: r.uuid, busId, utilization: util, memoryUsedMib: used, memoryTotalMib: total });
  }
  return { items, bad };
}

export function parseComputeApps(text: string, fields: readonly string[] = APP_FIELDS): Parsed<ComputeApp> {
  const items: ComputeApp[] = [];
  let bad = 0;
  for (const line of lines(text)) {
    const r = splitCsvLine(line, fields);
    const pid = r ? num(r.pid) : undefined;
    const mem = r ? num(r.used_memory ?? r.used_gpu_memory) : undefined;
    if (!r || typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0 || mem === undefined) {
      bad++;
      continue;
    }
    const uuid = r.gpu_uuid && UUID.test(r.gpu_uuid) ? r.gpu_uuid : null;
    const bus = r.gpu_bus_id && BUS.test(r.gpu_bus_id) ? r.gpu_bus_id.toUpperCase() : null;
    if (!uuid && !bus) {
      bad++;
      continue;
    }
    items.push({ pid, memoryMib: mem, gpuUuid: uuid, gpuBusId: bus });
  }
  return { items, bad };
}
