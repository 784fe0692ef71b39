/**
 * Issue 4 through the REAL bridge process (`hosthog bridge` as root, calendar = a local vdir):
 * hh-bob is logged in over a real ssh login (sshd registers the pty in /var/run/utmp) and has
 * a real tmux server with a client attached on a real pty. "Another client" drops claims into
 * the vdir; the bridge's notices reach bob's tty and tmux exactly once each, across a SIGTERM
 * restart and a kill -9 restart. `hosthog notify` as hh-alice is signed with the verified
 * sender and rate-limited; `hosthog who` as a plain user goes through the bridge; the motd has
 * the who line; a hostile title reaches the tty without control bytes. Also: the profile.d
 * snippet prints the brief status in an interactive shell inside tmux, nothing otherwise.
 *
 * Note: the CLI runs with cwd = the repo (`--import tsx` resolves from the child's cwd).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  mkdtempSync,
  rmSync,
  readFileSync,
  existsSync,
  mkdirSync,
  writeFileSync,
  chmodSync,
  renameSync,
} from 'node:fs';
import { join } from 'node:path';
import { asUser, sh, killTmux, sshLogin } from './harness/logins.js';
import { tmuxWithClient } from './harness/tmux.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { startCli, runCli, waitFor, REPO, cliCommand } from './harness/cli.js';
import { writeTestConfig, vevent, type TestConfig } from './harness/config.js';
import { freePort } from './harness/free-port.js';
import { isClean } from '../src/core/sanitize.js';

const users = ensureTestUsers();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Unique: other test files' bridges (all root, all on this host) reach bob's tty too.
const HOST = `nbe${process.pid}`;

function count(hay: string, needle: string | RegExp): number {
  if (typeof needle === 'string') return hay.split(needle).length - 1;
  return (hay.match(new RegExp(needle.source, 'g')) ?? []).length;
}
/** Drop an .ics into the vdir atomically, as another client (vdirsyncer, khal) would. */
function dropEvent(vdir: string, name: string, ics: string): void {
  const tmp = join(vdir, `.${name}.tmp`);
  writeFileSync(tmp, ics, { mode: 0o644 });
  renameSync(tmp, join(vdir, `${name}.ics`));
}

type Bridge = ChildProcess & { output: () => string };
async function startBridge(cfg: TestConfig, all: Bridge[]): Promise<Bridge> {
  const b = startCli(['bridge'], {
    env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' },
    cwd: REPO,
  }) as Bridge;
  all.push(b);
  await waitFor(
    () => b.output().includes('hosthog bridge started') || b.exitCode !== null,
    'bridge start',
    30_000,
  );
  assert.equal(b.exitCode, null, `bridge exited: ${b.output().slice(-2000)}`);
  return b;
}
async function stopBridge(b: Bridge, signal: NodeJS.Signals): Promise<void> {
  if (b.exitCode !== null || b.signalCode !== null) return;
  const gone = new Promise((r) => b.once('exit', r));
  b.kill(signal);
  await Promise.race([gone, sleep(15_000)]);
  if (b.exitCode === null && b.signalCode === null) {
    b.kill('SIGKILL');
    await gone;
  }
}

const HOSTILE_NOTE =
  '\u001b]0;EVILTITLE\u0007\u001b[2J\u001b[31mred\u001b[0m bell\u0007 ' +
  '\u202eesrever\u202c $(touch /tmp/hh-pwned-e2e) #{pane_id} end';

const throughRealBridge =
  'notifications through the real bridge: new/reminder/started once each across restarts; ' +
  'notify, who, motd, hostile title';
test(throughRealBridge, { timeout: 300_000 }, async (t) => {
  const bob = users['hh-bob'];
  const alice = users['hh-alice'];
  const carol = users['hh-carol'];
  const dir = mkdtempSync('/tmp/hh-nbe2e-');
  chmodSync(dir, 0o755);
  const vdir = join(dir, 'calendar');
  mkdirSync(vdir, { mode: 0o755 });
  const sshDir = join(dir, 'ssh');
  mkdirSync(sshDir, { mode: 0o755 });
  const outer = join(dir, 'outer.sock');
  const label = `hhnbe${process.pid}`;
  const procs: ChildProcess[] = [];
  const bridges: Bridge[] = [];
  let bobSock = '';
  t.after(async () => {
    for (const b of bridges) await stopBridge(b, 'SIGTERM').catch(() => undefined);
    for (const p of procs.reverse()) {
      try {
        p.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    killTmux(outer);
    if (bobSock) killTmux(bobSock);
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
    rmSync('/tmp/hh-pwned-e2e', { force: true });
  });
  rmSync('/tmp/hh-pwned-e2e', { force: true });

  const cfg = writeTestConfig({
    dir,
    vdir,
    host: HOST,
    extra: '[notify]\nreminders = ["1m"]\nchannels = ["wall", "tmux"]\nrate_limit_per_hour = 2\n',
  });
  const login = await sshLogin(bob, sshDir, procs);
  bobSock = await tmuxWithClient(bob, label, outer);
  const tmuxLog = () => sh(['tmux', '-S', bobSock, 'show-messages']);
  const tmuxCount = (re: RegExp) =>
    tmuxLog()
      .split('\n')
      .filter((l) => / message: hosthog: /.test(l) && re.test(l)).length;

  let bridge = await startBridge(cfg, bridges);
  await waitFor(() => existsSync(join(cfg.stateDir, 'snapshot.json')), 'first refresh', 20_000);
  await sleep(500);

  // The claim appears in the vdir, written by another client; it starts ~75 s from now.
  const t0 = Date.now();
  const start = new Date(Math.ceil((t0 + 75_000) / 1000) * 1000);
  dropEvent(
    vdir,
    'paper',
    vevent('paper-1@test', 'hh-alice exclusive: paper', start, new Date(start.getTime() + 600_000)),
  );
  const NEW = `hh-alice claimed ${HOST}`;
  const REMIND = new RegExp(`hh-alice's claim on ${HOST} starts in \\d`);
  const STARTED = `hh-alice's claim on ${HOST} started`;
  await waitFor(() => login.out().includes(NEW), "new-claim notice on bob's tty", 12_000);
  const newAfter = Date.now() - t0;
  t.diagnostic(`new-claim notice on the tty ${newAfter} ms after the file appeared`);
  assert.ok(newAfter <= 12_000, `within a poll or two: ${newAfter} ms`);
  await waitFor(() => tmuxCount(new RegExp(NEW)) >= 1, "new-claim notice on bob's tmux", 5000);
  // (wall sends CR LF; the pty's ONLCR adds one more CR before each LF.)
  assert.match(
    login.out(),
    new RegExp(
      `\\*\\*\\* hosthog ${HOST} \\(urgent\\) \\*\\*\\*\\r+\\n` +
        `hh-alice claimed ${HOST}\\r+\\n` +
        `exclusive: the whole host, \\d\\d:\\d\\d–\\d\\d:\\d\\d · "paper"\\r+\\n`,
    ),
  );

  // Restart 1: SIGTERM + start (before the reminder is due at start − 1 min).
  await stopBridge(bridge, 'SIGTERM');
  assert.equal(bridge.exitCode, 0, bridge.output().slice(-1500));
  bridge = await startBridge(cfg, bridges);
  await waitFor(
    () => REMIND.test(login.out()),
    "reminder on bob's tty",
    start.getTime() - 60_000 - Date.now() + 15_000,
  );
  await waitFor(() => tmuxCount(REMIND) >= 1, "reminder on bob's tmux", 5000);
  assert.ok(Date.now() >= start.getTime() - 60_000, 'reminder not early');

  // Restart 2: kill -9 + start (a stale socket is left behind).
  await stopBridge(bridge, 'SIGKILL');
  bridge = await startBridge(cfg, bridges);

  // hosthog notify as hh-alice (claiming to be someone else): signed with the verified sender.
  const env = { HOSTHOG_CONFIG: cfg.path, HOME: alice.home, USER: 'someone-else', LOGNAME: 'someone-else' };
  // Unique per run: another copy of this test may run at the same time and reach bob too.
  const msg = `please stop your jobs on gpu1 by 17:00 [${HOST}]`;
  const r1 = await runCli(['notify', msg], { uid: alice.uid, gid: alice.gid, env, cwd: REPO });
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /hh-bob/);
  await waitFor(() => login.out().includes(`${msg} — from hh-alice`), "message on bob's tty", 5000);
  assert.ok(login.out().includes('Message from hh-alice'));
  assert.ok(!login.out().includes('someone-else'));
  await waitFor(
    () =>
      tmuxLog()
        .split('\n')
        .filter(
          (l) =>
            / message: hosthog: /.test(l) && l.includes(`Message from hh-alice — ${msg} — from hh-alice`),
        ).length === 1,
    "message on bob's tmux",
    5000,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n${tmuxLog()}`);
  });
  const r2 = await runCli(['notify', `second one ${HOST}`], {
    uid: alice.uid,
    gid: alice.gid,
    env,
    cwd: REPO,
  });
  assert.equal(r2.code, 0, r2.stderr);
  const r3 = await runCli(['notify', `third one ${HOST}`], {
    uid: alice.uid,
    gid: alice.gid,
    env,
    cwd: REPO,
  });
  assert.equal(r3.code, 77, `${r3.stdout}\n${r3.stderr}`);
  assert.equal(r3.stderr.trim().split('\n').length, 1, r3.stderr);
  assert.match(r3.stderr, /2 messages in the last hour/);
  await sleep(500);
  assert.ok(!login.out().includes(`third one ${HOST}`));

  // hosthog who, as a plain user, through the bridge.
  const cenv = { HOSTHOG_CONFIG: cfg.path, HOME: carol.home };
  const w = await runCli(['who'], { uid: carol.uid, gid: carol.gid, env: cenv, cwd: REPO });
  assert.equal(w.code, 0, w.stderr);
  const bobLine = w.stdout.split('\n').find((l) => l.startsWith('hh-bob '));
  assert.ok(bobLine && /tmux/.test(bobLine) && /ssh|tty/.test(bobLine), w.stdout);
  const wj = await runCli(['who', '--json'], { uid: carol.uid, gid: carol.gid, env: cenv, cwd: REPO });
  assert.equal(wj.code, 0, wj.stderr);
  const parsed = JSON.parse(wj.stdout) as { rows: { user: string; how: string[] }[]; flags: unknown[] };
  const row = parsed.rows.find((r) => r.user === 'hh-bob');
  assert.ok(
    row && row.how.includes('tmux') && (row.how.includes('ssh') || row.how.includes('tty')),
    wj.stdout,
  );

  // The motd carries the one-line who summary.
  const motdLine = await waitFor(
    () =>
      (existsSync(cfg.motd) &&
        readFileSync(cfg.motd, 'utf8')
          .split('\n')
          .find((l) => /\d+ users? on: .*hh-bob \((ssh|tty)[^)]*tmux/.test(l))) ||
      '',
    'who line in the motd',
    20_000,
  );
  assert.ok(Array.from(motdLine).length <= 78, motdLine);

  // A hostile title through the whole path (far enough ahead that only "new" is due).
  const before = login.out().length;
  const hstart = new Date(Date.now() + 26 * 3_600_000);
  dropEvent(
    vdir,
    'hostile',
    vevent(
      'hostile-1@test',
      `hh-carol shared gpu0: ${HOSTILE_NOTE}`,
      hstart,
      new Date(hstart.getTime() + 3_600_000),
    ),
  );
  const got = await waitFor(
    () => {
      const s = login.out().slice(before);
      return s.includes('esrever') && s.includes('end"') ? s : '';
    },
    'hostile notice on the tty',
    15_000,
  );
  assert.ok(got.includes(`hh-carol claimed ${HOST}`), got);
  assert.ok(isClean(got.replace(/[\r\n]/g, '')), `control bytes reached the tty: ${JSON.stringify(got)}`);
  assert.ok(!got.includes('EVILTITLE'));
  assert.ok(got.includes('$(touch /tmp/hh-pwned-e2e) #{pane_id} end'), got);
  await waitFor(
    () => tmuxCount(new RegExp(`hh-carol claimed ${HOST}`)) === 1,
    'hostile notice on tmux',
    5000,
  );
  const hostileTmux = tmuxLog()
    .split('\n')
    .find((l) => / message: hosthog: /.test(l) && l.includes(`hh-carol claimed ${HOST}`))!;
  assert.ok(
    isClean(hostileTmux) && !hostileTmux.includes('EVILTITLE') && hostileTmux.includes('#{pane_id} end'),
    hostileTmux,
  );
  assert.equal(existsSync('/tmp/hh-pwned-e2e'), false);

  // "started" at the claim's start.
  await waitFor(
    () => login.out().includes(STARTED),
    "started on bob's tty",
    start.getTime() - Date.now() + 15_000,
  );
  await waitFor(() => tmuxCount(new RegExp(STARTED)) >= 1, "started on bob's tmux", 5000);
  assert.ok(
    Date.now() >= start.getTime(),
    `started not early: ${Date.now() - start.getTime()} ms; tty: ${JSON.stringify(login.out())}; ` +
      `bridge: ${bridge.output().slice(-3000)}`,
  );

  // Two more polls, then count: each notice exactly once on each channel.
  await sleep(11_000);
  const out = login.out();
  assert.equal(count(out, NEW), 1, 'new once on the tty');
  assert.equal(count(out, REMIND), 1, 'reminder once on the tty');
  assert.equal(count(out, STARTED), 1, 'started once on the tty');
  assert.equal(count(out, `${msg} — from hh-alice`), 1, 'message once on the tty');
  assert.equal(count(out, `hh-carol claimed ${HOST}`), 1, 'hostile new once on the tty');
  assert.equal(tmuxCount(new RegExp(NEW)), 1, 'new once on tmux');
  assert.equal(tmuxCount(REMIND), 1, 'reminder once on tmux');
  assert.equal(tmuxCount(new RegExp(STARTED)), 1, 'started once on tmux');
  assert.equal(bridge.exitCode, null, 'bridge still running');
});

test(
  'profile.d snippet: brief status in an interactive shell inside tmux, nothing in a non-interactive one',
  { timeout: 120_000 },
  async (t) => {
    const bob = users['hh-bob'];
    const dave = users['hh-dave'];
    const dir = mkdtempSync('/tmp/hh-profile-');
    chmodSync(dir, 0o755);
    const vdir = join(dir, 'calendar');
    mkdirSync(vdir, { mode: 0o755 });
    const bin = join(dir, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    const label = `hhprof${process.pid}`;
    const sock = `/tmp/tmux-${bob.uid}/${label}`;
    const bridges: Bridge[] = [];
    t.after(async () => {
      for (const b of bridges) await stopBridge(b, 'SIGTERM').catch(() => undefined);
      killTmux(sock);
      rmSync(dir, { recursive: true, force: true });
    });
    const cfg = writeTestConfig({ dir, vdir, host: HOST, extra: '[notify]\nchannels = []\n' });
    const now = Date.now();
    dropEvent(
      vdir,
      'dave',
      vevent(
        'dave-1@test',
        'hh-dave shared gpu0: training',
        new Date(now - 600_000),
        new Date(now + 3_600_000),
      ),
    );
    await startBridge(cfg, bridges);
    await waitFor(() => existsSync(join(cfg.stateDir, 'snapshot.json')), 'snapshot.json', 20_000);
    assert.ok(dave);

    // A `hosthog` on PATH that runs the real CLI (absolute tsx loader: works from any cwd).
    const loader = `file://${join(REPO, 'node_modules/tsx/dist/loader.mjs')}`;
    const argv = cliCommand().map((a) => (a === 'tsx' ? loader : a));
    const calls = join(dir, 'calls');
    writeFileSync(calls, '', { mode: 0o666 });
    chmodSync(calls, 0o666);
    writeFileSync(join(bin, 'hosthog'), `#!/bin/sh\necho "$*" >> ${calls}\nexec ${argv.join(' ')} "$@"\n`, {
      mode: 0o755,
    });
    const snippet = join(REPO, 'config/profile.d-hosthog.sh');
    const rc = join(dir, 'rc.sh');
    writeFileSync(rc, `. ${snippet}\nPS1='PROMPT> '\n`, { mode: 0o644 });
    const uenv = { HOSTHOG_CONFIG: cfg.path, PATH: `${bin}:/usr/bin:/bin` };

    sh(
      asUser(
        bob,
        [
          'tmux',
          '-L',
          label,
          'new-session',
          '-d',
          '-s',
          'main',
          '-x',
          '200',
          '-y',
          '30',
          `bash --noprofile --rcfile ${rc} -i`,
        ],
        uenv,
      ),
    );
    const pane = await waitFor(
      () => {
        const s = sh(['tmux', '-S', sock, 'capture-pane', '-p', '-t', 'main']);
        return s.includes('PROMPT>') ? s : '';
      },
      'interactive shell prompt',
      30_000,
    );
    const lines = pane.split('\n').filter((l) => l.trim());
    assert.equal(lines[0], `${HOST}: in use by hh-dave`, pane);
    assert.equal(lines.length, 2, pane); // the status line, then the prompt

    // Non-interactive shells (bash and dash), even inside tmux: nothing at all.
    for (const shell of ['bash', 'sh']) {
      const out = sh(asUser(bob, [shell, '-c', `. ${snippet}; echo END`], { ...uenv, TMUX: '/tmp/x,1,0' }));
      assert.equal(out, 'END\n', `${shell}: ${JSON.stringify(out)}`);
    }
    // Interactive but outside tmux/screen: nothing either (the motd shows there).
    const outside = sh(asUser(bob, ['bash', '--noprofile', '--rcfile', rc, '-i', '-c', 'echo END'], uenv));
    assert.equal(outside, 'END\n');
    // The GPU line starts a process only where the config names GPUs (here gpu0 and gpu1: in tmux
    // and outside); with a config that names none, no process is started for it.
    assert.equal(readFileSync(calls, 'utf8'), 'status --brief\ngpus --mine --hint\ngpus --mine --hint\n');
    const noGpus = join(dir, 'no-gpus.toml');
    writeFileSync(
      noGpus,
      readFileSync(cfg.path, 'utf8').replace(/^resources = .*$/m, 'resources = ["disk0"]'),
      {
        mode: 0o644,
      },
    );
    writeFileSync(calls, '');
    const plain = { ...uenv, HOSTHOG_CONFIG: noGpus };
    assert.equal(
      sh(asUser(bob, ['bash', '--noprofile', '--rcfile', rc, '-i', '-c', 'echo END'], plain)),
      'END\n',
    );
    assert.equal(readFileSync(calls, 'utf8'), '');
  },
);
