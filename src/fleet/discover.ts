/**
 * Which calendars are hosts: ONE PROPFIND Depth 1 on the calendar home (display name,
 * resource type, sync token), plus the [fleet.hosts] table. A calendar is a host when its
 * display name matches [fleet] match (a glob, default "*") and is a host-like name (Nextcloud's
 * URL for a shared calendar is "gpu-box-3_shared_by_x", but the display name stays gpu-box-3).
 * The sync tokens let the fleet skip calendars that did not change (no request at all).
 */
import { propfind } from 'tsdav';
import type { FleetConfig } from '../config/schema.js';
import { CalDavHttp } from '../caldav/http.js';
import { canonicalHref, hrefToUrl, isCollectionHref } from '../caldav/href.js';
import { HosthogError, NotFoundError } from '../core/errors.js';

export interface FleetCalendar {
  host: string;
  url: string;
  token: string | null;
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

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') {
    const t = (v as Record<string, unknown>)._text;
    return t === undefined ? null : String(t);
  }
  return String(v);
}

export async function discover(
  fleet: FleetConfig,
  password: string,
  opts: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<{ calendars: FleetCalendar[]; stats: { requests: number; bytes: number } }> {
  const found = new Map<string, FleetCalendar>();
  const http = new CalDavHttp({
    url: fleet.home ?? '',
    username: fleet.username,
    password,
    timeoutMs: opts.timeoutMs ?? 15_000,
    fetch: opts.fetch,
  });
  if (fleet.home) {
    let status = 0;
    const res = await propfind({
      url: fleet.home,
      depth: '1',
      props: { 'd:resourcetype': {}, 'd:displayname': {}, 'd:sync-token': {} },
      fetch: http.fetcher({
        onResponse: (s) => {
          status = s;
        },
      }),
    });
    if (status === 404 || status === 410)
      throw new NotFoundError(
        `no calendar home at ${fleet.home} (HTTP ${status})`,
        'check [fleet] home: e.g. https://cloud.example.org/remote.php/dav/calendars/USER/',
      );
    if (status !== 207)
      throw new HosthogError(
        `${fleet.home} did not answer PROPFIND as a CalDAV server (HTTP ${status})`,
        'check [fleet] home',
      );
    for (const r of res) {
      if (!r.href) continue;
      const href = canonicalHref(String(r.href), fleet.home);
      if (isCollectionHref(href, fleet.home)) continue;
      const props = (r.props ?? {}) as Record<string, unknown>;
      const types = Object.keys((props.resourcetype ?? {}) as object);
      if (!types.includes('calendar')) continue;
      const name = text(props.displayname)?.trim() ?? '';
      if (!HOST_NAME.test(name) || !globMatch(fleet.match, name)) continue;
      const url = hrefToUrl(href.endsWith('/') ? href : href + '/', fleet.home);
      if (!found.has(name))
        found.set(name, { host: name, url, token: text(props.syncToken ?? props['sync-token']) });
    }
  }
  for (const [host, url] of Object.entries(fleet.hosts)) {
    const same = [...found.values()].find((c) => c.url === url);
    found.set(host, { host, url, token: same?.token ?? null });
    if (same && same.host !== host) found.delete(same.host);
  }
  return {
    calendars: [...found.values()].sort((a, b) => (a.host < b.host ? -1 : 1)),
    stats: http.takeStats(),
  };
}
