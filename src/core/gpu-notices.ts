/**
 * Notices for GPU conflicts: a pure function of (the GPU plan, keys already sent, host, now).
 * One notice per job (GPU + pid + process start) and holder, to the user running it and to the
 * holder; the bridge's ledger (src/host/sessions/ledger.ts) remembers the key, so a job seen
 * in every sample is told once, across restarts too. Unclaimed use and idle claims are only shown.
 */
import type { GpuPlan } from './gpu-plan.js';
import type { Notice } from './notify-plan.js';
import { BODY_MAX, TITLE_MAX } from './notify-plan.js';
import { cleanText } from './sanitize.js';
import { fmtMib } from './gpu-render.js';

export function gpuNotices(plan: GpuPlan, sent: ReadonlySet<string>, host: string, now: Date): Notice[] {
  const out: Notice[] = [];
  const h = cleanText(host, 40);
  for (const f of plan.flags) {
    if (!f.conflict || !f.user || !f.holder || !f.job) continue;
    const key = `gpu:${f.kind}:${f.resource}:${f.job}:${f.holder}`;
    if (sent.has(key) || out.some((n) => n.key === key)) continue;
    const row = plan.gpus.find((r) => r.resource === f.resource);
    const mem = row?.processes.find((p) => p.pid === f.pid)?.memory_mib ?? null;
    const user = cleanText(f.user, 32);
    const holder = cleanText(f.holder, 32);
    const res = cleanText(f.resource, 24);
    const why = f.kind === 'during-exclusive' ? `during ${holder}'s exclusive claim` : `claimed by ${holder}`;
    out.push({
      key,
      kind: 'gpu-use',
      urgent: true,
      to: { users: [...new Set([f.user, f.holder])] },
      title: cleanText(`${user} is using ${res} on ${h}, ${why}`, TITLE_MAX),
      body: cleanText(
        `pid ${f.pid}, ${fmtMib(mem)} on ${res}. ${user}: please stop it or ask ${holder}; ` +
          `${holder}: hosthog gpus shows who runs what.`,
        BODY_MAX,
      ),
      at: now,
    });
  }
  return out;
}
