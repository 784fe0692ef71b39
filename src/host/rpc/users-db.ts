/** Login users from the passwd database (getent passwd: files, LDAP, sssd …). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { UserEntry } from '../../core/hog-plan.js';

const run = promisify(execFile);

export interface UserFilter {
  /** Users with uid ≥ this are listed (default 1000). */
  minUid?: number;
  /** Names listed whatever their uid. */
  include?: string[];
}

/** Parse passwd lines; malformed lines are skipped, nobody (65534) is left out unless included. */
export function parsePasswd(text: string, filter: UserFilter = {}): UserEntry[] {
  const min = filter.minUid ?? 1000;
  const include = new Set(filter.include ?? []);
  const out: UserEntry[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.replace(/\r$/, '').split(':');
    if (f.length < 7) continue;
    const [name, , uidText, , , home] = f;
    if (!name || !/^\d+$/.test(uidText)) continue;
    const uid = Number(uidText);
    if (!Number.isSafeInteger(uid) || seen.has(name)) continue;
    const listed = include.has(name) || (uid >= min && uid !== 65534 && uid !== 4294967295);
    if (!listed) continue;
    seen.add(name);
    out.push({ name, uid, home });
  }
  return out;
}

export async function listUsers(filter: UserFilter = {}): Promise<UserEntry[]> {
  const { stdout } = await run('getent', ['passwd'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 30_000,
  });
  return parsePasswd(stdout, filter);
}
