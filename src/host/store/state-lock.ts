/**
 * One bridge per state directory: state_dir/bridge.pid names the bridge that uses it. Created
 * atomically with its content (link()); a file left by a bridge that died (kill -9, power loss) is
 * taken over when no live process with that pid is a hosthog bridge run by the same user (root) from
 * the same node (isHosthogBridge: not merely any process whose arguments contain "bridge"). Two
 * bridges on one cache would each enforce hogs, notify twice and race on the cache.
 */
import {
  linkSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { HosthogError } from '../../core/errors.js';

export const LOCK_FILE = 'bridge.pid';

function holder(file: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  return isHosthogBridge(pid) ? pid : null; // a reused pid, or anyone's look-alike, holds nothing
}

const MAIN = /\/dist\/src\/cli\/main\.js$/;

/**
 * Is process `pid` really a hosthog bridge (or a root `hosthog sync`, which takes the lock
 * while no bridge runs)? Every local user can start a process whose arguments say "bridge" and
 * write nothing else: so its real and effective uid must be ours (root for the service), its
 * executable the same node as ours, and its arguments hosthog's main.js followed by bridge or
 * sync. Anything else at the stored pid is a stale lock.
 */
export function isHosthogBridge(pid: number, procRoot = '/proc'): boolean {
  try {
    const status = readFileSync(`${procRoot}/${pid}/status`, 'utf8');
    const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    const me = process.getuid?.() ?? 0;
    if (!uids || Number(uids[1]) !== me || Number(uids[2]) !== me) return false;
    if (realpathSync(readlinkSync(`${procRoot}/${pid}/exe`)) !== realpathSync(process.execPath)) return false;
    const args = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0');
    // The script as started (maybe a relative path, or the npm bin link): resolved in its cwd.
    const cwd = readlinkSync(`${procRoot}/${pid}/cwd`);
    const isMain = (a: string) => {
      try {
        return MAIN.test(realpathSync(resolve(cwd, a)));
      } catch {
        return false;
      }
    };
    const main = args.findIndex((a, i) => i > 0 && !a.startsWith('-') && isMain(a));
    return main > 0 && args.slice(main + 1).some((a) => a === 'bridge' || a === 'sync');
  } catch {
    return false; // no such process, or not ours to read
  }
}

/** Take the state directory for this bridge; returns the release function. */
export function lockStateDir(stateDir: string): () => void {
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const file = join(stateDir, LOCK_FILE);
  const busy = (pid: number) =>
    new HosthogError(
      `another hosthog bridge (pid ${pid}) uses the state directory ${stateDir}`,
      'stop it first (systemctl stop hosthog-bridge), or give this one its own [bridge] state_dir',
    );
  // The pid file appears with its content (written aside, then link()ed: never empty to a reader).
  const mine = join(stateDir, `.${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  writeFileSync(mine, `${process.pid}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, file);
        return () => {
          if (holder(file) === null) rmSync(file, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = holder(file);
      if (pid !== null) throw busy(pid);
      // Left by a bridge that is gone: move that very file aside, then look at what was moved.
      const aside = `${mine}.stale`;
      try {
        renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = holder(aside);
      if (moved !== null) {
        // a live bridge's fresh file after all (it won a race): put it back
        try {
          linkSync(aside, file);
        } catch {
          /* it has another by now */
        }
        rmSync(aside, { force: true });
        throw busy(moved);
      }
      rmSync(aside, { force: true });
    }
  } finally {
    rmSync(mine, { force: true });
  }
  throw new HosthogError(
    `cannot take ${file}: another bridge is starting at the same moment`,
    'start one bridge per state directory',
  );
}
