/**
 * CalDavSource against behaviour the two real test servers cannot be made to show on demand:
 * timeouts, refused connections, 429/503 with Retry-After, a 500 to sync-collection, a 507
 * truncated delta, a PUT answered without ETag (Nextcloud repairs events), read-only shares,
 * subscriptions, trash bin and birthday calendars. The server here is a real HTTP server on
 * 127.0.0.1 whose answers each test scripts (Nextcloud's, as documented in
 * /work/shared/notes/caldav-field-notes.md). Plus parseRetryAfter as a pure unit.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { TestContext } from 'node:test';
import { CalDavSource } from '../src/caldav/caldav-source.js';
import { parseRetryAfter } from '../src/caldav/http.js';
import {
  AuthError,
  CalendarUnavailableError,
  InvalidSyncTokenError,
  PermissionError,
  NotFoundError,
} from '../src/core/errors.js';
import { freePort } from './harness/free-port.js';

interface Req {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}
type Script = (req: Req, n: number) => Answer;

const EMPTY = new Map<string, string | null>();
const COLL = '/remote.php/dav/calendars/hosthog/gpu-box-3/';

/**
 * `calendarCheck`: answer the source's "is this a calendar?" PROPFIND (src/caldav/discover.ts)
 * as a calendar by itself, unrecorded, so a script sees only the requests it is about.
 */
async function scripted(
  t: TestContext,
  script: Script,
  calendarCheck = true,
): Promise<{ url: string; requests: Req[] }> {
  const requests: Req[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Req = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      if (calendarCheck && r.method === 'PROPFIND' && r.body.includes('supported-calendar-component-set')) {
        res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8' });
        res.end(ms(resp(r.url, '<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>')));
        return;
      }
      requests.push(r);
      const a = script(r, requests.length);
      res.writeHead(a.status, { 'content-type': 'application/xml; charset=utf-8', ...a.headers });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}${COLL}`, requests };
}

const NAMESPACES =
  'xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" ' +
  'xmlns:cs="http://calendarserver.org/ns/" xmlns:oc="http://owncloud.org/ns"';
const ms = (responses: string, token = '') =>
  `<?xml version="1.0"?><d:multistatus ${NAMESPACES}>${responses}` +
  `${token ? `<d:sync-token>${token}</d:sync-token>` : ''}</d:multistatus>`;
const resp = (href: string, props: string, status = 'HTTP/1.1 200 OK') =>
  `<d:response><d:href>${href}</d:href><d:propstat><d:prop>${props}</d:prop>` +
  `<d:status>${status}</d:status></d:propstat></d:response>`;
const gone = (href: string, status = 'HTTP/1.1 404 Not Found') =>
  `<d:response><d:href>${href}</d:href><d:status>${status}</d:status></d:response>`;
const ICS =
  'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\n' +
  'DTSTART:20260301T100000Z\r\nSUMMARY:s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';

function source(url: string, timeoutMs = 2000): CalDavSource {
  return new CalDavSource({ url, username: 'hosthog', password: 'pw', timeoutMs });
}

describe('CalDAV failures map to hosthog errors', () => {
  test('a server that never answers: CalendarUnavailableError after the timeout', async (t) => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createTcpServer((s) => {
      sockets.push(s);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const port = (silent.address() as { port: number }).port;
    const src = source(`http://127.0.0.1:${port}${COLL}`, 300);
    const t0 = Date.now();
    await assert.rejects(
      src.sync('http://sabre.io/ns/sync/5', EMPTY),
      (e: unknown) => e instanceof CalendarUnavailableError && /did not answer within 0\.3s/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 2000, 'gave up at the timeout');
  });

  test('connection refused: CalendarUnavailableError (not InvalidSyncTokenError)', async () => {
    const port = await freePort();
    const src = source(`http://127.0.0.1:${port}${COLL}`);
    await assert.rejects(
      src.sync('http://sabre.io/ns/sync/5', EMPTY),
      (e: unknown) => e instanceof CalendarUnavailableError && /ECONNREFUSED/.test(e.message),
    );
    await assert.rejects(src.info(), CalendarUnavailableError);
  });

  test('429 and 503 carry Retry-After; 500 to sync-collection means the token is refused', async (t) => {
    let mode = 429;
    const s = await scripted(t, (req) => {
      if (mode === 429) return { status: 429, headers: { 'retry-after': '120' } };
      if (mode === 503)
        return { status: 503, headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() } };
      return { status: 500, body: 'Internal Server Error' };
    });
    const src = source(s.url);
    await assert.rejects(
      src.sync('t1', EMPTY),
      (e: unknown) => e instanceof CalendarUnavailableError && e.retryAfterMs === 120_000,
    );
    mode = 503;
    await assert.rejects(
      src.sync('t1', EMPTY),
      (e: unknown) =>
        e instanceof CalendarUnavailableError && e.retryAfterMs! > 20_000 && e.retryAfterMs! <= 30_000,
    );
    mode = 500;
    await assert.rejects(src.sync('t1', EMPTY), InvalidSyncTokenError);
    await assert.rejects(src.reconcile(EMPTY), CalendarUnavailableError, 'a 500 to the listing is an outage');
  });

  test('401 is AuthError everywhere; 403 to the first PROPFIND is AuthError too', async (t) => {
    let status = 401;
    const s = await scripted(t, () => ({ status }));
    const src = source(s.url);
    await assert.rejects(
      src.sync('t', EMPTY),
      (e: unknown) => e instanceof AuthError && /calendar login failed for hosthog at/.test(e.message),
    );
    await assert.rejects(src.remove(COLL + 'a.ics', '"e"'), AuthError);
    status = 403;
    const bare = await scripted(t, () => ({ status: 403 }), false);
    await assert.rejects(source(bare.url).info(), AuthError);
    await assert.rejects(
      src.sync('t', EMPTY),
      InvalidSyncTokenError,
      'Nextcloud answers a bad token with 403',
    );
    await assert.rejects(
      src.update(COLL + 'a.ics', ICS, '"e"'),
      PermissionError,
      'a write to a read-only share',
    );
    assert.equal(
      s.requests[0].headers.authorization,
      'Basic ' + Buffer.from('hosthog:pw').toString('base64'),
    );
  });

  test('sync never sends <limit>; a 507 for the collection continues from the new token', async (t) => {
    const s = await scripted(t, (req, n) => {
      if (req.method === 'REPORT' && req.body.includes('sync-collection')) {
        if (n === 1)
          return {
            status: 207,
            body: ms(
              resp(COLL + 'a.ics', '<d:getetag>"a1"</d:getetag>') +
                gone(COLL, 'HTTP/1.1 507 Insufficient Storage'),
              'http://sabre.io/ns/sync/7',
            ),
          };
        return {
          status: 207,
          body: ms(
            resp(COLL + 'b.ics', '<d:getetag>"b1"</d:getetag>') + gone(COLL + 'old.ics'),
            'http://sabre.io/ns/sync/9',
          ),
        };
      }
      // calendar-multiget
      const hrefs = [...req.body.matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => m[1]);
      return {
        status: 207,
        body: ms(
          hrefs
            .map((h) =>
              h.endsWith('b.ics')
                ? gone(h)
                : resp(h, `<d:getetag>"a1"</d:getetag><cal:calendar-data>${ICS}</cal:calendar-data>`),
            )
            .join(''),
        ),
      };
    });
    const src = source(s.url);
    const d = await src.sync(
      'http://sabre.io/ns/sync/5',
      new Map([
        [COLL + 'old.ics', '"o"'],
        [COLL + 'b.ics', '"b0"'],
      ]),
    );
    assert.equal(d.token, 'http://sabre.io/ns/sync/9');
    assert.deepEqual(
      d.changed.map((o) => [o.href, o.etag]),
      [[COLL + 'a.ics', '"a1"']],
    );
    assert.match(d.changed[0].data, /UID:u1/);
    assert.deepEqual(
      d.deleted.sort(),
      [COLL + 'b.ics', COLL + 'old.ics'],
      'gone from the delta, or (known, changed, then) 404 in the multiget',
    );
    assert.equal(d.stats.requests, 4, 'the calendar check, two sync rounds, one multiget');
    assert.ok(
      s.requests.every((r) => !/limit/.test(r.body)),
      'no <d:limit>',
    );
    assert.match(s.requests[1].body, /sync\/7/, 'second round from the token of the first');
  });

  const truncatedListing =
    'a listing still truncated after every continuation is an outage, never a partial calendar';
  test(truncatedListing, async (t) => {
    let round = 0;
    const s = await scripted(t, () => ({
      status: 207,
      body: ms(
        resp(COLL + `p${round}.ics`, '<d:getetag>"x"</d:getetag>') +
          gone(COLL, 'HTTP/1.1 507 Insufficient Storage'),
        `http://sabre.io/ns/sync/${++round}`,
      ),
    }));
    const known = new Map([[COLL + 'kept.ics', '"k"']]);
    await assert.rejects(
      source(s.url).reconcile(known),
      (e: unknown) => e instanceof CalendarUnavailableError && /still truncated its listing/.test(e.message),
    );
  });

  const slowQueryFallsBack =
    'empty cache: a calendar-query too slow for the timeout falls back to listing + multiget; ' +
    'an event sent without its data is fetched alone';
  test(slowQueryFallsBack, async (t) => {
    const s = await scripted(t, (req) => {
      if (req.method === 'PROPFIND')
        return {
          status: 207,
          body: ms(resp(COLL, '<d:sync-token>http://sabre.io/ns/sync/3</d:sync-token>')),
        };
      if (req.body.includes('calendar-query'))
        return { status: 500, body: 'never reached: the client gives up first' };
      if (req.body.includes('sync-collection'))
        return {
          status: 207,
          body: ms(
            resp(COLL + 'a.ics', '<d:getetag>"a1"</d:getetag>') +
              resp(COLL + 'b.ics', '<d:getetag>"b1"</d:getetag>'),
            'http://sabre.io/ns/sync/3',
          ),
        };
      if (req.method === 'GET')
        return {
          status: 200,
          headers: { 'content-type': 'text/calendar', etag: '"b1"' },
          body: ICS.replace('UID:u1', 'UID:u2'),
        };
      // multiget: a's data in a 200 propstat; b's calendar-data refused in a 404 propstat
      return {
        status: 207,
        body: ms(
          resp(COLL + 'a.ics', `<d:getetag>"a1"</d:getetag><cal:calendar-data>${ICS}</cal:calendar-data>`) +
            `<d:response><d:href>${COLL}b.ics</d:href>` +
            '<d:propstat><d:prop><d:getetag>"b1"</d:getetag></d:prop>' +
            '<d:status>HTTP/1.1 200 OK</d:status></d:propstat>' +
            '<d:propstat><d:prop><cal:calendar-data/></d:prop>' +
            '<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>' +
            '</d:response>',
        ),
      };
    });
    // The scripted server answers at once; make the calendar-query slower than the timeout.
    const slow: typeof fetch = async (input, init) => {
      if (String(init?.body ?? '').includes('calendar-query')) await new Promise((r) => setTimeout(r, 700));
      return fetch(input, init);
    };
    const src = new CalDavSource({
      url: s.url,
      username: 'hosthog',
      password: 'pw',
      timeoutMs: 400,
      fetch: slow,
    });
    const d = await src.reconcile(EMPTY);
    assert.deepEqual(d.changed.map((o) => [o.href, o.etag, /UID:(u\d)/.exec(o.data)?.[1]]).sort(), [
      [COLL + 'a.ics', '"a1"', 'u1'],
      [COLL + 'b.ics', '"b1"', 'u2'],
    ]);
    assert.deepEqual(d.deleted, []);
    assert.equal(d.token, 'http://sabre.io/ns/sync/3');
    assert.deepEqual(
      s.requests.map((r) =>
        r.method === 'REPORT'
          ? (/calendar-query|sync-collection|calendar-multiget/.exec(r.body)?.[0] ?? 'REPORT')
          : r.method,
      ),
      ['PROPFIND', 'sync-collection', 'calendar-multiget', 'GET'],
      'the timed-out query never reached the server; then listing, multiget, one GET',
    );
  });

  test('a PUT answered without ETag (server repaired the event) is read back', async (t) => {
    const s = await scripted(t, (req) => {
      if (req.method === 'PUT') return { status: 201 };
      if (req.method === 'GET')
        return {
          status: 200,
          headers: { etag: '"repaired"', 'content-type': 'text/calendar' },
          body: ICS.replace('SUMMARY:s', 'SUMMARY:repaired'),
        };
      return { status: 400 };
    });
    const src = source(s.url);
    const obj = await src.create('n.ics', ICS);
    assert.equal(obj.etag, '"repaired"');
    assert.match(obj.data, /SUMMARY:repaired/);
    assert.equal(s.requests[0].headers['if-none-match'], '*');
    assert.deepEqual(
      s.requests.map((r) => r.method),
      ['PUT', 'GET'],
    );
  });
});

describe('CalDAV info(): read-only calendars and wrong URLs', () => {
  const propfindAnswer =
    (resourcetype: string, extra = '', privileges = '<d:privilege><d:all/></d:privilege>') =>
    (req: Req): Answer =>
      req.method === 'PROPFIND'
        ? {
            status: 207,
            body: ms(
              resp(
                req.url,
                `<d:resourcetype>${resourcetype}</d:resourcetype><d:displayname>gpu-box-3</d:displayname>` +
                  `<d:current-user-privilege-set>${privileges}</d:current-user-privilege-set>${extra}`,
              ),
            ),
          }
        : { status: 400 };

  test('a normal calendar is writable', async (t) => {
    const s = await scripted(t, propfindAnswer('<d:collection/><cal:calendar/>'), false);
    assert.deepEqual(await source(s.url).info(), { displayName: 'gpu-box-3', readOnly: false });
  });
  test('an owncloud read-only share', async (t) => {
    const s = await scripted(
      t,
      propfindAnswer('<d:collection/><cal:calendar/>', '<oc:read-only>1</oc:read-only>'),
      false,
    );
    const i = await source(s.url).info();
    assert.equal(i.readOnly, true);
    assert.match(i.readOnlyReason!, /shared read-only/);
  });
  test('no write privilege', async (t) => {
    const s = await scripted(
      t,
      propfindAnswer(
        '<d:collection/><cal:calendar/>',
        '',
        '<d:privilege><d:read/></d:privilege><d:privilege><d:read-acl/></d:privilege>',
      ),
      false,
    );
    assert.match((await source(s.url).info()).readOnlyReason!, /no write privilege/);
  });
  test('a subscription', async (t) => {
    const s = await scripted(t, propfindAnswer('<d:collection/><cs:subscribed/>'), false);
    assert.match((await source(s.url).info()).readOnlyReason!, /subscription/);
  });
  test('the Nextcloud trash bin and birthday calendar', async (t) => {
    const s = await scripted(t, propfindAnswer('<d:collection/><cal:calendar/>'), false);
    const base = new URL(s.url).origin;
    assert.match(
      (await source(`${base}/remote.php/dav/calendars/hosthog/trashbin/`).info()).readOnlyReason!,
      /trash bin/,
    );
    assert.match(
      (await source(`${base}/remote.php/dav/calendars/hosthog/contact_birthdays/`).info()).readOnlyReason!,
      /birthday/,
    );
  });
  test('not a calendar, or nothing there', async (t) => {
    let missing = false;
    const s = await scripted(
      t,
      (req) => (missing ? { status: 404 } : propfindAnswer('<d:collection/>')(req)),
      false,
    );
    await assert.rejects(
      source(s.url).info(),
      (e: unknown) => e instanceof NotFoundError && /is not a calendar/.test(e.message),
    );
    missing = true;
    await assert.rejects(
      source(s.url).info(),
      (e: unknown) => e instanceof NotFoundError && /no calendar at/.test(e.message),
    );
  });
});

describe('parseRetryAfter', () => {
  test('seconds, HTTP dates, garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('30', now), 30_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});
