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
  /** [calendar] max_response: the largest answer read (bytes). */
  maxResponseBytes?: number;
  /** [calendar] max_event: the largest event kept (bytes); bigger ones are left out and named. */
  maxEventBytes?: number;
}
export interface VdirCalendarConfig {
  kind: 'vdir';
  path: string;
}
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
  limits: {
    maxClaimMs: number;
    maxAheadMs: number;
    /** Occurrences of one series in the window; the rest are left out and named by doctor. */
    maxOccurrences: number;
    /** Current and upcoming claims per user (admins exempt) the bridge writes. */
    maxActiveClaims: number;
    /** Wall-clock budget for expanding one event's repeat rule; over it the event is left out. */
    expansionMs: number;
  };
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
  /** [gpus]: what runs on each GPU (src/host/gpus, src/core/gpu-plan.ts). */
  gpus: GpusConfig;
  /** The per-user [fleet] table (off the host: every host's calendar); absent when not configured. */
  fleet?: FleetConfig;
}

export interface GpusConfig {
  /** Sample GPUs at all: a [gpus] section, or a resource named gpuN. */
  enabled: boolean;
  /** How to reach nvidia-smi (argv, no shell); default ["nvidia-smi"]. */
  command: string[];
  /** Resource name → GPU: an index ("0"), a uuid ("GPU-…") or a PCI bus id ("00000000:00:06.0"). */
  resources: Record<string, string>;
  sampleMs: number;
  /** A sample that has not answered after this long is killed (the GPUs are then unknown). */
  timeoutMs: number;
  /** A claimed GPU with no process of the holder this long is marked "idle since". */
  idleAfterMs: number;
}

/** [fleet]: the calendar home holding one calendar per host (src/fleet, docs/fleet.md). */
export interface FleetConfig {
  home?: string;
  username: string;
  passwordFile?: string;
  /** [fleet.hosts]: host name → calendar URL (instead of, or besides, discovery). */
  hosts: Record<string, string>;
  /** Glob a calendar's display name must match to be a host (default: any host-like name). */
  match: string;
  /** Calendars synced at once. */
  parallel: number;
  /** Per request (discovery makes the server compute every calendar's sync token: slow on Radicale). */
  timeoutMs: number;
  /** Resources of every host unless [fleet.resources] names the host's own. */
  defaultResources: string[];
  resources: Record<string, string[]>;
}

export interface MachineDefaults {
  hostname: string;
  timezone: string;
}

type Table = Record<string, unknown>;

export const KNOWN: Record<string, string[]> = {
  '': [
    'host',
    'timezone',
    'resources',
    'admins',
    'admin_group',
    'calendar',
    'bridge',
    'limits',
    'notify',
    'hog',
    'gpus',
    'fleet',
  ],
  calendar: ['url', 'username', 'password_file', 'path', 'timeout', 'max_response', 'max_event'],
  bridge: [
    'poll',
    'jitter',
    'motd',
    'state_dir',
    'socket',
    'stale_polls',
    'full_reconcile',
    'window_days',
    'publish_ics',
  ],
  limits: ['max_claim', 'max_ahead', 'max_occurrences', 'max_active_claims', 'expansion_ms'],
  notify: ['reminders', 'channels', 'rate_limit_per_hour'],
  gpus: ['command', 'resources', 'sample', 'timeout', 'idle_after'],
  hog: [
    'break_glass',
    'lockout',
    'max_cache_age',
    'quiet_units',
    'systemctl',
    'warn_before',
    'sshd_pid_file',
    'sshd_config',
    'min_uid',
    'gate_dir',
    'from_calendar',
    'end_sessions',
    'max_length',
  ],
  fleet: [
    'home',
    'username',
    'password_file',
    'hosts',
    'match',
    'parallel',
    'default_resources',
    'resources',
    'timeout',
  ],
};

const CHANNELS = ['wall', 'tmux', 'desktop'];

export function validateConfig(
  raw: Table,
  defaults: MachineDefaults,
  source: string,
): { config?: Config; problems: string[] } {
  const problems: string[] = [];
  const at = (section: string, key: string) => (section ? `[${section}] ${key}` : key);

  for (const [section, keys] of Object.entries(KNOWN)) {
    const table = section ? raw[section] : raw;
    if (table === undefined) continue;
    if (section && !isTable(table)) {
      problems.push(`[${section}] must be a table: write it as a "[${section}]" section`);
      continue;
    }
    for (const k of Object.keys(table as Table)) {
      if (!keys.includes(k))
        problems.push(`unknown key ${at(section, k)}: remove it or use one of ${keys.join(', ')}`);
    }
  }
  const sec = (name: string): Table => (isTable(raw[name]) ? (raw[name] as Table) : {});

  const str = (t: Table, section: string, key: string, dflt: string): string => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || v.trim() === '') {
      problems.push(
        `${at(section, key)} must be a non-empty string in quotes, e.g. ${key} = "${dflt || 'value'}"`,
      );
      return dflt;
    }
    return v;
  };
  const list = (t: Table, section: string, key: string, dflt: string[], pattern?: RegExp): string[] => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      problems.push(`${at(section, key)} must be a list of strings, e.g. ${key} = ["a", "b"]`);
      return dflt;
    }
    if (pattern)
      for (const x of v as string[])
        if (!pattern.test(x))
          problems.push(`${at(section, key)}: "${x}" is not a valid name (letters, digits, . _ - only)`);
    return v as string[];
  };
  const dur = (t: Table, section: string, key: string, dflt: string, minMs = 0): number => {
    const v = t[key] ?? dflt;
    const ms = typeof v === 'string' ? parseDuration(v) : typeof v === 'number' ? v * 1000 : null;
    if (ms === null || ms < minMs) {
      const least = minMs ? ` of at least ${minMs / 1000}s` : '';
      problems.push(
        `${at(section, key)} = ${JSON.stringify(v)} is not a duration${least}: write e.g. "${dflt}"`,
      );
      return parseDuration(dflt)!;
    }
    return ms;
  };
  const bool = (t: Table, section: string, key: string, dflt: boolean): boolean => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') {
      problems.push(`${at(section, key)} must be true or false, e.g. ${key} = ${dflt}`);
      return dflt;
    }
    return v;
  };
  const int = (t: Table, section: string, key: string, dflt: number, min: number): number => {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      problems.push(`${at(section, key)} must be a whole number ≥ ${min}, e.g. ${key} = ${dflt}`);
      return dflt;
    }
    return v;
  };

  /** A byte size: a whole number of bytes, or "512kB", "1MiB", "2 GiB" (k/M/G are 1024-based here). */
  const size = (t: Table, key: string, dflt: string, min: number): number => {
    const v = t[key] ?? dflt;
    const n = typeof v === 'number' ? v : typeof v === 'string' ? parseSize(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      problems.push(
        `[calendar] ${key} = ${JSON.stringify(v)} is not a size of at least ${min} bytes: ` +
          `write e.g. ${key} = "${dflt}"`,
      );
      return parseSize(dflt);
    }
    return n;
  };
  const parseSize = (v: string): number => {
    const m = /^\s*(\d+)\s*([kKmMgG]?)i?B?\s*$/.exec(v);
    return m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  };

  const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
  const host = str(raw, '', 'host', defaults.hostname);
  // defaults.timezone may be costly (ICU start-up): only ask when the config names no zone.
  const timezone = raw.timezone === undefined ? defaults.timezone : str(raw, '', 'timezone', 'Europe/Berlin');
  if (!isValidZone(timezone))
    problems.push(`timezone = "${timezone}" is not an IANA time zone: write e.g. timezone = "Europe/Berlin"`);
  const resources = list(raw, '', 'resources', [], NAME);
  const adminUsers = list(raw, '', 'admins', ['root'], /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/);
  const adminGroup = str(raw, '', 'admin_group', 'hosthog-admins');

  const c = sec('calendar');
  const b = sec('bridge');
  const stateDir = str(b, 'bridge', 'state_dir', '/var/lib/hosthog');
  let calendar: CalendarConfig;
  if (c.url !== undefined && c.path !== undefined) {
    problems.push(
      '[calendar] has both url and path: keep url for a CalDAV server or path for a local calendar directory',
    );
  }
  if (c.url !== undefined) {
    const url = str(c, 'calendar', 'url', '');
    let ok = false;
    try {
      const u = new URL(url);
      ok = u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      /* reported below */
    }
    if (!ok)
      problems.push(
        `[calendar] url = "${url}" is not an http(s) URL: write the calendar's full URL, ` +
          `e.g. "https://cloud.example.org/remote.php/dav/calendars/hosthog/${host}/"`,
      );
    const username = str(c, 'calendar', 'username', '');
    if (!username) problems.push('[calendar] username is missing: add username = "the calendar account"');
    const passwordFile = c.password_file === undefined ? undefined : str(c, 'calendar', 'password_file', '');
    calendar = {
      kind: 'caldav',
      url: url.endsWith('/') ? url : url + '/',
      username,
      passwordFile,
      timeoutMs: dur(c, 'calendar', 'timeout', '15s', 1000),
    };
    calendar.maxResponseBytes = size(c, 'max_response', '128MiB', 64 * 1024);
    calendar.maxEventBytes = size(c, 'max_event', '1MiB', 4096);
  } else {
    calendar = { kind: 'vdir', path: str(c, 'calendar', 'path', joinPath(stateDir, 'calendar')) };
    if (c.username !== undefined || c.password_file !== undefined)
      problems.push(
        '[calendar] username/password_file given without url: add url = "https://…" or remove them',
      );
    // checked (and unused) with path: a typo is still one
    if (c.timeout !== undefined) dur(c, 'calendar', 'timeout', '15s', 1000);
  }

  const pollMs = dur(b, 'bridge', 'poll', '60s', 5000);
  const l = sec('limits');
  const n = sec('notify');
  const h = sec('hog');
  const channels = list(n, 'notify', 'channels', ['wall', 'tmux', 'desktop']);
  for (const ch of channels)
    if (!CHANNELS.includes(ch))
      problems.push(`[notify] channels: unknown channel "${ch}": use any of ${CHANNELS.join(', ')}`);
  const reminders = list(n, 'notify', 'reminders', ['15m', '5m']).map((r) => {
    const ms = parseDuration(r);
    if (ms === null || ms <= 0)
      problems.push(`[notify] reminders: "${r}" is not a duration: write e.g. "15m"`);
    return ms ?? 0;
  });
  const quietUnits = list(h, 'hog', 'quiet_units', []);
  for (const u of quietUnits) {
    if (!isUnitPattern(u))
      problems.push(
        `[hog] quiet_units: "${u}" is not a service or timer name or pattern: ` +
          'write e.g. "xrdp.service" or "*.timer"',
      );
  }
  const systemctlCmd = list(h, 'hog', 'systemctl', ['systemctl']);
  if (systemctlCmd.length === 0 || systemctlCmd.some((x) => x === '' || /[\0\n]/.test(x)))
    problems.push('[hog] systemctl: give the command as a list, e.g. ["systemctl"]');
  const lockout = str(h, 'hog', 'lockout', 'message');
  if (lockout !== 'message' && lockout !== 'empty')
    problems.push(`[hog] lockout = "${lockout}": use "message" or "empty"`);

  const gpus = gpusConfig(raw, sec('gpus'), resources, { list, dur }, problems);

  const fleet = raw.fleet === undefined ? undefined : fleetTable(sec('fleet'), str, list, int, problems, dur);
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
      publishIcs:
        b.publish_ics === undefined
          ? undefined
          : absPath(
              str(b, 'bridge', 'publish_ics', '/var/www/html/host.ics'),
              '[bridge] publish_ics',
              problems,
            ),
    },
    limits: {
      maxClaimMs: dur(l, 'limits', 'max_claim', '14d', 60_000),
      maxAheadMs: dur(l, 'limits', 'max_ahead', '180d', 60_000),
      maxOccurrences: int(l, 'limits', 'max_occurrences', 500, 1),
      maxActiveClaims: int(l, 'limits', 'max_active_claims', 50, 1),
      expansionMs: int(l, 'limits', 'expansion_ms', 250, 10),
    },
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
    gpus,
    ...(fleet ? { fleet } : {}),
  };
  return problems.length ? { problems } : { config, problems };
}

const GPU_SELECTOR =
  /^(\d{1,3}|GPU-[0-9A-Fa-f-]{8,}|(?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])$/;

/** [gpus]: the GPU section, checked with the same helpers (every problem at once). */
function gpusConfig(
  raw: Table,
  g: Table,
  resources: string[],
  h: {
    list: (t: Table, s: string, k: string, d: string[]) => string[];
    dur: (t: Table, s: string, k: string, d: string, min?: number) => number;
  },
  problems: string[],
): GpusConfig {
  const command = h.list(g, 'gpus', 'command', ['nvidia-smi']);
  if (command.length === 0 || command.some((x) => x === '' || /[\0\n]/.test(x))) {
    problems.push('[gpus] command: give the command as a list, e.g. ["nvidia-smi"]');
  }
  const map: Record<string, string> = {};
  if (g.resources !== undefined) {
    if (!isTable(g.resources)) {
      problems.push('[gpus] resources must be a table, e.g. resources = { gpu0 = "0", big = "GPU-a7a8…" }');
    } else
      for (const [name, v] of Object.entries(g.resources)) {
        const sel = typeof v === 'number' ? String(v) : v;
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
          problems.push(`[gpus] resources: "${name}" is not a valid name (letters, digits, . _ - only)`);
        } else if (typeof sel !== 'string' || !GPU_SELECTOR.test(sel)) {
          problems.push(
            `[gpus] resources: ${name} = ${JSON.stringify(v)}: ` +
              'give a GPU index ("0"), uuid ("GPU-…") or PCI bus id ("00000000:00:06.0")',
          );
        } else map[name] = sel;
      }
  }
  return {
    // an empty [gpus] header (as in the example config) turns nothing on
    enabled: Object.keys(g).length > 0 || resources.some((r) => /^gpu\d+$/.test(r)),
    command,
    resources: map,
    sampleMs: h.dur(g, 'gpus', 'sample', '30s', 1000),
    timeoutMs: h.dur(g, 'gpus', 'timeout', '10s', 500),
    idleAfterMs: h.dur(g, 'gpus', 'idle_after', '2h'),
  };
}

function httpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}
const slash = (u: string) => (u.endsWith('/') ? u : u + '/');

function fleetTable(
  f: Table,
  str: (t: Table, s: string, k: string, d: string) => string,
  list: (t: Table, s: string, k: string, d: string[], p?: RegExp) => string[],
  int: (t: Table, s: string, k: string, d: number, min: number) => number,
  problems: string[],
  dur: (t: Table, s: string, k: string, d: string, minMs?: number) => number,
): FleetConfig {
  const home = f.home === undefined ? undefined : str(f, 'fleet', 'home', '');
  if (home !== undefined && !httpUrl(home))
    problems.push(
      `[fleet] home = "${home}" is not an http(s) URL: write the calendar home, ` +
        'e.g. "https://cloud.example.org/remote.php/dav/calendars/alice/"',
    );
  const hosts: Record<string, string> = {};
  if (f.hosts !== undefined) {
    if (!isTable(f.hosts)) problems.push('[fleet.hosts] must be a table of host = "calendar URL"');
    else
      for (const [k, v] of Object.entries(f.hosts)) {
        if (typeof v !== 'string' || !httpUrl(v))
          problems.push(`[fleet.hosts] ${k} must be the calendar's http(s) URL in quotes`);
        else hosts[k] = slash(v);
      }
  }
  if (home === undefined && Object.keys(hosts).length === 0)
    problems.push('[fleet] needs home = "…/calendars/USER/" or a [fleet.hosts] table');
  const username = str(f, 'fleet', 'username', '');
  if (!username) problems.push('[fleet] username is missing: add username = "your calendar account"');
  const resources: Record<string, string[]> = {};
  if (f.resources !== undefined) {
    if (!isTable(f.resources)) problems.push('[fleet.resources] must be a table of host = ["gpu0", …]');
    else
      for (const k of Object.keys(f.resources))
        resources[k] = list(f.resources as Table, 'fleet.resources', k, []);
  }
  return {
    home: home === undefined ? undefined : slash(home),
    username,
    hosts,
    resources,
    passwordFile: f.password_file === undefined ? undefined : str(f, 'fleet', 'password_file', ''),
    match: str(f, 'fleet', 'match', '*'),
    parallel: int(f, 'fleet', 'parallel', 8, 1),
    timeoutMs: dur(f, 'fleet', 'timeout', '60s', 1000),
    defaultResources: list(f, 'fleet', 'default_resources', []),
  };
}

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export { isValidZone };

function absPath(p: string, key: string, problems: string[]): string {
  if (!p.startsWith('/') || !p.endsWith('.ics')) {
    problems.push(
      `${key} = "${p}": give an absolute path ending in .ics, e.g. "/var/www/html/gpu-box-3.ics"`,
    );
  }
  return p;
}

function joinPath(a: string, b: string): string {
  return a.replace(/\/+$/, '') + '/' + b;
}
