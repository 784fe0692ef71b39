/**
 * Reads a user's ~/.config/hosthog/notify.toml for root's bridge. The file belongs to the user
 * and is hostile: opened with O_NOFOLLOW|O_NONBLOCK, must be a regular file owned by that user,
 * at most PREFS_MAX_BYTES; a parse error or odd value is dropped and logged, never fatal.
 * Read again at most every 5 s per user.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parsePasswd } from '../rpc/users-db.js';
import { parse } from 'smol-toml';
import { parsePrefs, PREFS_MAX_BYTES, type NotifyPrefs } from '../../core/notify-prefs.js';
import { cleanText } from '../../core/sanitize.js';

export function prefsPath(home: string): string {
  return join(home, '.config', 'hosthog', 'notify.toml');
}

export function readPrefsFile(
  home: string,
  uid: number,
  warn: (msg: string) => void = () => undefined,
): NotifyPrefs | null {
  const path = prefsPath(home);
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') warn(`${path}: not read (${code})`);
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      warn(`${path}: not a regular file, ignored`);
      return null;
    }
    if (st.uid !== uid) {
      warn(`${path}: not owned by the user, ignored`);
      return null;
    }
    if (st.size > PREFS_MAX_BYTES) {
      warn(`${path}: over ${PREFS_MAX_BYTES} bytes, ignored`);
      return null;
    }
    const buf = Buffer.alloc(PREFS_MAX_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > PREFS_MAX_BYTES) {
      warn(`${path}: over ${PREFS_MAX_BYTES} bytes, ignored`);
      return null;
    }
    let raw: Record<string, unknown>;
    try {
      raw = parse(buf.subarray(0, n).toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      warn(`${path}: not valid TOML, ignored (${cleanText((e as Error).message.split('\n')[0], 100)})`);
      return null;
    }
    const { prefs, problems } = parsePrefs(raw);
    if (problems.length) warn(`${path}: ${cleanText(problems.join('; '), 200)}`);
    return prefs;
  } finally {
    closeSync(fd);
  }
}

/** A cached lookup by user name (home and uid from the sessions data or getpwnam). */
export function prefsLookup(
  homeOf: (user: string) => { home: string; uid: number } | null,
  warn: (msg: string) => void,
  ttlMs = 5_000,
) {
  const cache = new Map<string, { at: number; prefs: NotifyPrefs | null }>();
  return (user: string): NotifyPrefs | null => {
    const hit = cache.get(user);
    if (hit && Date.now() - hit.at < ttlMs) return hit.prefs;
    const who = homeOf(user);
    const prefs = who ? readPrefsFile(who.home, who.uid, warn) : null;
    cache.set(user, { at: Date.now(), prefs });
    return prefs;
  };
}

/** A user's home and uid from the passwd database (getent: files, LDAP, sssd …), or null. */
export function passwdEntry(user: string): { home: string; uid: number } | null {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(user)) return null;
  try {
    const out = execFileSync('getent', ['passwd', user], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const e = parsePasswd(out, { include: [user] })[0];
    return e && e.home ? { home: e.home, uid: e.uid } : null;
  } catch {
    return null;
  }
}
