/**
 * Size limits on what a calendar server sends ([calendar] max_response, max_event), and the
 * plain-http warning. The endless answer comes from a tiny hostile HTTP server (it tests our
 * limit, not CalDAV); the oversized event and the kept cache from a real Radicale.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CalDavSource } from '../src/caldav/caldav-source.js';
import { Mirror } from '../src/bridge/mirror.js';
import { ResponseTooLargeError, CalendarUnavailableError } from '../src/core/errors.js';
import { decodeObjects } from '../src/core/ics-read.js';
import { plainHttpWarning } from '../src/core/plain-http.js';
import { validateConfig } from '../src/config/schema.js';
import { startRadicale } from './harness/servers.js';

const MIB = 1024 * 1024;
const CAL =
  '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">' +
  '<d:response><d:href>/cal/</d:href><d:propstat><d:prop>' +
  '<d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:sync-token>t1</d:sync-token></d:prop>' +
  '<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>';

/** Answers the calendar check normally, then streams `endless` (PROPFIND or REPORT) forever. */
async function hostile(
  t: TestContext,
  endless: 'PROPFIND' | 'REPORT',
): Promise<{ url: string; sent: () => number; closed: Promise<void> }> {
  let sent = 0;
  let onClose!: () => void;
  const closed = new Promise<void>((r) => {
    onClose = r;
  });
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const check = req.method === 'PROPFIND' && body.includes('supported-calendar-component-set');
      if (check && endless === 'REPORT') {
        res.writeHead(207, { 'content-type': 'application/xml' });
        res.end(CAL);
        return;
      }
      res.writeHead(207, { 'content-type': 'application/xml' });
      res.write('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">');
      const one =
        '<d:response><d:href>/cal/x.ics</d:href><d:propstat><d:prop><d:getetag>"e"</d:getetag></d:prop>' +
        '<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>';
      const item = one.repeat(500);
      const pump = () => {
        while (!res.destroyed) {
          sent += item.length;
          if (!res.write(item)) break;
        }
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => onClose());
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/cal/`, sent: () => sent, closed };
}

describe('[calendar] max_response: an endless answer is cut off, memory stays bounded', () => {
  for (const endless of ['REPORT', 'PROPFIND'] as const) {
    const reader = endless === 'REPORT' ? 'multistatus reader' : 'buffered fetch';
    test(`an endless 207 to a ${endless} (streamed ${reader})`, async (t) => {
      const h = await hostile(t, endless);
      // REPORT: the default max_response (128 MiB); the item cap (200,000) cuts it first.
      const limit = endless === 'REPORT' ? 128 * MIB : 32 * MIB;
      const src = new CalDavSource({
        url: h.url,
        username: 'u',
        password: 'p',
        timeoutMs: 60_000,
        ...(endless === 'REPORT' ? {} : { maxResponseBytes: limit }),
      });
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      const t0 = Date.now();
      await assert.rejects(
        src.reconcile(new Map()),
        (e: unknown) =>
          e instanceof ResponseTooLargeError &&
          e instanceof CalendarUnavailableError &&
          /sent more than (32 MiB|200000 items) for one (REPORT|PROPFIND): cut off, the cache is kept/.test(
            e.message,
          ) &&
          /max_response/.test(e.line()),
      );
      clearInterval(sampler);
      await h.closed; // the client hung up: the server stops sending
      const sent = h.sent();
      const grew = (peak - rss0) / MIB;
      t.diagnostic(
        `${endless}: sent ${(sent / MIB).toFixed(1)} MiB before the cut, ` +
          `RSS +${grew.toFixed(0)} MiB, ${Date.now() - t0} ms`,
      );
      assert.ok(
        sent < (endless === 'REPORT' ? 96 * MIB : limit + 16 * MIB),
        `the server sent ${sent} bytes (socket buffers included): the read stopped at the cap`,
      );
      assert.ok(grew < 250, `RSS grew ${grew.toFixed(0)} MiB (bounded by the caps, not by the server)`);
    });
  }
});

describe('[calendar] max_event and a kept cache (Radicale)', () => {
  const overMaxEventOrResponse =
    'an event over max_event is left out and named; an answer over max_response fails the ' +
    'sync with one line and keeps the cache';
  test(overMaxEventOrResponse, async (t) => {
    const srv = await startRadicale();
    t.after(() => srv.destroy());
    const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
    const ev = (uid: string, desc = '') =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//t//EN',
        'BEGIN:VEVENT',
        `UID:${uid}`,
        'DTSTAMP:20260101T000000Z',
        'DTSTART:20261124T100000Z',
        'DTEND:20261124T110000Z',
        `SUMMARY:alice`,
        ...(desc ? [`DESCRIPTION:${desc}`] : []),
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${srv.calendarUrl}e${i}.ics`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'text/calendar' },
        body: ev(`e${i}`),
      });
      assert.ok(r.status < 300);
    }
    const big = await fetch(`${srv.calendarUrl}big.ics`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar' },
      body: ev('big', 'x'.repeat(300 * 1024)),
    });
    assert.ok(big.status < 300, `PUT big ${big.status}`);
    const dir = mkdtempSync(join(tmpdir(), 'hh-limits-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const opts = { url: srv.calendarUrl, username: srv.username, password: srv.password, timeoutMs: 5000 };
    const m = await Mirror.open(dir, new CalDavSource({ ...opts, maxEventBytes: 64 * 1024 }));
    const first = await m.sync(new Date(), 86_400_000);
    assert.equal(first.changed, 21);
    const d = decodeObjects(m.objects(), {
      timezone: 'UTC',
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-12-01T00:00:00Z'),
    });
    assert.equal(d.occurrences.length, 20, 'the oversized event is not shown');
    assert.deepEqual(
      d.problems.map((p) => [p.href.split('/').pop(), p.message]),
      [['big.ics', 'event larger than [calendar] max_event (309 kB > 64 kB): left out']],
    );
    // The big event changes; the same calendar through a source whose answers may be at most 64 kB:
    // downloading it is cut off.
    const again = await fetch(`${srv.calendarUrl}big.ics`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar' },
      body: ev('big', 'y'.repeat(300 * 1024)),
    });
    assert.ok(again.status < 300);
    m.useSource(new CalDavSource({ ...opts, maxResponseBytes: 64 * 1024 }));
    await assert.rejects(m.sync(new Date(), 86_400_000, { forceFull: true }), ResponseTooLargeError);
    assert.equal(m.size, 21, 'the cache is kept');
    assert.match(m.meta.lastError ?? '', /sent more than 64 kB for one REPORT: cut off, the cache is kept/);
  });
});

describe('plain http:// and the size keys', () => {
  test('http:// to another host is warned about; https and loopback are not', () => {
    assert.match(
      plainHttpWarning('http://cal.example.org/dav/cal/')!,
      /plain http:\/\/ to cal\.example\.org: the password and every event cross the network unencrypted/,
    );
    assert.match(plainHttpWarning('http://10.0.0.5:5232/alice/cal/')!, /10\.0\.0\.5:5232/);
    for (const ok of [
      'https://cal.example.org/',
      'http://127.0.0.1:5232/a/',
      'http://localhost/a/',
      'http://[::1]:8080/a/',
    ])
      assert.equal(plainHttpWarning(ok), null, ok);
  });

  test('[calendar] max_response and max_event: defaults, units, refusals', () => {
    const cfg = (c: Record<string, unknown>) =>
      validateConfig(
        { host: 'box', timezone: 'UTC', calendar: { url: 'https://x/c/', username: 'u', ...c } },
        { hostname: 'box', timezone: 'UTC' },
        't',
      );
    const d = cfg({}).config!.calendar;
    assert.ok(d.kind === 'caldav');
    assert.equal(d.maxResponseBytes, 128 * MIB);
    assert.equal(d.maxEventBytes, MIB);
    const s = cfg({ max_response: '64MiB', max_event: '512kB' }).config!.calendar;
    assert.ok(s.kind === 'caldav' && s.maxResponseBytes === 64 * MIB && s.maxEventBytes === 512 * 1024);
    assert.deepEqual(cfg({ max_response: 'lots' }).problems, [
      '[calendar] max_response = "lots" is not a size of at least 65536 bytes: ' +
        'write e.g. max_response = "128MiB"',
    ]);
  });
});
