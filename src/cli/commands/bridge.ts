/** hosthog bridge: the long-running service. */
import { dirname } from 'node:path';
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { Bridge } from '../../bridge/bridge.js';
import { makeHandler } from '../../bridge/rpc-handlers.js';
import type { Caller, RpcRequest } from '../../host/rpc/rpc-protocol.js';
import { startRpcServer } from '../../host/rpc/rpc-server.js';
import { createLog } from '../../host/store/log.js';
import { lockStateDir } from '../../host/store/state-lock.js';
import { loadConfig } from '../../config/load.js';
import { telling } from '../../bridge/notify-hook.js';
import { hogging, noHogging } from '../../bridge/hog-hook.js';
import { firstSeen } from '../../bridge/first-seen.js';
import { hostView } from '../../core/view.js';
import type { Claim } from '../../core/types.js';
import { ConfigError, errorLine } from '../../core/errors.js';

export function stateDirError(e: unknown, dir: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ConfigError([`cannot write the state directory ${dir}: ${code}`], 'run as root, or set [bridge] state_dir to a writable directory');
  }
  return e;
}

export async function bridge(g: GlobalOptions): Promise<void> {
  const config = configFor(g, { withPassword: true });
  const log = createLog();
  let unlock: () => void;
  try { unlock = lockStateDir(config.bridge.stateDir); } catch (e) { throw stateDirError(e, config.bridge.stateDir); }
  let activeClaims: () => Claim[] = () => [];
  const tell = telling(config, log, () => activeClaims());
  const seen = firstSeen(config.bridge.stateDir); // booking order: when the bridge first saw an event
  let hogLines: () => string[] = () => [];
  const b = await Bridge.open(config, log, {
    reloadConfig: () => loadConfig({ path: g.config, withPassword: true }),
    hooks: [tell.hook],
    motdExtras: () => [...hogLines(), ...tell.motdLines()],
    stamp: (occ, now) => seen.stamp(occ, now),
  }).catch((e) => { throw stateDirError(e, config.bridge.stateDir); });
  activeClaims = () => (b.current ? hostView(b.current, b.config, new Date()).active : []);
  // Hog enforcement needs root (the gate's files). First settle what a previous run left, then
  // enforce on every refresh.
  const hog = process.getuid?.() === 0 ? hogging(config, log, () => b.current?.occurrences ?? [], seen) : null;
  if (hog) {
    hogLines = () => hog.motdLines();
    await hog.reconcileAtStart(b.current?.occurrences ?? [], b.current?.syncedAt ?? null, new Date());
    b.hooks.push(hog.hook);
  } else {
    log.warn('not running as root: hog enforcement and notifications to other users are off');
  }
  // Before planning a write, catch up with the calendar (one small request when nothing changed).
  // Its notices and hog checks run after the write's answer (they have their own deadline).
  const catchUp = () => b.syncOnce({ deferHooks: true }).then(() => undefined, () => undefined);
  // The write path (planners, rrule) loads on the first request, not at start: the bridge's
  // resident memory stays small on hosts where people mostly read.
  let handler: ((caller: Caller, req: RpcRequest) => Promise<unknown>) | null = null;
  const handle = async (caller: Caller, req: RpcRequest) => {
    if (!handler) {
      const { CalendarWriter } = await import('../../bridge/writer.js');
      const h = makeHandler(new CalendarWriter(b.source, b, config), config, catchUp, { ...tell.handlers, ...(hog?.handlers ?? {}) });
      handler = hog ? hog.wrap(h) : noHogging(h);
    }
    return handler(caller, req);
  };
  const rpc = await startRpcServer({
    socketPath: config.bridge.socket,
    runDir: dirname(config.bridge.socket),
    handler: handle,
    log,
  });
  // Signals are handled before "started" is logged: a supervisor that stops the bridge as soon
  // as it says it is up still gets a clean stop (and the state-directory lock released).
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      Promise.all([rpc.close(), b.stop()]).then(() => { unlock(); resolve(); }, (e) => { log.error({ err: errorLine(e) }, 'stop failed'); unlock(); resolve(); });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info({ calendar: b.source.description, config: config.source, motd: config.bridge.motd, socket: config.bridge.socket, poll_s: config.bridge.pollMs / 1000 }, 'hosthog bridge started');
  b.start();
  await stopped;
}
