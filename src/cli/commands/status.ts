/** hosthog status: the host's view from snapshot.json; never touches the network. */
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { hostView } from '../../core/view.js';
import { renderStatus, statusJson } from '../../core/status-render.js';
import { parseWhen } from '../../core/when.js';
import { HosthogError, UsageError } from '../../core/errors.js';
import { formatTime } from '../../core/format-time.js';

export async function status(g: GlobalOptions, opts: { at?: string; json?: boolean; brief?: boolean }): Promise<void> {
  const config = configFor(g);
  const now = new Date();
  const at = opts.at ? parseWhen(opts.at, now, config.timezone) : now;
  // Off the host (--calendar URL): the calendar itself, through this user's cache.
  const snap = g.calendar ? await (await import('../transport.js')).directSnapshot(g, configFor(g)) : readSnapshotFile(config.bridge.stateDir);
  if (!snap) {
    throw new HosthogError(`no calendar data on this host yet (${config.bridge.stateDir}/snapshot.json is missing)`,
      'start the bridge (systemctl start hosthog-bridge) or run: hosthog sync');
  }
  // The cache holds occurrences from yesterday to [bridge] window_days ahead; outside that,
  // "free" would be a guess.
  const t = at.getTime();
  if (opts.at && 'from' in snap && snap.from && snap.to && (t < snap.from.getTime() || t + 86_400_000 > snap.to.getTime())) {
    throw new UsageError(`${formatTime(at, config.timezone, now)} is outside what this host has cached (${formatTime(snap.from, config.timezone, now)} to ${formatTime(new Date(snap.to.getTime() - 86_400_000), config.timezone, now)})`,
      'look further ahead in the calendar app, or raise [bridge] window_days');
  }
  const view = hostView(snap, config, at, now);
  process.stdout.write(opts.json ? JSON.stringify(statusJson(view), null, 2) + '\n' : renderStatus(view, { brief: opts.brief }));
}
