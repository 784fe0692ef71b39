/**
 * The fleet against real servers (Radicale and Xandikos): several host calendars in one home
 * (one with a Nextcloud-style "…_shared_by_…" URL, one non-host calendar), the real CLI:
 * hosts, free (--gpus, --at, --exclusive, --wait), claim --host with a conflict, request,
 * stats checked against hand-counted hours, and the HTML report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRadicale, startXandikos, type TestServer } from './harness/servers.js';
import { runCli, startCli, waitFor } from './harness/cli.js';
import { vevent } from './harness/config.js';
import { authOf, mkHostCalendar, putEvent, writeFleetConfig } from './harness/fleet.js';
import {
  STATS_EVENTS,
  STATS_FROM,
  STATS_UNTIL,
  STATS_BUSY_HOURS,
  STATS_CLAIMED_HOURS,
} from './fleet-fixtures.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

for (const start of [startRadicale, startXandikos]) {
  const name = start.name.replace('start', '');
  test(`fleet on ${name}: hosts, free, claim --host, request, stats`, { timeout: 240_000 }, async (t) => {
    const srv: TestServer = await start();
    t.after(() => srv.destroy());
    const now = Math.floor(Date.now() / MIN) * MIN;
    const at = (h: number) => new Date(now + h * HOUR);
    const box1 = await mkHostCalendar(srv, 'gpu-box-1', 'gpu-box-1');
    const box2 = await mkHostCalendar(srv, 'gpu-box-2_shared_by_hosthog', 'gpu-box-2');
    const box3 = await mkHostCalendar(srv, 'gpu-box-3', 'gpu-box-3');
    const lab = await mkHostCalendar(srv, 'lab-stats', 'lab-stats');
    await mkHostCalendar(srv, 'personal', 'Personal calendar');
    await putEvent(srv, box1, 'bob-1', vevent('bob-1', 'bob exclusive: training', at(-1), at(1)));
    await putEvent(srv, box2, 'carol-1', vevent('carol-1', 'carol gpu0\\,gpu1: eval', at(-1), at(5)));
    await putEvent(srv, box3, 'erin-1', vevent('erin-1', 'erin exclusive: benchmarks', at(6), at(8)));
    for (const [uid, ics] of Object.entries(STATS_EVENTS)) await putEvent(srv, lab, uid, ics);

    const fl = writeFleetConfig(srv, 'alice', 'match = "*-*"');
    t.after(() => rmSync(fl.dir, { recursive: true, force: true }));
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      runCli(args, { env: { ...fl.env, ...env }, timeoutMs: 60_000 });

    await t.test('hosts: every host calendar by display name, holders, next, free resources', async () => {
      const r = await cli(['hosts', '--json'], { HOSTHOG_FLEET_STATS: '1' });
      assert.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as {
        host: string;
        url: string;
        free: boolean;
        freeResources: string[];
        holders: { user: string; mode: string }[];
        next: { user: string } | null;
        error: string | null;
      }[];
      assert.deepEqual(
        rows.map((x) => x.host),
        ['gpu-box-1', 'gpu-box-2', 'gpu-box-3', 'lab-stats'],
      );
      const by = Object.fromEntries(rows.map((x) => [x.host, x]));
      assert.equal(by['gpu-box-2'].url, box2, 'the Nextcloud-style URL keeps the display name as the host');
      assert.deepEqual(
        by['gpu-box-1'].holders.map((h) => [h.user, h.mode]),
        [['bob', 'exclusive']],
      );
      assert.equal(by['gpu-box-1'].free, false);
      assert.deepEqual(by['gpu-box-2'].freeResources, ['gpu2', 'gpu3']);
      assert.equal(by['gpu-box-3'].next?.user, 'erin');
      assert.ok(rows.every((x) => x.error === null));
      const cold = JSON.parse(r.stderr.trim().split('\n').pop()!);
      assert.equal(cold.discovery.requests, 1, 'one PROPFIND Depth 1 on the home');
      assert.equal(cold.synced, 4);
      // Radicale: a calendar whose getlastmodified is in the same second as the answer before
      // its sync is asked again once (the racy guard, docs/fleet.md); one second later, one
      // run settles it and the next asks nothing.
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await cli(['hosts'])).code, 0);
      const text = await cli(['hosts'], { HOSTHOG_FLEET_STATS: '1' });
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^gpu-box-1\s+bob exclusive whole host until/m);
      assert.match(text.stdout, /^gpu-box-3\s+free · next: erin/m);
      const warm = JSON.parse(text.stderr.trim().split('\n').pop()!);
      assert.equal(warm.skipped, 4, 'a warm run over unchanged calendars syncs nothing');
      assert.equal(warm.requests, 0);
      // Each calendar has its own cache in ~/.cache/hosthog, and the home one file (how it is checked).
      const caches = readdirSync(join(fl.dir, 'cache', 'hosthog'));
      assert.equal(caches.length, 5);
      const homes = caches.filter((d) => existsSync(join(fl.dir, 'cache', 'hosthog', d, 'fleet-home.json')));
      assert.equal(homes.length, 1);
    });

    await t.test('free: ranking, --exclusive, --gpus, --at', async () => {
      const free = async (...args: string[]) => {
        const r = await cli(['free', '--json', ...args]);
        assert.ok(r.code === 0 || r.code === 1, r.stderr);
        return JSON.parse(r.stdout) as {
          host: string;
          whole: boolean;
          others: string[];
          take: string[];
          from: string | null;
          command: string;
        }[];
      };
      const shared = await free('--for', '4h');
      assert.deepEqual(
        shared.map((x) => [x.host, x.whole]),
        [
          ['gpu-box-3', true],
          ['lab-stats', true],
          ['gpu-box-2', true],
          ['gpu-box-1', false],
        ],
      );
      assert.deepEqual(shared[2].others, ['carol']);
      assert.equal(
        new Date(shared[3].from!).getTime(),
        at(1).getTime(),
        'gpu-box-1 is free once bob is done',
      );
      assert.match(shared[0].command, /^hosthog claim --host gpu-box-3 --for 4h$/);
      const excl = await free('--for', '4h', '--exclusive');
      assert.deepEqual(
        excl.filter((x) => x.whole).map((x) => x.host),
        ['gpu-box-3', 'lab-stats'],
      );
      const long = await free('--for', '8h', '--exclusive');
      assert.deepEqual(
        long.filter((x) => x.whole).map((x) => x.host),
        ['lab-stats'],
        "erin's claim at +6h blocks gpu-box-3",
      );
      const two = await free('--for', '4h', '--exclusive', '--gpus', '2');
      const b2 = two.find((x) => x.host === 'gpu-box-2')!;
      assert.equal(b2.whole, true);
      assert.deepEqual(b2.take, ['gpu2', 'gpu3']);
      assert.match(b2.command, /--host gpu-box-2 gpu2 gpu3 --for 4h --exclusive$/);
      const three = await free('--for', '4h', '--exclusive', '--gpus', '3');
      assert.equal(three.find((x) => x.host === 'gpu-box-2')!.whole, false);
      const later = await free('--for', '1h', '--exclusive', '--at', at(7).toISOString());
      assert.deepEqual(
        later
          .filter((x) => x.whole)
          .map((x) => x.host)
          .sort(),
        ['gpu-box-1', 'gpu-box-2', 'lab-stats'],
      );
      const text = await cli(['free', '--for', '4h']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^free for 4h from/);
      assert.match(text.stdout, /hosthog claim --host gpu-box-3 --for 4h/);
    });

    await t.test(
      'claim --host: the same conflict rule off the host; a free one is written there',
      async () => {
        const bad = await cli(['claim', '--host', 'gpu-box-1', '--for', '1h', '-m', 'mine']);
        assert.equal(bad.code, 3, bad.stdout + bad.stderr);
        assert.match(bad.stderr, /^hosthog: .*bob/);
        const ok = await cli([
          'claim',
          '--host',
          'gpu-box-3',
          'gpu0',
          '--for',
          '1h',
          '-m',
          'quick test',
          '--json',
        ]);
        assert.equal(ok.code, 0, ok.stderr);
        const res = JSON.parse(ok.stdout) as { uid: string; claim: { user: string; resources: string[] } };
        assert.equal(res.claim.user, 'alice');
        const ics = await (
          await fetch(`${box3}${res.uid}.ics`, { headers: { authorization: authOf(srv) } })
        ).text();
        assert.match(ics, /X-HOSTHOG-HOST:gpu-box-3/);
        const unknown = await cli(['claim', '--host', 'no-such-box', '--for', '1h']);
        assert.equal(unknown.code, 5);
        assert.match(unknown.stderr, /^hosthog: no host calendar named "no-such-box".*gpu-box-1/);
        const rows = JSON.parse((await cli(['hosts', '--json'])).stdout) as {
          host: string;
          holders: { user: string }[];
        }[];
        assert.deepEqual(
          rows.find((x) => x.host === 'gpu-box-3')!.holders.map((h) => h.user),
          ['alice'],
        );
      },
    );

    await t.test(
      'request --host: stored in the claim (If-Match), shown to the holder until closed',
      async () => {
        const r = await cli(['request', 'bob-1', '--host', 'gpu-box-1', '-m', 'could I have it at 15:00?']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /asked bob for their claim/);
        const ics = await (
          await fetch(`${box1}bob-1.ics`, { headers: { authorization: authOf(srv) } })
        ).text();
        assert.match(
          ics.replace(/\r\n[ \t]/g, ''),
          /X-HOSTHOG-REQUEST;[^:]*X-HOSTHOG-FROM=alice[^:]*:could I have it at 15:00\?/,
        );
        assert.match(ics, /SUMMARY:bob exclusive: training/, 'the claim itself is unchanged');
        const st = await cli(['status', '--host', 'gpu-box-1'], { HOSTHOG_USER: 'bob' });
        assert.equal(st.code, 0, st.stderr);
        assert.match(st.stdout, /REQUEST from alice to bob: could I have it at 15:00\?/);
        const close = await cli(['request', 'bob-1', '--host', 'gpu-box-1', '--close'], {
          HOSTHOG_USER: 'bob',
        });
        assert.equal(close.code, 0, close.stderr);
        const st2 = await cli(['status', '--host', 'gpu-box-1'], { HOSTHOG_USER: 'bob' });
        assert.doesNotMatch(st2.stdout, /REQUEST/);
      },
    );

    await t.test(
      'stats: hand-counted hours (series with EXDATE and override, all-day, across midnight, cancelled)',
      async () => {
        const stats = async (by: string) => {
          const r = await cli(['stats', '--since', STATS_FROM, '--until', STATS_UNTIL, '--by', by, '--json']);
          assert.equal(r.code, 0, r.stderr);
          return JSON.parse(r.stdout) as {
            rows: {
              key: string;
              claimedHours: number;
              share: number;
              exclusiveHours: number;
              top: { user: string; hours: number }[];
            }[];
            totalHours: number;
          };
        };
        const h = await stats('host');
        const lab2 = h.rows.find((x) => x.key === 'lab-stats')!;
        assert.equal(lab2.claimedHours, STATS_CLAIMED_HOURS);
        assert.equal(lab2.exclusiveHours, 9);
        assert.ok(Math.abs(lab2.share - STATS_BUSY_HOURS / 168) < 1e-9, String(lab2.share));
        assert.deepEqual(lab2.top, [
          { user: 'erin', hours: 24 },
          { user: 'dave', hours: 9 },
          { user: 'frank', hours: 5 },
        ]);
        assert.equal(h.totalHours, STATS_CLAIMED_HOURS, 'the other hosts had no claims that week');
        const u = await stats('user');
        assert.deepEqual(
          u.rows.map((x) => [x.key, x.claimedHours]),
          [
            ['erin', 24],
            ['dave', 9],
            ['frank', 5],
            ['gina', 1],
          ],
        );
        const res = await stats('resource');
        assert.equal(res.rows.find((x) => x.key === 'lab-stats/gpu0')!.claimedHours, 39);
        assert.equal(res.rows.find((x) => x.key === 'lab-stats/gpu1')!.claimedHours, 34);
        const text = await cli([
          'stats',
          '--since',
          STATS_FROM,
          '--until',
          STATS_UNTIL,
          '--html',
          join(fl.dir, 'report.html'),
        ]);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^lab-stats\s+39\.0\s+22\.0%\s+9\.0\s+0\.0\s+█+/m);
        const html = readFileSync(join(fl.dir, 'report.html'), 'utf8');
        assert.match(html, /<svg id="timeline"/);
        assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
      },
    );

    await t.test('free --wait returns when a claim ends', async () => {
      // Every host busy for yann's exclusive half hour: bob, carol, alice (gpu-box-3), zed (lab-stats).
      await putEvent(srv, lab, 'zed-2', vevent('zed-2', 'zed exclusive: block', at(-0.5), at(2)));
      const child = startCli(
        ['free', '--for', '30m', '--exclusive', '--wait', '--poll', '1s', '--timeout', '90s'],
        { env: { ...process.env, ...fl.env, HOSTHOG_USER: 'yann' } },
      );
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(child.exitCode, null, `still waiting: ${child.output()}`);
      const rel = await cli(['release', 'zed-2', '--host', 'lab-stats'], { HOSTHOG_USER: 'zed' });
      assert.equal(rel.code, 0, rel.stderr);
      const code = await Promise.race([
        exited,
        waitFor(() => false, 'free --wait', 30_000).catch(() => 'timeout'),
      ]);
      assert.equal(code, 0, child.output());
      assert.match(child.output(), /lab-stats[\s\S]*hosthog claim --host lab-stats --for 30m --exclusive/);
    });

    await t.test('free --claim takes the best host at once', async () => {
      const r = await cli(['free', '--for', '30m', '--exclusive', '--claim', '--json'], {
        HOSTHOG_USER: 'yann',
      });
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout) as { uid: string; claim: { user: string; mode: string } };
      assert.deepEqual([res.claim.user, res.claim.mode], ['yann', 'exclusive']);
      const ics = await (
        await fetch(`${lab}${res.uid}.ics`, { headers: { authorization: authOf(srv) } })
      ).text();
      assert.match(ics, /X-HOSTHOG-HOST:lab-stats/);
      const none = await cli(['free', '--for', '30m', '--exclusive', '--claim'], { HOSTHOG_USER: 'zoe' });
      assert.equal(none.code, 1, 'every host is taken now');
      assert.match(none.stderr, /^hosthog: no host is free for 30m/);
    });
  });
}
