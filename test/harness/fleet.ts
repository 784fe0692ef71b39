/** A fleet on one test server: several host calendars in one calendar home, and a per-user [fleet] config. */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestServer } from './servers.js';

export function homeOf(srv: TestServer): string {
  return srv.calendarUrl.replace(/[^/]+\/$/, '');
}
export function authOf(srv: TestServer): string {
  return 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
}

/** MKCALENDAR at home + slug, with this display name. */
export async function mkHostCalendar(srv: TestServer, slug: string, displayName: string): Promise<string> {
  const url = homeOf(srv) + encodeURIComponent(slug) + '/';
  const body =
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
    `<D:set><D:prop><D:displayname>${displayName}</D:displayname></D:prop></D:set></C:mkcalendar>`;
  const r = await fetch(url, {
    method: 'MKCALENDAR',
    headers: { authorization: authOf(srv), 'content-type': 'application/xml; charset=utf-8' },
    body,
  });
  if (r.status !== 201) throw new Error(`MKCALENDAR ${url}: ${r.status} ${await r.text()}`);
  return url;
}

/** PUT a new event (If-None-Match: *). */
export async function putEvent(srv: TestServer, calUrl: string, uid: string, ics: string): Promise<void> {
  const r = await fetch(`${calUrl}${uid}.ics`, {
    method: 'PUT',
    headers: {
      authorization: authOf(srv),
      'content-type': 'text/calendar; charset=utf-8',
      'if-none-match': '*',
    },
    body: ics,
  });
  if (r.status !== 201 && r.status !== 204) throw new Error(`PUT ${uid}: ${r.status} ${await r.text()}`);
}

export async function deleteEvent(srv: TestServer, calUrl: string, uid: string): Promise<void> {
  const r = await fetch(`${calUrl}${uid}.ics`, { method: 'DELETE', headers: { authorization: authOf(srv) } });
  if (r.status >= 300) throw new Error(`DELETE ${uid}: ${r.status}`);
}

export interface FleetEnv {
  dir: string;
  config: string;
  env: NodeJS.ProcessEnv;
}

/** A user's config with [fleet] and a fresh HOME/cache, run as `me`. */
export function writeFleetConfig(srv: TestServer, me: string, extra = ''): FleetEnv {
  const dir = mkdtempSync(join(tmpdir(), 'hh-fleet-'));
  const pw = join(dir, 'password');
  writeFileSync(pw, srv.password + '\n', { mode: 0o600 });
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    `timezone = "Europe/Berlin"\n\n[fleet]\nhome = "${homeOf(srv)}"\nusername = "${srv.username}"\n` +
      `password_file = "${pw}"\ndefault_resources = ["gpu0", "gpu1", "gpu2", "gpu3"]\n${extra}\n`,
  );
  mkdirSync(join(dir, 'home'), { recursive: true });
  return {
    dir,
    config,
    env: {
      HOME: join(dir, 'home'),
      XDG_CACHE_HOME: join(dir, 'cache'),
      XDG_CONFIG_HOME: join(dir, 'cfg'),
      HOSTHOG_USER: me,
      HOSTHOG_CONFIG: config,
      HOSTHOG_PASSWORD: '',
      HOSTHOG_USERNAME: '',
    },
  };
}
