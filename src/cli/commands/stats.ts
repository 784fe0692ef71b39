/**
 * hosthog stats [--since 90d] [--by host|user|resource] [--json] [--html report.html]: how the fleet
 * was used.
 */
import { writeFileSync } from 'node:fs';
import type { GlobalOptions } from '../main.js';
import { loadFleet } from '../../fleet/fleet-load.js';
import { computeStats, type StatsBy } from '../../core/stats-compute.js';
import { renderStats, statsJson } from '../../core/stats-render.js';
import { renderStatsHtml } from '../../core/stats-html.js';
import { parseDurationArg, parseWhen } from '../../core/when.js';
import { UsageError } from '../../core/errors.js';

export async function stats(
  g: GlobalOptions,
  o: { since?: string; until?: string; by?: string; json?: boolean; html?: string; refresh?: boolean },
): Promise<void> {
  const by = (o.by ?? 'host') as StatsBy;
  if (!['host', 'user', 'resource'].includes(by))
    throw new UsageError(
      `--by ${String(o.by).slice(0, 20)}: unknown grouping`,
      'use --by host, --by user or --by resource',
    );
  const now = new Date();
  let span: { from: Date; to: Date } | null = null;
  const {
    ctx,
    hosts,
    stats: fetched,
  } = await loadFleet(
    g,
    (c, n) => {
      const to = o.until ? parseWhen(o.until, n, c.config.timezone) : n;
      const since = o.since ?? '90d';
      const from = /^\d+\s*[a-z]+$/i.test(since.trim())
        ? new Date(to.getTime() - parseDurationArg(since))
        : parseWhen(since, n, c.config.timezone);
      if (from >= to)
        throw new UsageError('--since must be before the end of the period', 'e.g. --since 90d');
      return (span = { from, to });
    },
    { now, refresh: !!o.refresh, pieces: true },
  );
  const s = computeStats(hosts, { from: span!.from, to: span!.to, by, timezone: ctx.config.timezone });
  if (o.html) {
    writeFileSync(o.html, renderStatsHtml(s), { mode: 0o644 });
    if (!o.json) process.stdout.write(`wrote ${o.html}\n`);
  }
  process.stdout.write(o.json ? JSON.stringify(statsJson(s), null, 2) + '\n' : renderStats(s));
  if (process.env.HOSTHOG_FLEET_STATS) process.stderr.write(JSON.stringify(fetched) + '\n');
}
