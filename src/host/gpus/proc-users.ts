/**
 * Whose is a pid: the real uid from /proc/PID/status, mapped to a name. A pid that is not in
 * our /proc, or whose NSpid says it is another process (nvidia-smi may report pids of another
 * pid namespace), has no user here: null ("unknown user"), never dropped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PidOwner {
  user: string | null;
  start: string | null;
}

export function readPasswdNames(path = '/etc/passwd'): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2])) m.set(Number(f[2]), f[0]);
    }
  } catch {
    /* no names: uids are shown */
  }
  return m;
}

export function pidOwner(pid: number, names: Map<number, string>, procRoot = '/proc'): PidOwner {
  let status: string;
  try {
    status = readFileSync(join(procRoot, String(pid), 'status'), 'utf8');
  } catch {
    return { user: null, start: null };
  }
  const nspid = /^NSpid:\s*(\d+)/m.exec(status);
  if (nspid && Number(nspid[1]) !== pid) return { user: null, start: null };
  const uid = /^Uid:\s*(\d+)/m.exec(status);
  if (!uid) return { user: null, start: null };
  let start: string | null = null;
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): starttime is #22.
    start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    /* gone meanwhile */
  }
  const n = Number(uid[1]);
  return { user: names.get(n) ?? `uid ${n}`, start };
}
