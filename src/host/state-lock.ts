/**
 * One bridge per state directory: state_dir/bridge.pid names the bridge that uses it. Taken
 * with O_EXCL; a file left by a bridge that died (kill -9, power loss) is taken over when no
 * live process with that pid runs a hosthog bridge. Two bridges on one cache would each
 * enforce hogs, notify twice and race on the cache.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { HosthogError } from '../core/errors.js';

export const LOCK_FILE = 'bridge.pid';

function holder(file: string): number | null {
  let pid: number;
  try { pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10); } catch { return null; }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes('bridge') ? pid : null; // a reused pid is not a bridge
  } catch {
    return null; // no such process
  }
}

/** Take the state directory for this bridge; returns the release function. */
export function lockStateDir(stateDir: string): () => void {
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const file = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => { if (holder(file) === null) rmSync(file, { force: true }); };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = holder(file);
      if (pid !== null) {
        throw new HosthogError(`another hosthog bridge (pid ${pid}) uses the state directory ${stateDir}`,
          'stop it first (systemctl stop hosthog-bridge), or give this one its own [bridge] state_dir');
      }
      rmSync(file, { force: true }); // left by a bridge that is gone
    }
  }
  throw new HosthogError(`cannot take ${file}: another bridge is starting at the same moment`, 'start one bridge per state directory');
}
