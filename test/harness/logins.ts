/**
 * Real logins for tests that need someone at a terminal: commands run as a test user, a tmux
 * server to tear down, and an ssh login on a real pty (a private sshd on loopback), as the
 * notification and request e2e tests use them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestUser } from './users.js';
import { waitFor } from './cli.js';
import { freePort } from './free-port.js';

/** argv that runs cmd as u, with a clean environment (a UTF-8 locale, a 256-colour terminal). */
export function asUser(u: TestUser, cmd: string[], env: Record<string, string> = {}): string[] {
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
    'TERM=xterm-256color',
    'LC_ALL=C.UTF-8',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...cmd,
  ];
}

/** Run argv (no shell), its stdout as text. */
export function sh(cmd: string[], input?: string): string {
  // A UTF-8 locale whatever the runner's: tmux shows non-ASCII to a non-UTF-8 client as '_'.
  return execFileSync(cmd[0], cmd.slice(1), {
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    timeout: 10_000,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
  });
}

/** Stop a tmux server and remove its socket (gone already is fine). */
export function killTmux(sock: string): void {
  try {
    execFileSync('tmux', ['-S', sock, 'kill-server'], { stdio: 'ignore', timeout: 5000 });
  } catch {
    /* gone */
  }
  rmSync(sock, { force: true });
}

/** A real sshd (same mount namespace: it writes /var/run/utmp) and `ssh -tt` login of `u`. */
export async function sshLogin(
  u: TestUser,
  dir: string,
  procs: ChildProcess[],
): Promise<{ tty: string; out: () => string }> {
  if (!existsSync('/var/run/utmp'))
    execFileSync('install', ['-m', '664', '-g', 'utmp', '/dev/null', '/var/run/utmp']);
  mkdirSync('/run/sshd', { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')]);
  writeFileSync(join(dir, `authorized_keys_${u.name}`), readFileSync(join(dir, 'user_key.pub')), {
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
      `AllowUsers ${u.name}`,
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
  await waitFor(
    () => sshdErr.includes('listening') || existsSync(join(dir, 'sshd.pid')),
    'sshd listening',
    10_000,
  );
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
      `${u.name}@127.0.0.1`,
      'echo LOGGED-IN; tty; sleep 900',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  procs.push(client);
  let out = '';
  let err = '';
  client.stdout!.on('data', (d) => {
    out += d;
  });
  client.stderr!.on('data', (d) => {
    err += d;
  });
  const tty = await waitFor(() => /(\/dev\/pts\/\d+)/.exec(out)?.[1] ?? '', 'ssh login', 15_000).catch(
    (e) => {
      throw new Error(`${(e as Error).message}: ${err} ${sshdErr}`);
    },
  );
  return { tty, out: () => out };
}
