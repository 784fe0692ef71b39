/**
 * hosthog who: who is on the host and how. Through the bridge (root sees every user's tmux and
 * desktop session); without a bridge, what this user can see from /proc and utmp.
 */
import { existsSync } from 'node:fs';
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { renderWho, whoRows, type WhoFlag, type WhoRow } from '../../core/who-view.js';
import { hostView } from '../../core/view.js';
import { gpuMotdLines } from '../../core/gpu-render.js';

export async function who(g: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const config = configFor(g);
  let out: { rows: WhoRow[]; flags: WhoFlag[] };
  if (existsSync(config.bridge.socket)) {
    const { callBridge } = await import('../../host/rpc/rpc-client.js');
    out = (await callBridge(
      config.bridge.socket,
      { method: 'who', params: {} },
      { timeoutMs: 15_000 },
    )) as typeof out;
  } else {
    const { discoverSessions } = await import('../../host/sessions/sessions.js');
    const snap = readSnapshotFile(config.bridge.stateDir);
    const now = new Date();
    const active = snap ? hostView(snap, config, now).active : [];
    out = whoRows(await discoverSessions({ sampleMs: 500 }), active, now);
  }
  // What runs on each GPU, as the bridge published it (same objects as hosthog gpus --json).
  const gpus = (await import('./gpus.js')).loadGpus(config, new Date());
  if (o.json) {
    process.stdout.write(JSON.stringify(gpus ? { ...out, gpus } : out, null, 2) + '\n');
    return;
  }
  const gpuLines = gpus ? gpuMotdLines(gpus, config.timezone, new Date()) : [];
  process.stdout.write([renderWho(out.rows, { flags: out.flags }), ...gpuLines].join('\n') + '\n');
}
