/**
 * Channels against real parts, as root with real users: a tty (a real pty owned by the user,
 * registered in a utmp file written by util-linux's utmpdump), a real tmux server of hh-bob
 * with a client attached on a real pty (from an outer tmux), a real private D-Bus session bus
 * of hh-carol with a notification server that logs the caller's uid.
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
  chownSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { asUser, sh, killTmux } from './harness/logins.js';
import { userTmux, attachClient } from './harness/tmux.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { discoverSessions } from '../src/host/sessions/sessions.js';
import { wallChannel, wallText } from '../src/host/sessions/channels/wall.js';
import { tmuxChannel, tmuxText } from '../src/host/sessions/channels/tmux.js';
import { desktopChannel } from '../src/host/sessions/channels/desktop.js';
import { notifyRun } from '../src/host/sessions/channels/index.js';
import { Ledger } from '../src/host/sessions/ledger.js';
import { validateConfig } from '../src/config/schema.js';
import type { Notice } from '../src/core/notify-plan.js';
import { isClean } from '../src/core/sanitize.js';

const users = ensureTestUsers();
const PY = '/usr/bin/python3'; // Debian's, with python3-dbus and python3-gi
// From test/ (tsx) or dist/test/ (compiled): the .py file stays in the source tree.
const HERE = dirname(fileURLToPath(import.meta.url)); // (import.meta.dirname needs Node 20.11)
const NOTIFY_SERVER = [
  join(HERE, 'harness', 'notification-server.py'),
  join(HERE, '..', '..', 'test', 'harness', 'notification-server.py'),
].find((p) => existsSync(p))!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const HOSTILE =
  '\u001b]0;EVILTITLE\u0007\u001b[2J\u001b[31mred\u001b[0m bell\u0007 \u202eesrever\u202c ' +
  "$(touch /tmp/pwned) '; touch /tmp/pwned2 # #{pane_id} " +
  'A'.repeat(10_000);
const hostile: Notice = {
  key: 'x',
  kind: 'message',
  urgent: true,
  to: 'all',
  title: HOSTILE,
  body: HOSTILE,
  at: new Date(),
};
const plain: Notice = {
  key: 'p',
  kind: 'reminder',
  urgent: false,
  to: 'all',
  title: "hh-alice's claim on box starts in 5m",
  body: 'exclusive: the whole host, 11:00–13:00 · "run #1"',
  at: new Date(),
};

function noControls(s: string, allowCrLf = false): boolean {
  const t = allowCrLf ? s.replace(/[\r\n]/g, '') : s;
  return isClean(t);
}

const wallRealPty =
  'wall: a real pty registered in utmp receives exactly the cleaned text; hostile text runs nothing';
test(wallRealPty, async (t) => {
  const alice = users['hh-alice'];
  const dir = mkdtempSync('/tmp/hh-wall-');
  chownSync(dir, alice.uid, alice.gid); // tmux's pipe-pane runs as alice
  const label = `hhwall${process.pid}`;
  const sock = userTmux(alice, label);
  t.after(() => {
    killTmux(sock);
    rmSync(dir, { recursive: true, force: true });
  });
  rmSync('/tmp/pwned', { force: true });
  rmSync('/tmp/pwned2', { force: true });

  const [tty, panePid] = sh([
    'tmux',
    '-S',
    sock,
    'display-message',
    '-p',
    '-t',
    'main',
    '#{pane_tty} #{pane_pid}',
  ])
    .trim()
    .split(' ');
  assert.match(tty, /^\/dev\/pts\/\d+$/);
  const raw = join(dir, 'raw');
  // Record every byte that reaches the pty (the terminal side), in addition to what tmux shows.
  sh(['tmux', '-S', sock, 'pipe-pane', '-o', '-t', 'main', `cat >> ${raw}`]);
  const line = tty.slice(5);
  const utmp = join(dir, 'utmp');
  const rec =
    `[7] [${panePid.padStart(5, '0')}] [${line.slice(-4)}] [hh-alice] [${line.padEnd(12)}] ` +
    '[127.0.0.1           ] [127.0.0.1      ] [2026-11-22T05:00:00,000000+00:00]\n';
  writeFileSync(utmp, execFileSync('utmpdump', ['-r'], { input: rec }));

  const sessions = await discoverSessions({ utmpPath: utmp, sampleMs: 50 });
  const mine = sessions.ttys.filter((s) => s.line === line);
  assert.deepEqual(
    mine.map((s) => [s.user, s.host]),
    [['hh-alice', '127.0.0.1']],
  );
  assert.ok(mine[0].idleMs !== null && mine[0].idleMs >= 0);

  const wall = wallChannel({ host: 'gpu-box-3' });
  const rep = await wall.deliver(plain, sessions);
  assert.deepEqual(rep.delivered, [{ user: 'hh-alice', target: tty }]);
  assert.deepEqual(rep.failed, []);
  const expected = wallText(plain, 'gpu-box-3');
  // The pty's line discipline (ONLCR) turns each LF into CR LF on the way out.
  const onTerminal = expected.replace(/\n/g, '\r\n');
  await until('raw bytes', () => existsSync(raw) && readFileSync(raw, 'utf8').includes('run #1')).catch(
    () => undefined,
  );
  assert.equal(existsSync(raw) ? readFileSync(raw, 'utf8') : '(nothing)', onTerminal);
  const shown = await until('pane text', () => {
    const s = sh(['tmux', '-S', sock, 'capture-pane', '-p', '-t', 'main']);
    return s.includes('run #1') && s;
  });
  assert.match(
    shown,
    /\*\*\* hosthog gpu-box-3 \*\*\*\n.*starts in 5m\nexclusive: the whole host, 11:00–13:00 · "run #1"/,
  );

  // A tty where a tmux client runs is left to the tmux channel when asked.
  const asClient = {
    ...sessions,
    tmux: [{ user: 'hh-alice', uid: alice.uid, gid: alice.gid, socket: sock, clients: [{ name: tty, tty }] }],
  };
  assert.deepEqual((await wallChannel({ skipTmuxClients: true }).deliver(plain, asClient)).delivered, []);

  // Targeted to someone else: nothing written.
  const before = readFileSync(raw, 'utf8');
  const rep2 = await wall.deliver({ ...plain, to: { users: ['hh-bob'] } }, sessions);
  assert.deepEqual(
    rep2.delivered.filter((d) => d.target === tty),
    [],
  );

  // Hostile text: only printable text (and our CR LF) reaches the terminal; nothing runs.
  const rep3 = await wall.deliver(hostile, sessions);
  assert.equal(rep3.delivered.length, 1);
  const got = await until('hostile bytes', () => {
    const s = readFileSync(raw, 'utf8').slice(before.length);
    return s.includes('esrever') && s;
  });
  assert.ok(noControls(got, true), 'no control byte reached the tty');
  assert.ok(!got.includes('EVILTITLE'));
  assert.ok(got.length < 1000, `capped, got ${got.length}`);
  assert.equal(existsSync('/tmp/pwned') || existsSync('/tmp/pwned2'), false);
});

test('wall: refuses a tty not owned by the session user', async (t) => {
  const alice = users['hh-alice'];
  const bob = users['hh-bob'];
  const label = `hhown${process.pid}`;
  const sock = userTmux(alice, label);
  t.after(() => killTmux(sock));
  const tty = sh(['tmux', '-S', sock, 'display-message', '-p', '-t', 'main', '#{pane_tty}']).trim();
  // utmp claims bob is on alice's tty: the writer refuses.
  const sessions = {
    at: new Date(),
    ttys: [{ user: 'hh-bob', line: tty.slice(5), host: '', pid: 0, loginAt: null, idleMs: 0 }],
    tmux: [],
    graphical: [],
    users: [
      {
        user: 'hh-bob',
        uid: bob.uid,
        gid: bob.gid,
        procs: 0,
        cpuPct: 0,
        rssBytes: 0,
        vscode: false,
        gpuProcs: 0,
        gpuMemMiB: 0,
      },
    ],
  };
  const rep = await wallChannel().deliver(plain, sessions);
  assert.equal(rep.delivered.length, 0);
  assert.match(rep.failed[0].error, /not owned/);
});

test("tmux: hh-bob's server, a client on a real pty, message shown literally and run as bob", async (t) => {
  const bob = users['hh-bob'];
  const label = `hhtmux${process.pid}`;
  const sock = userTmux(bob, label);
  const outerDir = mkdtempSync('/tmp/hh-outer-');
  const outer = join(outerDir, 'outer.sock');
  t.after(() => {
    killTmux(outer);
    killTmux(sock);
    rmSync(outerDir, { recursive: true, force: true });
  });
  rmSync('/tmp/pwned', { force: true });
  rmSync('/tmp/pwned2', { force: true });
  // Outer (root's) tmux gives bob's client a real pty: it runs `tmux attach` as bob.
  await attachClient(bob, sock, outer);

  const sessions = await discoverSessions({ sampleMs: 50 });
  const srv = sessions.tmux.find((s) => s.socket === sock);
  assert.ok(srv, "bob's server found");
  assert.equal(srv.user, 'hh-bob');
  assert.equal(srv.uid, bob.uid);
  assert.equal(srv.clients.length, 1);
  assert.match(srv.clients[0].tty, /^\/dev\/pts\/\d+$/);

  const n: Notice = {
    ...plain,
    title: 'hh-carol claimed box',
    body: 'shared: gpu0 · literal #{pane_id} and #S and ## end #[fg=red]x ###[y # #, #}',
  };
  const only = { ...sessions, tmux: [srv] };
  const rep = await tmuxChannel({ displayMs: 20_000 }).deliver(n, only);
  assert.deepEqual(rep.failed, []);
  assert.deepEqual(
    rep.delivered.map((d) => d.user),
    ['hh-bob'],
  );
  const screen = await until('status message', () => {
    const s = sh(['tmux', '-S', outer, 'capture-pane', '-p', '-t', bob.name]);
    return s.includes('hosthog:') && s;
  });
  assert.ok(
    screen.includes(
      'hosthog: hh-carol claimed box — shared: gpu0 · ' +
        'literal #{pane_id} and #S and ## end #[fg=red]x ###[y # #, #}',
    ),
    screen,
  );
  // Bob's server logs who sent the command: root's clients are marked "[root]", bob's are not.
  const log = sh(['tmux', '-S', sock, 'show-messages']);
  const cmd = log.split('\n').filter((l) => /command: display-message -c /.test(l));
  assert.equal(cmd.length, 1, log);
  assert.match(cmd[0], /client-\d+ command:/);
  assert.ok(!cmd[0].includes('[root]'), 'ran as bob, not root');

  // Targeted to alice only: bob's tmux gets nothing.
  const rep2 = await tmuxChannel().deliver({ ...n, to: { users: ['hh-alice'] } }, only);
  assert.equal(rep2.delivered.length, 0);

  // Hostile: a clean single line, nothing executed, no format expansion.
  const rep3 = await tmuxChannel({ displayMs: 20_000 }).deliver(hostile, only);
  assert.equal(rep3.delivered.length, 1);
  const text = tmuxText(hostile);
  assert.ok(isClean(text) && Array.from(text).length <= 400);
  const screen3 = await until('hostile message', () => {
    const s = sh(['tmux', '-S', outer, 'capture-pane', '-p', '-t', bob.name]);
    return s.includes('esrever') && s;
  });
  const all = sh(['tmux', '-S', sock, 'show-messages']);
  const msgs = all.split('\n').filter((l) => / message: hosthog: /.test(l));
  const last = msgs[0] ?? ''; // newest first
  assert.ok(last.includes('esrever') && last.includes('#{pane_id}') && !last.includes('EVILTITLE'), all);
  assert.ok(isClean(last), 'the message tmux shows has no control characters');
  assert.ok(screen3.includes("$(touch /tmp/pwned) '; touch /tmp/pwned2 # #{pane_id} AAAA"), screen3);
  assert.equal(existsSync('/tmp/pwned') || existsSync('/tmp/pwned2'), false);
});

const desktopNotifySend =
  'desktop: notify-send as hh-carol on her own session bus; summary/body/urgency right; hostile text clean';
test(desktopNotifySend, async (t) => {
  const carol = users['hh-carol'];
  const runDir = `/run/user/${carol.uid}`;
  const created = !existsSync(runDir);
  if (created) {
    mkdirSync(runDir, { recursive: true });
    chownSync(runDir, carol.uid, carol.gid);
    chmodSync(runDir, 0o700);
  }
  const bus = join(runDir, 'bus');
  assert.equal(existsSync(bus), false, `${bus} already in use`);
  const logDir = mkdtempSync('/tmp/hh-notif-');
  chownSync(logDir, carol.uid, carol.gid);
  const log = join(logDir, 'calls.jsonl');
  const procs: ChildProcess[] = [];
  t.after(async () => {
    for (const p of procs.reverse()) {
      try {
        p.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    await sleep(100);
    rmSync(bus, { force: true });
    if (created) rmSync(runDir, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
  });
  rmSync('/tmp/pwned', { force: true });
  rmSync('/tmp/pwned2', { force: true });
  const start = (cmd: string[]) => {
    const p = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    return p;
  };

  const daemon = start(
    asUser(carol, ['dbus-daemon', '--session', '--nofork', '--print-address', `--address=unix:path=${bus}`]),
  );
  await until('bus', () => existsSync(bus));
  const addr = `unix:path=${bus}`;
  const server = start(asUser(carol, [PY, NOTIFY_SERVER, log], { DBUS_SESSION_BUS_ADDRESS: addr }));
  let out = '';
  server.stdout!.on('data', (d) => {
    out += d;
  });
  let err = '';
  server.stderr!.on('data', (d) => {
    err += d;
  });
  await until(
    'notification server',
    () =>
      out.includes('ready') ||
      (server.exitCode !== null &&
        (() => {
          throw new Error(err);
        })()),
    8000,
  );
  // A graphical login of carol: a process with DISPLAY set.
  start(asUser(carol, ['sleep', '600'], { DISPLAY: ':77' }));
  assert.ok(daemon.pid);

  let sessions = await discoverSessions({ sampleMs: 50 });
  for (let i = 0; i < 40 && !sessions.graphical.some((s) => s.user === 'hh-carol'); i++) {
    await sleep(100);
    sessions = await discoverSessions({ sampleMs: 50 });
  }
  const g = sessions.graphical.find((s) => s.user === 'hh-carol');
  assert.ok(g, JSON.stringify(sessions.graphical));
  assert.equal(g.bus, addr);
  assert.equal(g.display, ':77');

  const n: Notice = {
    ...plain,
    urgent: true,
    title: '-hh-dave claimed box',
    body: 'exclusive: the whole host <b>x</b> & more',
  };
  const rep = await desktopChannel().deliver(n, { ...sessions, graphical: [g] });
  assert.deepEqual(rep.failed, []);
  assert.deepEqual(rep.delivered, [{ user: 'hh-carol', target: addr }]);
  const calls = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  await until('Notify call', () => calls().length >= 1);
  const c = calls()[0];
  assert.equal(c.summary, '-hh-dave claimed box');
  assert.equal(c.body, 'exclusive: the whole host &lt;b&gt;x&lt;/b&gt; &amp; more');
  assert.equal(c.app_name, 'hosthog');
  assert.equal(c.urgency, 2);
  assert.equal(c.uid, carol.uid, 'sent as carol');

  // Not for carol: nothing sent.
  await desktopChannel().deliver({ ...n, to: { users: ['hh-bob'] } }, { ...sessions, graphical: [g] });
  await sleep(200);
  assert.equal(calls().length, 1);

  const rep3 = await desktopChannel().deliver(hostile, { ...sessions, graphical: [g] });
  assert.equal(rep3.delivered.length, 1);
  await until('hostile Notify', () => calls().length >= 2);
  const h = calls()[1];
  assert.ok(isClean(h.summary) && isClean(h.body));
  assert.ok(!h.summary.includes('EVILTITLE') && h.summary.includes('$(touch /tmp/pwned)'));
  assert.ok(Array.from(h.summary as string).length <= 100 && Array.from(h.body as string).length <= 400);
  assert.equal(h.urgency, 2);
  assert.equal(existsSync('/tmp/pwned') || existsSync('/tmp/pwned2'), false);
});

const wallRealSshLogin =
  'wall: a real ssh login (sshd registers the pty in /var/run/utmp) receives the cleaned text';
test(wallRealSshLogin, async (t) => {
  const alice = users['hh-alice'];
  if (!existsSync('/var/run/utmp'))
    execFileSync('install', ['-m', '664', '-g', 'utmp', '/dev/null', '/var/run/utmp']);
  mkdirSync('/run/sshd', { recursive: true });
  const dir = mkdtempSync('/tmp/hh-sshd-');
  chmodSync(dir, 0o755);
  const procs: ChildProcess[] = [];
  t.after(async () => {
    for (const p of procs.reverse()) {
      try {
        p.kill('SIGTERM');
      } catch {
        /* gone */
      }
    }
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')]);
  writeFileSync(join(dir, 'authorized_keys_hh-alice'), readFileSync(join(dir, 'user_key.pub')), {
    mode: 0o644,
  });
  const port = await freePort();
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys_%u')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `AllowUsers ${alice.name}`,
      'PrintMotd no',
      'PrintLastLog no',
      '',
    ].join('\n'),
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(sshd);
  let sshdErr = '';
  sshd.stderr!.on('data', (d) => {
    sshdErr += d;
  });
  await until('sshd listening', () => sshdErr.includes('listening') || existsSync(join(dir, 'sshd.pid')));

  const client = spawn(
    'ssh',
    [
      '-tt',
      '-i',
      join(dir, 'user_key'),
      '-p',
      String(port),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      `${alice.name}@127.0.0.1`,
      'echo LOGGED-IN; tty; sleep 60',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  procs.push(client);
  let out = '';
  let cerr = '';
  client.stdout!.on('data', (d) => {
    out += d;
  });
  client.stderr!.on('data', (d) => {
    cerr += d;
  });
  const tty = await until(
    'login',
    () => {
      const m = /(\/dev\/pts\/\d+)/.exec(out);
      return m?.[1];
    },
    10_000,
  ).catch((e) => {
    throw new Error(`${e.message}: ${cerr} ${sshdErr}`);
  });

  const sessions = await discoverSessions({ sampleMs: 50 });
  const mine = sessions.ttys.filter((s) => `/dev/${s.line}` === tty);
  assert.deepEqual(
    mine.map((s) => [s.user, s.host]),
    [['hh-alice', '127.0.0.1']],
    `utmp: ${JSON.stringify(sessions.ttys)}`,
  );
  const before = out.length;
  const rep = await wallChannel({ host: 'gpu-box-3' }).deliver(hostile, { ...sessions, ttys: mine });
  assert.deepEqual(rep.delivered, [{ user: 'hh-alice', target: tty }]);
  const expected = wallText(hostile, 'gpu-box-3').replace(/\n/g, '\r\n'); // the remote pty adds CR before LF
  // Other root bridges running tests at the same time may write to this (real, utmp-registered) tty too.
  const got = await until(
    'message over ssh',
    () => out.slice(before).includes(expected) && out.slice(before),
  );
  assert.ok(got.includes(expected), got);
  assert.ok(noControls(got, true));
  assert.equal(existsSync('/tmp/pwned') || existsSync('/tmp/pwned2'), false);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const notifyRunToTty =
  'notifyRun: plan → ledger → real tty; a restart over the same window delivers nothing again';
test(notifyRunToTty, async (t) => {
  const alice = users['hh-alice'];
  const dir = mkdtempSync('/tmp/hh-run-');
  chownSync(dir, alice.uid, alice.gid);
  const label = `hhrun${process.pid}`;
  const sock = userTmux(alice, label);
  t.after(() => {
    killTmux(sock);
    rmSync(dir, { recursive: true, force: true });
  });
  const tty = sh(['tmux', '-S', sock, 'display-message', '-p', '-t', 'main', '#{pane_tty}']).trim();
  const raw = join(dir, 'raw');
  sh(['tmux', '-S', sock, 'pipe-pane', '-o', '-t', 'main', `cat >> ${raw}`]);
  const stateDir = join(dir, 'state');
  const config = validateConfig(
    { host: 'box', timezone: 'UTC' },
    { hostname: 'box', timezone: 'UTC' },
    't',
  ).config!;
  const now = new Date();
  const claimOcc = {
    kind: 'claim' as const,
    uid: 'run1',
    recurring: false,
    allDay: false,
    user: 'hh-bob',
    mode: 'exclusive' as const,
    hog: false,
    resources: [],
    note: '',
    allow: [],
    title: 'run',
    start: new Date(now.getTime() - 30_000),
    end: new Date(now.getTime() + 3_600_000),
  };
  // Only alice's pty: never write to other people's terminals on this machine.
  const discover = async () => ({
    at: now,
    ttys: [{ user: 'hh-alice', line: tty.slice(5), host: '', pid: 0, loginAt: null, idleMs: 0 }],
    tmux: [],
    graphical: [],
    users: [
      {
        user: 'hh-alice',
        uid: alice.uid,
        gid: alice.gid,
        procs: 1,
        cpuPct: 0,
        rssBytes: 0,
        vscode: false,
        gpuProcs: 0,
        gpuMemMiB: 0,
      },
    ],
  });
  const first = await notifyRun({
    prev: null,
    next: [claimOcc],
    now,
    config,
    ledger: Ledger.load(stateDir),
    channels: [wallChannel()],
    discover,
  });
  assert.deepEqual(
    first.notices.map((n) => n.kind),
    ['started'],
  );
  assert.deepEqual(first.reports[0][0].delivered, [{ user: 'hh-alice', target: tty }]);
  await until(
    'started on tty',
    () => existsSync(raw) && readFileSync(raw, 'utf8').includes("hh-bob's claim on box started"),
  );
  // Restart: new ledger object from disk, prev = null, same moment and a bit later.
  for (const at of [now, new Date(now.getTime() + 20_000)]) {
    const again = await notifyRun({
      prev: null,
      next: [claimOcc],
      now: at,
      config,
      ledger: Ledger.load(stateDir),
      channels: [wallChannel()],
      discover,
    });
    assert.deepEqual(again.notices, []);
  }
  await sleep(200);
  assert.equal(readFileSync(raw, 'utf8').split('started').length - 1, 1, 'shown exactly once');
});
