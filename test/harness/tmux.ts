/**
 * Test users' own tmux servers: a detached session on a private socket, and a client attached to
 * it on a real pty (root's outer tmux runs `tmux attach` as the user), as the channel and
 * notification tests need them.
 */
import type { TestUser } from './users.js';
import { waitFor } from './cli.js';
import { asUser, sh } from './logins.js';

/** u's tmux server on socket /tmp/tmux-UID/LABEL, one detached session "main" running `sleep`. */
export function userTmux(u: TestUser, label: string, width = 250): string {
  const sock = `/tmp/tmux-${u.uid}/${label}`;
  const session = ['new-session', '-d', '-s', 'main', '-x', String(width), '-y', '40', 'sleep 3600'];
  sh(asUser(u, ['tmux', '-L', label, ...session]));
  return sock;
}

/** Attach a client of u to the server at sock from root's outer tmux (one session per user). */
export async function attachClient(u: TestUser, sock: string, outer: string, width = 250): Promise<void> {
  const attach = asUser(u, ['tmux', '-S', sock, 'attach', '-t', 'main'])
    .map((a) => `'${a}'`)
    .join(' ');
  sh(['tmux', '-S', outer, 'new-session', '-d', '-s', u.name, '-x', String(width), '-y', '30', attach]);
  await waitFor(
    () => sh(['tmux', '-S', sock, 'list-clients', '-F', '#{client_name}']).trim(),
    `${u.name}'s tmux client`,
    10_000,
  );
}

/** userTmux + attachClient: u's server with a client on a real pty; its socket. */
export async function tmuxWithClient(
  u: TestUser,
  label: string,
  outer: string,
  width = 250,
): Promise<string> {
  const sock = userTmux(u, label, width);
  await attachClient(u, sock, outer, width);
  return sock;
}
