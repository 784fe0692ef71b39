/**
 * A first download (empty cache) is stored while it arrives: the calendar-query's events go to
 * the mirror's store in batches as the answer streams, never all held at once (issue 11), and
 * what the mirror then holds is the whole calendar, its etags and a token a delta works from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MultistatusReader, type MsResponse } from '../src/caldav/multistatus.js';
import { CalDavSource } from '../src/caldav/caldav-source.js';
import type { CalendarObject } from '../src/core/types.js';
import { Mirror } from '../src/bridge/mirror.js';
import { startRadicale } from './harness/servers.js';
import { vevent } from './harness/config.js';

const HOUR = 3_600_000;

test('MultistatusReader hands complete responses to take() as they close; the rest is kept', () => {
  const taken: string[][] = [];
  const r = new MultistatusReader({
    take: (x: MsResponse) => {
      if (x.status === 404) return false;
      taken.push(x.hrefs);
      return true;
    },
  });
  const item = (h: string) =>
    `<d:response><d:href>${h}</d:href><d:propstat><d:prop><d:getetag>"${h}"</d:getetag></d:prop>` +
    '<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>';
  r.write('<d:multistatus xmlns:d="DAV:">' + item('/c/a.ics'));
  assert.deepEqual(taken, [['/c/a.ics']], 'handed over as soon as its response closed');
  r.write(
    item('/c/b.ics') + '<d:response><d:href>/c/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status>',
  );
  r.write('</d:response></d:multistatus>');
  assert.equal(r.count, 3);
  const ms = r.end('test');
  assert.deepEqual(taken, [['/c/a.ics'], ['/c/b.ics']]);
  assert.deepEqual(
    ms.responses.map((x) => [x.hrefs, x.status]),
    [[['/c/gone.ics'], 404]],
  );
});

const streamsInBatches =
  'Radicale: a first sync stores the events in batches while they stream; then a delta works';
test(streamsInBatches, async (t) => {
  const srv = await startRadicale();
  const dir = mkdtempSync(join(tmpdir(), 'hh-stream-'));
  t.after(async () => {
    await srv.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const put = async (i: number, summary = `user${i % 5} gpu0: job ${i}`) => {
    const base = Date.UTC(2026, 0, 1);
    const r = await fetch(`${srv.calendarUrl}ev-${i}.ics`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar' },
      body: vevent(`ev-${i}`, summary, new Date(base + i * HOUR), new Date(base + i * HOUR + HOUR)),
    });
    assert.ok(r.status < 300, `PUT ${r.status}`);
  };
  const n = 45;
  for (let i = 0; i < n; i++) await put(i);

  // The source alone: batches of 10 go to the store during the download, the rest comes back.
  const source = new CalDavSource({
    url: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
    timeoutMs: 5000,
    streamBatch: 10,
  });
  const batches: number[] = [];
  const stored: CalendarObject[] = [];
  const delta = await source.reconcile(new Map(), async (objs) => {
    batches.push(objs.length);
    stored.push(...objs);
  });
  // As the chunks arrive (how many events a chunk holds is the server's business): handed over
  // once at least a batch of 10 is complete, so not all come back at the end.
  assert.ok(batches.length >= 1, `stored while streaming: ${JSON.stringify(batches)}`);
  assert.ok(
    batches.every((b) => b >= 10),
    JSON.stringify(batches),
  );
  assert.ok(delta.changed.length < 10, `left for the end: ${delta.changed.length}`);
  assert.equal(delta.streamed, stored.length);
  assert.equal(stored.length + delta.changed.length, n, 'every event once, in the store or in changed');
  const hrefs = new Set([...stored, ...delta.changed].map((o) => o.href));
  assert.equal(hrefs.size, n);
  assert.ok(
    stored.every((o) => o.etag && o.data.includes('BEGIN:VEVENT')),
    'each with its etag and text',
  );
  assert.ok(delta.token, 'a sync token');

  // Through the mirror: everything cached with its etag, counted as changed; the next poll is a delta.
  const mirror = await Mirror.open(dir, source);
  t.after(() => mirror.close());
  const first = await mirror.sync(new Date(), 86_400_000);
  assert.equal(first.full, true);
  assert.equal(first.changed, n);
  assert.equal(mirror.size, n);
  assert.ok(mirror.stamp(`${new URL(srv.calendarUrl).pathname}ev-7.ics`)?.startsWith('"'));
  await put(7, 'user1 gpu1: edited');
  const second = await mirror.sync(new Date(), 86_400_000);
  assert.equal(second.full, false);
  assert.equal(second.changed, 1);
  assert.match(mirror.get(`${new URL(srv.calendarUrl).pathname}ev-7.ics`)!.data, /edited/);
});
