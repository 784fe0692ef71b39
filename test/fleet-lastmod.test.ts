/**
 * Warm fleet runs that skip calendars by getlastmodified (Radicale) or sync token (elsewhere)
 * never report stale data as fresh:
 *  - the contract, per real server (Radicale, Xandikos, DAViCal): does a calendar's
 *    getlastmodified move on create, overwrite and delete, and does hosthog trust it only there;
 *  - the real CLI on Radicale and Xandikos: a warm `hosts` after a create, an overwrite and a
 *    delete on the server shows it, with no sleep between the change and the run;
 *  - a change in the same second as the previous sync (the racy case) is still seen;
 *  - a server whose getlastmodified stays while the content changes is caught and no longer trusted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, existsSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDavical, startRadicale, startXandikos, type TestServer } from './harness/servers.js';
import { runCli } from './harness/cli.js';
import { vevent } from './harness/config.js';
import { authOf, deleteEvent, homeOf, mkHostCalendar, putEvent, writeFleetConfig } from './harness/fleet.js';
import { CalDavHttp } from '../src/caldav/http.js';
import { propfindHome } from '../src/fleet/home-propfind.js';
import { discover, lastModifiedUsable, readHomeMode } from '../src/fleet/discover.js';
import { syncFleet } from '../src/fleet/fleet-sync.js';
import type { FleetConfig } from '../src/config/schema.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function overwrite(srv: TestServer, calUrl: string, uid: string, ics: string): Promise<Response> {
  const r = await fetch(`${calUrl}${uid}.ics`, {
    method: 'PUT',
    headers: { authorization: authOf(srv), 'content-type': 'text/calendar; charset=utf-8' },
    body: ics,
  });
  await r.arrayBuffer();
  if (r.status >= 300) throw new Error(`PUT ${uid}: ${r.status}`);
  return r;
}

function httpOf(srv: TestServer): CalDavHttp {
  return new CalDavHttp({
    url: homeOf(srv),
    username: srv.username,
    password: srv.password,
    timeoutMs: 30_000,
  });
}

/** The calendar's getlastmodified and the server's verdict, from the home's PROPFIND Depth 1. */
async function probe(srv: TestServer, calUrl: string) {
  const ans = await propfindHome(httpOf(srv), homeOf(srv), 'lastmodified');
  const self = ans.entries.find((e) => calUrl.endsWith(e.href));
  assert.ok(self, `the home lists ${calUrl}`);
  return { lastModified: self.lastModified, usable: lastModifiedUsable(ans, [self]) === null };
}

const CONTRACT = {
  // Radicale: the newest mtime of the calendar's files; hosthog trusts it.
  radicale: { hasValue: true, moves: true, trusted: true },
  // Xandikos: no getlastmodified on calendars; sync tokens.
  xandikos: { hasValue: false, moves: false, trusted: false },
  // DAViCal: the value moves (a database column), but its sync tokens are cheap: tokens.
  davical: { hasValue: true, moves: true, trusted: false },
} as const;

for (const start of [startRadicale, startXandikos, startDavical]) {
  test(`contract: getlastmodified of a calendar on ${start.name.replace('start', '')}`, async (t) => {
    const srv = await start();
    t.after(() => srv.destroy());
    const cal = await mkHostCalendar(srv, 'gpu-box-1', 'gpu-box-1');
    const want = CONTRACT[srv.kind];
    const seen: (string | null)[] = [(await probe(srv, cal)).lastModified];
    const ev = (s: string) => vevent('e1', s, new Date(Date.now() + HOUR), new Date(Date.now() + 2 * HOUR));
    // One second apart: the value has 1-second resolution (the racy case is tested below).
    await sleep(1100);
    await putEvent(srv, cal, 'e1', ev('bob exclusive: a'));
    seen.push((await probe(srv, cal)).lastModified);
    await sleep(1100);
    await overwrite(srv, cal, 'e1', ev('carol exclusive: b'));
    seen.push((await probe(srv, cal)).lastModified);
    await sleep(1100);
    await deleteEvent(srv, cal, 'e1');
    const last = await probe(srv, cal);
    seen.push(last.lastModified);
    assert.equal(
      seen.every((v) => v !== null),
      want.hasValue,
      `${srv.kind} answers getlastmodified: ${seen}`,
    );
    const moved = ['create', 'overwrite', 'delete'].map(
      (_, i) => seen[i + 1] !== seen[i] && seen[i + 1] !== null,
    );
    assert.deepEqual(moved, [want.moves, want.moves, want.moves], `${srv.kind}: ${seen.join(' → ')}`);
    assert.equal(last.usable, want.trusted, `hosthog trusts ${srv.kind}'s getlastmodified`);
    // Never trusted where it does not move on every change.
    if (last.usable) assert.deepEqual(moved, [true, true, true]);
  });
}

for (const start of [startRadicale, startXandikos]) {
  const name = start.name.replace('start', '');
  test(`warm hosts on ${name} sees a create, an overwrite and a delete at once`, async (t) => {
    const srv = await start();
    t.after(() => srv.destroy());
    const box1 = await mkHostCalendar(srv, 'gpu-box-1', 'gpu-box-1');
    await mkHostCalendar(srv, 'gpu-box-2', 'gpu-box-2');
    const fl = writeFleetConfig(srv, 'alice', 'match = "gpu-*"');
    t.after(() => rmSync(fl.dir, { recursive: true, force: true }));
    const hosts = async (...args: string[]) => {
      const r = await runCli(['hosts', '--json', ...args], {
        env: { ...fl.env, HOSTHOG_FLEET_STATS: '1' },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as { host: string; holders: { user: string }[] }[];
      const holders = Object.fromEntries(rows.map((x) => [x.host, x.holders.map((h) => h.user).join(',')]));
      return { holders, stats: JSON.parse(r.stderr.trim().split('\n').pop()!) };
    };
    const now = Date.now();
    const ev = (who: string) =>
      vevent('c1', `${who} exclusive: run`, new Date(now - HOUR), new Date(now + HOUR));
    const cold = await hosts();
    assert.deepEqual(cold.holders, { 'gpu-box-1': '', 'gpu-box-2': '' });
    assert.equal(cold.stats.check.ask, srv.kind === 'radicale' ? 'lastmodified' : 'token');

    await putEvent(srv, box1, 'c1', ev('bob'));
    const created = await hosts();
    assert.equal(created.holders['gpu-box-1'], 'bob', 'the created claim');
    assert.equal(created.stats.discovery.requests, 1, 'one PROPFIND on the home');

    await overwrite(srv, box1, 'c1', ev('carol'));
    assert.equal((await hosts()).holders['gpu-box-1'], 'carol', 'the overwritten claim');

    await deleteEvent(srv, box1, 'c1');
    assert.equal((await hosts()).holders['gpu-box-1'], '', 'the deleted claim');

    // Unchanged: after at most one more run (a change in the same second as a sync is
    // re-checked once), a warm run asks nothing but the home.
    await sleep(1100);
    await hosts();
    const warm = await hosts();
    assert.equal(warm.stats.skipped, 2, JSON.stringify(warm.stats));
    assert.equal(warm.stats.requests, 0);
    assert.equal(warm.stats.discovery.requests, 1);
    // --refresh asks every calendar all the same.
    const forced = await hosts('--refresh');
    assert.equal(forced.stats.synced, 2);
    assert.equal(forced.holders['gpu-box-1'], '');
  });
}

function fleetOf(srv: TestServer): FleetConfig {
  return {
    home: homeOf(srv),
    username: srv.username,
    hosts: {},
    match: 'gpu-*',
    parallel: 4,
    timeoutMs: 30_000,
    defaultResources: ['gpu0'],
    resources: {},
  };
}

async function loadOnce(srv: TestServer, cacheRoot: string, force = false) {
  const fleet = fleetOf(srv);
  const d = await discover(fleet, srv.password, { cacheRoot });
  const now = new Date();
  const r = await syncFleet(d.calendars, {
    cacheRoot,
    username: srv.username,
    password: srv.password,
    parallel: 4,
    timeoutMs: 30_000,
    fullReconcileMs: 86_400_000,
    timezone: 'UTC',
    from: new Date(now.getTime() - 86_400_000),
    to: new Date(now.getTime() + 7 * 86_400_000),
    resourcesOf: () => ['gpu0'],
    now,
    force,
  });
  return { ...r, calendars: d.calendars, mode: d.mode };
}

test('Radicale: a change in the same second as the previous sync is still seen', async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const cal = await mkHostCalendar(srv, 'gpu-box-1', 'gpu-box-1');
  const cacheRoot = mkdtempSync(join(tmpdir(), 'hh-lastmod-'));
  t.after(() => rmSync(cacheRoot, { recursive: true, force: true }));
  const now = Date.now();
  const ev = (uid: string) =>
    vevent(uid, `${uid} exclusive: x`, new Date(now + HOUR), new Date(now + 2 * HOUR));
  await loadOnce(srv, cacheRoot);
  let raced = false;
  for (let attempt = 0; attempt < 8 && !raced; attempt++) {
    // Start just after a second begins, so the change, the sync and the next change share it.
    await sleep(1000 - (Date.now() % 1000) + 5);
    await putEvent(srv, cal, `a${attempt}`, ev(`a${attempt}`));
    const synced = await loadOnce(srv, cacheRoot);
    const seenAt = synced.calendars[0].lastModified;
    const answeredAt = synced.calendars[0].answeredAt!;
    const b = await overwrite(srv, cal, `b${attempt}`, ev(`b${attempt}`));
    const bAt = Date.parse(b.headers.get('date')!);
    const after = (await probe(srv, cal)).lastModified;
    // The race: the value did not move although b came after the sync.
    raced = after === seenAt && bAt === answeredAt && Date.parse(seenAt!) === answeredAt;
    const next = await loadOnce(srv, cacheRoot);
    const uids = next.hosts[0].occurrences.map((o) => o.uid);
    assert.ok(uids.includes(`b${attempt}`), `b${attempt} is seen (raced: ${raced}): ${uids}`);
    assert.equal(next.stats.synced, 1, 'the racy calendar was asked');
  }
  assert.ok(raced, 'the same-second case happened at least once in 8 tries');
});

function findDir(dir: string, name: string): string | null {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (!statSync(p).isDirectory()) continue;
    if (e === name && existsSync(join(p, '.Radicale.props'))) return p;
    const sub = findDir(p, name);
    if (sub) return sub;
  }
  return null;
}

const LYING = 'Radicale: a getlastmodified that stays while the content changes is caught, then not trusted';
test(LYING, async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const cal = await mkHostCalendar(srv, 'gpu-box-1', 'gpu-box-1');
  const now = Date.now();
  await putEvent(
    srv,
    cal,
    'c1',
    vevent('c1', 'bob exclusive: x', new Date(now - HOUR), new Date(now + HOUR)),
  );
  const cacheRoot = mkdtempSync(join(tmpdir(), 'hh-lastmod-'));
  t.after(() => rmSync(cacheRoot, { recursive: true, force: true }));
  await sleep(1100);
  const first = await loadOnce(srv, cacheRoot);
  assert.equal(first.mode?.ask, 'lastmodified');
  // Change the item behind the server's back, then put every mtime back: a server whose
  // getlastmodified does not move.
  const dir = findDir(srv.dir, 'gpu-box-1')!;
  const file = join(dir, 'c1.ics');
  const { mtime } = statSync(file);
  const dirTime = statSync(dir).mtime;
  writeFileSync(file, vevent('c1', 'carol exclusive: x', new Date(now - HOUR), new Date(now + HOUR)));
  utimesSync(file, mtime, mtime);
  utimesSync(dir, dirTime, dirTime);
  await sleep(1100);
  const warm = await loadOnce(srv, cacheRoot);
  assert.equal(warm.stats.skipped, 1, 'the unchanged value is trusted');
  const forced = await loadOnce(srv, cacheRoot, true);
  assert.deepEqual(forced.lied, ['gpu-box-1'], 'the forced sync saw the content move under a still value');
  const fl = writeFleetConfig(srv, 'alice', 'match = "gpu-*"');
  t.after(() => rmSync(fl.dir, { recursive: true, force: true }));
  // Through the CLI: the same lie is confirmed and the home goes back to sync tokens for good.
  const env = { ...fl.env, HOSTHOG_FLEET_STATS: '1' };
  const cold = await runCli(['hosts'], { env, timeoutMs: 60_000 });
  assert.equal(cold.code, 0, cold.stderr);
  writeFileSync(file, vevent('c1', 'erin exclusive: x', new Date(now - HOUR), new Date(now + HOUR)));
  utimesSync(file, mtime, mtime);
  utimesSync(dir, dirTime, dirTime);
  await sleep(1100);
  const refresh = await runCli(['hosts', '--refresh'], { env, timeoutMs: 60_000 });
  assert.equal(refresh.code, 0, refresh.stderr);
  assert.match(refresh.stdout, /gpu-box-1\s+erin exclusive/);
  assert.match(refresh.stderr, /changed without its getlastmodified moving/);
  const mode = readHomeMode(join(fl.dir, 'cache', 'hosthog'), homeOf(srv));
  assert.equal(mode?.ask, 'token');
  assert.equal(mode?.sticky, true);
  const after = await runCli(['hosts', '--refresh'], { env, timeoutMs: 60_000 });
  const st = JSON.parse(after.stderr.trim().split('\n').pop()!);
  assert.equal(st.check.ask, 'token', '--refresh does not probe a home that lied again');
});
