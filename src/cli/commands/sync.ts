/** hosthog sync: one sync and motd write, then exit (non-zero with one clear line on failure). */
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { Bridge } from '../../bridge/bridge.js';
import { createLog } from '../../host/store/log.js';
import { stateDirError } from './bridge.js';
import { existsSync } from 'node:fs';
import { BridgeUnavailableError } from '../../core/errors.js';
import { lockStateDir } from '../../host/store/state-lock.js';

export async function sync(g: GlobalOptions, opts: { full?: boolean }): Promise<void> {
  if (g.calendar) {
    // Off the host: refresh this user's cache of that calendar (nothing of the host's is written).
    const snap = await (await import('../transport.js')).directSnapshot(g, configFor(g));
    const n = snap.occurrences.length;
    process.stdout.write(
      `synced ${snap.description} into your cache (~/.cache/hosthog): ${n} occurrences in the window\n`,
    );
    return;
  }
  // A running bridge is asked to sync (over its socket): a second process would race it on
  // the cache and overwrite its motd.
  const plain = configFor(g);
  if (existsSync(plain.bridge.socket)) {
    const { callBridge } = await import('../../host/rpc/rpc-client.js');
    try {
      const r = await callBridge(plain.bridge.socket, { method: 'sync', params: { full: !!opts.full } });
      process.stdout.write(`${(r as { summary: string }).summary}\n`);
      return;
    } catch (e) {
      if (!(e instanceof BridgeUnavailableError) || !/no hosthog bridge is running/.test(e.message)) throw e;
    }
  }
  const config = configFor(g, { withPassword: true });
  // No bridge: this process takes the state directory like a bridge would (a bridge starting
  // meanwhile waits for it, and it for a bridge).
  let unlock: () => void;
  try {
    unlock = lockStateDir(config.bridge.stateDir);
  } catch (e) {
    throw stateDirError(e, config.bridge.stateDir);
  }
  try {
    await syncHere(config, opts);
  } finally {
    unlock();
  }
}

async function syncHere(config: ReturnType<typeof configFor>, opts: { full?: boolean }): Promise<void> {
  const log = createLog({ level: process.env.HOSTHOG_LOG_LEVEL ?? 'warn', stream: process.stderr });
  const bridge = await Bridge.open(config, log).catch((e) => {
    throw stateDirError(e, config.bridge.stateDir);
  });
  try {
    const out = await bridge.syncOnce({ forceFull: opts.full });
    const n = bridge.current?.occurrences.length ?? 0;
    process.stdout.write(
      `synced ${bridge.source.description}: ${out.full ? 'full reconcile' : 'delta'}, ` +
        `${out.changed} changed, ${out.deleted} deleted; ` +
        `${bridge.mirror.size} events, ${n} occurrences in the window; motd ${config.bridge.motd}\n`,
    );
  } finally {
    await bridge.stop();
  }
}
