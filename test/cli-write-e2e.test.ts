/**
 * The CLI that writes, end to end: a real bridge on a real Radicale, driven by two real unix
 * users through the bridge's socket. Then the 412 path against a real server, events read back
 * by an independent client (python3-icalendar), and a round trip through Xandikos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRadicale, startXandikos } from './harness/servers.js';
import { writeTestConfig } from './harness/config.js';
import { startCli, runCli, waitFor } from './harness/cli.js';
import { ensureTestUsers } from './harness/users.js';
import { loadConfig } from '../src/config/load.js';
import { openSource } from '../src/caldav/open-source.js';
import { DirectCache } from '../src/cli/direct-cache.js';
import { CalendarWriter } from '../src/bridge/writer.js';
import { PreconditionFailedError } from '../src/core/errors.js';

const users = ensureTestUsers();
const alice = users['hh-alice'];
const bob = users['hh-bob'];
const dave = users['hh-dave'];

function as(u: { uid: number; gid: number; home: string }, env: Record<string, string>) {
  return (args: string[]) =>
    runCli(args, { uid: u.uid, gid: u.gid, env: { ...env, HOME: u.home, USER: '', LOGNAME: '' } });
}

test('two real users through a running bridge on Radicale', async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const cfg = writeTestConfig({
    calendarUrl: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
    host: 'e2e-box',
    extra: 'admin_group = "hh-admins"',
  });
  const env = { HOSTHOG_CONFIG: cfg.path };
  const bridge = startCli(['bridge'], { env: { ...env, HOSTHOG_LOG_LEVEL: 'info' } });
  t.after(() => {
    if (bridge.exitCode === null) bridge.kill('SIGKILL');
  });
  await waitFor(() => existsSync(cfg.socket) && existsSync(cfg.motd), 'bridge socket and first motd');

  const A = as(alice, env);
  const B = as(bob, env);
  const D = as(dave, env);

  // alice claims; the claim is in the calendar, the cache and the motd at once.
  const c1 = await A(['claim', '--exclusive', '--for', '2h', '-m', 'paper deadline', '--json']);
  assert.equal(c1.code, 0, c1.stderr);
  const claim = JSON.parse(c1.stdout);
  assert.equal(claim.claim.user, 'hh-alice', 'stamped with the verified user');
  assert.equal(
    new Date(claim.claim.start).getTime() % 60_000,
    0,
    'a claim made now starts on the whole minute, as shown',
  );
  assert.equal(new Date(claim.claim.end).getTime() - new Date(claim.claim.start).getTime(), 2 * 3_600_000);
  assert.match(
    claim.claim.start,
    /T\d\d:\d\d:00[+-]\d\d:\d\d$/,
    "ISO 8601 with the host zone's offset, as status --json",
  );
  assert.match(
    readFileSync(cfg.motd, 'utf8'),
    /hh-alice.*paper deadline/s,
    'motd updated at once, not at the next poll',
  );
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const onServer = await (
    await fetch(`${srv.calendarUrl}${claim.uid}.ics`, { headers: { authorization: auth } })
  ).text();
  assert.match(onServer, /X-HOSTHOG-USER:hh-alice/);

  // bob cannot release or edit alice's claim.
  let r = await B(['release', claim.uid]);
  assert.equal(r.code, 77, r.stderr);
  assert.match(r.stderr, /^hosthog: .*/);
  r = await B(['edit', claim.uid, '--note', 'mine now']);
  assert.equal(r.code, 77, r.stderr);

  // bob's exclusive claim over alice's is refused, naming her.
  r = await B(['claim', '--exclusive', '--for', '1h']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /hh-alice/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');

  // bob cannot claim in alice's name…
  r = await B(['claim', 'gpu0', '--at', 'tomorrow 9:00', '--for', '1h', '--user', 'hh-alice']);
  assert.equal(r.code, 77, r.stderr);
  // …nor by pretending to be her: the bridge ignores what the client says it is.
  r = await runCli(['claim', 'gpu1', '--in', '3h', '--for', '1h'], {
    uid: bob.uid,
    gid: bob.gid,
    env: { ...env, HOME: bob.home, USER: 'hh-alice', LOGNAME: 'hh-alice', HOSTHOG_USER: 'hh-alice' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /for hh-bob/);
  // bob widens his gpu1 claim to the whole host: --resources "" means no resources.
  const bobUid = /\(id ([0-9a-f-]+)\)/.exec(r.stdout)![1];
  r = await B(['edit', bobUid, '--resources', '']);
  assert.equal(r.code, 0, r.stderr);
  const bobs = JSON.parse((await B(['list', '--json', '--mine'])).stdout) as {
    uid: string;
    resources: string[];
  }[];
  assert.deepEqual(bobs.find((c) => c.uid === bobUid)?.resources, [], 'the whole host now');

  // alice extends and releases her own claim; dave (admin group) announces.
  r = await A(['extend', '30m']);
  assert.equal(r.code, 0, r.stderr);
  r = await D(['announce', '--until', 'tomorrow 18:00', 'NixOS upgrade Saturday: CUDA 12 → 13']);
  assert.equal(r.code, 0, r.stderr);
  r = await B(['announce', '--until', 'tomorrow 18:00', 'I am not an admin']);
  assert.equal(r.code, 77, r.stderr);
  r = await B(['announce', 'no end given either']);
  assert.equal(r.code, 77, r.stderr);
  assert.match(
    r.stderr,
    /^hosthog: only admins may announce \(ask an admin: root or a member of group/,
    'the real problem first, not the missing --until',
  );
  assert.match(readFileSync(cfg.motd, 'utf8'), /NixOS upgrade/);
  r = await A(['release']);
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse((await A(['list', '--json'])).stdout);
  assert.ok(
    !list.some(
      (c: { user: string; end: string }) =>
        c.user === 'hh-alice' && new Date(c.end).getTime() > Date.now() + 1000,
    ),
    'alice released',
  );
  assert.ok(list.some((c: { user: string }) => c.user === 'hh-bob'));

  bridge.kill('SIGTERM');
  await new Promise((res) => bridge.once('exit', res));
  // With no bridge, the CLI says so in one line.
  r = await A(['claim', '--for', '1h']);
  assert.equal(r.code, 69, r.stderr);
  assert.match(r.stderr, /no hosthog bridge/);
});

test('a concurrent edit by another client gives the 412 path; nothing is overwritten', async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const cfg = writeTestConfig({
    calendarUrl: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
  });
  const config = loadConfig({ path: cfg.path, withPassword: true });
  const source = openSource(config);
  const cache = await DirectCache.open(mkdtempSync(join(tmpdir(), 'hh-412-')), source, config);
  await cache.sync();
  const writer = new CalendarWriter(source, cache, config);
  const actor = { user: 'hh-alice', isAdmin: false };
  const now = Date.now();
  const res = await writer.claim(actor, {
    resources: [],
    mode: 'exclusive',
    hog: false,
    note: 'original',
    allow: [],
    start: new Date(now),
    end: new Date(now + 3600_000),
  });
  // Another client changes the event between our read and our write.
  const href = `${srv.calendarUrl}${res.uid}.ics`;
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const cur = await fetch(href, { headers: { authorization: auth } });
  const theirs = (await cur.text()).replace(
    /SUMMARY:[^\r\n]*/,
    'SUMMARY:hh-alice exclusive: changed on the phone',
  );
  const put = await fetch(href, {
    method: 'PUT',
    headers: { authorization: auth, 'if-match': cur.headers.get('etag')!, 'content-type': 'text/calendar' },
    body: theirs,
  });
  assert.ok(put.status < 300);
  await assert.rejects(writer.extend(actor, { by: 3600_000 }), (e: unknown) => {
    assert.ok(e instanceof PreconditionFailedError);
    assert.match(
      (e as Error).message,
      /changed by someone else.*changed on the phone.*nothing was overwritten/,
    );
    return true;
  });
  const after = await (await fetch(href, { headers: { authorization: auth } })).text();
  assert.match(after, /changed on the phone/, 'their version is intact');
  cache.close();
});

function readWithPythonIcalendar(ics: string): {
  summary: string;
  tzid: string;
  start: string;
  end: string;
  rrule: string;
} {
  const py = `
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
ev = [c for c in cal.walk('VEVENT')][0]
s = ev.get('DTSTART'); e = ev.get('DTEND')
print(json.dumps({"summary": str(ev.get('SUMMARY')), "tzid": s.params.get('TZID', ''), \
"start": s.dt.isoformat(), "end": e.dt.isoformat(), \
"rrule": ev.get('RRULE').to_ical().decode() if ev.get('RRULE') else ""}))
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', py], { input: ics, encoding: 'utf8' }));
}

const offHostCalendarUrl =
  'off the host, --calendar URL: claim, list, status and sync talk to the calendar itself ' +
  'through a per-user cache';
test(offHostCalendarUrl, async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  // the host's own calendar: not used
  const cfg = writeTestConfig({ vdir: mkdtempSync(join(tmpdir(), 'hh-offhost-vdir-')) });
  const cacheHome = mkdtempSync(join(tmpdir(), 'hh-offhost-cache-'));
  const env = {
    HOSTHOG_CONFIG: cfg.path,
    HOSTHOG_USERNAME: srv.username,
    HOSTHOG_PASSWORD: srv.password,
    XDG_CACHE_HOME: cacheHome,
  };
  const cal = ['--calendar', srv.calendarUrl];
  const c = await runCli(
    [...cal, 'claim', 'gpu0', '--in', '1h', '--for', '1h', '-m', 'from my laptop', '--json'],
    { env },
  );
  assert.equal(c.code, 0, c.stderr);
  const uid = JSON.parse(c.stdout).uid as string;
  const l = await runCli([...cal, 'list', '--json'], { env });
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(
    (JSON.parse(l.stdout) as { uid: string; note: string }[]).map((x) => [x.uid, x.note]),
    [[uid, 'from my laptop']],
  );
  const st = await runCli([...cal, 'status', '--json'], { env });
  assert.equal(st.code, 0, st.stderr);
  assert.deepEqual(
    (JSON.parse(st.stdout) as { upcoming: { uid: string }[] }).upcoming.map((x) => x.uid),
    [uid],
  );
  const far = await runCli([...cal, 'status', '--at', '2099-01-01 10:00'], { env });
  assert.equal(far.code, 64, far.stderr);
  assert.match(far.stderr, /is outside what this host has cached/);
  const sy = await runCli([...cal, 'sync'], { env });
  assert.equal(sy.code, 0, sy.stderr);
  assert.match(sy.stdout, /^synced caldav .* into your cache/);
  assert.ok(existsSync(join(cacheHome, 'hosthog')), 'the per-user cache');
  assert.equal(existsSync(join(cfg.stateDir, 'snapshot.json')), false, "nothing of the host's written");
  // The host's own (empty) calendar is not what --calendar shows.
  const local = await runCli(['sync'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(local.code, 0, local.stderr);
  assert.deepEqual(
    JSON.parse((await runCli(['list', '--json'], { env: { HOSTHOG_CONFIG: cfg.path } })).stdout),
    [],
  );
  // Cancelling a repeating claim cancels one occurrence, and says so.
  const rep = await runCli(
    [
      ...cal,
      'claim',
      'gpu1',
      '--at',
      'tomorrow 9:00',
      '--for',
      '1h',
      '--repeat',
      'daily for 3 times',
      '--json',
    ],
    { env },
  );
  assert.equal(rep.code, 0, rep.stderr);
  const cn = await runCli([...cal, 'cancel', JSON.parse(rep.stdout).uid], { env });
  assert.equal(cn.code, 0, cn.stderr);
  assert.match(cn.stdout, /^cancelled root's claim .*; this occurrence only, the series goes on\)$/m);
  const bad = await runCli(['--calendar', 'notaurl', 'list'], { env });
  assert.equal(bad.code, 78, bad.stderr);
  assert.match(bad.stderr, /^hosthog: --calendar "notaurl" is not an http\(s\) URL/);
});

for (const start of [startRadicale, startXandikos]) {
  const roundTrip =
    'events written by the CLI read back by python3-icalendar after a round trip through ' +
    start.name.replace('start', '');
  test(roundTrip, async (t) => {
    const srv = await start();
    t.after(() => srv.destroy());
    const cfg = writeTestConfig({
      calendarUrl: srv.calendarUrl,
      username: srv.username,
      password: srv.password,
      timezone: 'Europe/Berlin',
    });
    // Root on the host with no bridge running writes directly (the admin's path).
    const r = await runCli(
      [
        'claim',
        'gpu0',
        '--exclusive',
        '--at',
        '2027-03-29T09:00:00+02:00',
        '--for',
        '3h',
        '--repeat',
        'every monday until 2027-05-01',
        '-m',
        'lab course',
        '--json',
      ],
      { env: { HOSTHOG_CONFIG: cfg.path } },
    );
    assert.equal(r.code, 0, r.stderr);
    const { uid } = JSON.parse(r.stdout);
    const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
    const ics = await (
      await fetch(`${srv.calendarUrl}${uid}.ics`, { headers: { authorization: auth } })
    ).text();
    const ev = readWithPythonIcalendar(ics);
    assert.equal(ev.tzid, 'Europe/Berlin');
    assert.equal(ev.start, '2027-03-29T09:00:00+02:00');
    assert.equal(ev.end, '2027-03-29T12:00:00+02:00');
    assert.match(ev.rrule, /FREQ=WEEKLY/);
    assert.match(ev.summary, /root exclusive gpu0: lab course/);
    assert.match(ics, /BEGIN:VTIMEZONE/);
    assert.match(ics, /DTSTAMP:/);
  });
}
