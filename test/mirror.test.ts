/**
 * The mirror over real sources: restart without re-download, a refused token leading to a full
 * reconcile, an outage keeping the cache, and a cache file that survives SIGKILL mid-write.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Mirror } from '../src/bridge/mirror.js';
import { CalendarUnavailableError } from '../src/core/errors.js';
import { startRadicale, startXandikos, type TestServer } from './harness/servers.js';
import { vevent } from './harness/config.js';
import { REPO } from './harness/cli.js';
import { CalDavSource } from '../src/caldav/caldav-source.js';
import type { CalendarSource } from '../src/caldav/source.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function seed(srv: TestServer, n: number): Promise<void> {
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const base = Date.now();
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${srv.calendarUrl}seed-${i}.ics`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar' },
      body: vevent(
        `seed-${i}`,
        `user${i % 7} gpu${i % 2}: job ${i}`,
        new Date(base + i * HOUR),
        new Date(base + i * HOUR + HOUR),
      ),
    });
    assert.ok(r.status < 300, `seed PUT ${r.status}`);
  }
}

function sourceFor(srv: TestServer): CalendarSource {
  return new CalDavSource({
    url: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
    timeoutMs: 3000,
  });
}

for (const start of [startRadicale, startXandikos]) {
  describe(`mirror on ${start.name.replace('start', '')}`, () => {
    test('restart: an unchanged calendar is not downloaded again (one request)', async (t) => {
      const srv = await start();
      t.after(() => srv.destroy());
      await seed(srv, 40);
      const dir = mkdtempSync(join(tmpdir(), 'hosthog-mirror-'));
      const m1 = await Mirror.open(dir, sourceFor(srv));
      const first = await m1.sync(new Date(), DAY);
      assert.equal(first.full, true);
      assert.equal(first.changed, 40);
      assert.equal(
        first.stats.requests,
        2,
        'empty cache: PROPFIND for the token + ONE calendar-query with every event',
      );
      const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
      const server = await fetch(`${srv.calendarUrl}seed-7.ics`, { headers: { authorization: auth } });
      assert.equal(
        m1.get(new URL(`${srv.calendarUrl}seed-7.ics`).pathname)?.data,
        (await server.text()).replace(/\r?\n/g, '\r\n'),
        'the event text as the server serves it',
      );
      m1.close();

      const m2 = await Mirror.open(dir, sourceFor(srv));
      assert.equal(m2.size, 40, 'cache reloaded from disk');
      const cacheFiles = () =>
        readdirSync(join(dir, 'cache'))
          .sort()
          .map((f) => {
            const st = statSync(join(dir, 'cache', f));
            return [f, st.ino, st.mtimeMs, st.size];
          });
      const cacheBefore = cacheFiles();
      const metaBefore = statSync(join(dir, 'mirror-meta.json'));
      const again = await m2.sync(new Date(), DAY);
      assert.deepEqual(cacheFiles(), cacheBefore, 'an idle poll does not write the object store');
      assert.notEqual(
        statSync(join(dir, 'mirror-meta.json')).ino,
        metaBefore.ino,
        'only the small sync-state file',
      );
      assert.equal(again.full, false);
      assert.equal(again.changed, 0);
      assert.equal(
        again.stats.requests,
        2,
        'after a restart: the calendar check (PROPFIND Depth 0) and the sync REPORT',
      );
      const idle = await m2.sync(new Date(), DAY);
      assert.equal(idle.stats.requests, 1, 'an idle poll is one request');
      assert.ok(idle.stats.bytes < 2000, `idle poll bytes ${idle.stats.bytes}`);
    });

    test('a refused sync token drops it and reconciles against a full etag listing', async (t) => {
      const srv = await start();
      t.after(() => srv.destroy());
      await seed(srv, 5);
      const dir = mkdtempSync(join(tmpdir(), 'hosthog-mirror-'));
      const m1 = await Mirror.open(dir, sourceFor(srv));
      await m1.sync(new Date(), DAY);
      m1.close();
      // Corrupt the stored token as a pruned/garbage one would be.
      const file = join(dir, 'mirror-meta.json');
      const doc = JSON.parse(readFileSync(file, 'utf8'));
      for (const e of doc.entries)
        if (e[0].endsWith('meta')) {
          e[1].value.token =
            srv.kind === 'radicale'
              ? 'http://radicale.org/ns/sync/deadbeef'
              : '0000000000000000000000000000000000000000';
        }
      writeFileSync(file, JSON.stringify(doc));
      const m2 = await Mirror.open(dir, sourceFor(srv));
      const out = await m2.sync(new Date(), DAY);
      assert.equal(out.full, true);
      assert.equal(out.fullReason, 'token-refused');
      assert.equal(out.changed, 0, 'nothing re-downloaded: etags matched');
      assert.equal(m2.size, 5);
      assert.ok(m2.meta.token && !m2.meta.token.includes('deadbeef'));
    });

    const serverStopped =
      'server stopped: sync fails as unavailable, cache and token kept, failing-since recorded';
    test(serverStopped, async (t) => {
      const srv = await start();
      t.after(() => srv.destroy());
      await seed(srv, 3);
      const dir = mkdtempSync(join(tmpdir(), 'hosthog-mirror-'));
      const m = await Mirror.open(dir, sourceFor(srv));
      await m.sync(new Date(), DAY);
      const token = m.meta.token;
      await srv.stop();
      const when = new Date();
      await assert.rejects(m.sync(when, DAY), CalendarUnavailableError);
      assert.equal(m.size, 3);
      assert.equal(m.meta.token, token);
      assert.equal(m.meta.failingSince, when.toISOString());
      assert.ok(m.meta.lastError);
      await srv.start();
      const back = await m.sync(new Date(), DAY);
      assert.equal(back.changed, 0);
      assert.equal(m.meta.failingSince, null);
    });
  });
}

const survivesSigkill =
  'cache file survives SIGKILL in the middle of writes: always a complete, parseable version';
test(survivesSigkill, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-crash-'));
  const compiled = import.meta.url.includes('/dist/');
  const mod = compiled
    ? join(REPO, 'dist/src/host/store/file-store.js')
    : join(REPO, 'src/host/store/file-store.ts');
  const writeLoop =
    "for (let i = 0; ; i++) { await s.set('k', { i, big }); await s.set('n', i); s.flush(); " +
    "if (i === 0) process.stdout.write('go\\n'); }";
  const script = `
    const { FileStore } = await import(${JSON.stringify(mod)});
    const s = new FileStore(${JSON.stringify(join(dir, 'cache.json'))});
    const big = 'x'.repeat(200000);
    ${writeLoop}`;
  for (let round = 0; round < 6; round++) {
    const args = compiled
      ? ['--input-type=module', '-e', script]
      : ['--import', 'tsx', '--input-type=module', '-e', script];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout!.once('data', () => res()));
    await new Promise((r) => setTimeout(r, 30 + round * 37));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const doc = JSON.parse(readFileSync(join(dir, 'cache.json'), 'utf8'));
    const map = new Map<string, unknown>(doc.entries);
    const k = map.get('k') as { i: number; big: string };
    assert.equal(k.big.length, 200000);
    assert.ok(map.get('n') === k.i, 'both keys from the same flush');
  }
});

const earlierFormat =
  'a cache written by an earlier format (one JSON file, keyv JSON strings) is moved into the object store, ' +
  'not re-downloaded';
test(earlierFormat, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-format1-'));
  const data = vevent(
    'old-1',
    'alice gpu0: kept',
    new Date('2026-12-01T10:00:00Z'),
    new Date('2026-12-01T12:00:00Z'),
  );
  const meta = {
    source: 'caldav http://x/cal/',
    token: 'tok-7',
    syncedAt: '2026-11-20T10:00:00.000Z',
    lastFullAt: '2026-11-20T10:00:00.000Z',
    failingSince: null,
  };
  writeFileSync(
    join(dir, 'cache.json'),
    JSON.stringify({
      format: 1,
      entries: [
        ['hosthog:obj:/cal/old-1.ics', JSON.stringify({ value: { etag: '"e1"', data } })],
        ['hosthog:meta', JSON.stringify({ value: meta })],
      ],
    }),
  );
  const source = { description: 'caldav http://x/cal/' } as unknown as CalendarSource;
  const m = await Mirror.open(dir, source);
  assert.equal(m.size, 1);
  assert.deepEqual(m.get('/cal/old-1.ics'), { href: '/cal/old-1.ics', etag: '"e1"', data });
  assert.equal(m.meta.token, 'tok-7');
  m.close();
  assert.equal(existsSync(join(dir, 'cache.json')), false, 'moved into the object store (state_dir/cache)');
  assert.ok(existsSync(join(dir, 'cache', 'index.json')));
  assert.equal(
    JSON.parse(readFileSync(join(dir, 'mirror-meta.json'), 'utf8')).entries[0][1].value.token,
    'tok-7',
  );
  const again = await Mirror.open(dir, source);
  assert.equal(again.get('/cal/old-1.ics')?.data, data);
  assert.equal(again.meta.token, 'tok-7');
});
