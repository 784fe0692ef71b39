/**
 * Where a write goes. On a host whose bridge runs: over the bridge's unix socket, which verifies
 * who is calling and writes with the host's calendar credentials (users never see them).
 * Off the host (--calendar URL, or a per-user config with its own credentials): straight to
 * CalDAV as that user, with a per-user cache in ~/.cache/hosthog.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { GlobalOptions } from './main.js';
import type { Config } from '../config/schema.js';
import type { Snapshot } from '../core/types.js';
import { loadConfig, readPassword } from '../config/load.js';
import { BridgeUnavailableError, ConfigError } from '../core/errors.js';

export async function callWrite(
  g: GlobalOptions,
  method: string,
  params: Record<string, unknown>,
): Promise<unknown> {
  if (g.host) {
    // Off the host, --host NAME: that host's calendar, found through the [fleet] config.
    const t = await (await import('../fleet/host-target.js')).hostTarget(g);
    return direct(t.g, t.config, method, params);
  }
  const config = loadConfig({ path: g.config });
  if (!g.calendar && existsSync(config.bridge.socket)) {
    const { callBridge } = await import('../host/rpc/rpc-client.js');
    return callBridge(config.bridge.socket, { method, params });
  }
  if (!g.calendar && !canWriteDirectly(config)) {
    throw new BridgeUnavailableError(
      `no hosthog bridge is running on this host (no socket at ${config.bridge.socket})`,
      'ask an admin to start it (systemctl start hosthog-bridge), ' +
        'or use --calendar URL with your own calendar account',
    );
  }
  return direct(g, config, method, params);
}

/** Without a bridge, this user may go to the calendar itself only with credentials or files of their own. */
function canWriteDirectly(config: Config): boolean {
  if (config.calendar.kind === 'caldav') {
    if (process.env.HOSTHOG_PASSWORD) return true;
    return !!config.calendar.passwordFile && readable(config.calendar.passwordFile, constants.R_OK);
  }
  return (
    readable(config.calendar.path, constants.W_OK) ||
    (!existsSync(config.calendar.path) && process.getuid?.() === 0)
  );
}

function readable(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * The calendar this user reaches without the bridge (--calendar URL, or the config's),
 * with its per-user cache, synced.
 */
async function openDirect(g: GlobalOptions, config: Config) {
  if (g.calendar) {
    if (!/^https?:\/\/[^/\s]+/i.test(g.calendar))
      throw new ConfigError(
        [`--calendar "${g.calendar.slice(0, 80)}" is not an http(s) URL`],
        "give the calendar's CalDAV URL, " +
          'e.g. https://cloud.example.org/remote.php/dav/calendars/me/gpu-box-3/',
      );
    const username =
      process.env.HOSTHOG_USERNAME ?? (config.calendar.kind === 'caldav' ? config.calendar.username : '');
    if (!username)
      throw new ConfigError(
        ['--calendar needs a calendar account name'],
        'set HOSTHOG_USERNAME, or username in ~/.config/hosthog/config.toml [calendar]',
      );
    const passwordFile = config.calendar.kind === 'caldav' ? config.calendar.passwordFile : undefined;
    config.calendar = {
      kind: 'caldav',
      url: g.calendar.endsWith('/') ? g.calendar : g.calendar + '/',
      username,
      passwordFile,
      timeoutMs: 15_000,
    };
  }
  if (config.calendar.kind === 'caldav')
    config.calendar.password = readPassword(config.calendar.passwordFile);
  const { openSource } = await import('../caldav/open-source.js');
  const { DirectCache } = await import('./direct-cache.js');
  const source = openSource(config);
  const isRootOnHost = process.getuid?.() === 0 && !g.calendar;
  const cacheDir = isRootOnHost
    ? config.bridge.stateDir
    : join(
        process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
        'hosthog',
        createHash('sha256').update(source.description).digest('hex').slice(0, 16),
      );
  const cache = await DirectCache.open(cacheDir, source, config);
  try {
    await cache.sync();
  } catch (e) {
    cache.close();
    throw e;
  }
  return { source, cache };
}

async function direct(
  g: GlobalOptions,
  config: Config,
  method: string,
  params: Record<string, unknown>,
): Promise<unknown> {
  const { source, cache } = await openDirect(g, config);
  try {
    const { CalendarWriter } = await import('../bridge/writer.js');
    const { makeHandler } = await import('../bridge/rpc-handlers.js');
    const writer = new CalendarWriter(source, cache, config);
    const me = userInfo();
    const handler = makeHandler(writer, config, async () => undefined);
    return await handler(
      { uid: me.uid, gid: me.gid, user: process.env.HOSTHOG_USER ?? me.username, groups: [] },
      { method, params },
    );
  } finally {
    cache.close();
  }
}

/**
 * status/list/sync with --calendar URL (off the host): the calendar itself, through this user's
 * cache in ~/.cache/hosthog (a delta sync when it is warm), as a snapshot like the bridge's.
 */
export async function directSnapshot(
  g: GlobalOptions,
  config: Config,
): Promise<Snapshot & { description: string; from: Date; to: Date }> {
  if (g.host) {
    // The caller's config becomes the host's (its name, resources, zone) for what it renders next.
    const t = await (await import('../fleet/host-target.js')).hostTarget(g);
    Object.assign(config, t.config);
    g = t.g;
  }
  const { source, cache } = await openDirect(g, config);
  try {
    const { from, to } = cache.window();
    return {
      occurrences: cache.occurrences(),
      syncedAt: new Date(),
      description: source.description,
      from,
      to,
    };
  } finally {
    cache.close();
  }
}
