/**
 * Which calendars are hosts: ONE PROPFIND Depth 1 on the calendar home, plus the [fleet.hosts]
 * table. A calendar is a host when its display name matches [fleet] match (a glob, default "*")
 * and is a host-like name (Nextcloud's URL for a shared calendar is "gpu-box-3_shared_by_x", but
 * the display name stays gpu-box-3).
 *
 * The same answer tells the fleet which calendars changed, so that the others cost no request:
 *  - on Radicale, each calendar's getlastmodified (the newest mtime of its files: cheap there,
 *    where a sync token means reading every item), with the answer's Date for the racy guard;
 *  - elsewhere, each calendar's sync token.
 * Which of the two a home answers is remembered per home (fleet-home.json in the cache); the
 * first run asks for getlastmodified (and Radicale's own property): when the server is not
 * Radicale, that run syncs every calendar (as a first run does anyway) and later runs ask for
 * the tokens. docs/fleet.md, "Why a warm run is one request", says why this is safe.
 */
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import type { FleetConfig } from '../config/schema.js';
import { CalDavHttp } from '../caldav/http.js';
import { canonicalHref, hrefToUrl, isCollectionHref } from '../caldav/href.js';
import { HosthogError, NotFoundError } from '../core/errors.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';
import { propfindHome, type HomeAnswer, type HomeAsk } from './home-propfind.js';
import { cacheDirFor } from './cache-dir.js';

export interface FleetCalendar {
  host: string;
  url: string;
  /** The calendar's sync token from discovery (token homes), else null. */
  token: string | null;
  /** Its getlastmodified from discovery (Radicale homes), else null. */
  lastModified?: string | null;
  /** The discovery answer's Date header (ms), for the racy guard; null when absent. */
  answeredAt?: number | null;
}

/** What a home answers cheaply, as remembered in fleet-home.json. */
export interface HomeMode {
  ask: HomeAsk;
  why: string;
  /** Set when hosthog saw getlastmodified stay while the calendar changed: never probed again. */
  sticky?: boolean;
}

const HOME_FILE = 'fleet-home.json';
export function homeDir(cacheRoot: string, home: string): string {
  return cacheDirFor(cacheRoot, `fleet-home ${home}`);
}
export function readHomeMode(cacheRoot: string, home: string): HomeMode | null {
  try {
    const m = JSON.parse(readFileSync(join(homeDir(cacheRoot, home), HOME_FILE), 'utf8')) as HomeMode;
    return m && (m.ask === 'token' || m.ask === 'lastmodified') ? m : null;
  } catch {
    return null;
  }
}
export function writeHomeMode(cacheRoot: string, home: string, mode: HomeMode): void {
  const dir = homeDir(cacheRoot, home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, HOME_FILE), JSON.stringify(mode), 0o600);
}
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A glob with * and ? only, matched case-sensitively against the whole name. */
export function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(
    '^' +
      glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
  return re.test(name);
}

export async function discover(
  fleet: FleetConfig,
  password: string,
  opts: { timeoutMs?: number; fetch?: typeof fetch; cacheRoot?: string; refresh?: boolean } = {},
): Promise<{
  calendars: FleetCalendar[];
  mode: HomeMode | null;
  stats: { requests: number; bytes: number };
}> {
  const found = new Map<string, FleetCalendar>();
  const http = new CalDavHttp({
    url: fleet.home ?? '',
    username: fleet.username,
    password,
    timeoutMs: opts.timeoutMs ?? 15_000,
    fetch: opts.fetch,
  });
  let mode: HomeMode | null = null;
  if (fleet.home) {
    const home = fleet.home;
    const kept = opts.cacheRoot ? readHomeMode(opts.cacheRoot, home) : null;
    // --refresh probes the home again, unless hosthog saw its getlastmodified lie.
    const ask: HomeAsk = kept && (kept.sticky || !opts.refresh) ? kept.ask : 'lastmodified';
    const ans = checked(await propfindHome(http, home, ask), home);
    const hosts = hostEntries(ans, fleet);
    mode = kept && ask === kept.ask ? kept : null;
    if (ask === 'lastmodified' && hosts.length) {
      const why = lastModifiedUsable(
        ans,
        hosts.map((h) => h.entry),
      );
      mode = why
        ? { ask: 'token', why }
        : { ask: 'lastmodified', why: 'Radicale: getlastmodified is the newest mtime of the files' };
      if (opts.cacheRoot && (kept?.ask !== mode.ask || kept.why !== mode.why))
        writeHomeMode(opts.cacheRoot, home, mode);
    }
    for (const { name, url, entry } of hosts) {
      if (found.has(name)) continue;
      found.set(
        name,
        mode?.ask === 'lastmodified'
          ? { host: name, url, token: null, lastModified: entry.lastModified, answeredAt: ans.date }
          : { host: name, url, token: entry.syncToken },
      );
    }
  }
  for (const [host, url] of Object.entries(fleet.hosts)) {
    const same = [...found.values()].find((c) => c.url === url);
    found.set(host, same ? { ...same, host } : { host, url, token: null });
    if (same && same.host !== host) found.delete(same.host);
  }
  return {
    calendars: [...found.values()].sort((a, b) => (a.host < b.host ? -1 : 1)),
    mode,
    stats: http.takeStats(),
  };
}

/**
 * A calendar whose getlastmodified passed the racy guard but whose content had moved: ask for
 * its value once more. Still the same: the server changed the content without moving the value,
 * so this home goes back to sync tokens for good (sticky). Moved: a change that came between
 * discovery and the sync, nothing wrong. Returns the hosts that proved the value wrong.
 */
export async function confirmLastModified(
  fleet: FleetConfig,
  password: string,
  suspects: FleetCalendar[],
  opts: { timeoutMs?: number; cacheRoot: string },
): Promise<string[]> {
  const http = new CalDavHttp({
    url: fleet.home ?? '',
    username: fleet.username,
    password,
    timeoutMs: opts.timeoutMs ?? 15_000,
  });
  const wrong: string[] = [];
  for (const cal of suspects) {
    const ans = await propfindHome(http, cal.url, 'lastmodified', '0');
    const self = ans.entries.find((e) => isCollectionHref(e.href, cal.url));
    if ((self ?? ans.entries[0])?.lastModified === cal.lastModified) wrong.push(cal.host);
  }
  if (wrong.length && fleet.home)
    writeHomeMode(opts.cacheRoot, fleet.home, {
      ask: 'token',
      why: `getlastmodified of ${wrong[0]} stayed while its content changed: sync tokens`,
      sticky: true,
    });
  return wrong;
}

function checked(ans: HomeAnswer, home: string): HomeAnswer {
  if (ans.status === 404 || ans.status === 410)
    throw new NotFoundError(
      `no calendar home at ${home} (HTTP ${ans.status})`,
      'check [fleet] home: e.g. https://cloud.example.org/remote.php/dav/calendars/USER/',
    );
  if (ans.status !== 207)
    throw new HosthogError(
      `${home} did not answer PROPFIND as a CalDAV server (HTTP ${ans.status})`,
      'check [fleet] home',
    );
  return ans;
}

function hostEntries(ans: HomeAnswer, fleet: FleetConfig) {
  const home = fleet.home!;
  const out: { name: string; url: string; entry: HomeAnswer['entries'][number] }[] = [];
  for (const entry of ans.entries) {
    if (!entry.href) continue;
    const href = canonicalHref(entry.href, home);
    if (isCollectionHref(href, home)) continue;
    if (!entry.types.includes('calendar')) continue;
    const name = entry.displayName?.trim() ?? '';
    if (!HOST_NAME.test(name) || !globMatch(fleet.match, name)) continue;
    out.push({ name, url: hrefToUrl(href.endsWith('/') ? href : href + '/', home), entry });
  }
  return out;
}

/**
 * Null when this answer's getlastmodified may decide "unchanged": the server is Radicale (it
 * answered RADICALE:displayname; the contract test checks that Radicale's value moves on every
 * create, overwrite and delete), the answer has a Date, and every host calendar has a value.
 * Otherwise why not.
 */
export function lastModifiedUsable(ans: HomeAnswer, hosts: HomeAnswer['entries']): string | null {
  if (!ans.entries.some((e) => e.radicale)) return 'not Radicale: sync tokens';
  if (ans.date === null) return 'no Date header: sync tokens';
  if (hosts.some((h) => h.lastModified === null || !Number.isFinite(Date.parse(h.lastModified))))
    return 'a calendar without getlastmodified: sync tokens';
  return null;
}
