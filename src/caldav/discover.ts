/**
 * Is [calendar] url a calendar? One PROPFIND Depth 0 (resourcetype, displayname,
 * supported-calendar-component-set, …). A calendar that cannot hold events (VTODO-only) or
 * anything else (a principal, a calendar home, a server's base URL) is refused with
 * NotACalendarError; for the latter the calendars reachable from there are discovered the way
 * CalDAV clients do (RFC 4791 §6.2.1, RFC 6764): current-user-principal → calendar-home-set →
 * PROPFIND Depth 1, trying /.well-known/caldav when the URL itself does not answer WebDAV
 * (a Nextcloud base URL), and named in the error (URL and display name) so the admin can pick.
 */
import { propfind } from 'tsdav';
import { AuthError, HosthogError, NotACalendarError, NotFoundError } from '../core/errors.js';
import { cleanText } from '../core/sanitize.js';
import type { CalDavHttp } from './http.js';
import { isCollectionHref } from './href.js';

type Props = Record<string, unknown>;
const CAL = { _attributes: { 'xmlns:c': 'urn:ietf:params:xml:ns:caldav' } };
const OC = { _attributes: { 'xmlns:oc': 'http://owncloud.org/ns' } };

/** At most this many calendars are named in the error. */
const MAX_LISTED = 12;

export interface CalendarProps {
  types: string[];
  displayName?: string;
  props: Props;
}

/** The collection's properties when it is a calendar for events; throws otherwise. */
export async function checkCalendar(url: string, http: CalDavHttp): Promise<CalendarProps> {
  let status = 0;
  let res = await propfind({
    url,
    depth: '0',
    props: {
      'd:resourcetype': {},
      'd:displayname': {},
      'd:current-user-privilege-set': {},
      'd:current-user-principal': {},
      'c:calendar-home-set': CAL,
      'c:supported-calendar-component-set': CAL,
      'oc:read-only': OC,
      'd:sync-token': {},
    },
    fetch: http.fetcher({
      throw5xx: false,
      onResponse: (s) => {
        status = s;
      },
    }),
  });
  if (status >= 500) {
    // DAViCal answers 500 when asked for a sync-token of what is not a calendar: ask again
    // for the basics only (an outage fails this one too, as CalendarUnavailableError).
    res = await propfind({
      url,
      depth: '0',
      props: { 'd:resourcetype': {}, 'd:current-user-principal': {}, 'c:calendar-home-set': CAL },
      fetch: http.fetcher({
        onResponse: (s) => {
          status = s;
        },
      }),
    });
  }
  if (status === 403) throw http.authError(403);
  if (status === 404 || status === 410) {
    throw new NotFoundError(
      `no calendar at ${url} (HTTP ${status})`,
      'check [calendar] url: it must be the calendar collection itself, e.g. …/calendars/USER/NAME/',
    );
  }
  const self = res.find((r) => r.href !== undefined && isCollectionHref(String(r.href), url)) ?? res[0];
  const props = (status === 207 ? (self?.props ?? {}) : {}) as Props;
  const types = Object.keys(asObject(props.resourcetype));
  const displayName = text(props.displayname);
  if (types.includes('calendar') || types.includes('subscribed')) {
    const comps = components(props.supportedCalendarComponentSet);
    if (comps && !comps.includes('VEVENT')) {
      throw new NotACalendarError(
        `${url} is a calendar for ${comps.join(', ') || 'nothing'}, not for events (VEVENT)`,
        'point [calendar] url at a calendar that holds events',
      );
    }
    return { types, displayName, props };
  }
  if (
    status !== 207 &&
    status !== 0 &&
    !(status >= 300 && status < 400) &&
    status !== 405 &&
    status !== 200
  ) {
    throw new HosthogError(
      `${url} did not answer PROPFIND as a CalDAV server (HTTP ${status})`,
      'check [calendar] url: it must be the calendar collection itself',
    );
  }
  const found = await discover(url, props, http);
  const kind =
    status !== 207
      ? 'not a WebDAV collection'
      : types.includes('principal')
        ? 'a principal: a user'
        : types.length
          ? `a ${types.join('+')}`
          : 'a plain resource';
  const what = `not a calendar (it is ${kind})`;
  const list = found
    .slice(0, MAX_LISTED)
    .map((c) => `${c.url}${c.name ? ` ("${c.name}")` : ''}`)
    .join(', ');
  const more = found.length > MAX_LISTED ? ` and ${found.length - MAX_LISTED} more` : '';
  throw new NotACalendarError(
    found.length
      ? `${url} is ${what}; calendars found there: ${list}${more}`
      : `${url} is ${what}, and no calendar was found from it`,
    found.length
      ? 'set [calendar] url (or --calendar) to one of them'
      : 'point [calendar] url at a calendar collection, e.g. …/calendars/USER/NAME/',
  );
}

/** Event calendars reachable from a principal, calendar home or server base URL (best effort). */
export async function discover(
  url: string,
  props: Props,
  http: CalDavHttp,
): Promise<{ url: string; name?: string }[]> {
  const homes: string[] = [];
  const add = (href: unknown, base: string) => {
    const h = hrefOf(href);
    if (!h) return;
    try {
      const u = new URL(h, base).toString();
      if (!homes.includes(u)) homes.push(u);
    } catch {
      /* not a URL */
    }
  };
  add(props.calendarHomeSet, url);
  let principal = hrefOf(props.currentUserPrincipal);
  let base = url;
  if (!principal && homes.length === 0) {
    // A server's base URL (Nextcloud: https://cloud.example.org/): the well-known entry point.
    const wk = new URL('/.well-known/caldav', url).toString();
    const r = await safePropfind(
      wk,
      { 'd:current-user-principal': {}, 'c:calendar-home-set': CAL },
      '0',
      http,
    );
    const p = (r?.[0]?.props ?? {}) as Props;
    principal = hrefOf(p.currentUserPrincipal);
    add(p.calendarHomeSet, wk);
    base = wk;
  }
  if (homes.length === 0 && principal) {
    const pu = new URL(principal, base).toString();
    const r = await safePropfind(pu, { 'c:calendar-home-set': CAL }, '0', http);
    for (const x of r ?? []) add(asObject(x.props).calendarHomeSet, pu);
  }
  if (!homes.includes(url)) homes.push(url); // a calendar home given directly
  const out: { url: string; name?: string }[] = [];
  for (const home of homes) {
    const props = { 'd:resourcetype': {}, 'd:displayname': {}, 'c:supported-calendar-component-set': CAL };
    const r = await safePropfind(home, props, '1', http);
    for (const x of r ?? []) {
      const p = asObject(x.props);
      if (x.href === undefined || !Object.keys(asObject(p.resourcetype)).includes('calendar')) continue;
      const comps = components(p.supportedCalendarComponentSet);
      if (comps && !comps.includes('VEVENT')) continue;
      let u: string;
      try {
        u = new URL(String(x.href), home).toString();
      } catch {
        continue;
      }
      if (out.some((c) => c.url === u)) continue;
      const name = text(p.displayname);
      out.push({ url: cleanText(u, 200), ...(name ? { name: cleanText(name, 60) } : {}) });
    }
  }
  return out;
}

async function safePropfind(url: string, props: Record<string, unknown>, depth: '0' | '1', http: CalDavHttp) {
  let status = 0;
  try {
    const fetch = http.fetcher({
      throw5xx: false,
      onResponse: (s) => {
        status = s;
      },
    });
    const r = await propfind({ url, depth, props, fetch });
    return status === 207 ? r : null;
  } catch (e) {
    if (e instanceof AuthError) throw e; // a refused login stays what it is
    return null;
  }
}

function components(set: unknown): string[] | null {
  const o = asObject(set);
  if (!('comp' in o)) return null;
  const list = Array.isArray(o.comp) ? o.comp : [o.comp];
  return list.map((c) => String(asObject(asObject(c)._attributes).name ?? '').toUpperCase()).filter(Boolean);
}

function hrefOf(v: unknown): string | null {
  if (typeof v === 'string' && v.trim()) return v.trim();
  const h = asObject(v).href;
  if (typeof h === 'string' && h.trim()) return h.trim();
  if (Array.isArray(h) && typeof h[0] === 'string') return h[0].trim();
  return null;
}

function text(v: unknown): string | undefined {
  return v !== undefined && v !== null && typeof v !== 'object' && String(v) !== '' ? String(v) : undefined;
}

function asObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
