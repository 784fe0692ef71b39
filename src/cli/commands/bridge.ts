/** hosthog bridge: the long-running service. */
import { dirname } from 'node:path';
import { configFor } from '../context.js';
import type { GlobalOptions } from '../main.js';
import { Bridge } from '../../bridge/bridge.js';
import { actorOf, makeHandler, type ExtraHandler } from '../../bridge/rpc-handlers.js';
import type { Caller, RpcRequest } from '../../host/rpc/rpc-protocol.js';
import { startRpcServer } from '../../host/rpc/rpc-server.js';
import { createLog } from '../../host/store/log.js';
import { lockStateDir } from '../../host/store/state-lock.js';
import { loadConfig } from '../../config/load.js';
import { telling } from '../../bridge/notify-hook.js';
import { hogging, noHogging } from '../../bridge/hog-hook.js';
import { firstSeen } from '../../bridge/first-seen.js';
import { gpuWatch } from '../../bridge/gpu-hook.js';
import type { Claim } from '../../core/types.js';
import { ConfigError, PermissionError, errorLine } from '../../core/errors.js';
import { plainHttpWarning } from '../../core/plain-http.js';
import { writeConfigStamp } from '../../bridge/config-stamp.js';
import { publishing } from '../../bridge/publish-ics.js';

export function stateDirError(e: unknown, dir: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ConfigError(
      [`cannot write the state directory ${dir}: ${code}`],
      'run as root, or set [bridge] state_dir to a writable directory',
    );
  }
  return e;
}

const WRITES = new Set(['claim', 'extend', 'edit', 'release', 'cancel', 'announce', 'hog', 'unhog']);

/**
 * `hosthog sync` while the bridge runs: the bridge syncs (one sync, its own motd), instead of a
 * second process racing it on the cache and the motd. A lab member may ask too (the password
 * file is root's), at most one such sync per 10 s for all of them: the calendar server is
 * shared. root and admins always get a fresh one (and a full reconcile with --full).
 */
function syncHandler(b: Bridge): ExtraHandler {
  let last: { at: number; result: unknown } | null = null;
  return async (_caller, actor, p) => {
    if (!actor.isAdmin && last && Date.now() - last.at < 10_000) return last.result;
    const out = await b.syncOnce({ forceFull: actor.isAdmin && p.full === true });
    const n = b.current?.occurrences.length ?? 0;
    const result = {
      action: 'synced',
      summary:
        `synced ${b.source.description} (by the bridge): ${out.full ? 'full reconcile' : 'delta'}, ` +
        `${out.changed} changed, ${out.deleted} deleted; ` +
        `${b.mirror.size} events, ${n} occurrences in the window; ` +
        `motd ${b.config.bridge.motd}`,
    };
    last = { at: Date.now(), result };
    return result;
  };
}

export async function bridge(g: GlobalOptions): Promise<void> {
  const config = configFor(g, { withPassword: true });
  const log = createLog();
  let unlock: () => void;
  try {
    unlock = lockStateDir(config.bridge.stateDir);
  } catch (e) {
    throw stateDirError(e, config.bridge.stateDir);
  }
  let activeClaims: () => Claim[] = () => [];
  const tell = telling(config, log, () => activeClaims());
  const seen = firstSeen(config.bridge.stateDir); // booking order: when the bridge first saw an event
  let hogLines: () => string[] = () => [];
  // GPUs: sampled on their own timer; planned before the notify hook runs (its GPU notices).
  const gpus = config.gpus.enabled ? gpuWatch(config, log, () => activeClaims()) : null;
  if (gpus) tell.addPlanner(gpus.planner);
  const publish = publishing(config, log);
  const b = await Bridge.open(config, log, {
    reloadConfig: () => {
      const c = loadConfig({ path: g.config, withPassword: true });
      writeConfigStamp(c.bridge.stateDir, c.source);
      return c;
    },
    hooks: [...(gpus ? [gpus.hook] : []), tell.hook, ...(publish ? [publish] : [])],
    motdExtras: () => [...hogLines(), ...(gpus?.motdLines() ?? []), ...tell.motdLines()],
    stamp: (occ, now) => seen.stamp(occ, now),
  }).catch((e) => {
    throw stateDirError(e, config.bridge.stateDir);
  });
  writeConfigStamp(config.bridge.stateDir, config.source);
  activeClaims = () => b.viewAt(new Date())?.active ?? [];
  // Hog enforcement needs root (the gate's files). First settle what a previous run left, then
  // enforce on every refresh.
  const hog =
    process.getuid?.() === 0 ? hogging(config, log, () => b.current?.occurrences ?? [], seen) : null;
  if (hog) {
    hogLines = () => hog.motdLines();
    await hog.reconcileAtStart(b.current?.occurrences ?? [], b.current?.syncedAt ?? null, new Date());
    b.hooks.unshift(hog.hook); // before notifications: a hog decision never waits on delivery
  } else {
    log.warn('not running as root: hog enforcement and notifications to other users are off');
  }
  // Before planning a write, catch up with the calendar (one small request when nothing changed).
  // The author of a change is not told of it: while one write runs, its verified caller is the
  // author of what the refresh after it sees (the catch-up sync before it picks up others'
  // changes: no author then). Two writes at once: unknown (the holders, as for a phone's edit).
  // The catch-up sync's notices and hog checks run after the write's answer (own deadline).
  const writers: string[] = [];
  const author = () => (writers.length === 1 ? writers[0] : null);
  const catchUp = async () => {
    tell.actingAs(null);
    await b.syncOnce({ deferHooks: true }).then(
      () => undefined,
      () => undefined,
    );
    tell.actingAs(author());
  };
  // The write path (planners, rrule) loads on the first request, not at start: the bridge's
  // resident memory stays small on hosts where people mostly read.
  let handler: ((caller: Caller, req: RpcRequest) => Promise<unknown>) | null = null;
  const handle = async (who: Caller, req: RpcRequest) => {
    if (!handler) {
      const { CalendarWriter } = await import('../../bridge/writer.js');
      // The writer and the handler read the bridge's CURRENT source and config (reloads).
      const h = makeHandler(
        new CalendarWriter(
          () => b.source,
          b,
          () => b.config,
        ),
        () => b.config,
        catchUp,
        { ...tell.handlers, ...(hog?.handlers ?? {}), sync: syncHandler(b) },
      );
      handler = hog ? hog.wrap(h) : noHogging(h);
    }
    if (!WRITES.has(req.method)) return handler(who, req);
    writers.push(who.user);
    tell.actingAs(author());
    try {
      const result = (await handler(who, req)) as { uid?: string } | null;
      // claim --force (the planner refused it to non-admins): booked first, by the bridge's own
      // record (a CREATED in the event is not trusted); ruled again now, so holders are told.
      if (req.method === 'claim' && req.params?.force === true && typeof result?.uid === 'string') {
        seen.markForced(result.uid, new Date());
        await b.restamp();
      }
      return result;
    } finally {
      writers.splice(writers.indexOf(who.user), 1);
      tell.actingAs(author());
    }
  };
  const rpc = await startRpcServer({
    socketPath: config.bridge.socket,
    runDir: dirname(config.bridge.socket),
    handler: handle,
    privileged: (c) => actorOf(c, b.config).isAdmin,
    log,
  });
  // Signals are handled before "started" is logged: a supervisor that stops the bridge as soon
  // as it says it is up still gets a clean stop (and the state-directory lock released).
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      Promise.all([rpc.close(), b.stop(), gpus?.stop()]).then(
        () => {
          b.markStopped();
          unlock();
          resolve();
        },
        (e) => {
          log.error({ err: errorLine(e) }, 'stop failed');
          unlock();
          resolve();
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => b.reload('SIGHUP (systemctl reload)'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info(
    {
      calendar: b.source.description,
      config: config.source,
      motd: config.bridge.motd,
      socket: config.bridge.socket,
      poll_s: config.bridge.pollMs / 1000,
    },
    'hosthog bridge started',
  );
  const plain = config.calendar.kind === 'caldav' ? plainHttpWarning(config.calendar.url) : null;
  if (plain) log.warn({ calendar: b.source.description }, `${plain}: use https://`);
  b.start();
  gpus?.start();
  await stopped;
}
