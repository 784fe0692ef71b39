/**
 * Hog enforcement decisions. Pure: which hog is active now, which users' key files get covered
 * with what, the message the blocked users see, and the overlay text that replaces their keys.
 * src/host/hog/hog-mounts.ts carries the plan out.
 *
 * THE RULE (copied to the docs):
 *  - A hog is active while a claim with hog set HOLDS (src/core/conflicts.ts) and start ≤ now < end.
 *  - Never START a hog from a cache older than hog.maxCacheAgeMs. A hog already being enforced
 *    continues from the cached claim until its end (no network needed to end it); a claim
 *    deleted or shortened in the cache ends it at once / at the new end.
 *  - If several users' hogs hold at once (disjoint resources), the earliest booked one is
 *    enforced and the other holders (and the users they allow) are let in too.
 *  - Exempt from the lockout: root (uid 0), the holder, the holder's allow list, hog.breakGlass.
 *  - A key file that is a symlink is covered where it lands (resolved once, in sshd's namespace)
 *    only if that is a regular file owned by the same user; a link to root's or another user's
 *    file is never covered (src/host/hog/hog-mounts.ts checks it right before the mount).
 */
import type { Claim } from './types.js';
import type { Config } from '../config/schema.js';
import { rule, bookingOrder } from './conflicts.js';
import { cleanText } from './sanitize.js';
import { formatTime } from './format-time.js';

export interface UserEntry { name: string; uid: number; home: string }
export interface HogDecision { active: Claim | null; reason?: string }

export function decideHog(claims: Claim[], now: Date, cacheAgeMs: number, config: Config, currentlyEnforcing: boolean): HogDecision {
  const t = now.getTime();
  const { holds } = rule(claims);
  const hogs = holds.filter((c) => c.hog && c.start.getTime() <= t && t < c.end.getTime()).sort(bookingOrder);
  if (hogs.length === 0) return { active: null, reason: currentlyEnforcing ? 'the hog claim ended or is gone' : 'no hog claim is active' };
  const stale = !Number.isFinite(cacheAgeMs) || cacheAgeMs > config.hog.maxCacheAgeMs;
  if (stale && !currentlyEnforcing) {
    return { active: null, reason: `calendar cache is ${Math.round(cacheAgeMs / 1000)}s old (max ${Math.round(config.hog.maxCacheAgeMs / 1000)}s): not starting a hog` };
  }
  const first = hogs[0];
  const others = hogs.slice(1).filter((c) => c.user !== first.user);
  if (others.length === 0) return { active: first, reason: stale ? 'continuing from a stale cache until the claim ends' : undefined };
  const allow = [...new Set([...first.allow, ...others.flatMap((c) => [c.user, ...c.allow])])];
  return { active: { ...first, allow }, reason: `${others.length + 1} hogs at once: also letting in ${others.map((c) => c.user).join(', ')}` };
}

export type PathKind = 'file' | 'symlink' | 'missing' | 'other';

export interface Cover {
  user: string;
  file: string;
  mode: 'message' | 'empty';
  /** The user's uid: the enforcer covers the file only if it is still a regular file owned by it. */
  uid: number;
  /** The pattern was absolute and outside the user's home: a root-owned file is accepted too. */
  rootOwnedOk: boolean;
  /**
   * The key file is a symlink: the enforcer resolves it ONCE in sshd's namespace and covers the
   * file it lands on only if that is a regular file owned by this uid (never root's, never another
   * user's: a link to /etc/shadow or to someone else's keys is not followed further).
   */
  viaLink?: boolean;
}
export interface CoverPlan {
  covers: Cover[];
  skipped: { user: string; file?: string; why: string }[];
  /** What blocked users see (hogMessage), shell-safe. */
  message: string;
}

/** The users never locked out during this hog. */
export function exemptUsers(hog: Claim, config: Config): Set<string> {
  return new Set(['root', hog.user, ...hog.allow, ...config.hog.breakGlass]);
}

/** Expand one AuthorizedKeysFile pattern (sshd's %h %u %% tokens; relative = under home). */
export function expandPattern(pattern: string, user: UserEntry): string | null {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch !== '%') { out += ch; continue; }
    const n = pattern[++i];
    if (n === '%') out += '%';
    else if (n === 'h') out += user.home;
    else if (n === 'u') out += user.name;
    else if (n === 'U') out += String(user.uid);
    else return null; // unknown token: sshd would refuse it too
  }
  if (!out.startsWith('/')) out = user.home.replace(/\/+$/, '') + '/' + out;
  return normalize(out);
}

function normalize(p: string): string | null {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return null; // never walk upwards out of a home
    parts.push(seg);
  }
  return '/' + parts.join('/');
}

const SAFE_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.@$-]*$/;

export function planCovers(hog: Claim, users: UserEntry[], authorizedKeysFiles: string[], existing: (path: string) => PathKind, config: Config): CoverPlan {
  const exempt = exemptUsers(hog, config);
  const covers: Cover[] = [];
  const skipped: CoverPlan['skipped'] = [];
  const seen = new Set<string>();
  for (const u of users) {
    if (exempt.has(u.name) || u.uid === 0) continue;
    if (!SAFE_NAME.test(u.name) || u.name.length > 64) { skipped.push({ user: u.name, why: 'odd user name' }); continue; }
    if (!u.home.startsWith('/') || u.home === '/' || /[\0\n]/.test(u.home)) { skipped.push({ user: u.name, why: `unusable home "${cleanText(u.home, 80)}"` }); continue; }
    const home = existing(u.home);
    if (home === 'missing') { skipped.push({ user: u.name, why: 'home is missing' }); continue; }
    for (const pattern of authorizedKeysFiles) {
      if (pattern === 'none') continue;
      const file = expandPattern(pattern, u);
      if (file === null) { skipped.push({ user: u.name, why: `cannot expand AuthorizedKeysFile "${cleanText(pattern, 80)}"` }); continue; }
      if (seen.has(file)) { skipped.push({ user: u.name, file, why: 'already covered for another user' }); continue; }
      const kind = existing(file);
      if (kind === 'missing') continue; // nothing to cover: sshd finds no keys there either
      if (kind === 'other') { skipped.push({ user: u.name, file, why: 'key file is not a regular file' }); continue; }
      seen.add(file);
      const inHome = file.startsWith(u.home.replace(/\/+$/, '') + '/');
      if (kind === 'symlink') {
        // sshd follows it, so the hog must cover where it lands; the enforcer checks the landing.
        covers.push({ user: u.name, file, mode: config.hog.lockout, uid: u.uid, rootOwnedOk: false, viaLink: true });
        continue;
      }
      covers.push({ user: u.name, file, mode: config.hog.lockout, uid: u.uid, rootOwnedOk: pattern.startsWith('/') && !pattern.includes('%h') && !inHome });
    }
  }
  return { covers, skipped, message: hogMessage(hog, config) };
}

/** Keep only what is safe inside command="…" run by any login shell: no quotes, backslashes, $, `, !, ;, …. */
export function shellSafe(s: string): string {
  return Array.from(s).filter((ch) => /[\p{L}\p{N} .,:()_@+\-/=#~%]/u.test(ch)).join('').replace(/\s+/g, ' ').trim();
}

/** "gpu-box-3 is hogged by alice until 17:00 (benchmarks)". */
export function hogMessage(hog: Claim, config: Config): string {
  const until = formatTime(hog.end, config.timezone, hog.start);
  const what = shellSafe(cleanText(hog.note || hog.title, 80)); // the note ("benchmarks"), not "alice hog: benchmarks"
  const msg = `${shellSafe(cleanText(config.host, 60))} is hogged by ${shellSafe(cleanText(hog.user, 40))} until ${shellSafe(until)}${what ? ` (${what})` : ''}`;
  return shellSafe(cleanText(msg, 200));
}

/** The forced command that prints the message (message must come from hogMessage). */
export function messageCommand(message: string): string {
  return `/bin/echo '${shellSafe(message)}'; exit 1`;
}

const KEY_TYPE = /^(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com|[a-z0-9-]+-cert-v01@openssh\.com)$/;
const BLOB = /^[A-Za-z0-9+/]+={0,3}$/;

/** Split an authorized_keys line into options and the rest; null if the quoting is broken. */
function splitOptions(line: string): { options: string; rest: string } {
  const first = line.split(/\s+/, 1)[0];
  if (KEY_TYPE.test(first)) return { options: '', rest: line };
  let i = 0;
  let quoted = false;
  for (; i < line.length; i++) {
    const ch = line[i];
    if (quoted && ch === '\\' && line[i + 1] === '"') { i++; continue; }
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ' ' || ch === '\t')) break;
  }
  return { options: line.slice(0, i), rest: line.slice(i).trim() };
}

/** Each valid key line → `restrict,command="…" <type> <blob> [comment]`; everything else dropped. */
export function overlayContent(keysText: string, message: string): string {
  const out: string[] = [];
  const cmd = messageCommand(message);
  for (const raw of keysText.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const { options, rest } = splitOptions(line);
    if (/(^|,)\s*cert-authority\b/i.test(options)) continue; // a CA is not a login key: never turn it into one
    const [type, blob, ...comment] = rest.split(/\s+/);
    if (!type || !blob || !KEY_TYPE.test(type) || !BLOB.test(blob)) continue;
    const c = cleanText(comment.join(' ').replace(/["\\]/g, ''), 120);
    out.push(`restrict,command="${cmd}" ${type} ${blob}${c ? ' ' + c : ''}`);
  }
  return out.length ? out.join('\n') + '\n' : '';
}
