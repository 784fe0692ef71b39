/**
 * The GPU rows as text: one line per GPU for `hosthog status`, the motd, `hosthog who` and
 * `hosthog gpus`, e.g. "gpu0  claimed by alice · in use by alice 38 GiB · 97 %" and
 * "gpu1  free · in use by carol 4 GiB (no claim)", each conflict on a "  ! …" line below; and
 * the holder's CUDA_VISIBLE_DEVICES line.
 * Pure: rows (as the bridge publishes them in gpus.json) + zone + now → text.
 */
import type { GpuPlan, GpuRow } from './gpu-plan.js';
import { cleanText } from './sanitize.js';
import { formatTime } from './format-time.js';

/** "38 GiB", "512 MiB", "?" */
export function fmtMib(mib: number | null): string {
  if (mib === null) return '?';
  return mib >= 1000 ? `${Math.round(mib / 1024)} GiB` : `${Math.round(mib)} MiB`;
}

function users(names: string[]): string {
  return names.map((u) => cleanText(u, 32)).join(', ');
}

/** Per-user memory on one GPU, largest first: "alice 38 GiB, carol 4 GiB". */
function usersOn(row: GpuRow): string {
  const by = new Map<string, number>();
  for (const p of row.processes) {
    const u = p.user === null ? 'unknown user' : cleanText(p.user, 32);
    by.set(u, (by.get(u) ?? 0) + (p.memory_mib ?? 0));
  }
  return [...by]
    .sort((a, b) => b[1] - a[1])
    .map(([u, m]) => `${u} ${fmtMib(m)}`)
    .join(', ');
}

export function gpuLine(row: GpuRow, tz: string, now: Date, width = 4): string {
  const name = cleanText(row.resource, 24).padEnd(width);
  const claimed = row.claimed_by.length ? `claimed by ${users(row.claimed_by)}` : 'free';
  if (row.state === 'unknown') return `${name}  ${claimed} · use unknown`;
  const parts = [claimed];
  if (row.idle_since && !row.processes.length) {
    parts[0] = `${claimed}, idle since ${formatTime(new Date(row.idle_since), tz, now)}`;
  }
  if (row.processes.length) {
    const util = row.utilization === null ? '' : ` · ${row.utilization} %`;
    parts.push(`in use by ${usersOn(row)}${row.claimed_by.length ? '' : ' (no claim)'}${util}`);
  } else if (!row.idle_since) {
    parts.push('not in use');
  }
  return `${name}  ${parts.join(' · ')}`;
}

/** The table alone (`hosthog gpus`), or the unknown line. */
type Shown = Pick<GpuPlan, 'unknown' | 'gpus' | 'flags'>;

export function renderGpus(plan: Shown, tz: string, now: Date): string[] {
  const width = Math.max(4, ...plan.gpus.map((r) => Math.min(Array.from(r.resource).length, 24)));
  const out: string[] = [];
  if (plan.unknown) out.push(`GPUs unknown: ${cleanText(plan.unknown, 120)}`);
  for (const r of plan.gpus) {
    out.push(gpuLine(r, tz, now, width));
    // Conflicts on lines of their own: an 80-column motd never cuts them off.
    for (const f of plan.flags) {
      if (f.resource === r.resource && f.conflict) out.push(`  ! ${cleanText(f.text, 100)}`);
    }
  }
  return out;
}

/** The GPU section of the motd and `hosthog status`: a label, a line per GPU ("GPUs unknown: why"). */
export function gpuMotdLines(plan: Shown | null, tz: string, now: Date): string[] {
  if (!plan) return [];
  if (plan.unknown && !plan.gpus.length) return [`GPUs unknown: ${cleanText(plan.unknown, 120)}`];
  return ['GPUS:', ...renderGpus(plan, tz, now).map((l) => (l.startsWith('GPUs unknown') ? l : `  ${l}`))];
}

export interface Mine {
  resource: string;
  index: number;
}

/** The GPUs a user's active claims name, with their indices (from the rows, else gpuN → N). */
export function mineIndices(rows: GpuRow[], claimedResources: string[]): Mine[] {
  const out: Mine[] = [];
  for (const r of claimedResources) {
    const row = rows.find((x) => x.resource === r);
    const index = row?.index ?? (/^gpu(\d+)$/.exec(r) ? Number(r.slice(3)) : null);
    if (index !== null && !out.some((x) => x.index === index)) out.push({ resource: r, index });
  }
  return out.sort((a, b) => a.index - b.index);
}

export function cudaEnvLine(mine: { index: number }[]): string | null {
  return mine.length ? `export CUDA_VISIBLE_DEVICES=${mine.map((m) => m.index).join(',')}` : null;
}

/** "your claim: gpu1 → export CUDA_VISIBLE_DEVICES=1" (printed by the profile.d snippet). */
export function claimHintLine(mine: { resource: string; index: number }[]): string | null {
  const env = cudaEnvLine(mine);
  return env ? `your claim: ${mine.map((m) => cleanText(m.resource, 24)).join(',')} → ${env}` : null;
}
