/**
 * The object store and the bridge's cache over a real Radicale: a SIGKILL mid-append leaves a
 * consistent store, a one-event change writes about one event's bytes, an idle poll writes
 * no cache or snapshot file, a restart decodes nothing, history is never decoded, and the
 * near part of the snapshot gives `status` the same answer as the whole window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { LogStore } from '../src/host/store/log-store.js';
import { loadConfig } from '../src/config/load.js';
import { Bridge } from '../src/bridge/bridge.js';
import { readSnapshotFile, nearPart, type StoredSnapshot } from '../src/bridge/snapshot-file.js';
import { hostView } from '../src/core/view.js';
import { silentLog } from '../src/host/store/log.js';
import { startRadicale } from './harness/servers.js';
import { vevent, writeTestConfig } from './harness/config.js';
import { REPO } from './harness/cli.js';
import type { Claim } from '../src/core/types.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const sigkillAppends =
  'object store: SIGKILL in the middle of appends leaves a consistent store (both keys from one flush)';
test(sigkillAppends, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-logcrash-'));
  const compiled = import.meta.url.includes('/dist/');
  const mod = compiled
    ? join(REPO, 'dist/src/host/store/log-store.js')
    : join(REPO, 'src/host/store/log-store.ts');
  const writeLoop =
    "for (let i = 0; ; i++) { await s.set('k', { i, big }); await s.set('n', i); s.flush(); " +
    "if (i === 0) process.stdout.write('go\\n'); }";
  const script = `
    const { LogStore } = await import(${JSON.stringify(mod)});
    const s = new LogStore(${JSON.stringify(dir)});
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
    const s = new LogStore(dir);
    const k = (await s.get('k')) as { i: number; big: string };
    assert.equal(k.big.length, 200000);
    assert.equal(await s.get('n'), k.i, 'both keys from the same flush');
    assert.ok(Number.isInteger(k.i) && k.i >= 0, `round ${round}: a flushed version (${k.i})`);
    await s.set('n', -1); // the store stays writable after the torn tail was cut off
    s.flush();
    s.close();
    assert.equal(await new LogStore(dir).get('n'), -1);
  }
});

const oneEntryChange =
  'object store: a one-entry change appends about one entry; ' +
  'compaction and clear keep exactly the live entries';
test(oneEntryChange, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-logstore-'));
  const s = new LogStore<number>(dir, { summarize: (v) => (v as { n: number }).n });
  await s.setMany(
    Array.from({ length: 5000 }, (_, i) => ({ key: `obj:${i}`, value: { n: i, text: 'y'.repeat(800) } })),
  );
  s.flush();
  const before = s.bytesWritten;
  await s.set('obj:7', { n: -7, text: 'edited' });
  s.flush();
  const one = s.bytesWritten - before;
  assert.ok(one < 200, `one small change wrote ${one} bytes`);
  assert.equal(s.summary('obj:7'), -7, 'summary kept in memory');
  // Enough rewrites to trigger compactions, then a reopen from disk.
  for (let r = 0; r < 3; r++) {
    await s.setMany(
      Array.from({ length: 5000 }, (_, i) => ({
        key: `obj:${i}`,
        value: { n: i + r, text: 'z'.repeat(800) },
      })),
    );
    s.flush();
  }
  await s.delete('obj:1');
  s.close();
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.log')).length, 1, 'one generation on disk');
  const t = new LogStore<number>(dir, { summarize: (v) => (v as { n: number }).n });
  assert.equal(t.count, 4999);
  assert.equal(t.summary('obj:4'), 6);
  assert.deepEqual(await t.get('obj:4999'), { n: 5001, text: 'z'.repeat(800) });
  assert.equal(await t.get('obj:1'), undefined);
  await t.clear();
  t.close();
  assert.equal(new LogStore(dir).count, 0);
});

const idlePollWritesNothing =
  'bridge cache on Radicale: idle poll writes nothing, restart decodes nothing, history is never decoded';
test(idlePollWritesNothing, async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const put = async (name: string, body: string) => {
    const r = await fetch(`${srv.calendarUrl}${name}.ics`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar' },
      body,
    });
    assert.ok(r.status < 300, `PUT ${r.status}`);
  };
  const now = Date.now();
  // 12 past one-off events (history), 2 ended series, 6 live claims, 1 endless series.
  for (let i = 0; i < 12; i++)
    await put(
      `old-${i}`,
      vevent(
        `old-${i}`,
        `user${i} gpu0: old job ${i}`,
        new Date(now - (400 + i) * DAY),
        new Date(now - (400 + i) * DAY + HOUR),
      ),
    );
  for (let i = 0; i < 2; i++)
    await put(
      `ended-${i}`,
      vevent(
        `ended-${i}`,
        `user${i} gpu1: weekly`,
        new Date(now - 300 * DAY),
        new Date(now - 300 * DAY + HOUR),
        'RRULE:FREQ=WEEKLY;COUNT=10',
      ),
    );
  for (let i = 0; i < 6; i++)
    await put(
      `live-${i}`,
      vevent(
        `live-${i}`,
        `user${i} gpu${i % 2}: job ${i}`,
        new Date(now + (i + 1) * HOUR),
        new Date(now + (i + 2) * HOUR),
      ),
    );
  await put(
    'forever',
    vevent(
      'forever',
      'carol gpu1: standup',
      new Date(now - 500 * DAY),
      new Date(now - 500 * DAY + HOUR),
      'RRULE:FREQ=DAILY',
    ),
  );

  const cfg = writeTestConfig({
    calendarUrl: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
  });
  const config = loadConfig({ path: cfg.path, withPassword: true });
  const b1 = await Bridge.open(config, silentLog());
  await b1.syncOnce();
  assert.equal(b1.mirror.size, 21, 'every object cached (history too, to stay in sync)');
  assert.equal(b1.decodes, 7, 'only the 7 objects that can still occur were decoded');
  assert.ok(b1.current!.occurrences.some((o) => o.uid === 'forever'));

  const files = () =>
    [
      ...readdirSync(join(cfg.stateDir, 'cache')).map((f) => join('cache', f)),
      'snapshot.json',
      'snapshot-near.json',
    ]
      .sort()
      .map((f) => {
        const st = statSync(join(cfg.stateDir, f));
        return [f, st.ino, st.mtimeMs, st.size];
      });
  const before = files();
  const idle = await b1.syncOnce();
  assert.equal(idle.changed, 0);
  assert.equal(b1.decodes, 7, 'an idle poll decodes nothing');
  assert.deepEqual(files(), before, 'an idle poll rewrites no cache or snapshot file');
  await b1.stop();

  const b2 = await Bridge.open(config, silentLog());
  assert.equal(b2.decodes, 0, 'a restart decodes nothing: what the last process decoded is read back');
  assert.equal(b2.current!.occurrences.length, b1.current!.occurrences.length);
  assert.deepEqual(files(), before, 'a restart rewrites no cache or snapshot file');
  const written = b2.mirror.bytesWritten;
  await put(
    'live-3',
    vevent('live-3', 'user3 gpu1: job 3 (moved)', new Date(now + 9 * HOUR), new Date(now + 10 * HOUR)),
  );
  const one = await b2.syncOnce();
  assert.equal(one.changed, 1);
  assert.equal(b2.decodes, 1, 'a one-event change decodes one event');
  const appended = b2.mirror.bytesWritten - written;
  assert.ok(appended < 2000, `a one-event change appended ${appended} bytes to the object store`);
  assert.ok(b2.current!.occurrences.some((o) => o.kind === 'claim' && o.note.includes('moved')));
  await b2.stop();
});

test('the near part of the snapshot gives the same host view as the whole window', () => {
  const from = new Date('2026-12-03T00:00:00Z');
  const c = (
    uid: string,
    user: string,
    s: number,
    e: number,
    created: number,
    mode: 'exclusive' | 'shared' = 'exclusive',
  ): Claim => ({
    kind: 'claim',
    uid,
    href: `/c/${uid}.ics`,
    recurring: false,
    start: new Date(from.getTime() + s * HOUR),
    end: new Date(from.getTime() + e * HOUR),
    allDay: false,
    title: uid,
    created: new Date(from.getTime() - created * HOUR),
    user,
    mode,
    hog: false,
    resources: [],
    note: '',
    allow: [],
  });
  // a (now) is overruled by b, b by nothing; b overlaps c far in the future, c booked first:
  // c overrules b, so a holds. Only a chain through the future gets this right.
  const occurrences = [
    c('a', 'alice', 30, 34, 1),
    c('b', 'bob', 33, 200, 2),
    c('c', 'carol', 199, 210, 3),
    c('z', 'zed', 500, 510, 1),
    c('old', 'olga', 1, 2, 1, 'shared'),
  ].sort((x, y) => x.start.getTime() - y.start.getTime());
  const snap: StoredSnapshot = {
    occurrences,
    problems: [],
    from,
    to: new Date(from.getTime() + 60 * DAY),
    syncedAt: from,
  };
  const near = nearPart(snap);
  assert.ok(!near.occurrences.some((o) => o.uid === 'z'), 'what cannot matter is left out');
  const config = {
    host: 'h',
    timezone: 'UTC',
    bridge: { stalePolls: 3, pollMs: 60_000 },
  } as unknown as Parameters<typeof hostView>[1];
  for (const h of [25, 31, 33.5, 40, 60]) {
    const at = new Date(from.getTime() + h * HOUR);
    const uids = (v: ReturnType<typeof hostView>) =>
      JSON.stringify([
        v.active.map((x) => x.uid),
        v.upcoming.map((x) => x.uid),
        v.conflicts.map((x) => [x.claim.uid, x.by.uid]),
      ]);
    assert.equal(uids(hostView(near, config, at)), uids(hostView(snap, config, at)), `at +${h} h`);
  }
  assert.equal(readSnapshotFile(mkdtempSync(join(tmpdir(), 'hosthog-nosnap-')), { near: true }), null);
});

test('hooks: a refresh with nothing new runs none; a write runs them once, before its answer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-hooks-'));
  const vdir = join(dir, 'vdir');
  mkdirSync(vdir);
  const now = new Date();
  writeFileSync(
    join(vdir, 'a.ics'),
    vevent('a', 'alice gpu0: job', new Date(now.getTime() + HOUR), new Date(now.getTime() + 2 * HOUR)),
  );
  const cfg = writeTestConfig({ vdir, dir });
  const config = loadConfig({ path: cfg.path });
  const runs: { prev: number | null; next: number }[] = [];
  let slow = 0;
  const hook = async (prev: StoredSnapshot | null, next: StoredSnapshot) => {
    runs.push({ prev: prev?.occurrences.length ?? null, next: next.occurrences.length });
    if (slow) await new Promise((r) => setTimeout(r, slow));
  };
  const b = await Bridge.open(config, silentLog(), { hooks: [hook], clock: () => now });
  await b.syncOnce();
  assert.equal(runs.length, 1);
  await b.refresh(false);
  await b.refresh(false);
  assert.equal(runs.length, 1, 'a refresh with nothing new, no poll and no new minute runs no hook');
  await b.syncOnce();
  assert.equal(runs.length, 2, 'a poll runs them (timed notices fall due at any second)');
  slow = 50;
  await b.remember({
    href: '/w/b.ics',
    etag: '"b1"',
    data: vevent(
      'b',
      'bob gpu1: written',
      new Date(now.getTime() + 3 * HOUR),
      new Date(now.getTime() + 4 * HOUR),
    ),
  });
  assert.ok(
    b.current!.occurrences.some((o) => o.uid === 'b'),
    'the snapshot (and motd) show the write at once',
  );
  assert.equal(runs.length, 3, 'the hooks ran before the write answered (a hog write is checked first)');
  assert.deepEqual(
    runs,
    [
      { prev: null, next: 1 },
      { prev: 1, next: 1 },
      { prev: 1, next: 2 },
    ],
    'the hooks ran once for the write, with the snapshot they saw last as prev',
  );
  await b.stop();
});
