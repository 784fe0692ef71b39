/**
 * The one config file (/etc/hosthog/config.toml), validated as a whole: every problem is
 * reported at once, each as one line naming the key and the fix. Pure: takes the parsed TOML
 * and the machine's defaults, returns a Config or the list of problems.
 */
import { parseDuration } from '../core/duration.js';
import { isValidZone } from '../core/zones.js';
import { isUnitPattern } from '../core/quiet-plan.js';

export interface CalDavCalendarConfig {
  kind: 'caldav';
  url: string;
  username: string;
  passwordFile?: string;
  /** Filled in by the loader from HOSTHOG_PASSWORD or password_file. */
  password?: string;
  timeoutMs: number;
}
export interface VdirCalendarConfig { kind: 'vdir'; path: string; }
export type CalendarConfig = CalDavCalendarConfig | VdirCalendarConfig;

export interface Config {
  /** Where the config came from (a path, or "defaults"). */
  source: string;
  host: string;
  timezone: string;
  resources: string[];
  /** Users and unix group allowed to announce and edit any claim. */
  admins: { users: string[]; group: string };
  calendar: CalendarConfig;
  bridge: {
    pollMs: number;
    /** Random delay added to each poll, up to this. */
    jitterMs: number;
    motd: string;
    stateDir: string;
    socket: string;
    /** The motd says "stale" once the last good sync is older than this many polls. */
    stalePolls: number;
    /** Full etag reconcile at least this often, even when sync tokens look fine. */
    fullReconcileMs: number;
    /** How far ahead recurring events are expanded. */
    windowDays: number;
    /** Publish the host's calendar as a read-only .ics file here (off when unset). */
    publishIcs?: string;
  };
  limits: { maxClaimMs: number; maxAheadMs: number };
  notify: {
    /** Reminders before a claim starts / ends. */
    remindersMs: number[];
    channels: string[];
    /** Messages per user per hour through `hosthog notify`. */
    rateLimitPerHour: number;
  };
  hog: {
    /** Users never locked out. */
    breakGlass: string[];
    /** "message": sshd's Banner says who hogs until when; "empty": a plain refusal. */
    lockout: 'message' | 'empty';
    /** Never start a hog from a cache older than this. */
    maxCacheAgeMs: number;
    /** systemd units (names or globs) stopped for the hog's duration (quiet host). */
    quietUnits: string[];
    /** How to run systemctl (argv, no shell); default ["systemctl"]. */
    systemctl: string[];
    /** Warn logged-in users this long before a hog starts. */
    warnBeforeMs: number;
    /** sshd's pid file: hog mounts are made in that process's mount namespace (else PID 1's). */
    sshdPidFile: string;
    /** sshd's config file, for `sshd -T` (AuthorizedKeysFile). */
    sshdConfig: string;
    /** Users from this uid up are locked out during a hog (system accounts are left alone). */
    minUid: number;
    /** The gate's files (allow list read by pam_listfile, sshd's Banner): see src/host/hog/gate.ts. */
    gateDir: string;
    /** Hogs booked in a calendar app (not through the bridge) are enforced too. */
    fromCalendar: boolean;
    /** End other users' sessions when a hog starts. */
    endSessions: boolean;
    /** A hog longer than this needs an admin (the CLI refuses it; a calendar one is not enforced). */
    maxLengthMs: number;
  };
}

export interface MachineDefaults { hostname: string; timezone: string; }

type Table = Record<string, unknown>;

export const KNOWN: Record<string, string[]> = {
  '': ['host', 'timezone', 'resources', 'admins', 'admin_group', 'calendar', 'bridge', 'limits', 'notify', 'hog'],
  calendar: ['url', 'username', 'password_file', 'path', 'timeout'],
  bridge: ['poll', 'jitter', 'motd', 'state_dir', 'socket', 'stale_polls', 'full_reconcile', 'window_days', 'publish_ics'],
  limits: ['max_claim', 'max_ahead'],
  notify: ['reminders', 'channels', 'rate_limit_per_hour'],
  hog: ['break_glass', 'lockout', 'max_cache_age', 'quiet_units', 'systemctl', 'warn_before', 'sshd_pid_file', 'sshd_config', 'min_uid',
    'gate_dir', 'from_calendar', 'end_sessions', 'max_length'],
};

const CHANNELS = ['wall', 'tmux', 'desktop'];

export function validateConfig(raw: Table, defaults: MachineDefaults, source: string): { config?: Config; problems: string[] } {
  const problems: string[] = [];
  const at = (section: string, key: string) => (section ? `[${section}] ${key}` : key);

  for (const [section, keys] of Object.entries(KNOWN)) {
    const table = section ? raw[section] : raw;
    if (table === undefined) continue;
    if (section && !isTable(table)) { problems.push(`[${section}] must be a table: write it as a "[${section}]" section`); continue; }
    for (const k of Object.keys(table as Table)) {
      if (!keys.includes(k)) problems.push(`unknown key ${at(section, k)}: remove it or use one of ${keys.join(', ')}`);
    }
  }
  const sec = (name: string): Table => (isTable(raw[name]) ? (raw[name] as Table) : {});

  const str = (t: Table, section: string, key: string, dflt: string): string => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || v.trim() === '') { problems.push(`${at(section, key)} must be a non-empty string in quotes, e.g. ${key} = "${dflt || 'value'}"`); return dflt; }
    return v;
  };
  const list = (t: Table, section: string, key: string, dflt: string[], pattern?: RegExp): string[] => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) { problems.push(`${at(section, key)} must be a list of strings, e.g. ${key} = ["a", "b"]`); return dflt; }
    if (pattern) for (const x of v as string[]) if (!pattern.test(x)) problems.push(`${at(section, key)}: "${x}" is not a valid name (letters, digits, . _ - only)`);
    return v as string[];
  };
  const dur = (t: Table, section: string, key: string, dflt: string, minMs = 0): number => {
    const v = t[key] ?? dflt;
    const ms = typeof v === 'string' ? parseDuration(v) : typeof v === 'number' ? v * 1000 : null;
    if (ms === null || ms < minMs) { problems.push(`${at(section, key)} = ${JSON.stringify(v)} is not a duration${minMs ? ` of at least ${minMs / 1000}s` : ''}: write e.g. "${dflt}"`); return parseDuration(dflt)!; }
    return ms;
  };
  const bool = (t: Table, section: string, key: string, dflt: boolean): boolean => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') { problems.push(`${at(section, key)} must be true or false, e.g. ${key} = ${dflt}`); return dflt; }
    return v;
  };
  const int = (t: Table, section: string, key: string, dflt: number, min: number): number => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) { problems.push(`${at(section, key)} must be a whole number ≥ ${min}, e.g. ${key} = ${dflt}`); return dflt; }
    return v;
  };

  const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
  const host = str(raw, '', 'host', defaults.hostname);
  // defaults.timezone may be costly (ICU start-up): only ask when the config names no zone.
  const timezone = raw.timezone === undefined ? defaults.timezone : str(raw, '', 'timezone', 'Europe/Berlin');
  if (!isValidZone(timezone)) problems.push(`timezone = "${timezone}" is not an IANA time zone: write e.g. timezone = "Europe/Berlin"`);
  const resources = list(raw, '', 'resources', [], NAME);
  const adminUsers = list(raw, '', 'admins', ['root'], /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/);
  const adminGroup = str(raw, '', 'admin_group', 'hosthog-admins');

  const c = sec('calendar');
  const b = sec('bridge');
  const stateDir = str(b, 'bridge', 'state_dir', '/var/lib/hosthog');
  let calendar: CalendarConfig;
  if (c.url !== undefined && c.path !== undefined) {
    problems.push('[calendar] has both url and path: keep url for a CalDAV server or path for a local calendar directory');
  }
  if (c.url !== undefined) {
    const url = str(c, 'calendar', 'url', '');
    let ok = false;
    try { const u = new URL(url); ok = u.protocol === 'https:' || u.protocol === 'http:'; } catch { /* reported below */ }
    if (!ok) problems.push(`[calendar] url = "${url}" is not an http(s) URL: write the calendar's full URL, e.g. "https://cloud.example.org/remote.php/dav/calendars/hosthog/${host}/"`);
    const username = str(c, 'calendar', 'username', '');
    if (!username) problems.push('[calendar] username is missing: add username = "the calendar account"');
    const passwordFile = c.password_file === undefined ? undefined : str(c, 'calendar', 'password_file', '');
    calendar = { kind: 'caldav', url: url.endsWith('/') ? url : url + '/', username, passwordFile, timeoutMs: dur(c, 'calendar', 'timeout', '15s', 1000) };
  } else {
    calendar = { kind: 'vdir', path: str(c, 'calendar', 'path', joinPath(stateDir, 'calendar')) };
    if (c.username !== undefined || c.password_file !== undefined) problems.push('[calendar] username/password_file given without url: add url = "https://…" or remove them');
    if (c.timeout !== undefined) dur(c, 'calendar', 'timeout', '15s', 1000); // checked (and unused) with path: a typo is still one

  }

  const pollMs = dur(b, 'bridge', 'poll', '60s', 5000);
  const l = sec('limits');
  const n = sec('notify');
  const h = sec('hog');
  const channels = list(n, 'notify', 'channels', ['wall', 'tmux', 'desktop']);
  for (const ch of channels) if (!CHANNELS.includes(ch)) problems.push(`[notify] channels: unknown channel "${ch}": use any of ${CHANNELS.join(', ')}`);
  const reminders = list(n, 'notify', 'reminders', ['15m', '5m']).map((r) => {
    const ms = parseDuration(r);
    if (ms === null || ms <= 0) problems.push(`[notify] reminders: "${r}" is not a duration: write e.g. "15m"`);
    return ms ?? 0;
  });
  const quietUnits = list(h, 'hog', 'quiet_units', []);
  for (const u of quietUnits) {
    if (!isUnitPattern(u)) problems.push(`[hog] quiet_units: "${u}" is not a service or timer name or pattern: write e.g. "xrdp.service" or "*.timer"`);
  }
  const systemctlCmd = list(h, 'hog', 'systemctl', ['systemctl']);
  if (systemctlCmd.length === 0 || systemctlCmd.some((x) => x === '' || /[\0\n]/.test(x))) problems.push('[hog] systemctl: give the command as a list, e.g. ["systemctl"]');
  const lockout = str(h, 'hog', 'lockout', 'message');
  if (lockout !== 'message' && lockout !== 'empty') problems.push(`[hog] lockout = "${lockout}": use "message" or "empty"`);

  const config: Config = {
    source,
    host,
    timezone,
    resources,
    admins: { users: adminUsers, group: adminGroup },
    calendar,
    bridge: {
      pollMs,
      jitterMs: dur(b, 'bridge', 'jitter', '5s'),
      motd: str(b, 'bridge', 'motd', '/run/motd.d/hosthog'),
      stateDir,
      socket: str(b, 'bridge', 'socket', '/run/hosthog/bridge.sock'),
      stalePolls: int(b, 'bridge', 'stale_polls', 3, 1),
      fullReconcileMs: dur(b, 'bridge', 'full_reconcile', '24h', 60_000),
      windowDays: int(b, 'bridge', 'window_days', 60, 1),
      publishIcs: b.publish_ics === undefined
        ? undefined
        : absPath(str(b, 'bridge', 'publish_ics', '/var/www/html/host.ics'), '[bridge] publish_ics', problems),
    },
    limits: { maxClaimMs: dur(l, 'limits', 'max_claim', '14d', 60_000), maxAheadMs: dur(l, 'limits', 'max_ahead', '180d', 60_000) },
    notify: {
      remindersMs: reminders.filter((x) => x > 0).sort((a, b2) => b2 - a),
      channels,
      rateLimitPerHour: int(n, 'notify', 'rate_limit_per_hour', 10, 0),
    },
    hog: {
      breakGlass: list(h, 'hog', 'break_glass', ['root']),
      lockout: lockout === 'empty' ? 'empty' : 'message',
      maxCacheAgeMs: dur(h, 'hog', 'max_cache_age', '5m', 1000),
      quietUnits,
      systemctl: systemctlCmd,
      warnBeforeMs: dur(h, 'hog', 'warn_before', '10m'),
      sshdPidFile: str(h, 'hog', 'sshd_pid_file', '/run/sshd.pid'),
      sshdConfig: str(h, 'hog', 'sshd_config', '/etc/ssh/sshd_config'),
      minUid: int(h, 'hog', 'min_uid', 1000, 0),
      gateDir: str(h, 'hog', 'gate_dir', '/run/hosthog/gate'),
      fromCalendar: bool(h, 'hog', 'from_calendar', true),
      endSessions: bool(h, 'hog', 'end_sessions', false),
      maxLengthMs: dur(h, 'hog', 'max_length', '1d', 60_000),
    },
  };
  return problems.length ? { problems } : { config, problems };
}

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export { isValidZone };

function absPath(p: string, key: string, problems: string[]): string {
  if (!p.startsWith('/') || !p.endsWith('.ics')) {
    problems.push(`${key} = "${p}": give an absolute path ending in .ics, e.g. "/var/www/html/gpu-box-3.ics"`);
  }
  return p;
}

function joinPath(a: string, b: string): string { return a.replace(/\/+$/, '') + '/' + b; }
