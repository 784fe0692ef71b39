/**
 * The per-user fleet config: --config, else $HOSTHOG_CONFIG, else ~/.config/hosthog/config.toml
 * (never /etc/hosthog: that file is the host's own, and holds no [fleet] table of yours).
 * "Me" is $HOSTHOG_USER or the unix login; the password is $HOSTHOG_PASSWORD or password_file.
 */
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig, readPassword } from '../config/load.js';
import type { Config, FleetConfig } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { GlobalOptions } from '../cli/main.js';

export interface FleetContext {
  config: Config;
  fleet: FleetConfig;
  me: string;
  password: string;
  /** ~/.cache/hosthog (or $XDG_CACHE_HOME/hosthog). */
  cacheRoot: string;
}

export function fleetConfigPath(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (g.config) return g.config;
  if (env.HOSTHOG_CONFIG) return env.HOSTHOG_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'hosthog', 'config.toml');
}

export function fleetContext(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): FleetContext {
  const path = fleetConfigPath(g, env);
  if (!existsSync(path)) {
    throw new ConfigError(
      [`no fleet config: ${path} does not exist`],
      'create it with a [fleet] table (home, username, password_file); see docs/fleet.md',
    );
  }
  const config = loadConfig({ path, env });
  if (!config.fleet)
    throw new ConfigError(
      [`${path} has no [fleet] table`],
      'add [fleet] with home = "…/calendars/USER/", username and password_file; see docs/fleet.md',
    );
  if (!env.HOSTHOG_PASSWORD && !config.fleet.passwordFile) {
    throw new ConfigError(
      [`${path}: [fleet] has no password`],
      'add password_file = "~/.config/hosthog/password" (mode 0600, your app password) ' +
        'or set HOSTHOG_PASSWORD',
    );
  }
  const password = readPassword(config.fleet.passwordFile, env);
  const me = env.HOSTHOG_USER || userInfo().username;
  const cacheRoot = join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'hosthog');
  return { config, fleet: config.fleet, me, password, cacheRoot };
}

/** The resources a host has, as this config names them. */
export function resourcesOf(fleet: FleetConfig, host: string): string[] {
  return fleet.resources[host] ?? fleet.defaultResources;
}
