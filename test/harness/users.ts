/**
 * Real unix users for tests (created once, idempotently, by root): hh-alice, hh-bob, hh-carol,
 * hh-dave, plus the group hh-admins (dave is in it). Homes under /home, shells /bin/bash,
 * password field '*' so sshd with UsePAM no accepts key logins.
 */
import { execFileSync } from 'node:child_process';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export const TEST_USERS = ['hh-alice', 'hh-bob', 'hh-carol', 'hh-dave'] as const;
export const ADMIN_GROUP = 'hh-admins';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function exists(kind: 'passwd' | 'group', name: string): boolean {
  try {
    run('getent', [kind, name]);
    return true;
  } catch {
    return false;
  }
}

export function ensureTestUsers(): Record<string, TestUser> {
  if (process.getuid?.() !== 0) throw new Error('test users need root: run the test suite as root');
  if (!exists('group', ADMIN_GROUP)) run('/usr/sbin/groupadd', [ADMIN_GROUP]);
  const out: Record<string, TestUser> = {};
  for (const name of TEST_USERS) {
    if (!exists('passwd', name)) {
      try {
        run('/usr/sbin/useradd', ['--create-home', '--shell', '/bin/bash', name]);
      } catch (e) {
        if (!exists('passwd', name)) throw e; // a parallel test file created it first
      }
      run('/usr/sbin/usermod', ['-p', '*', name]);
    }
    if (name === 'hh-dave') run('/usr/sbin/usermod', ['-aG', ADMIN_GROUP, name]);
    const [, , uid, gid, , home] = run('getent', ['passwd', name]).trim().split(':');
    out[name] = { name, uid: Number(uid), gid: Number(gid), home };
  }
  return out;
}
