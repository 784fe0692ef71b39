/**
 * The calendar timeout counts silence, not length: a real HTTP server on loopback that keeps
 * trickling a big answer for several times the timeout is read whole; one that stops sending
 * mid-answer fails within about the timeout, as "calendar unavailable".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CalDavHttp } from '../src/caldav/http.js';
import { CalendarUnavailableError } from '../src/core/errors.js';

const TIMEOUT = 400;

function response(i: number): string {
  return (
    `<d:response><d:href>/cal/e${i}.ics</d:href><d:propstat><d:prop><d:getetag>"${i}"</d:getetag></d:prop>` +
    '<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>'
  );
}

/**
 * 207 answers sent in `chunks` pieces, `gapMs` apart; stallAfter: stop sending (never end) after
 * that many.
 */
async function slowServer(
  chunks: number,
  gapMs: number,
  stallAfter = Infinity,
): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8' });
    res.write('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">');
    let i = 0;
    const timer = setInterval(() => {
      if (i >= stallAfter) return; // silent, connection kept open
      if (i >= chunks) {
        clearInterval(timer);
        res.end('</d:multistatus>');
        return;
      }
      res.write(response(i++));
    }, gapMs);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cal/`, server };
}

const body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>';

const longStreamReadWhole =
  'an answer that keeps streaming for 4x the timeout is read whole (streamed and buffered paths)';
test(longStreamReadWhole, async (t) => {
  const { url, server } = await slowServer(16, 100); // about 1.7 s in all, never 0.4 s silent
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const http = new CalDavHttp({ url, username: 'u', password: 'p', timeoutMs: TIMEOUT });
  const t0 = Date.now();
  const r = await http.davXml(url, { method: 'PROPFIND', depth: '1', body }, { what: 'listing' });
  assert.ok(Date.now() - t0 > 3 * TIMEOUT, 'the answer took longer than the timeout in all');
  assert.equal(r.status, 207);
  assert.ok(r.ms, 'multistatus parsed');
  const f = http.fetcher();
  const res = await f(url, { method: 'PROPFIND', headers: { depth: '1' }, body });
  const text = await res.text();
  assert.equal((text.match(/<d:response>/g) ?? []).length, 16);
});

test('a server that goes silent mid-answer fails after about the timeout, as unavailable', async (t) => {
  const { url, server } = await slowServer(16, 50, 3); // three pieces, then nothing
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const http = new CalDavHttp({ url, username: 'u', password: 'p', timeoutMs: TIMEOUT });
  for (const run of [
    () => http.davXml(url, { method: 'PROPFIND', depth: '1', body }, { what: 'listing' }),
    async () => (await http.fetcher()(url, { method: 'PROPFIND', headers: { depth: '1' }, body })).text(),
  ]) {
    const t0 = Date.now();
    await assert.rejects(
      run(),
      (e: unknown) => e instanceof CalendarUnavailableError && /did not answer within 0\.4s/.test(e.message),
    );
    const ms = Date.now() - t0;
    assert.ok(ms >= TIMEOUT && ms < TIMEOUT + 1500, `failed after ${ms} ms`);
  }
});
