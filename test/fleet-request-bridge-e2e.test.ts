/**
 * `hosthog request` ON the host, through the REAL bridge (root, calendar = a local vdir): hh-alice
 * asks for hh-bob's claim over the bridge socket; the request is stored in bob's event under
 * alice's PROVEN name (not what her environment says), bob's tmux (a real server with a client
 * attached) gets the notice naming alice, `hosthog status` shows the open request until bob
 * closes it. Shared state (real users, tmux): run under flock /tmp/hosthog-e2e.lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { asUser, sh, killTmux } from './harness/logins.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { startCli, runCli, waitFor, REPO } from './harness/cli.js';
import { writeTestConfig, vevent } from './harness/config.js';

const users = ensureTestUsers();
const HOST = `frq${process.pid}`;

const REQUEST_TITLE =
  'request on the host: stored under the proven requester, the holder is told on tmux, ' +
  'status shows it until closed';
test(REQUEST_TITLE, { timeout: 180_000 }, async (t) => {
  const bob = users['hh-bob'];
  const alice = users['hh-alice'];
  const dir = mkdtempSync('/tmp/hh-frq-');
  chmodSync(dir, 0o755);
  const vdir = join(dir, 'calendar');
  mkdirSync(vdir, { mode: 0o755 });
  const outer = join(dir, 'outer.sock');
  const label = `hhfrq${process.pid}`;
  const bobSock = `/tmp/tmux-${bob.uid}/${label}`;
  let bridge: (ChildProcess & { output: () => string }) | undefined;
  t.after(async () => {
    if (bridge && bridge.exitCode === null) {
      const gone = new Promise((r) => bridge!.once('exit', r));
      bridge.kill('SIGTERM');
      await gone;
    }
    killTmux(outer);
    killTmux(bobSock);
    rmSync(dir, { recursive: true, force: true });
  });
  const cfg = writeTestConfig({
    dir,
    vdir,
    host: HOST,
    extra: '[notify]\nchannels = ["tmux"]\nrate_limit_per_hour = 5\n',
  });
  const now = Date.now();
  writeFileSync(
    join(vdir, 'bob-claim.ics'),
    vevent('bob-claim-1', 'hh-bob exclusive: training', new Date(now - 3_600_000), new Date(now + 3_600_000)),
    { mode: 0o644 },
  );

  // bob: a tmux server with a client attached on a real pty (from root's outer tmux).
  sh(
    asUser(bob, [
      'tmux',
      '-L',
      label,
      'new-session',
      '-d',
      '-s',
      'main',
      '-x',
      '250',
      '-y',
      '40',
      'sleep 3600',
    ]),
  );
  sh([
    'tmux',
    '-S',
    outer,
    'new-session',
    '-d',
    '-s',
    'o',
    '-x',
    '250',
    '-y',
    '30',
    asUser(bob, ['tmux', '-S', bobSock, 'attach', '-t', 'main'])
      .map((a) => `'${a}'`)
      .join(' '),
  ]);
  await waitFor(
    () => sh(['tmux', '-S', bobSock, 'list-clients', '-F', '#{client_name}']).trim(),
    "bob's tmux client",
    10_000,
  );

  bridge = startCli(['bridge'], {
    env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' },
    cwd: REPO,
  });
  await waitFor(
    () => bridge!.output().includes('hosthog bridge started') || bridge!.exitCode !== null,
    'bridge start',
    30_000,
  );
  await waitFor(() => existsSync(join(cfg.stateDir, 'snapshot.json')), 'first refresh', 20_000);
  const as = (u: TestUser, args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(args, {
      uid: u.uid,
      gid: u.gid,
      env: { HOSTHOG_CONFIG: cfg.path, HOME: u.home, USER: u.name, ...env },
    });

  // alice's environment claims she is someone else: the bridge goes by the socket's proof.
  const r = await as(alice, ['request', 'bob-claim-1', '-m', 'could I have it from 15:00?'], {
    HOSTHOG_USER: 'hh-mallory',
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /asked hh-bob for their claim/);
  const ics = readFileSync(join(vdir, 'bob-claim.ics'), 'utf8').replace(/\r\n[ \t]/g, '');
  assert.match(ics, /X-HOSTHOG-REQUEST;[^:]*X-HOSTHOG-FROM=hh-alice[^:]*:could I have it from 15:00\?/);
  assert.doesNotMatch(ics, /mallory/);

  const tmuxLog = () => sh(['tmux', '-S', bobSock, 'show-messages']);
  await waitFor(
    () =>
      tmuxLog()
        .split('\n')
        .some(
          (l) => l.includes('Message from hh-alice') && l.includes('hh-alice asks for your claim bob-clai'),
        ),
    "the notice on bob's tmux",
    10_000,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n${tmuxLog()}`);
  });

  const st = await waitFor(
    async () => {
      const s = await as(bob, ['status']);
      return /REQUEST from hh-alice/.test(s.stdout) ? s.stdout : '';
    },
    'the request in status',
    15_000,
  );
  assert.match(st, /REQUEST from hh-alice to hh-bob: could I have it from 15:00\?/);
  const own = await as(bob, ['request', 'bob-claim-1', '-m', 'mine']);
  assert.equal(own.code, 64, 'nobody requests their own claim');
  const notHolder = await as(alice, ['request', 'bob-claim-1', '--close']);
  assert.equal(notHolder.code, 77, 'only the holder (or an admin) closes');
  const close = await as(bob, ['request', 'bob-claim-1', '--close']);
  assert.equal(close.code, 0, close.stderr);
  await waitFor(
    async () => !/REQUEST/.test((await as(bob, ['status'])).stdout),
    'the request gone from status',
    15_000,
  );
  assert.doesNotMatch(readFileSync(join(vdir, 'bob-claim.ics'), 'utf8'), /X-HOSTHOG-REQUEST/);
});
