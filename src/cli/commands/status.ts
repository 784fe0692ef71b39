/** hosthog status: the host's view from snapshot.json; never touches the network. */
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { hostView, checkCovered, HORIZON_MS } from '../../core/view.js';
import { renderStatus, statusJson } from '../../core/status-render.js';
import { parseWhen } from '../../core/when.js';
import { HosthogError } from '../../core/errors.js';
import { cleanText } from '../../core/sanitize.js';
import { readGateStatus } from '../../bridge/hog-hook.js';
import type { HostView } from '../../core/view.js';

export async function status(
  g: GlobalOptions,
  opts: { at?: string; json?: boolean; brief?: boolean },
): Promise<void> {
  const config = configFor(g);
  const now = new Date();
  const at = opts.at ? parseWhen(opts.at, now, config.timezone) : now;
  // Off the host (--calendar URL): the calendar itself, through this user's cache.
  // On the host: the near part of the snapshot (now and the next 24 h) unless --at looks
  // elsewhere, so the cost does not grow with the window or the calendar's history.
  const snap =
    g.calendar || g.host
      ? await (await import('../transport.js')).directSnapshot(g, config)
      : readLocal(config.bridge.stateDir, at);
  if (!snap) {
    throw new HosthogError(
      `no calendar data on this host yet (${config.bridge.stateDir}/snapshot.json is missing)`,
      'start the bridge (systemctl start hosthog-bridge) or run: hosthog sync',
    );
  }
  if (opts.at && 'from' in snap) checkCovered(at, snap, config.timezone, now);
  const view = hostView(snap, config, at, now);
  const elsewhere = Boolean(g.calendar || opts.at); // the gate's state is the host's, now
  // GPUs are what runs now: not shown for another time (--at), nor off the host (--calendar).
  const gpus = elsewhere ? null : (await import('./gpus.js')).loadGpus(config, now);
  process.stdout.write(
    opts.json
      ? JSON.stringify(withGate(statusJson(view, gpus), view, config.bridge.stateDir, elsewhere), null, 2) +
          '\n'
      : renderStatus(view, { brief: opts.brief, gpus }) +
          gateWarning(view, config.bridge.stateDir, elsewhere),
  );
}

/** Whether the bridge holds the door for the hog shown now (hog-gate.json); "" / unchanged when no hog. */
function gateOf(
  view: HostView,
  stateDir: string,
  elsewhere: boolean,
): { enforced: boolean; why?: string } | null {
  const hog = view.active.find((c) => c.hog);
  if (!hog || elsewhere) return null;
  const s = readGateStatus(stateDir);
  if (!s) return { enforced: false, why: 'the bridge has not reported the hog gate' };
  if (s.holder === hog.user && s.enforced) return { enforced: true };
  const refused = s.refused.find((r) => r.uid === hog.uid);
  const other = s.holder ? `${s.holder}'s hog is the one enforced` : 'the bridge has not enforced it';
  return { enforced: false, why: refused?.why ?? s.why ?? other };
}
function withGate(j: object, view: HostView, stateDir: string, elsewhere: boolean): object {
  const gate = gateOf(view, stateDir, elsewhere);
  return gate ? { ...j, ...gate } : j;
}
function gateWarning(view: HostView, stateDir: string, elsewhere: boolean): string {
  const gate = gateOf(view, stateDir, elsewhere);
  if (!gate || gate.enforced) return '';
  return `!! the hog is NOT enforced: anyone may log in (${cleanText(gate.why ?? '', 200)})\n`;
}

function readLocal(stateDir: string, at: Date): ReturnType<typeof readSnapshotFile> {
  const near = readSnapshotFile(stateDir, { near: true });
  if (near && at.getTime() >= near.from.getTime() && at.getTime() + HORIZON_MS <= near.to.getTime())
    return near;
  return readSnapshotFile(stateDir);
}
