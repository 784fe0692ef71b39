/** Reads the config file and the calendar password; all checks end in one ConfigError. */
import { readFileSync, readlinkSync, statSync, existsSync } from 'node:fs';
import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError } from '../core/errors.js';
import { validateConfig, isValidZone, type Config } from './schema.js';

export const SYSTEM_CONFIG = '/etc/hosthog/config.toml';

export interface LoadOptions {
  /** --config */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Load the calendar password too (the bridge and direct CalDAV need it; status does not). */
  withPassword?: boolean;
}

/** Which file applies: --config, then HOSTHOG_CONFIG, then /etc/hosthog, then the user's own. */
export function configPath(opts: LoadOptions = {}): string | null {
  const env = opts.env ?? process.env;
  if (opts.path) return opts.path;
  if (env.HOSTHOG_CONFIG) return env.HOSTHOG_CONFIG;
  if (existsSync(SYSTEM_CONFIG)) return SYSTEM_CONFIG;
  const user = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'hosthog', 'config.toml');
  if (existsSync(user)) return user;
  return null;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const path = configPath(opts);
  let raw: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code;
      throw new ConfigError(
        [`cannot read config ${path}: ${why}`],
        code === 'ENOENT'
          ? 'create it (see config/config.example.toml) or drop --config/HOSTHOG_CONFIG'
          : 'run as a user that may read it',
      );
    }
    try {
      raw = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      const err = e as Error & { line?: number; column?: number };
      const msg = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      const where =
        typeof err.line === 'number'
          ? ` at line ${err.line}${typeof err.column === 'number' ? `, column ${err.column}` : ''}`
          : '';
      throw new ConfigError(
        [`config ${path} is not valid TOML${where}: ${msg}`],
        where ? `fix line ${err.line}` : 'fix the TOML syntax',
      );
    }
  }
  const { config, problems } = validateConfig(
    raw,
    {
      hostname: hostname(),
      get timezone() {
        return systemZone(env);
      },
    },
    path ?? 'defaults',
  );
  if (!config) throw new ConfigError(problems.map((p) => `${path}: ${p}`));
  if (opts.withPassword && config.calendar.kind === 'caldav') {
    config.calendar.password = readPassword(config.calendar.passwordFile, env);
  }
  return config;
}

/**
 * The system's zone, as the C library sees it: TZ, then /etc/localtime's link target, then
 * /etc/timezone (Debian); Intl only as the last resort (its first use costs ~20 ms).
 */
function systemZone(env: NodeJS.ProcessEnv): string {
  if (env.TZ && !env.TZ.startsWith(':')) return env.TZ;
  const named = (s: string | undefined) =>
    s && /^[A-Za-z][A-Za-z0-9_+/-]*$/.test(s) && isValidZone(s) ? s : undefined;
  let zone: string | undefined;
  try {
    zone = named(readlinkSync('/etc/localtime').split('/zoneinfo/')[1]);
  } catch {
    /* not a link */
  }
  if (!zone)
    try {
      zone = named(readFileSync('/etc/timezone', 'utf8').trim());
    } catch {
      /* none */
    }
  return zone ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
}

/** The calendar password: HOSTHOG_PASSWORD, or a file nobody but its owner may read. */
export function readPassword(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOSTHOG_PASSWORD) return env.HOSTHOG_PASSWORD;
  if (!file)
    throw new ConfigError(
      ['[calendar] has a url but no password'],
      'set password_file = "/etc/hosthog/password" (mode 0600) or HOSTHOG_PASSWORD',
    );
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(
      [`cannot read password file ${file}: ${code === 'ENOENT' ? 'no such file' : code}`],
      `create it with: install -m 600 /dev/null ${file} and write the app password into it`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      [`password file ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)})`],
      `run: chmod 600 ${file}`,
    );
  }
  let pw: string;
  try {
    pw = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(
      [`cannot read password file ${file}: ${(e as NodeJS.ErrnoException).code}`],
      "run the bridge as the file's owner (root)",
    );
  }
  if (!pw)
    throw new ConfigError([`password file ${file} is empty`], 'write the calendar app password into it');
  return pw;
}
