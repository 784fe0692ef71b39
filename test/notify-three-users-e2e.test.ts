/**
 * Issue 12: notices reach exactly those they concern, once. Through the REAL bridge (root,
 * local vdir calendar, channels wall + tmux) with three real users: hh-alice and hh-bob each
 * in their own tmux (a client attached on a real pty; tmux registers the panes in utmp), hh-carol
 * on a plain tty (a real ssh login). They claim, edit, get a reminder, hog and release with the
 * real CLI; each notice is counted on every tmux server's message log and carol's tty, and no
 * wall banner may be drawn over a tmux client or pane. Real users: run under
 * flock /tmp/hosthog-e2e.lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { asUser, sh, killTmux, sshLogin } from './harness/logins.js';
import { tmuxWithClient } from './harness/tmux.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { startCli, runCli, waitFor, REPO } from './harness/cli.js';
import { writeTestConfig, vevent } from './harness/config.js';
import { freePort } from './harness/free-port.js';

const users = ensureTestUsers();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOST = `three${process.pid}`;

const count = (hay: string, needle: string) => hay.split(needle).length - 1;

const threeUsers =
  'three users (two in tmux, one on a tty): claim, edit, reminder, hog, release ' +
  'each reach exactly those concerned, once';
test(threeUsers, { timeout: 360_000 }, async (t) => {
  const [alice, bob, carol] = [users['hh-alice'], users['hh-bob'], users['hh-carol']];
  const dir = mkdtempSync('/tmp/hh-three-');
  chmodSync(dir, 0o755);
  const vdir = join(dir, 'calendar');
  mkdirSync(vdir, { mode: 0o755 });
  const sshDir = join(dir, 'ssh');
  mkdirSync(sshDir, { mode: 0o755 });
  const outer = join(dir, 'outer.sock');
  const label = `hh3u${process.pid}`;
  const procs: ChildProcess[] = [];
  const socks: string[] = [];
  let bridge: ChildProcess | null = null;
  t.after(async () => {
    if (bridge && bridge.exitCode === null) {
      const gone = new Promise((r) => bridge!.once('exit', r));
      bridge.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
    }
    for (const p of procs.reverse()) {
      try {
        p.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    killTmux(outer);
    for (const s of socks) killTmux(s);
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  });

  const cfg = writeTestConfig({
    dir,
    vdir,
    host: HOST,
    extra: '[notify]\nreminders = ["1m"]\nchannels = ["wall", "tmux"]\n',
  });
  const login = await sshLogin(carol, sshDir, procs);
  const aliceSock = await tmuxWithClient(alice, label, outer, 200);
  const bobSock = await tmuxWithClient(bob, label, outer, 200);
  socks.push(aliceSock, bobSock);
  const tmuxLog = (sock: string) =>
    sh(['tmux', '-S', sock, 'show-messages'])
      .split('\n')
      .filter((l) => / message: hosthog: /.test(l))
      .join('\n');
  const seen = () => ({
    'hh-alice': tmuxLog(aliceSock),
    'hh-bob': tmuxLog(bobSock),
    'hh-carol': login.out(),
  });

  bridge = startCli(['bridge'], {
    env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' },
    cwd: REPO,
  });
  const bout = bridge as ChildProcess & { output: () => string };
  await waitFor(() => bout.output().includes('hosthog bridge started'), 'bridge start', 30_000);
  await waitFor(() => existsSync(join(cfg.stateDir, 'snapshot.json')), 'first refresh', 20_000);

  const as = async (u: TestUser, args: string[]) => {
    const r = await runCli(args, {
      uid: u.uid,
      gid: u.gid,
      env: { HOSTHOG_CONFIG: cfg.path, HOME: u.home },
      cwd: REPO,
    });
    assert.equal(r.code, 0, `${u.name} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  /**
   * Wait until `text` reached every one of `to`; then the expected and the others are checked at
   * the end.
   */
  const expected: { text: string; to: string[] }[] = [];
  const expect = async (text: string, to: string[]) => {
    expected.push({ text, to });
    await waitFor(
      () => to.every((u) => count(seen()[u as keyof ReturnType<typeof seen>], text) >= 1),
      `"${text}" to ${to.join(', ')}`,
      150_000,
    ).catch((e) => {
      throw new Error(
        `${(e as Error).message}\n${JSON.stringify(seen(), null, 1).slice(-3000)}\n` +
          bout.output().slice(-2000),
      );
    });
  };

  // claim: alice takes gpu1 (shared) now.
  const claimed = JSON.parse(
    await as(alice, ['claim', 'gpu1', '--for', '1h', '-m', 'first run', '--json']),
  ) as { uid: string };
  await expect(`hh-alice claimed ${HOST}`, ['hh-bob', 'hh-carol']);
  // edit: alice's own note edit.
  await as(alice, ['edit', claimed.uid.slice(0, 8), '-m', 'second run']);
  await expect(`hh-alice's claim on ${HOST} changed`, ['hh-bob', 'hh-carol']);
  // bob books gpu1 from in 2 minutes: alice is told (not bob); the reminder goes to bob and alice
  // (gpu1), not carol.
  await as(bob, ['claim', 'gpu1', '--in', '2m', '--for', '10m', '-m', 'later run']);
  await expect(`hh-bob claimed ${HOST}`, ['hh-alice', 'hh-carol']);
  // hog: carol's hog tomorrow takes the host from everyone: alice and bob are told, urgently.
  // (Booked from carol's phone: the CLI refuses a hog the gate could not hold on this unwired machine.)
  const hs = new Date(Date.now() + 26 * 3_600_000);
  writeFileSync(
    join(vdir, 'hog.ics'),
    vevent('hog-1@phone', 'hh-carol hog: benchmarks', hs, new Date(hs.getTime() + 3_600_000)),
  );
  await expect(`hh-carol claimed ${HOST}`, ['hh-alice', 'hh-bob']);
  await expect(`hh-bob's claim on ${HOST} starts in`, ['hh-alice', 'hh-bob']);
  // release: alice ends hers; bob and carol are told.
  await as(alice, ['release', claimed.uid.slice(0, 8)]);
  await expect(`hh-alice's claim on ${HOST} was released`, ['hh-bob', 'hh-carol']);
  // Two more polls: nothing arrives twice, nothing reaches whom it does not concern.
  await sleep(11_000);
  const s = seen();
  for (const { text, to } of expected) {
    for (const u of ['hh-alice', 'hh-bob', 'hh-carol']) {
      assert.equal(
        count(s[u as keyof typeof s], text),
        to.includes(u) ? 1 : 0,
        `"${text}" to ${u}: ${to.includes(u) ? 'once' : 'never'}\n${s[u as keyof typeof s].slice(-2000)}`,
      );
    }
  }
  // carol's own hog notice never reached her.
  assert.equal(count(login.out(), 'hh-carol claimed'), 0);
  // No wall banner over a tmux client's terminal or inside a pane (tmux showed it on its status line).
  for (const u of [alice, bob]) {
    const pane = sh(['tmux', '-S', `/tmp/tmux-${u.uid}/${label}`, 'capture-pane', '-p', '-t', 'main']);
    const client = sh(['tmux', '-S', outer, 'capture-pane', '-p', '-t', u.name]);
    assert.equal(count(pane + client, '*** hosthog'), 0, `${u.name}: wall over tmux:\n${pane}\n${client}`);
  }
  // The panes are in utmp (so wall would have reached them): the test is not vacuous.
  const who = sh(['who']);
  assert.match(who, /hh-alice .*\(tmux\(\d+\)\.%\d+\)/, who);
});
