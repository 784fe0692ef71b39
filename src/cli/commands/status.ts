/** hosthog status: the host's view from snapshot.json; never touches the network. */
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { hostView, checkCovered } from '../../core/view.js';
import { renderStatus, statusJson } from '../../core/status-render.js';
import { parseWhen } from '../../core/when.js';
import { HosthogError } from '../../core/errors.js';

export async function status(g: GlobalOptions, opts: { at?: string; json?: boolean; brief?: boolean }): Promise<void> {
  const config = configFor(g);
  const now = new Date();
  const at = opts.at ? parseWhen(opts.at, now, config.timezone) : now;
  // Off the host (--calendar URL): the calendar itself, through this user's cache.
  const snap = g.calendar ? await (await import('../transport.js')).directSnapshot(g, config) : readSnapshotFile(config.bridge.stateDir);
  if (!snap) {
    throw new HosthogError(`no calendar data on this host yet (${config.bridge.stateDir}/snapshot.json is missing)`,
      'start the bridge (systemctl start hosthog-bridge) or run: hosthog sync');
  }
  if (opts.at && 'from' in snap) checkCovered(at, snap, config.timezone, now);
  const view = hostView(snap, config, at, now);
  // GPUs are what runs now: not shown for another time (--at), nor off the host (--calendar).
  const gpus = opts.at || g.calendar ? null : (await import('./gpus.js')).loadGpus(config, now);
  process.stdout.write(opts.json
    ? JSON.stringify(statusJson(view, gpus), null, 2) + '\n'
    : renderStatus(view, { brief: opts.brief, gpus }));
}
