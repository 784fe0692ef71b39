/**
 * Five users logged in for bench:sync's write → motd step: the test users (test/harness/users.ts)
 * plus hh-erin (created here the same way), each in their own tmux server with a client attached
 * from root's outer tmux (test/harness/tmux.ts, as the notify e2e tests log them in).
 */
import { execFileSync } from 'node:child_process';
import { ensureTestUsers, type TestUser } from '../test/harness/users.js';
import { sh, killTmux } from '../test/harness/logins.js';
import { tmuxWithClient } from '../test/harness/tmux.js';

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
  const close = () => {
    for (const u of users) killTmux(`/tmp/tmux-${u.uid}/${label}`);
    killTmux(outer);
  };
  try {
    for (const u of users) await tmuxWithClient(u, label, outer, 200);
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
