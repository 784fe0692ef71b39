/**
 * The bridge end to end, as a real process against a real Radicale: another client PUTs, edits
 * and deletes an event over plain HTTP; each shows in the motd after one poll. Then the server
 * stops: the motd keeps what it knew and says since when; `hosthog sync` fails with one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { ensureTestUsers } from './harness/users.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRadicale } from './harness/servers.js';
import { writeTestConfig, vevent } from './harness/config.js';
import { startCli, runCli, waitFor, cliCommand } from './harness/cli.js';
import { spawn } from 'node:child_process';

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

const putEditDeleteShow =
  'bridge on Radicale: PUT, edit and delete by another client show in the motd within one poll';
test(putEditDeleteShow, async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const cfg = writeTestConfig({
    calendarUrl: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
    host: 'e2e-box',
  });
  const env = { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' };
  const bridge = startCli(['bridge'], { env });
  t.after(() => {
    if (bridge.exitCode === null) bridge.kill('SIGKILL');
  });

  await waitFor(() => read(cfg.motd).includes('e2e-box'), 'first motd');
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const href = srv.calendarUrl + 'e2e-1.ics';
  const now = Date.now();
  const start = new Date(now - 10 * 60_000);
  const end = new Date(now + 2 * 3600_000);

  let r = await fetch(href, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'text/calendar', 'if-none-match': '*' },
    body: vevent('e2e-1', 'alice exclusive: paper deadline', start, end),
  });
  assert.equal(r.status, 201);
  const t0 = Date.now();
  const motd1 = await waitFor(
    () => {
      const m = read(cfg.motd);
      return m.includes('alice') && m.includes('paper deadline') ? m : '';
    },
    'claim in motd',
    15_000,
  );
  assert.ok(Date.now() - t0 < 5_000 + 3_000, 'seen within one poll (5 s) plus slack');
  assert.match(motd1, /exclusive/i);

  const etag = (await fetch(href, { headers: { authorization: auth } })).headers.get('etag')!;
  r = await fetch(href, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'text/calendar', 'if-match': etag },
    body: vevent('e2e-1', 'alice exclusive: camera ready', start, end),
  });
  assert.ok(r.status === 201 || r.status === 204, `edit status ${r.status}`);
  await waitFor(() => read(cfg.motd).includes('camera ready'), 'edit in motd', 15_000);
  assert.ok(!read(cfg.motd).includes('paper deadline'));

  const st = await runCli(['status', '--json'], { env });
  assert.equal(st.code, 0, st.stderr);
  const j = JSON.parse(st.stdout);
  assert.equal(j.active.length, 1);
  assert.equal(j.active[0].user, 'alice');
  assert.equal(j.active[0].mode, 'exclusive');
  assert.equal(j.active[0].note, 'camera ready');
  assert.equal(new Date(j.active[0].end).getTime(), Math.floor(end.getTime() / 1000) * 1000);
  assert.match(j.active[0].end, /[+-]\d\d:\d\d$/, 'ISO 8601 with offset');

  const etag2 = (await fetch(href, { headers: { authorization: auth } })).headers.get('etag')!;
  r = await fetch(href, { method: 'DELETE', headers: { authorization: auth, 'if-match': etag2 } });
  assert.ok(r.status === 200 || r.status === 204, `delete status ${r.status}`);
  await waitFor(
    () => {
      const m = read(cfg.motd);
      return m.includes('e2e-box') && !m.includes('alice');
    },
    'delete in motd',
    15_000,
  );

  // The calendar goes away: the host keeps showing what it knew, and says so.
  r = await fetch(srv.calendarUrl + 'e2e-2.ics', {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'text/calendar' },
    body: vevent('e2e-2', 'bob gpu0: training', start, end),
  });
  await waitFor(() => read(cfg.motd).includes('bob'), 'second claim', 15_000);
  await srv.stop();
  const stale = await waitFor(
    () => {
      const m = read(cfg.motd);
      return /unreachable|stale/i.test(m) ? m : '';
    },
    'stale line',
    40_000,
  );
  assert.match(stale, /bob/, 'cached claim still shown');

  const sync = await runCli(['sync'], { env });
  assert.notEqual(sync.code, 0);
  const lines = sync.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('hosthog:'));
  assert.equal(lines.length, 1, sync.stderr);
  assert.doesNotMatch(sync.stderr, /\n\s+at /, 'no stack trace');

  bridge.kill('SIGTERM');
  const code = await new Promise((res) => bridge.once('exit', (c) => res(c)));
  assert.equal(code, 0, bridge.output());
  for (const l of read(cfg.motd).split('\n'))
    assert.ok([...l].length <= 80, `motd line over 80 columns: ${l}`);
});

const syncOnEmbeddedDefault =
  'hosthog sync on the embedded default (local calendar directory) writes motd and snapshot';
test(syncOnEmbeddedDefault, async (t) => {
  const cfg = writeTestConfig({});
  const r = await runCli(['sync'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /vdir/);
  assert.ok(existsSync(cfg.motd));
  const st = await runCli(['status', '--json'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(st.code, 0, st.stderr);
  assert.deepEqual(JSON.parse(st.stdout).active, []);
  t.diagnostic(read(cfg.motd));
  // --at: staleness is judged by the real clock; times outside the cached window are refused.
  const ahead = await runCli(['status', '--at', 'in 2d'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(ahead.code, 0, ahead.stderr);
  assert.doesNotMatch(ahead.stdout, /stale|not synced|never synced/, ahead.stdout);
  assert.match(ahead.stdout, /synced /);
  const far = await runCli(['status', '--at', '2099-01-01 10:00'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(far.code, 64, far.stderr);
  assert.match(
    far.stderr,
    new RegExp(
      /^hosthog: .* is outside what this host has cached \(.* to .*\) /.source +
        /\(look further ahead in the calendar app, or raise \[bridge\] window_days\)\n$/.source,
    ),
  );
  const past = await runCli(['status', '--at', '2020-01-01 10:00', '--json'], {
    env: { HOSTHOG_CONFIG: cfg.path },
  });
  assert.equal(past.code, 64, past.stderr);
});

test('bad config: every problem on its own line with the fix, exit 78, no stack trace', async () => {
  const cfg = writeTestConfig({ extra: 'polll = 3\ntimezone_x = 1', bridge: 'stale_polls = -1' });
  const r = await runCli(['status'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /unknown key polll/);
  assert.match(r.stderr, /stale_polls must be a whole number/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const dir = mkdtempSync(join(tmpdir(), 'hh-badcfg-'));
  writeFileSync(
    join(dir, 'c.toml'),
    'admins = ["root", "Bad User"]\n[calendar]\npath = "/tmp/x"\ntimeout = "forever"\n',
  );
  const r2 = await runCli(['status'], { env: { HOSTHOG_CONFIG: join(dir, 'c.toml') } });
  assert.equal(r2.code, 78);
  assert.match(r2.stderr, /admins: "Bad User" is not a valid name/);
  assert.match(r2.stderr, /\[calendar\] timeout = "forever" is not a duration/);
});

const doctorNamesUnreadable =
  "hosthog doctor names the events hosthog cannot read (a phone's event nobody would see otherwise), " +
  'with control bytes stripped';
test(doctorNamesUnreadable, async () => {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-doctor-vdir-'));
  const cfg = writeTestConfig({ vdir });
  const now = Date.now();
  writeFileSync(
    join(vdir, 'ok.ics'),
    vevent('ok-1', 'hh-alice gpu0', new Date(now + 3_600_000), new Date(now + 7_200_000)),
  );
  writeFileSync(
    join(vdir, 'nouid.ics'),
    vevent('', 'hh-bob \x1b[31mred', new Date(now + 3_600_000), new Date(now + 7_200_000)).replace(
      /^UID:.*\r?\n/m,
      '',
    ),
  );
  assert.equal((await runCli(['sync'], { env: { HOSTHOG_CONFIG: cfg.path } })).code, 0);
  const d = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.match(d.stdout, /^warn +event nouid\.ics is not shown: event without UID ignored$/m, d.stdout);
  assert.doesNotMatch(d.stdout, /ok\.ics/);
  assert.doesNotMatch(d.stdout, /\x1b/);
  // As a lab member: no false alarms about the bridge's own directories (users write through it).
  chmodSync(vdir, 0o755);
  const { 'hh-alice': alice } = ensureTestUsers();
  const u = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path }, uid: alice.uid, gid: alice.gid });
  // No bridge runs here (only `hosthog sync`): that one FAIL is true (issue 12), nothing else fails.
  assert.equal(u.code, 1, u.stdout + u.stderr);
  assert.deepEqual(
    u.stdout
      .split('\n')
      .filter((l) => l.startsWith('FAIL'))
      .map((l) => /^FAIL {2}the bridge is not running \(no live bridge/.test(l)),
    [true],
  );
  assert.doesNotMatch(u.stdout, /read-only/m, u.stdout);
  assert.match(u.stdout, /state directory .* belongs to the bridge \(run hosthog doctor as root/);
});

const doctorOnFreshInstall =
  'doctor on a fresh install: a calendar directory not created yet and a missing admin_group ' +
  'are warnings with the fix, not failures';
test(doctorOnFreshInstall, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-fresh-'));
  const cfg = writeTestConfig({ vdir: join(dir, 'not-yet'), extra: 'admin_group = "hh-no-such-group"' });
  const d = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path } });
  // Only the hog gate (this machine's own sshd is not wired: test/gate-sshd.test.ts) and the
  // bridge not started yet (issue 12: no false "ok") may fail here.
  assert.equal(d.code, 1, d.stdout + d.stderr);
  assert.doesNotMatch(
    d.stdout,
    /^FAIL {2}(?!hog gate|the bridge is not running \(no live bridge)/m,
    d.stdout + d.stderr,
  );
  assert.match(d.stdout, /^FAIL {2}the bridge is not running \(no live bridge/m);
  assert.match(
    d.stdout,
    new RegExp(
      /^warn +admin_group "hh-no-such-group" does not exist: /.source +
        /only root can announce or change others' claims\n +fix: groupadd hh-no-such-group/.source,
      'm',
    ),
  );
  assert.match(d.stdout, /^warn +calendar directory .*not-yet does not exist yet\n +fix: start the bridge/m);
});

test('a reader that stops early (hosthog doctor | head -1) ends the CLI quietly, exit 0', async () => {
  const cfg = writeTestConfig({});
  const [cmd, ...pre] = cliCommand();
  const child = spawn(cmd, [...pre, 'doctor'], {
    env: { ...process.env, HOSTHOG_CONFIG: cfg.path },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  child.stdout!.destroy(); // the reader is gone before the first line
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  assert.ok(code === 0 || code === 1, err); // 1: doctor's own verdict (this machine's sshd has no hog gate)
  assert.doesNotMatch(err, /EPIPE|\n\s+at /);
});

const mistypedCommand =
  'a mistyped command or option: one line naming it, exit 64 ' +
  '(status, the default command, does not swallow it)';
test(mistypedCommand, async () => {
  const cfg = writeTestConfig({});
  for (const [args, re] of [
    [
      ['statsu'],
      new RegExp(
        /^hosthog: unknown command "statsu" \(did you mean "hosthog status" or "hosthog stats"\? /.source +
          /the commands are status, claim, .*; see hosthog --help\)\n$/.source,
      ),
    ],
    [['claim', '--bogus'], /^hosthog: unknown option '--bogus' \(see hosthog --help\)\n$/],
    [['status', '--at'], /^hosthog: option '--at <time>' argument missing \(see hosthog --help\)\n$/],
    [
      ['claim', '--hog', '--shared', '--for', '1h'],
      /^hosthog: a hog claim is always exclusive \(drop --shared\)\n$/,
    ],
  ] as const) {
    const r = await runCli([...args], { env: { HOSTHOG_CONFIG: cfg.path } });
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const at = await runCli(['--at', '18:00'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.match(
    at.stderr,
    /no calendar data on this host yet/,
    "an option's value (status --at, the default command) is not taken for a command",
  );
  const g = await runCli(['-c', cfg.path, 'status', '--json']);
  assert.match(
    g.stderr,
    /no calendar data on this host yet/,
    "a global option's value is not taken for a command",
  );
});

const oneBridgePerStateDir =
  'one bridge per state directory: a second is refused in one line; ' +
  'one killed with -9 leaves nothing in the way';
test(oneBridgePerStateDir, async (t) => {
  const cfg = writeTestConfig({});
  const first = startCli(['bridge'], { env: { HOSTHOG_CONFIG: cfg.path } });
  t.after(() => {
    if (first.exitCode === null) first.kill('SIGKILL');
  });
  await waitFor(
    () => existsSync(join(cfg.stateDir, 'bridge.pid')) && existsSync(cfg.motd),
    'first bridge up',
  );
  // Same state_dir, its own socket: refused.
  const second = join(cfg.dir, 'second.toml');
  writeFileSync(
    second,
    readFileSync(cfg.path, 'utf8').replace(/^socket = .*$/m, `socket = "${join(cfg.runDir, 'second.sock')}"`),
  );
  const r = await runCli(['bridge'], { env: { HOSTHOG_CONFIG: second } });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    new RegExp(
      `^hosthog: another hosthog bridge \\(pid ${first.pid}\\) uses the state directory .* \\(stop it first`,
      'm',
    ),
  );
  first.kill('SIGKILL');
  await new Promise((res) => first.once('exit', res));
  const third = startCli(['bridge'], { env: { HOSTHOG_CONFIG: second } });
  t.after(() => {
    if (third.exitCode === null) third.kill('SIGKILL');
  });
  await waitFor(
    () =>
      existsSync(join(cfg.stateDir, 'bridge.pid')) &&
      readFileSync(join(cfg.stateDir, 'bridge.pid'), 'utf8').trim() === String(third.pid),
    'a stale pid file is taken over',
  );
  await waitFor(() => third.output().includes('hosthog bridge started'), 'third bridge up');
  third.kill('SIGTERM');
  await new Promise((res) => third.once('exit', res));
  assert.equal(existsSync(join(cfg.stateDir, 'bridge.pid')), false, 'removed on a clean stop');
});

test('a TOML syntax error names its line, in one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-badtoml-'));
  writeFileSync(join(dir, 'config.toml'), 'host = "box"\nresources = gpu0\n');
  const r = await runCli(['status'], { env: { HOSTHOG_CONFIG: join(dir, 'config.toml') } });
  assert.equal(r.code, 78);
  assert.match(
    r.stderr,
    /^hosthog: config .*config\.toml is not valid TOML at line 2, column \d+: .* \(fix line 2\)\n$/,
  );
});

test('a password file readable by others is refused with the chmod fix', async () => {
  const srvUrl = 'http://127.0.0.1:9/cal/';
  const cfg = writeTestConfig({ calendarUrl: srvUrl });
  const { chmodSync } = await import('node:fs');
  chmodSync(cfg.dir + '/password', 0o644);
  const r = await runCli(['sync'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /readable by group or others.*chmod 600/);
});
