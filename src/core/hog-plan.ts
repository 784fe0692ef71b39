/**
 * Hog enforcement decisions. Pure: which hog is enforced now, which hogs are refused and why,
 * who is let in (the gate's allow list, read by pam_listfile in sshd's PAM account phase) and
 * the message sshd's Banner shows. src/host/hog/gate.ts writes and verifies the gate's files.
 *
 * THE RULE (copied to the docs):
 *  - A hog is active while a claim with hog set HOLDS (src/core/conflicts.ts) and start ≤ now < end.
 *  - It is ENFORCED only if its holder is a real, non-system user (a known uid ≥ hog.minUid, never
 *    root), it is not longer than hog.maxLengthMs (unless an admin booked it through the bridge),
 *    and, with hog.fromCalendar off, it was booked through the bridge. Refused hogs are named
 *    (doctor, log) and lock nobody out.
 *  - Never START a hog from a cache older than hog.maxCacheAgeMs. A hog already being enforced
 *    continues from the cached claim until its end (no network needed to end it); a claim
 *    deleted or shortened in the cache ends it at once / at the new end.
 *  - If several users' hogs hold at once (disjoint resources), the earliest booked one is
 *    enforced and the other holders (and the users they allow) are let in too.
 *  - Let in during a hog: root, the holder, the holder's allow list, hog.breakGlass. Everyone else
 *    is refused by sshd's PAM account phase, whatever the login method.
 */
import type { Claim } from './types.js';
import type { Config } from '../config/schema.js';
import { rule, bookingOrder } from './conflicts.js';
import { cleanText } from './sanitize.js';
import { formatTime } from './format-time.js';

export interface UserEntry {
  name: string;
  uid: number;
  home: string;
}
export interface HogDecision {
  active: Claim | null;
  reason?: string;
  refused?: RefusedHog[];
}
export interface RefusedHog {
  claim: Claim;
  why: string;
}

/** What the enforcer knows about a hog besides the calendar (src/bridge/first-seen.ts). */
export interface HogFacts {
  /** uid of a user name (getent passwd), undefined when unknown. */
  uidOf(name: string): number | undefined;
  /** The bridge wrote this hog for a caller (CLI), and whether that caller was an admin. */
  viaBridge(uid: string): { admin: boolean } | undefined;
}

/** Why this hog must not be enforced, or null when it may be. */
export function refuseHog(c: Claim, config: Config, facts: HogFacts): string | null {
  const who = cleanText(c.user, 40);
  const uid = facts.uidOf(c.user);
  if (c.user === 'root' || uid === 0) return `a hog in root's name ("${who}") is never enforced`;
  if (uid === undefined) return `${who} is not a user of this host`;
  if (uid < config.hog.minUid)
    return `${who} is a system account (uid ${uid} < min_uid ${config.hog.minUid})`;
  const via = facts.viaBridge(c.uid);
  if (!via && !config.hog.fromCalendar)
    return `${who}'s hog was booked in a calendar app and [hog] from_calendar is off`;
  if (c.end.getTime() - c.start.getTime() > config.hog.maxLengthMs && !via?.admin) {
    const hours = Math.round(config.hog.maxLengthMs / 3_600_000);
    return `${who}'s hog is longer than [hog] max_length (${hours} h): it needs an admin`;
  }
  return null;
}

export function decideHog(
  claims: Claim[],
  now: Date,
  cacheAgeMs: number,
  config: Config,
  currentlyEnforcing: boolean,
  facts?: HogFacts,
): HogDecision {
  const t = now.getTime();
  const { holds } = rule(claims);
  const live = holds.filter((c) => c.hog && c.start.getTime() <= t && t < c.end.getTime()).sort(bookingOrder);
  const refused: RefusedHog[] = [];
  const hogs = facts
    ? live.filter((c) => {
        const why = refuseHog(c, config, facts);
        if (why) refused.push({ claim: c, why });
        return !why;
      })
    : live;
  const base = refused.length ? { refused } : {};
  if (hogs.length === 0) {
    const none = currentlyEnforcing ? 'the hog claim ended or is gone' : 'no hog claim is active';
    return { ...base, active: null, reason: refused.length ? `hog not enforced: ${refused[0].why}` : none };
  }
  const stale = !Number.isFinite(cacheAgeMs) || cacheAgeMs > config.hog.maxCacheAgeMs;
  if (stale && !currentlyEnforcing) {
    const maxS = Math.round(config.hog.maxCacheAgeMs / 1000);
    return {
      ...base,
      active: null,
      reason: `calendar cache is ${Math.round(cacheAgeMs / 1000)}s old (max ${maxS}s): not starting a hog`,
    };
  }
  const first = hogs[0];
  const others = hogs.slice(1).filter((c) => c.user !== first.user);
  if (others.length === 0)
    return {
      ...base,
      active: first,
      reason: stale ? 'continuing from a stale cache until the claim ends' : undefined,
    };
  const allow = [...new Set([...first.allow, ...others.flatMap((c) => [c.user, ...c.allow])])];
  return {
    ...base,
    active: { ...first, allow },
    reason: `${others.length + 1} hogs at once: also letting in ${others.map((c) => c.user).join(', ')}`,
  };
}

/** The users never locked out during this hog. */
export function exemptUsers(hog: Claim, config: Config): Set<string> {
  return new Set(['root', hog.user, ...hog.allow, ...config.hog.breakGlass]);
}

/** A name pam_listfile can match: one line, no spaces, nothing a passwd name cannot hold. */
const SAFE_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.@$-]*$/;

/** The allow file's bytes: one user name a line, sorted; root always. */
export function gateAllowText(hog: Claim, config: Config): string {
  const names = [...exemptUsers(hog, config)].filter((n) => n.length <= 64 && SAFE_NAME.test(n)).sort();
  return names.join('\n') + '\n';
}

/** The Banner file's bytes: the message in "message" mode, nothing in "empty" mode or with no hog. */
export function gateBannerText(hog: Claim | null, config: Config): string {
  return hog && config.hog.lockout === 'message' ? hogMessage(hog, config) + '\n' : '';
}

/** Keep only plain text: no quotes, backslashes, $, `, !, ;, control or bidi characters. */
export function shellSafe(s: string): string {
  return Array.from(s)
    .filter((ch) => /[\p{L}\p{N} .,:()_@+\-/=#~%]/u.test(ch))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}

/** "gpu-box-3 is hogged by alice until 17:00 (benchmarks)". */
export function hogMessage(hog: Claim, config: Config): string {
  const until = formatTime(hog.end, config.timezone, hog.start);
  // the note ("benchmarks"), not "alice hog: benchmarks"
  const what = shellSafe(cleanText(hog.note || hog.title, 80));
  const host = shellSafe(cleanText(config.host, 60));
  const user = shellSafe(cleanText(hog.user, 40));
  const msg = `${host} is hogged by ${user} until ${shellSafe(until)}${what ? ` (${what})` : ''}`;
  return shellSafe(cleanText(msg, 200));
}
