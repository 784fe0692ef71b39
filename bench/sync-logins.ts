/**
 * Five users logged in for bench:sync's write → motd step: the test users (test/harness/users.ts)
 * plus hh-erin (created here the same way), each in their own tmux server with a client attached
 * from root's outer tmux (tmux registers the panes in utmp), as the notify e2e tests log them in.
 */
import { execFileSync } from 'node:child_process';
import { ensureTestUsers, type TestUser } from '../test/harness/users.js';
import { asUser, sh, killTmux } from '../test/harness/logins.js';
import { waitFor } from '../test/harness/cli.js';

function user(name: string): TestUser {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
  } catch {
    execFileSync('/usr/sbin/useradd', ['--create-home', '--shell', '/bin/bash', name], { stdio: 'ignore' });
    execFileSync('/usr/sbin/usermod', ['-p', '*', name], { stdio: 'ignore' });
  }
  const [, , uid, gid, , home] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' })
    .trim()
    .split(':');
  return { name, uid: Number(uid), gid: Number(gid), home };
}

export interface Logins {
  users: TestUser[];
  /** Messages tmux showed each user so far (show-messages), joined. */
  messages(u: TestUser): string;
  close(): void;
}

/** Log five users in (tmux with an attached client each); close() ends every tmux server. */
export async function fiveLogins(label: string): Promise<Logins> {
  const users = [...Object.values(ensureTestUsers()), user('hh-erin')].slice(0, 5);
  const outer = `/tmp/hh-bench-outer-${label}`;
  const socks: string[] = [];
  const close = () => {
    for (const s of socks) killTmux(s);
    killTmux(outer);
  };
  try {
    for (const u of users) {
      const sock = `/tmp/tmux-${u.uid}/${label}`;
      sh(
        asUser(u, [
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
          '40',
          'sleep 3600',
        ]),
      );
      socks.push(sock);
      const attach = asUser(u, ['tmux', '-S', sock, 'attach', '-t', 'main'])
        .map((a) => `'${a}'`)
        .join(' ');
      sh(['tmux', '-S', outer, 'new-session', '-d', '-s', u.name, '-x', '200', '-y', '30', attach]);
      await waitFor(
        () => sh(['tmux', '-S', sock, 'list-clients', '-F', '#{client_name}']).trim(),
        `${u.name}'s tmux client`,
        10_000,
      );
    }
  } catch (e) {
    close();
    throw e;
  }
  return {
    users,
    messages: (u) => {
      try {
        return sh(['tmux', '-S', `/tmp/tmux-${u.uid}/${label}`, 'show-messages']);
      } catch {
        return '';
      }
    },
    close,
  };
}
