/**
 * The fleet's discovery request: ONE PROPFIND Depth 1 on the calendar home, parsed as it streams
 * (saxes, namespaces kept: Radicale's own displayname must not be mistaken for DAV:displayname).
 *
 * Two ways to ask, because what a property costs differs by server:
 *  - 'token': display name, resource type and sync-token. Cheap on database servers (Nextcloud,
 *    DAViCal, Xandikos), but Radicale computes every sync-token (and getctag) by reading all of
 *    the calendar's items: seconds for a home of 100 × 2,000 events.
 *  - 'lastmodified': display name, resource type, getlastmodified and Radicale's own
 *    RADICALE:displayname. Radicale computes a collection's getlastmodified from os.stat of the
 *    collection's directory and its files (no item read), and answering RADICALE:displayname is
 *    how hosthog knows the server is Radicale (docs/fleet.md, "Why a warm run is one request").
 */
import { SaxesParser } from 'saxes';
import type { CalDavHttp } from '../caldav/http.js';

const DAV = 'DAV:';
const RADICALE = 'http://radicale.org/ns/';

export type HomeAsk = 'token' | 'lastmodified';

export interface HomeEntry {
  href: string;
  types: string[];
  displayName: string | null;
  syncToken: string | null;
  lastModified: string | null;
  /** Radicale answered its own RADICALE:displayname for this collection. */
  radicale: boolean;
}

export interface HomeAnswer {
  status: number;
  /** The response's Date header (ms since the epoch), null when absent or unreadable. */
  date: number | null;
  entries: HomeEntry[];
}

function body(ask: HomeAsk): string {
  const extra = ask === 'token' ? '<d:sync-token/>' : '<d:getlastmodified/><r:displayname/>';
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<d:propfind xmlns:d="DAV:" xmlns:r="${RADICALE}"><d:prop>` +
    `<d:resourcetype/><d:displayname/>${extra}</d:prop></d:propfind>`
  );
}

/** Parse a PROPFIND multistatus: per response its href and the properties of 2xx propstats. */
export function parseHomeAnswer(xml: string): HomeEntry[] {
  const p = new SaxesParser({ xmlns: true, position: false });
  const out: HomeEntry[] = [];
  const path: string[] = [];
  let cur: HomeEntry | null = null;
  let ps: { ok: boolean; props: Partial<HomeEntry> & { types?: string[] } } | null = null;
  let text = '';
  let error: Error | null = null;
  p.on('opentag', (t) => {
    const key = `${t.uri}|${t.local}`;
    const parent = path[path.length - 1];
    path.push(key);
    text = '';
    if (key === `${DAV}|response`)
      cur = { href: '', types: [], displayName: null, syncToken: null, lastModified: null, radicale: false };
    else if (key === `${DAV}|propstat`) ps = { ok: false, props: {} };
    else if (ps && parent === `${DAV}|resourcetype`) (ps.props.types ??= []).push(t.local);
  });
  p.on('text', (s) => (text += s));
  p.on('cdata', (s) => (text += s));
  p.on('closetag', () => {
    const key = path.pop()!;
    const parent = path[path.length - 1];
    const v = text.trim();
    if (cur && key === `${DAV}|href` && parent === `${DAV}|response`) cur.href = v;
    else if (ps && key === `${DAV}|status` && parent === `${DAV}|propstat`)
      ps.ok = /^HTTP\/\S+\s+2\d\d\b/.test(v);
    else if (ps && parent === `${DAV}|prop`) {
      if (key === `${DAV}|displayname`) ps.props.displayName = v;
      else if (key === `${DAV}|sync-token`) ps.props.syncToken = v || null;
      else if (key === `${DAV}|getlastmodified`) ps.props.lastModified = v || null;
      else if (key === `${RADICALE}|displayname`) ps.props.radicale = true;
      else if (key === `${DAV}|resourcetype`) ps.props.types ??= [];
    } else if (cur && ps && key === `${DAV}|propstat`) {
      if (ps.ok) Object.assign(cur, ps.props);
      ps = null;
    } else if (cur && key === `${DAV}|response`) {
      out.push(cur);
      cur = null;
    }
    text = '';
  });
  p.on('error', (e) => {
    error ??= e;
  });
  p.write(xml).close();
  if (error) throw error;
  return out;
}

export async function propfindHome(
  http: CalDavHttp,
  home: string,
  ask: HomeAsk,
  depth: '0' | '1' = '1',
): Promise<HomeAnswer> {
  let status = 0;
  let date: number | null = null;
  const res = await http.fetcher({
    onResponse: (s, h) => {
      status = s;
      const d = Date.parse(h.get('date') ?? '');
      date = Number.isFinite(d) ? d : null;
    },
  })(home, {
    method: 'PROPFIND',
    headers: { depth, 'content-type': 'application/xml; charset=utf-8' },
    body: body(ask),
  });
  const text = await res.text();
  status ||= res.status;
  return { status, date, entries: status === 207 ? parseHomeAnswer(text) : [] };
}
