/** hosthog sync: one sync and motd write, then exit (non-zero with one clear line on failure). */
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { Bridge } from '../../bridge/bridge.js';
import { createLog } from '../../host/store/log.js';
import { stateDirError } from './bridge.js';

export async function sync(g: GlobalOptions, opts: { full?: boolean }): Promise<void> {
  if (g.calendar) {
    // Off the host: refresh this user's cache of that calendar (nothing of the host's is written).
    const snap = await (await import('../transport.js')).directSnapshot(g, configFor(g));
    process.stdout.write(`synced ${snap.description} into your cache (~/.cache/hosthog): ${snap.occurrences.length} occurrences in the window\n`);
    return;
  }
  if (process.getuid?.() !== 0) {
    // A lab member cannot read the calendar password nor write the host's state: the bridge syncs.
    const { callBridge } = await import('../../host/rpc/rpc-client.js');
    const { printResult } = await import('../output.js');
    printResult(await callBridge(configFor(g).bridge.socket, { method: 'sync', params: {} }), false);
    return;
  }
  const config = configFor(g, { withPassword: true });
  const log = createLog({ level: process.env.HOSTHOG_LOG_LEVEL ?? 'warn', stream: process.stderr });
  const bridge = await Bridge.open(config, log).catch((e) => { throw stateDirError(e, config.bridge.stateDir); });
  try {
    const out = await bridge.syncOnce({ forceFull: opts.full });
    const n = bridge.current?.occurrences.length ?? 0;
    process.stdout.write(`synced ${bridge.source.description}: ${out.full ? 'full reconcile' : 'delta'}, ${out.changed} changed, ${out.deleted} deleted; ${bridge.mirror.size} events, ${n} occurrences in the window; motd ${config.bridge.motd}\n`);
  } finally {
    await bridge.stop();
  }
}
