/**
 * [bridge] publish_ics (docs/phone.md): the real bridge publishes the host's calendar as a
 * read-only .ics file, atomically, with only what status shows (sanitized, no other property
 * of the source events). Read by two independent readers: python3-icalendar, and vdirsyncer's
 * `http` storage (the way a webcal subscription fetches it, here from python's http.server)
 * syncing into a directory that khal lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, waitFor, REPO } from './harness/cli.js';
import { writeTestConfig, vevent } from './harness/config.js';
import { freePort } from './harness/free-port.js';
import { isClean } from '../src/core/sanitize.js';
import { validateConfig } from '../src/config/schema.js';

const PY = '/usr/bin/python3'; // Debian's, with python3-icalendar

test('publish_ics must be an absolute .ics path', () => {
  const { problems } = validateConfig(
    { bridge: { publish_ics: 'www/x.txt' } },
    { hostname: 'h', timezone: 'UTC' },
    't',
  );
  assert.match(
    problems.join('\n'),
    /\[bridge\] publish_ics = "www\/x.txt": give an absolute path ending in \.ics/,
  );
});

test(
  'the bridge publishes a read-only .ics that python3-icalendar, vdirsyncer (http) and khal read; ' +
    'only what status shows',
  { timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hh-publish-'));
    const vdir = join(dir, 'calendar');
    const www = join(dir, 'www');
    mkdirSync(vdir);
    mkdirSync(www);
    const procs: ReturnType<typeof spawn>[] = [];
    t.after(async () => {
      for (const p of procs) {
        if (p.exitCode === null) {
          const g = new Promise((r) => p.once('exit', r));
          p.kill('SIGTERM');
          await g;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    });
    const now = Date.now();
    const s1 = new Date(Math.floor(now / 60_000) * 60_000 + 3_600_000);
    writeFileSync(
      join(vdir, 'a.ics'),
      vevent(
        'secret-uid-1@phone',
        'hh-alice exclusive gpu0: paper \u001b[31mdeadline\u0007',
        s1,
        new Date(s1.getTime() + 7_200_000),
        'DESCRIPTION:private notes\r\nATTENDEE:mailto:alice@example.org\r\nLOCATION:room 1',
      ),
    );
    writeFileSync(
      join(vdir, 'b.ics'),
      vevent('ann-1@phone', 'Driver update tonight', s1, new Date(s1.getTime() + 3_600_000)),
    );
    const out = join(www, 'box.ics');
    const cfg = writeTestConfig({ dir, vdir, host: 'pub-box', bridge: `publish_ics = "${out}"` });
    const bridge = startCli(['bridge'], { env: { HOSTHOG_CONFIG: cfg.path } });
    procs.push(bridge);
    await waitFor(() => existsSync(out), 'published file', 30_000);
    const ics = readFileSync(out, 'utf8');
    assert.equal(statSync(out).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(www), ['box.ics'], 'no temp file left');
    assert.ok(isClean(ics.replace(/\r\n/g, '')), 'no control bytes');
    for (const leak of ['private notes', 'alice@example.org', 'room 1', 'secret-uid-1'])
      assert.ok(!ics.includes(leak), `${leak} published`);

    // 1. python3-icalendar.
    const parsed = JSON.parse(
      execFileSync(
        PY,
        [
          '-c',
          `
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
evs = [{"summary": str(e.get("SUMMARY")), "start": e.decoded("DTSTART").isoformat(), \
"props": sorted(e.keys())} for e in cal.walk("VEVENT")]
print(json.dumps({"name": str(cal.get("X-WR-CALNAME")), "events": sorted(evs, key=lambda e: e["summary"])}))
`,
        ],
        { input: ics, encoding: 'utf8' },
      ),
    ) as { name: string; events: { summary: string; start: string; props: string[] }[] };
    assert.equal(parsed.name, 'hosthog pub-box (read-only)');
    assert.deepEqual(
      parsed.events.map((e) => e.summary),
      ['ANNOUNCEMENT: Driver update tonight', 'hh-alice exclusive gpu0: paper deadline'],
    );
    assert.equal(new Date(parsed.events[1].start).getTime(), s1.getTime());
    assert.deepEqual(parsed.events[1].props, ['DTEND', 'DTSTAMP', 'DTSTART', 'SUMMARY', 'TRANSP', 'UID']);

    // 2. A web server serves it; vdirsyncer's http storage fetches it as a subscription does; khal lists it.
    const port = await freePort();
    const web = spawn(PY, ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', www, String(port)], {
      stdio: 'ignore',
    });
    procs.push(web);
    await waitFor(
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/box.ics`)).ok;
        } catch {
          return false;
        }
      },
      'web server',
      10_000,
    );
    const home = join(dir, 'home');
    mkdirSync(join(home, 'local'), { recursive: true });
    writeFileSync(
      join(home, 'vdirsyncer.conf'),
      [
        '[general]',
        `status_path = "${home}/status/"`,
        '',
        '[pair host]',
        'a = "host_web"',
        'b = "host_local"',
        'collections = null',
        '',
        '[storage host_web]',
        'type = "http"',
        `url = "http://127.0.0.1:${port}/box.ics"`,
        '',
        '[storage host_local]',
        'type = "filesystem"',
        `path = "${home}/local/"`,
        'fileext = ".ics"',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, HOME: home, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
    execFileSync('vdirsyncer', ['-c', join(home, 'vdirsyncer.conf'), 'discover'], {
      env,
      input: 'y\n',
      encoding: 'utf8',
      timeout: 30_000,
    });
    const sync = execFileSync('vdirsyncer', ['-c', join(home, 'vdirsyncer.conf'), 'sync'], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(readdirSync(join(home, 'local')).filter((f) => f.endsWith('.ics')).length, 2, sync);
    writeFileSync(
      join(home, 'khal.conf'),
      [
        '[calendars]',
        '[[host]]',
        `path = ${home}/local/`,
        'type = calendar',
        '',
        '[locale]',
        'timeformat = %H:%M',
        'dateformat = %Y-%m-%d',
        'longdateformat = %Y-%m-%d',
        'datetimeformat = %Y-%m-%d %H:%M',
        'longdatetimeformat = %Y-%m-%d %H:%M',
        'local_timezone = UTC',
        'default_timezone = UTC',
        '',
      ].join('\n'),
    );
    const day = s1.toISOString().slice(0, 10);
    const listed = execFileSync(
      'khal',
      ['-c', join(home, 'khal.conf'), 'list', '--format', '{start} {title}', day, '2d'],
      { env, encoding: 'utf8', timeout: 30_000 },
    );
    assert.match(
      listed,
      new RegExp(`${day} ${s1.toISOString().slice(11, 16)} hh-alice exclusive gpu0: paper deadline`),
      listed,
    );
    assert.match(listed, /ANNOUNCEMENT: Driver update tonight/, listed);
  },
);
