/** hosthog hosts: every host calendar of the fleet, one line each (who holds it, next, free, freshness). */
import type { GlobalOptions } from '../main.js';
import { loadFleet, nearWindow } from '../../fleet/fleet-load.js';
import { hostRows, hostsJson, renderHosts } from '../../core/fleet-hosts.js';

export async function hosts(
  g: GlobalOptions,
  opts: { json?: boolean; stats?: boolean; refresh?: boolean },
): Promise<void> {
  const now = new Date();
  const { ctx, hosts: snaps, stats } = await loadFleet(g, nearWindow, { now, refresh: !!opts.refresh });
  const rows = hostRows(snaps, now);
  process.stdout.write(
    opts.json ? JSON.stringify(hostsJson(rows), null, 2) + '\n' : renderHosts(rows, ctx.config.timezone, now),
  );
  if (process.env.HOSTHOG_FLEET_STATS) process.stderr.write(JSON.stringify(stats) + '\n');
}
