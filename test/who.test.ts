/**
 * who: the pure view from fixed data, then real sessions of real users: hh-alice on a tty
 * (a real pty in a utmp file written by utmpdump), hh-bob with a tmux server and a busy loop,
 * hh-carol with a fake vscode-server process tree (argv like ~/.vscode-server/bin/…/node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { discoverSessions } from '../src/host/sessions/sessions.js';
import { whoRows, whoSummaryLine, renderWho, isRemoteHost, type HostSessions } from '../src/core/who-view.js';
import type { Claim } from '../src/core/types.js';
import { isClean } from '../src/core/sanitize.js';

const NOW = new Date('2026-03-02T10:00:00Z');
function claim(p: Partial<Claim>): Claim {
  return {
    kind: 'claim',
    uid: 'c1',
    recurring: false,
    allDay: false,
    user: 'carol',
    mode: 'exclusive',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    title: 't',
    start: new Date(NOW.getTime() - 3_600_000),
    end: new Date(NOW.getTime() + 3_600_000),
    ...p,
  };
}
const usage = (user: string, uid: number, p: Partial<HostSessions['users'][0]> = {}) => ({
  user,
  uid,
  gid: uid,
  procs: 3,
  cpuPct: 0,
  rssBytes: 50 * 2 ** 20,
  vscode: false,
  gpuProcs: 0,
  gpuMemMiB: 0,
  ...p,
});

const FIXED: HostSessions = {
  at: NOW,
  ttys: [{ user: 'alice', line: 'pts/1', host: '10.0.0.5', pid: 10, loginAt: NOW, idleMs: 125_000 }],
  tmux: [{ user: 'alice', uid: 1001, gid: 1001, socket: '/tmp/tmux-1001/default', clients: [] }],
  graphical: [
    { user: 'dave', uid: 1004, gid: 1004, bus: 'unix:path=/run/user/1004/bus', display: ':0', xrdp: false },
  ],
  users: [
    usage('alice', 1001),
    usage('bob', 1002, { cpuPct: 210, procs: 9 }),
    usage('carol', 1003, { vscode: true }),
    usage('dave', 1004),
    usage('sysd', 1005),
  ],
};

test('whoRows: how each user is on, the claim they hold, heavy use flagged', () => {
  const { rows, flags } = whoRows(
    FIXED,
    [claim({ user: 'carol' }), claim({ uid: 'old', user: 'alice', end: NOW })],
    NOW,
  );
  assert.deepEqual(
    rows.map((r) => [r.user, r.how, r.claim]),
    [
      ['alice', ['ssh', 'tmux'], null],
      ['bob', [], null],
      ['carol', ['vscode'], 'exclusive'],
      ['dave', ['graphical'], null],
    ],
  );
  assert.equal(rows[0].idleMs, 125_000);
  assert.deepEqual(
    flags.map((f) => [f.user, f.holder]),
    [['bob', 'carol']],
  );
  assert.match(
    flags[0].text,
    /heavy use by bob \(2\.1 cpu\) who holds no claim while carol's exclusive claim is active/,
  );
  // Allowed by the holder, or only a shared claim active: no flag.
  assert.deepEqual(whoRows(FIXED, [claim({ user: 'carol', allow: ['bob'] })], NOW).flags, []);
  assert.deepEqual(whoRows(FIXED, [claim({ user: 'carol', mode: 'shared' })], NOW).flags, []);
  // bob holding his own claim: no flag.
  assert.deepEqual(
    whoRows(
      FIXED,
      [claim({ user: 'carol' }), claim({ uid: 'b', user: 'bob', mode: 'shared', resources: ['gpu1'] })],
      NOW,
    ).flags,
    [],
  );
});

test('utmp host fields: a remote address is ssh; tmux panes, screen and a local X display are not', () => {
  for (const h of ['10.0.0.5', 'laptop.lab.example.org', '2001:db8::1', '127.0.0.1', '10.0.0.5:S.0'])
    assert.equal(isRemoteHost(h), true, h);
  for (const h of ['', ' ', 'tmux(3451).%0', 'tmux(12).%13', ':0', ':1.0', 'local:S.1', ':pts/0:S.0'])
    assert.equal(isRemoteHost(h), false, h);
});

test('whoSummaryLine and renderWho (≤ 80 columns, hostile names cleaned)', () => {
  const { rows, flags } = whoRows(FIXED, [claim({ user: 'carol' })], NOW);
  assert.equal(
    whoSummaryLine(rows),
    '4 users on: alice (ssh, tmux), bob (2.1 cpu), carol (vscode), dave (graphical)',
  );
  assert.equal(whoSummaryLine([]), 'nobody on');
  const table = renderWho(rows, { flags });
  const lines = table.split('\n');
  assert.match(lines[0], /^USER\s+HOW\s+PROCS\s+CPU\s+MEM\s+IDLE\s+CLAIM$/);
  assert.match(lines[1], /^alice\s+ssh,tmux\s+3\s+0%\s+50M\s+2m\s+-$/);
  assert.match(lines[3], /^carol\s+vscode\s+3\s+0%\s+50M\s+-\s+exclusive$/);
  assert.match(lines[5], /^! heavy use by bob/);
  for (const l of lines) assert.ok(Array.from(l).length <= 80, `too wide: ${l}`);
  const evil: HostSessions = {
    ...FIXED,
    ttys: [{ ...FIXED.ttys[0], user: '\u001b]0;x\u0007ev\u202eil' + 'z'.repeat(200) }],
  };
  const t2 = renderWho(whoRows(evil, [], NOW).rows);
  for (const l of t2.split('\n')) {
    assert.ok(isClean(l));
    assert.ok(Array.from(l).length <= 80);
  }
});

// ---- real sessions ----

const users = ensureTestUsers();
function asUser(u: TestUser, cmd: string[]): string[] {
  return [
    'setpriv',
    `--reuid=${u.uid}`,
    `--regid=${u.gid}`,
    '--init-groups',
    'env',
    '-i',
    `HOME=${u.home}`,
    `USER=${u.name}`,
    'PATH=/usr/bin:/bin',
    'TERM=xterm',
    'LC_ALL=C.UTF-8',
    ...cmd,
  ];
}
function sh(cmd: string[], input?: string | Buffer): string {
  return execFileSync(cmd[0], cmd.slice(1), { encoding: 'utf8', input, timeout: 10_000 });
}

test('who on the real host: alice on a tty, bob in tmux burning cpu, carol in vscode', async (t) => {
  const { 'hh-alice': alice, 'hh-bob': bob, 'hh-carol': carol } = users;
  const dir = mkdtempSync('/tmp/hh-who-');
  const aSock = `/tmp/tmux-${alice.uid}/hhwho${process.pid}`;
  const bSock = `/tmp/tmux-${bob.uid}/hhwho${process.pid}`;
  const procs: ChildProcess[] = [];
  t.after(() => {
    for (const p of procs) {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const s of [aSock, bSock]) {
      try {
        execFileSync('tmux', ['-S', s, 'kill-server'], { stdio: 'ignore' });
      } catch {
        /* gone */
      }
      rmSync(s, { force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const bg = (cmd: string[]) => {
    const p = spawn(cmd[0], cmd.slice(1), { stdio: 'ignore', detached: true });
    procs.push(p);
    return p;
  };

  // alice: a pty of her own, registered as an ssh login in a utmp file.
  sh(asUser(alice, ['tmux', '-S', aSock, 'new-session', '-d', '-s', 'a', 'sleep 3600']));
  const [tty, panePid] = sh([
    'tmux',
    '-S',
    aSock,
    'display-message',
    '-p',
    '-t',
    'a',
    '#{pane_tty} #{pane_pid}',
  ])
    .trim()
    .split(' ');
  const line = tty.slice(5);
  const utmp = join(dir, 'utmp');
  writeFileSync(
    utmp,
    execFileSync('utmpdump', ['-r'], {
      input:
        `[7] [${panePid.padStart(5, '0')}] [${line.slice(-4)}] [hh-alice] [${line.padEnd(12)}] ` +
        '[192.0.2.7           ] [192.0.2.7      ] [2026-11-22T05:00:00,000000+00:00]\n',
      stdio: ['pipe', 'pipe', 'ignore'],
    }),
  );
  // bob: a tmux server and a busy loop.
  sh(asUser(bob, ['tmux', '-S', bSock, 'new-session', '-d', '-s', 'b', 'sleep 3600']));
  bg(asUser(bob, ['sh', '-c', 'while :; do :; done']));
  // carol: a fake vscode-server tree.
  bg(
    asUser(carol, [
      'bash',
      '-c',
      '(exec -a /home/hh-carol/.vscode-server/bin/xyz/node sleep 600) & ' +
        'exec -a "/home/hh-carol/.vscode-server/bin/xyz/node ' +
        '/home/hh-carol/.vscode-server/bin/xyz/out/server-main.js --start-server" sleep 600',
    ]),
  );
  await new Promise((r) => setTimeout(r, 300));

  const s = await discoverSessions({ utmpPath: utmp, sampleMs: 1000 });
  assert.deepEqual(
    s.ttys.filter((x) => x.line === line).map((x) => [x.user, x.host]),
    [['hh-alice', '192.0.2.7']],
  );
  assert.ok(s.tmux.some((x) => x.socket === bSock && x.user === 'hh-bob' && x.uid === bob.uid));
  const carolUse = s.users.find((u) => u.user === 'hh-carol');
  assert.ok(carolUse?.vscode, 'carol runs vscode-server');
  assert.ok(carolUse.procs >= 2);
  const bobUse = s.users.find((u) => u.user === 'hh-bob');
  assert.ok(bobUse && bobUse.cpuPct >= 30, `bob's cpu ${bobUse?.cpuPct}`);
  assert.ok(bobUse.rssBytes > 0);

  const now = new Date();
  const held = claim({
    user: 'hh-carol',
    start: new Date(now.getTime() - 60_000),
    end: new Date(now.getTime() + 3_600_000),
  });
  const { rows, flags } = whoRows(s, [held], now, { heavyCpuPct: 30 });
  const row = (u: string) => rows.find((r) => r.user === u);
  assert.ok(row('hh-alice')?.how.includes('ssh'));
  assert.ok(row('hh-alice')?.idleMs !== null);
  assert.ok(row('hh-bob')?.how.includes('tmux'));
  assert.ok(row('hh-carol')?.how.includes('vscode'));
  assert.ok(!row('hh-carol')?.how.includes('tmux'));
  assert.equal(row('hh-carol')?.claim, 'exclusive');
  assert.ok(
    flags.some((f) => f.user === 'hh-bob' && f.holder === 'hh-carol'),
    JSON.stringify(flags),
  );
  const summary = whoSummaryLine(rows);
  assert.match(summary, /hh-alice \(ssh, tmux/);
  assert.match(summary, /hh-carol \(vscode/);
  for (const l of renderWho(rows, { flags }).split('\n')) assert.ok(Array.from(l).length <= 80);
});
