/**
 * The CalendarSource contract, run against every backend: a local vdir, a real Radicale and a
 * real Xandikos (started on free loopback ports by test/harness/servers.ts). Plus unit tests
 * of canonical hrefs (src/caldav/href.ts).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { CalendarSource } from '../src/caldav/source.js';
import type { CalendarObject } from '../src/core/types.js';
import { CalDavSource } from '../src/caldav/caldav-source.js';
import { VdirSource } from '../src/caldav/vdir-source.js';
import { openSource } from '../src/caldav/open-source.js';
import { canonicalHref, hrefToUrl, isCollectionHref, hrefName } from '../src/caldav/href.js';
import {
  NotACalendarError,
  AuthError,
  CalendarUnavailableError,
  InvalidSyncTokenError,
  PreconditionFailedError,
} from '../src/core/errors.js';
import type { Config } from '../src/config/schema.js';
import { startRadicale, startXandikos, startDavical, type TestServer } from './harness/servers.js';
import { startFaultProxy } from './harness/fault-proxy.js';
import { deltaIsFullListing } from '../src/core/delta-check.js';

function ics(uid: string, summary: string, extra: string[] = []): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hosthog//contract test//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20260101T000000Z',
    'DTSTART:20260301T100000Z',
    'DTEND:20260301T110000Z',
    `SUMMARY:${summary}`,
    ...extra,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

interface Fixture {
  kind: 'vdir' | 'radicale' | 'xandikos' | 'davical';
  source: CalendarSource;
  /** Write an object the way another client would (plain HTTP PUT / plain file write). */
  foreignPut(name: string, data: string): Promise<void>;
  server?: TestServer;
}

async function caldavFixture(t: TestContext, start: () => Promise<TestServer>): Promise<Fixture> {
  const server = await start();
  t.after(() => server.destroy());
  const source = new CalDavSource({
    url: server.calendarUrl,
    username: server.username,
    password: server.password,
    timeoutMs: 3000,
  });
  const auth = 'Basic ' + Buffer.from(`${server.username}:${server.password}`).toString('base64');
  return {
    kind: server.kind,
    source,
    server,
    async foreignPut(name, data) {
      const r = await fetch(server.calendarUrl + name, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'text/calendar' },
        body: data,
      });
      await r.arrayBuffer();
      assert.ok(r.status === 201 || r.status === 204, `foreign PUT answered ${r.status}`);
    },
  };
}

async function vdirFixture(t: TestContext): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'hh-vdir-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'calendar'); // exists, as a server's collection does
  mkdirSync(dir);
  const source = new VdirSource(dir);
  return {
    kind: 'vdir',
    source,
    async foreignPut(name, data) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, decodeURIComponent(name)), data);
    },
  };
}

const BACKENDS: Array<{ name: string; make: (t: TestContext) => Promise<Fixture> }> = [
  { name: 'vdir', make: vdirFixture },
  { name: 'radicale', make: (t) => caldavFixture(t, () => startRadicale()) },
  { name: 'xandikos', make: (t) => caldavFixture(t, () => startXandikos()) },
  { name: 'davical', make: (t) => caldavFixture(t, () => startDavical()) },
];

const EMPTY = new Map<string, string | null>();
const knownOf = (objs: CalendarObject[]) => new Map(objs.map((o) => [o.href, o.etag]));

for (const backend of BACKENDS) {
  describe(`CalendarSource contract: ${backend.name}`, () => {
    test('empty calendar: reconcile and sync return nothing, with a token', async (t) => {
      const f = await backend.make(t);
      const info = await f.source.info();
      assert.equal(info.readOnly, false);
      const r = await f.source.reconcile(EMPTY);
      assert.equal(r.full, true);
      assert.deepEqual(r.changed, []);
      assert.deepEqual(r.deleted, []);
      assert.ok(r.token, 'a sync token');
      const s = await f.source.sync(r.token, EMPTY);
      assert.deepEqual(s.changed, []);
      assert.deepEqual(s.deleted, []);
      const n = await f.source.sync(null, EMPTY);
      assert.equal(n.full, true, 'sync without token is a reconcile');
    });

    test('create, update, delete each show up in the next delta (and only they)', async (t) => {
      const f = await backend.make(t);
      await f.foreignPut('base.ics', ics('base', 'already there'));
      const r0 = await f.source.reconcile(EMPTY);
      assert.equal(r0.changed.length, 1);
      const known = knownOf(r0.changed);

      const created = await f.source.create('new-1.ics', ics('new-1', 'alice gpu0: training'));
      assert.ok(created.etag, 'create returns an etag');
      assert.match(created.href, /\/new-1\.ics$/);
      const d1 = await f.source.sync(r0.token, known);
      assert.equal(d1.full, false);
      assert.deepEqual(
        d1.changed.map((o) => o.href),
        [created.href],
      );
      assert.equal(d1.changed[0].etag, created.etag);
      assert.match(d1.changed[0].data, /SUMMARY:alice gpu0: training/);
      assert.deepEqual(d1.deleted, []);
      known.set(created.href, created.etag);

      const updated = await f.source.update(
        created.href,
        ics('new-1', 'alice gpu0: longer training'),
        created.etag!,
      );
      assert.notEqual(updated.etag, created.etag);
      const d2 = await f.source.sync(d1.token, known);
      assert.deepEqual(
        d2.changed.map((o) => o.href),
        [created.href],
      );
      assert.match(d2.changed[0].data, /longer training/);
      assert.deepEqual(d2.deleted, []);
      known.set(updated.href, d2.changed[0].etag);

      await f.source.remove(updated.href, d2.changed[0].etag!);
      const d3 = await f.source.sync(d2.token, known);
      assert.deepEqual(d3.changed, []);
      assert.deepEqual(d3.deleted, [created.href]);
      assert.equal(await f.source.get(created.href), null);
    });

    test(
      'idle sync returns nothing' + (backend.name === 'vdir' ? '' : ' in one request under 2000 bytes'),
      async (t) => {
        const f = await backend.make(t);
        for (let i = 0; i < 20; i++) await f.foreignPut(`ev-${i}.ics`, ics(`ev-${i}`, `event ${i}`));
        const r = await f.source.reconcile(EMPTY);
        assert.equal(r.changed.length, 20);
        const known = knownOf(r.changed);
        const idle = await f.source.sync(r.token, known);
        assert.deepEqual(idle.changed, []);
        assert.deepEqual(idle.deleted, []);
        assert.equal(idle.token, r.token);
        if (backend.name !== 'vdir') {
          assert.equal(idle.stats.requests, 1, 'an idle poll is one request');
          assert.ok(idle.stats.bytes > 0 && idle.stats.bytes < 2000, `idle poll bytes ${idle.stats.bytes}`);
        } else {
          assert.equal(idle.stats.bytes, 0, 'no file read when nothing changed');
        }
        // A reconcile against a complete cache downloads nothing either.
        const again = await f.source.reconcile(known);
        assert.deepEqual(again.changed, []);
        assert.deepEqual(again.deleted, []);
        if (backend.name !== 'vdir')
          assert.equal(
            again.stats.requests,
            2,
            'reconcile of an unchanged calendar: the calendar check and one listing',
          );
      },
    );

    test('a garbage or unknown token is refused; reconcile then gives the full set', async (t) => {
      const f = await backend.make(t);
      const a = await f.source.create('a.ics', ics('a', 'A'));
      const b = await f.source.create('b.ics', ics('b', 'B'));
      const unknownToken =
        f.kind === 'radicale'
          ? 'http://radicale.org/ns/sync/deadbeef'
          : f.kind === 'xandikos'
            ? '0000000000000000000000000000000000000000'
            : 'not-a-vdir-token';
      if (f.kind === 'davical') {
        // DAViCal refuses no token: it answers like an initial sync (every item as 200, no 404s).
        // Never trusted as a delta: the cached event deleted meanwhile is reported deleted.
        for (const token of ['garbage <&>', 'data:,999999']) {
          const d = await f.source.sync(
            token,
            new Map<string, string | null>([
              [a.href, a.etag],
              ['/gone/old.ics', '"x"'],
            ]),
          );
          assert.equal(d.full, true, `token ${token}`);
          assert.deepEqual(d.deleted, ['/gone/old.ics']);
          assert.deepEqual(
            d.changed.map((o) => o.href),
            [b.href],
          );
        }
      } else {
        for (const token of ['garbage <&>', unknownToken]) {
          await assert.rejects(f.source.sync(token, EMPTY), InvalidSyncTokenError, `token ${token}`);
        }
      }
      const stale = new Map<string, string | null>([
        [a.href, a.etag],
        ['/gone/old.ics', '"x"'],
      ]);
      const r = await f.source.reconcile(stale);
      assert.equal(r.full, true);
      assert.deepEqual(
        r.changed.map((o) => o.href),
        [b.href],
        'only what differs is downloaded',
      );
      assert.deepEqual(r.deleted, ['/gone/old.ics']);
      const all = await f.source.reconcile(EMPTY);
      assert.deepEqual(all.changed.map((o) => o.href).sort(), [a.href, b.href].sort());
      const idle = await f.source.sync(r.token, knownOf(all.changed));
      assert.deepEqual(idle.changed, []);
    });

    test('our own write whose etag the cache already holds is not downloaded again', async (t) => {
      const f = await backend.make(t);
      const r = await f.source.reconcile(EMPTY);
      const obj = await f.source.create('mine.ics', ics('mine', 'written by us'));
      const known = new Map([[obj.href, obj.etag]]);
      const d = await f.source.sync(r.token, known);
      assert.deepEqual(d.changed, [], 'the etag from create is the one the server lists');
      assert.deepEqual(d.deleted, []);
      const upd = await f.source.update(obj.href, ics('mine', 'changed by us'), obj.etag!);
      known.set(upd.href, upd.etag);
      const d2 = await f.source.sync(d.token, known);
      assert.deepEqual(d2.changed, []);
      if (backend.name !== 'vdir') assert.equal(d2.stats.requests, 1, 'no multiget');
    });

    test('create twice with the same name: PreconditionFailedError, first kept', async (t) => {
      const f = await backend.make(t);
      const first = await f.source.create('dup.ics', ics('dup', 'first'));
      await assert.rejects(f.source.create('dup.ics', ics('dup', 'second')), PreconditionFailedError);
      const now = await f.source.get(first.href);
      assert.match(now!.data, /SUMMARY:first/);
      assert.equal(now!.etag, first.etag);
    });

    test('update/remove with a wrong etag: PreconditionFailedError, object unchanged', async (t) => {
      const f = await backend.make(t);
      const obj = await f.source.create('guarded.ics', ics('guarded', 'original'));
      const wrong = '"not-the-etag"';
      await assert.rejects(
        f.source.update(obj.href, ics('guarded', 'overwritten'), wrong),
        PreconditionFailedError,
      );
      await assert.rejects(f.source.remove(obj.href, wrong), PreconditionFailedError);
      await assert.rejects(
        f.source.update(obj.href, ics('guarded', 'blind'), ''),
        PreconditionFailedError,
        'no etag: refused',
      );
      const now = await f.source.get(obj.href);
      assert.ok(now);
      assert.match(now.data, /SUMMARY:original/);
      assert.equal(now.etag, obj.etag);
      // After someone else changed it, our old etag is wrong.
      await f.foreignPut('guarded.ics', ics('guarded', 'changed elsewhere'));
      await assert.rejects(
        f.source.update(obj.href, ics('guarded', 'mine'), obj.etag!),
        PreconditionFailedError,
      );
      const after = await f.source.get(obj.href);
      assert.match(after!.data, /changed elsewhere/);
    });

    test('a change made by another client is seen, with the same canonical href', async (t) => {
      const f = await backend.make(t);
      const r = await f.source.reconcile(EMPTY);
      await f.foreignPut('other%40client%20x.ics', ics('other', 'bob gpu1: eval'));
      const d = await f.source.sync(r.token, EMPTY);
      assert.equal(d.changed.length, 1);
      const href = d.changed[0].href;
      assert.match(href, /\/other@client%20x\.ics$/, 'canonical form: @ literal, space %20');
      const got = await f.source.get(href);
      assert.match(got!.data, /bob gpu1: eval/);
      assert.equal(got!.href, href);
      assert.equal(got!.etag, d.changed[0].etag);
      const updated = await f.source.update(href, ics('other', 'bob gpu1: eval v2'), got!.etag!);
      assert.equal(updated.href, href);
    });

    test('X-HOSTHOG-* properties survive a round trip', async (t) => {
      const f = await backend.make(t);
      const r = await f.source.reconcile(EMPTY);
      // Commas and semicolons escaped as in TEXT values: Radicale cuts "gpu0,gpu1" to "gpu0".
      const extra = [
        'X-HOSTHOG-KIND:claim',
        'X-HOSTHOG-RESOURCES:gpu0\\,gpu1',
        'X-HOSTHOG-USER:hh-alice',
        `X-HOSTHOG-NOTE:${'long '.repeat(30).trim()}`,
      ];
      const obj = await f.source.create('x.ics', ics('x', 'alice: hog', extra));
      const d = await f.source.sync(r.token, EMPTY);
      const got = await f.source.get(obj.href);
      for (const text of [d.changed[0].data, got!.data]) {
        const unfolded = text.replace(/\r?\n[ \t]/g, '');
        for (const line of extra)
          assert.ok(unfolded.split(/\r?\n/).includes(line), `${line} kept in ${JSON.stringify(unfolded)}`);
      }
    });

    if (backend.name !== 'vdir') {
      const serverDownThenRestart =
        'server down: sync and reconcile throw CalendarUnavailableError; after restart the old ' +
        'token still works without re-download';
      test(serverDownThenRestart, async (t) => {
        const f = await backend.make(t);
        for (let i = 0; i < 5; i++) await f.source.create(`s-${i}.ics`, ics(`s-${i}`, `event ${i}`));
        const r = await f.source.reconcile(EMPTY);
        const known = knownOf(r.changed);
        await f.server!.stop();
        await assert.rejects(f.source.sync(r.token, known), CalendarUnavailableError);
        await assert.rejects(f.source.reconcile(known), CalendarUnavailableError);
        await assert.rejects(f.source.create('while-down.ics', ics('w', 'w')), CalendarUnavailableError);
        await f.server!.start();
        const d = await f.source.sync(r.token, known);
        assert.deepEqual(d.changed, []);
        assert.deepEqual(d.deleted, []);
        assert.equal(d.stats.requests, 1);
      });

      test('info() reads the display name and writability; a non-calendar URL is refused', async (t) => {
        const f = await backend.make(t);
        const info = await f.source.info();
        assert.equal(info.readOnly, false);
        assert.equal(typeof info.displayName, 'string');
        const parent = new URL('..', f.server!.calendarUrl).toString();
        const notCal = new CalDavSource({
          url: parent,
          username: f.server!.username,
          password: f.server!.password,
          timeoutMs: 3000,
        });
        await assert.rejects(notCal.info(), /not a calendar/);
      });

      const forgottenTokenFullListing =
        "a forgotten token answered with a full listing (DAViCal's way) is reconciled: deletions are seen";
      test(forgottenTokenFullListing, async (t) => {
        const f = await backend.make(t);
        const srv = f.server!;
        for (let i = 0; i < 6; i++) await f.foreignPut(`k-${i}.ics`, ics(`k-${i}`, `event ${i}`));
        const proxy = await startFaultProxy(srv.calendarUrl);
        t.after(() => proxy.close());
        const src = new CalDavSource({
          url: proxy.url(srv.calendarUrl),
          username: srv.username,
          password: srv.password,
          timeoutMs: 3000,
        });
        const r = await src.reconcile(EMPTY);
        const known = knownOf(r.changed);
        assert.equal(known.size, 6);
        const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
        const del = await fetch(`${srv.calendarUrl}k-2.ics`, {
          method: 'DELETE',
          headers: { authorization: auth },
        });
        assert.ok(del.status < 300);
        await f.foreignPut('k-new.ics', ics('k-new', 'new one'));
        // The server "forgot" the token: the sync REPORT gets every current item as 200, no 404.
        proxy.forgetTokens = true;
        const d = await src.sync(r.token, known);
        const gone = [...known.keys()].find((h) => h.endsWith('/k-2.ics'))!;
        assert.equal(
          d.full,
          true,
          `taken for what it is: a full listing, so a reconcile ${JSON.stringify(d)}`,
        );
        assert.deepEqual(d.deleted, [gone], 'the deletion is seen at once, not at the daily reconcile');
        assert.deepEqual(
          d.changed.map((o) => o.href.split('/').pop()),
          ['k-new.ics'],
        );
        // An ordinary delta (one change) is still a delta.
        proxy.forgetTokens = false;
        const known2 = new Map(known);
        known2.delete(gone);
        known2.set(d.changed[0].href, d.changed[0].etag);
        await f.foreignPut('k-3.ics', ics('k-3', 'edited'));
        const d2 = await src.sync(d.token, known2);
        assert.equal(d2.full, false);
        assert.deepEqual(
          d2.changed.map((o) => o.href.split('/').pop()),
          ['k-3.ics'],
        );
      });

      if (backend.name === 'davical') {
        const davicalPrunedToken =
          'DAViCal: a token it pruned (its sync_tokens and sync_changes rows deleted) answers a ' +
          'full listing; deletions are still seen';
        test(davicalPrunedToken, async (t) => {
          const f = await backend.make(t);
          const srv = f.server!;
          for (let i = 0; i < 5; i++) await f.foreignPut(`p-${i}.ics`, ics(`p-${i}`, `event ${i}`));
          const r = await f.source.reconcile(EMPTY);
          const known = knownOf(r.changed);
          const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
          await (
            await fetch(`${srv.calendarUrl}p-1.ics`, { method: 'DELETE', headers: { authorization: auth } })
          ).arrayBuffer();
          // What DAViCal's pruning does after 7 days, at once: the token and its change log are gone.
          await srv.sql!('DELETE FROM sync_changes; DELETE FROM sync_tokens;');
          const d = await f.source.sync(r.token, known);
          assert.equal(d.full, true, 'recognised as a full listing');
          assert.deepEqual(
            d.deleted,
            [...known.keys()].filter((h) => h.endsWith('/p-1.ics')),
          );
          assert.deepEqual(d.changed, []);
          assert.ok(d.token && d.token !== r.token);
        });
      }

      const notACalendarRefused =
        'a principal, a calendar home or the server root is refused with the calendars found there';
      test(notACalendarRefused, async (t) => {
        const f = await backend.make(t);
        const srv = f.server!;
        const cal = srv.calendarUrl;
        const principal = new URL(
          { radicale: `/${srv.username}/`, xandikos: '/user/', davical: `/caldav.php/${srv.username}/` }[
            srv.kind
          ],
          cal,
        ).toString();
        const urls = [principal, new URL(srv.kind === 'davical' ? '/caldav.php/' : '/', cal).toString()];
        if (srv.kind === 'xandikos') urls.push(new URL('/user/calendars/', cal).toString());
        for (const url of urls) {
          const src = new CalDavSource({
            url,
            username: srv.username,
            password: srv.password,
            timeoutMs: 3000,
          });
          const found = (e: unknown) =>
            e instanceof NotACalendarError &&
            e.message.includes(`is not a calendar`) &&
            e.message.includes(
              `calendars found there: ${cal} ("${srv.kind === 'xandikos' ? 'calendar' : 'test calendar'}")`,
            ) &&
            /one of them/.test(e.line());
          await assert.rejects(src.reconcile(EMPTY), found, `reconcile of ${url}`);
          await assert.rejects(src.sync('http://radicale.org/ns/sync/x', EMPTY), found, `sync of ${url}`);
          await assert.rejects(src.info(), found, `info of ${url}`);
          // `--calendar PRINCIPAL claim …` on Radicale used to "succeed" into a new collection.
          await assert.rejects(
            src.create('claim-1.ics', ics('claim-1', 'alice')),
            found,
            `create under ${url}`,
          );
          const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
          const r = await fetch(new URL('claim-1.ics', url), { headers: { authorization: auth } });
          await r.arrayBuffer();
          assert.ok(
            r.status === 404 || r.status === 403,
            `nothing was written there (GET answered ${r.status})`,
          );
        }
        const good = new CalDavSource({
          url: cal,
          username: srv.username,
          password: srv.password,
          timeoutMs: 3000,
        });
        assert.equal((await good.reconcile(EMPTY)).full, true, 'the calendar itself passes the check');
      });
    }
  });
}

describe('vdir specifics', () => {
  const vanishedDirectory =
    'a directory that vanishes once events are cached is unavailable, never an empty ' +
    'calendar, and is not recreated';
  test(vanishedDirectory, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'hh-vdir-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, 'cal');
    const src = new VdirSource(dir);
    const first = await src.reconcile(EMPTY);
    assert.ok(existsSync(dir), 'the first sync (empty cache) creates it');
    const a = await src.create('a.ics', ics('a', 'A'));
    const known = new Map([[a.href, a.etag]]);
    const d = await src.sync(first.token, known);
    assert.deepEqual([d.changed.length, d.deleted.length], [0, 0], 'a is known already');
    renameSync(dir, join(root, 'moved-away'));
    await assert.rejects(
      src.sync(d.token, known),
      (e: Error) =>
        e instanceof CalendarUnavailableError && /calendar directory .*cal is missing/.test(e.message),
    );
    await assert.rejects(src.reconcile(known), CalendarUnavailableError);
    await assert.rejects(src.create('b.ics', ics('b', 'B')), CalendarUnavailableError);
    await assert.rejects(src.info(), CalendarUnavailableError);
    assert.equal(existsSync(dir), false, 'not recreated: moving it back restores the calendar');
    renameSync(join(root, 'moved-away'), dir);
    const back = await src.sync(d.token, known);
    assert.deepEqual([back.changed.length, back.deleted.length], [0, 0]);
  });

  const atomicWrites =
    'atomic writes: files 0644, no temp files left, temp and non-.ics files ignored, hrefs ' +
    'are absolute paths';
  test(atomicWrites, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'hh-vdir-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, 'my cal');
    mkdirSync(dir);
    const src = new VdirSource(dir);
    const a = await src.create('a b.ics', ics('a', 'A'));
    assert.equal(a.href, join(root, 'my%20cal', 'a%20b.ics'));
    await src.update(a.href, ics('a', 'A2'), a.etag!);
    assert.deepEqual(readdirSync(dir), ['a b.ics'], 'no temp files left behind');
    assert.equal(statSync(join(dir, 'a b.ics')).mode & 0o777, 0o644);
    writeFileSync(join(dir, '.a b.ics.123.tmp'), 'partial');
    writeFileSync(join(dir, 'notes.txt'), 'not an event');
    mkdirSync(join(dir, 'sub.ics'));
    const r = await src.reconcile(EMPTY);
    assert.deepEqual(
      r.changed.map((o) => o.href),
      [a.href],
    );
    assert.match(r.changed[0].data, /SUMMARY:A2/);
    assert.equal((await src.get('/a%20b.ics'))!.href, a.href, 'a bare "/name" href works too');
    await assert.rejects(src.create('../escape.ics', 'x'), /not a valid event file name/);
    await assert.rejects(src.create('.hidden.ics', 'x'), /not a valid event file name/);
  });
});

describe('CalendarSource contract: radicale authentication', () => {
  test('a wrong password gives AuthError naming the user, on every call', async (t) => {
    const srv = await startRadicale({ user: 'carol', password: 'right' });
    t.after(() => srv.destroy());
    const bad = new CalDavSource({
      url: srv.calendarUrl,
      username: 'carol',
      password: 'wrong',
      timeoutMs: 3000,
    });
    await assert.rejects(
      bad.info(),
      (e: unknown) =>
        e instanceof AuthError &&
        /calendar login failed for carol at/.test(e.message) &&
        /password_file/.test(e.line()),
    );
    await assert.rejects(
      bad.sync('http://radicale.org/ns/sync/x', EMPTY),
      AuthError,
      'not InvalidSyncTokenError',
    );
    await assert.rejects(bad.reconcile(EMPTY), AuthError);
    await assert.rejects(bad.create('a.ics', ics('a', 'a')), AuthError);
    const good = new CalDavSource({
      url: srv.calendarUrl,
      username: 'carol',
      password: 'right',
      timeoutMs: 3000,
    });
    assert.equal((await good.info()).readOnly, false);
  });
});

describe('openSource', () => {
  test('vdir for [calendar] path, CalDAV for [calendar] url', async (t) => {
    const srv = await startXandikos();
    t.after(() => srv.destroy());
    const root = mkdtempSync(join(tmpdir(), 'hh-open-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const base = { calendar: { kind: 'vdir', path: join(root, 'cal') } } as unknown as Config;
    const v = openSource(base);
    assert.ok(v instanceof VdirSource);
    assert.equal(v.description, `vdir ${join(root, 'cal')}`);
    await assert.rejects(v.info(), CalendarUnavailableError, 'not there yet: unavailable');
    await v.reconcile(EMPTY); // first use: an empty cache
    assert.equal(statSync(join(root, 'cal')).mode & 0o777, 0o755, 'directory created 0755 by the first sync');
    assert.equal((await v.info()).readOnly, false);
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const c = openSource(
      {
        calendar: { kind: 'caldav', url: srv.calendarUrl, username: 'u', password: 'p', timeoutMs: 2000 },
      } as unknown as Config,
      { fetch: counting },
    );
    assert.ok(c instanceof CalDavSource);
    assert.equal(c.description, `caldav ${srv.calendarUrl}`);
    await c.reconcile(EMPTY);
    assert.equal(
      calls,
      2,
      'the injected fetch is used (empty cache: PROPFIND for the token, one calendar-query)',
    );
  });
});

describe('canonical hrefs', () => {
  const base = 'https://cloud.example.org/remote.php/dav/calendars/hosthog/gpu-box-3/';
  test('relative, absolute-path and full-URL forms of one resource are equal', () => {
    const want = '/remote.php/dav/calendars/hosthog/gpu-box-3/a%20b@c.ics';
    for (const h of [
      'a%20b@c.ics',
      'a b@c.ics',
      'a%20b%40c.ics',
      '/remote.php/dav/calendars/hosthog/gpu-box-3/a%20b%40c.ics',
      'https://cloud.example.org/remote.php/dav/calendars/hosthog/gpu-box-3/a%20b%40c.ics',
      '  a%20b%40c.ics ',
    ]) {
      assert.equal(canonicalHref(h, base), want, h);
    }
  });
  test('hex case, unicode and unreserved escapes are normalised', () => {
    assert.equal(canonicalHref('/x/%7Euser/%c3%a9t%C3%A9.ics', base), '/x/~user/%C3%A9t%C3%A9.ics');
    assert.equal(canonicalHref('/x/été.ics', base), '/x/%C3%A9t%C3%A9.ics');
    assert.equal(canonicalHref('/x/a%2Fb.ics', base), '/x/a%2Fb.ics', 'an encoded slash stays encoded');
    assert.equal(canonicalHref('/x/100%.ics', base), '/x/100%25.ics', 'a malformed escape is kept literally');
    assert.equal(canonicalHref('/x/q.ics?x=1#f', base), '/x/q.ics', 'query and fragment dropped');
  });
  test('helpers: hrefToUrl, isCollectionHref, hrefName', () => {
    assert.equal(
      hrefToUrl('/remote.php/dav/calendars/hosthog/gpu-box-3/a%20b.ics', base),
      base + 'a%20b.ics',
    );
    assert.equal(isCollectionHref('/remote.php/dav/calendars/hosthog/gpu-box-3', base), true);
    assert.equal(isCollectionHref('/remote.php/dav/calendars/hosthog/gpu-box-3/x.ics', base), false);
    assert.equal(hrefName('/a/b/c%20d.ics'), 'c d.ics');
  });
});

describe('deltaIsFullListing (pure)', () => {
  const m = (...e: [string, string | null][]) => new Map(e);
  test('no deletion named, an unchanged etag, and as long as half the cache: a full listing', () => {
    const known = m(['/a', '"1"'], ['/b', '"2"'], ['/c', '"3"']);
    assert.equal(
      deltaIsFullListing(known, m(['/a', '"1"'], ['/b', '"2"'], ['/c', '"3"']), 0),
      true,
      'every cached href with 200',
    );
    assert.equal(
      deltaIsFullListing(known, m(['/a', '"1"'], ['/b', '"2"'], ['/d', '"9"']), 0),
      true,
      'c gone, d new: DAViCal after a pruned token',
    );
    assert.equal(
      deltaIsFullListing(m(['/a', '"1"'], ['/old', '"x"']), m(['/a', '"1"'], ['/b', '"2"']), 0),
      true,
      'two cached, one gone',
    );
    assert.equal(deltaIsFullListing(known, m(['/a', '"1x"'], ['/b', '"2x"']), 0), false, 'real changes');
    assert.equal(
      deltaIsFullListing(known, m(['/a', '"1"']), 0),
      false,
      'our own write (or same bytes again): short',
    );
    const big = new Map([...Array(1000).keys()].map((i) => [`/e${i}`, `"${i}"`] as [string, string]));
    assert.equal(
      deltaIsFullListing(big, m(['/e1', '"1"'], ['/e2', '"2"'], ['/e3', '"3"']), 0),
      false,
      'a few own writes in a big calendar',
    );
    assert.equal(
      deltaIsFullListing(known, m(['/a', '"1"'], ['/b', '"2"']), 1),
      false,
      'it names a deletion: a real delta',
    );
    assert.equal(
      deltaIsFullListing(m(['/a', '"1"']), m(['/a', '"1"']), 0),
      false,
      'a one-item cache: left to the periodic reconcile',
    );
    assert.equal(deltaIsFullListing(new Map(), m(['/a', '"1"']), 0), false);
    assert.equal(deltaIsFullListing(known, new Map(), 0), false, 'an idle poll');
  });
});
