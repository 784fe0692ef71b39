/**
 * What the writing commands (claim, extend, edit, release, announce) should do. Pure: each
 * planner takes the request, the actor, the current occurrences, the config and `now`, and
 * returns plain data (an event spec or a patch) or throws a HosthogError with one line + hint.
 *
 * Decisions (documented in the CLI help / docs):
 *  - A claim needs an end; end must be after start; its length is at most [limits] max_claim
 *    and it starts no later than now + [limits] max_ahead; it may not start more than a minute
 *    in the past. A repeating claim needs a rule that ends (UNTIL or COUNT), each occurrence
 *    is checked, and the rule must end within max_ahead.
 *  - Conflicts follow src/core/conflicts.ts: checked against the claims that currently HOLD
 *    (rule()); overlapping + at least one exclusive (hog ⇒ exclusive) + a different user =
 *    refused with a ConflictError naming the holder, times (host zone) and uid.
 *  - A user's own overlapping claims are ALLOWED (a user never conflicts with themself; e.g.
 *    a shared claim on the host plus an exclusive one on gpu0). To lengthen a claim, use extend.
 *  - Only the owner or an admin may extend/edit/release; only admins announce or claim in
 *    another user's name.
 *  - For an occurrence of a repeating claim, extend/edit/release apply to that occurrence only
 *    (recurrenceId returned).
 *  - release: active → end now (history kept); future → cancel (for a recurring occurrence the
 *    caller cancels just that occurrence); ended → UsageError. 'delete' is never chosen today.
 */
import type { Claim, Mode } from './types.js';
import type { Config } from '../config/schema.js';
import type { ClaimSpec, AnnouncementSpec, EventPatch } from './ics-write.js';
import { encodeEvent } from './ics-write.js';
import { decodeObjects } from './ics-read.js';
import { conflicts, rule, isExclusive } from './conflicts.js';
import { ConflictError, NotFoundError, PermissionError, UsageError } from './errors.js';
import { formatDuration } from './duration.js';
import { formatRange } from './format-time.js';
import { cleanText, DEFAULT_MAX } from './sanitize.js';
import { repeatEnds } from './repeat.js';

export interface Actor {
  user: string;
  isAdmin: boolean;
}
export interface ClaimRequest {
  resources: string[];
  mode: Mode;
  hog: boolean;
  note: string;
  allow: string[];
  start: Date;
  end: Date | null;
  rrule?: string;
  /** Admin claiming for someone else. */
  user?: string;
  /** Admins: overrule every conflicting claim (claim -x --force). */
  force?: boolean;
}
export interface ClaimChanges {
  note?: string;
  until?: Date;
  start?: Date;
  resources?: string[];
  mode?: Mode;
  hog?: boolean;
  allow?: string[];
}

/** Who the admins are, from the config in use (admins and admin_group). */
export function adminHint(config?: Config): string {
  if (!config) return 'ask an admin (admins and admin_group in the hosthog config)';
  const users = [...new Set(['root', ...config.admins.users])].map((u) => cleanText(u, 32)).join(', ');
  const group = cleanText(config.admins.group, 32);
  return `ask an admin: ${users} or a member of group ${group} (admins and admin_group in ${config.source})`;
}
/** A start this far in the past still counts as "now" (typing takes time). */
export const PAST_GRACE_MS = 60_000;
/** One limit for notes everywhere: what the calendar decoder keeps (cleanText, docs/events.md). */
const NOTE_MAX = DEFAULT_MAX;
const ANNOUNCE_MAX = 500;
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

const shortUid = (uid: string) => cleanText(uid, 60).slice(0, 8);
const where = (c: { resources: string[] }) =>
  c.resources.length ? c.resources.map((r) => cleanText(r, 40)).join(',') : 'the whole host';

function describe(c: Claim, tz: string, now: Date): string {
  const mode = isExclusive(c) ? (c.hog ? 'hog' : 'exclusive') : 'shared';
  return `${shortUid(c.uid)} ${formatRange(c.start, c.end, tz, now)} ${mode} on ${where(c)}`;
}

function limitWhere(config: Config, key: string): string {
  return `${key} in [limits] of ${config.source}`;
}

function mayChange(claim: Claim, actor: Actor, verb: string, config?: Config): void {
  if (actor.isAdmin || actor.user === claim.user) return;
  throw new PermissionError(
    `cannot ${verb} ${cleanText(claim.user, 40)}'s claim ${shortUid(claim.uid)}: ` +
      'only its holder or an admin may',
    adminHint(config),
  );
}

function checkUsers(list: string[], what: string): string[] {
  const out = [...new Set(list.map((u) => u.trim()).filter(Boolean))];
  const badOne = out.find((u) => !USER_NAME.test(u) || u.length > 64);
  if (badOne !== undefined)
    throw new UsageError(
      `${what}: "${cleanText(badOne, 40)}" is not a user name`,
      what === '--allow' ? 'give login names, e.g. --allow bob,carol' : 'give a login name, e.g. --user bob',
    );
  return out;
}

function checkResources(list: string[], config: Config): string[] {
  const out = [...new Set(list.map((r) => r.trim()).filter(Boolean))];
  const unknown = out.filter((r) => !config.resources.includes(r));
  if (unknown.length) {
    const names = unknown.map((r) => `"${cleanText(r, 40)}"`).join(', ');
    const whole = 'name no resource to claim the whole host';
    const hint = config.resources.length
      ? `known resources: ${config.resources.join(', ')} (resources in ${config.source}); ${whole}`
      : `this host names no resources (resources in ${config.source}); ${whole}`;
    throw new UsageError(`unknown resource${unknown.length > 1 ? 's' : ''} ${names} on ${config.host}`, hint);
  }
  return out;
}

function checkNote(note: string): string {
  // Refused, not cut silently (as announcements).
  if (Array.from(note.trim()).length > NOTE_MAX)
    throw new UsageError(
      `a note may have at most ${NOTE_MAX} characters`,
      'shorten it; the calendar app can hold longer descriptions',
    );
  return cleanText(note, NOTE_MAX);
}

function checkSpan(start: Date, end: Date, config: Config): void {
  if (!(end.getTime() > start.getTime())) {
    throw new UsageError('a claim must end after it starts', 'check --until / --for (and --at)');
  }
  const len = end.getTime() - start.getTime();
  if (len > config.limits.maxClaimMs) {
    const most = formatDuration(config.limits.maxClaimMs);
    throw new UsageError(
      `a claim may last at most ${most} (this one: ${formatDuration(len)})`,
      `the limit is ${limitWhere(config, 'max_claim')}; make it shorter or split it`,
    );
  }
}

function checkAhead(start: Date, config: Config, now: Date): void {
  if (start.getTime() > now.getTime() + config.limits.maxAheadMs) {
    throw new UsageError(
      `cannot book more than ${formatDuration(config.limits.maxAheadMs)} ahead`,
      `the limit is ${limitWhere(config, 'max_ahead')}`,
    );
  }
}

/** Claims that currently hold, without the given occurrence (the one being changed). */
function holdingOthers(claims: Claim[], except?: Claim): Claim[] {
  const rest = except
    ? claims.filter((c) => !(c.uid === except.uid && (c.recurrenceId ?? '') === (except.recurrenceId ?? '')))
    : claims;
  return rule(rest).holds;
}

function checkConflicts(candidates: Claim[], holding: Claim[], config: Config, now: Date): void {
  const t = now.getTime();
  for (const cand of candidates) {
    // Only the part from now on can collide: a claim made "now" starts on the whole minute
    // and must not be refused for one that ended a few seconds ago.
    if (cand.end.getTime() <= t) continue;
    const live = cand.start.getTime() < t ? { ...cand, start: now } : cand;
    const others = holding.filter((h) => h.end.getTime() > t && conflicts(h, live));
    if (!others.length) continue;
    const mine = isExclusive(cand) ? (cand.hog ? 'hog' : 'exclusive') : 'shared';
    const what = (other: Claim) => {
      const theirs = isExclusive(other) ? (other.hog ? 'hog' : 'exclusive') : 'shared';
      return (
        `${cleanText(other.user, 40)}'s ${theirs} claim on ${where(other)} ` +
        `${formatRange(other.start, other.end, config.timezone, now)} (id ${cleanText(other.uid, 80)})`
      );
    };
    // Every claim in the way is named, not only the first (an urgent reboot meets them all).
    const shown = others.slice(0, 5).map(what);
    const more = others.length > 5 ? ` and ${others.length - 5} more` : '';
    const holders = [...new Set(others.map((o) => cleanText(o.user, 40)))];
    const range = formatRange(cand.start, cand.end, config.timezone, now);
    const notify = `hosthog notify --to ${holders.join(',')} "…"`;
    throw new ConflictError(
      `${range} (${mine}) overlaps ${shown.join('; ')}${more}`,
      `pick another time or resource, or ask ${holders.join(', ')}: ${notify}`,
    );
  }
}

function asClaim(spec: ClaimSpec, start: Date, end: Date, recurrenceId?: string): Claim {
  return {
    kind: 'claim',
    uid: spec.uid,
    recurrenceId,
    recurring: !!spec.rrule,
    start,
    end,
    allDay: false,
    title: '',
    user: spec.user,
    mode: spec.mode,
    hog: spec.hog,
    resources: spec.resources,
    note: spec.note,
    allow: spec.allow,
  };
}

/** Occurrences of a repeating spec from its start up to `to` (via the calendar reader, not rrule). */
function expand(spec: ClaimSpec, to: Date, now: Date, max: number): Claim[] {
  const data = encodeEvent(spec, now);
  const { occurrences, problems } = decodeObjects([{ href: '/plan/new.ics', etag: null, data }], {
    timezone: spec.timezone,
    from: spec.start,
    to,
    maxOccurrences: max,
  });
  if (problems.length && !occurrences.length)
    throw new UsageError(`cannot expand the repeat rule: ${problems[0].message}`);
  return occurrences.filter((o): o is Claim => o.kind === 'claim').map((o) => ({ ...o, user: spec.user }));
}

export function planClaim(
  req: ClaimRequest,
  actor: Actor,
  claims: Claim[],
  config: Config,
  now: Date,
  newUid: string,
): { spec: ClaimSpec; overrules?: Claim[] } {
  const user = (req.user ?? actor.user).trim();
  if (user !== actor.user && !actor.isAdmin) {
    throw new PermissionError(
      `only an admin may claim in another user's name (${cleanText(user, 40)})`,
      adminHint(config),
    );
  }
  checkUsers([user], 'claim owner');
  if (req.end === null) throw new UsageError('a claim needs an end: add --for 2h or --until 18:00');
  // Grace from the start of this minute: the CLI rounds "now" down to it, and the bridge's
  // clock runs a sync later.
  if (req.start.getTime() < Math.floor(now.getTime() / 60_000) * 60_000 - PAST_GRACE_MS) {
    throw new UsageError(
      `a claim cannot start in the past (${formatRange(req.start, req.end, config.timezone, now)})`,
      'leave out --at to start now, or give a later time',
    );
  }
  checkSpan(req.start, req.end, config);
  checkAhead(req.start, config, now);
  const resources = checkResources(req.resources, config);
  const hog = !!req.hog;
  const mode: Mode = hog ? 'exclusive' : req.mode;
  let spec: ClaimSpec = {
    kind: 'claim',
    uid: newUid,
    host: config.host,
    user,
    mode,
    hog,
    resources,
    note: checkNote(req.note),
    allow: checkUsers(req.allow, '--allow'),
    start: req.start,
    end: req.end,
    timezone: config.timezone,
    ...(req.rrule ? { rrule: req.rrule.replace(/^RRULE:/i, '') } : {}),
  };

  let candidates: Claim[] = [asClaim(spec, spec.start, spec.end)];
  if (spec.rrule) {
    if (!repeatEnds(spec.rrule)) {
      throw new UsageError(
        'a repeating claim needs an end',
        'add e.g. "until 2027-03-01" or "for 10 times" to --repeat',
      );
    }
    const horizon = new Date(now.getTime() + config.limits.maxAheadMs);
    const until = /(?:^|;)UNTIL=(\d{8}T\d{6}Z)/i.exec(spec.rrule);
    if (until) {
      const u = until[1];
      const t = Date.UTC(
        +u.slice(0, 4),
        +u.slice(4, 6) - 1,
        +u.slice(6, 8),
        +u.slice(9, 11),
        +u.slice(11, 13),
        +u.slice(13, 15),
      );
      if (t > horizon.getTime() + 86_400_000) {
        throw new UsageError(
          `a repeating claim must end within ${formatDuration(config.limits.maxAheadMs)}`,
          `the limit is ${limitWhere(config, 'max_ahead')}`,
        );
      }
    }
    const count = /(?:^|;)COUNT=(\d+)/i.exec(spec.rrule);
    const max = count ? Number(count[1]) + 1 : 5000;
    candidates = expand(spec, horizon, now, max);
    if (count && candidates.length < Number(count[1])) {
      throw new UsageError(
        `a repeating claim must end within ${formatDuration(config.limits.maxAheadMs)}`,
        `the limit is ${limitWhere(config, 'max_ahead')}`,
      );
    }
    if (!candidates.length)
      throw new UsageError('the repeat rule gives no occurrence', 'check --repeat and --at');
    // "every tuesday" typed on a Friday: the series starts on the first day the rule gives
    // (calendar apps show DTSTART as an occurrence even where the rule would not).
    const first = candidates[0];
    if (first.start.getTime() !== spec.start.getTime()) {
      checkAhead(first.start, config, now);
      spec = { ...spec, start: first.start, end: first.end };
    }
  }
  if (req.force) {
    // The force path: an admin's claim (an urgent reboot) counts as booked before every other
    // one (the bridge records it so: src/bridge/first-seen.ts), so by the booking-order rule
    // (conflicts.ts) it holds and overrules each claim in its way.
    if (!actor.isAdmin) {
      try {
        checkConflicts(candidates, holdingOthers(claims), config, now);
      } catch (e) {
        if (e instanceof ConflictError)
          throw new PermissionError(`only an admin may --force: ${e.message}`, e.hint);
        throw e;
      }
      throw new PermissionError(
        'only an admin may --force (and nothing is in the way: leave it out)',
        adminHint(config),
      );
    }
    const t = now.getTime();
    const overrules = holdingOthers(claims).filter(
      (h) => h.end.getTime() > t && candidates.some((c) => conflicts(h, c)),
    );
    return { spec: { ...spec, created: FORCED_CREATED }, overrules };
  }
  checkConflicts(candidates, holdingOthers(claims), config, now);
  return { spec };
}

/** CREATED written into a forced claim (the bridge's own record decides: first-seen.ts). */
export const FORCED_CREATED = new Date(0);

/**
 * The claim a command acts on: with uid (full, or a unique prefix of at least 4 characters),
 * that claim (any owner; permission is checked by the planners), its active occurrence, else
 * the next one, else the last. Without uid: the user's active claim, else their next one.
 * `tz` only formats the hint (default UTC).
 */
export function findMyClaim(claims: Claim[], user: string, now: Date, uid?: string, tz = 'UTC'): Claim {
  const t = now.getTime();
  const mine = claims
    .filter((c) => c.user === user && c.end.getTime() > t)
    .sort((a, b) => a.start.getTime() - b.start.getTime());
  const listing = () =>
    mine.length
      ? `your claims: ${mine
          .slice(0, 5)
          .map((c) => describe(c, tz, now))
          .join('; ')}`
      : 'you hold no current or upcoming claims; see hosthog status';
  const pick = (list: Claim[]): Claim => {
    const sorted = [...list].sort((a, b) => a.start.getTime() - b.start.getTime());
    return (
      sorted.find((c) => c.start.getTime() <= t && c.end.getTime() > t) ??
      sorted.find((c) => c.start.getTime() > t) ??
      sorted[sorted.length - 1]
    );
  };
  if (uid !== undefined) {
    const want = uid.trim();
    if (!want) throw new UsageError('empty claim id', listing());
    const exact = claims.filter((c) => c.uid === want);
    if (exact.length) return pick(exact);
    const byPrefix = want.length >= 4 ? claims.filter((c) => c.uid.startsWith(want)) : [];
    const uids = [...new Set(byPrefix.map((c) => c.uid))];
    if (uids.length > 1) {
      throw new UsageError(
        `claim id "${cleanText(want, 40)}" matches ${uids.length} claims`,
        `give more of it: ${uids
          .slice(0, 5)
          .map((u) => cleanText(u, 60))
          .join(', ')}`,
      );
    }
    if (uids.length === 1) return pick(byPrefix);
    throw new NotFoundError(`no claim with id "${cleanText(want, 60)}"`, listing());
  }
  const active = mine.filter((c) => c.start.getTime() <= t);
  if (active.length > 1) {
    throw new UsageError(`you hold ${active.length} claims right now: say which one by id`, listing());
  }
  if (active.length === 1) return active[0];
  if (mine.length) return mine[0];
  throw new NotFoundError(`${cleanText(user, 40)} holds no current or upcoming claim`, listing());
}

function occurrenceOf(claim: Claim): { recurrenceId?: string } {
  return claim.recurring && claim.recurrenceId ? { recurrenceId: claim.recurrenceId } : {};
}

export function planExtend(
  claim: Claim,
  by: number | Date,
  actor: Actor,
  claims: Claim[],
  config: Config,
  now: Date,
): { patch: EventPatch; recurrenceId?: string } {
  mayChange(claim, actor, 'extend', config);
  const range = formatRange(claim.start, claim.end, config.timezone, now);
  if (claim.end.getTime() <= now.getTime()) {
    throw new UsageError(`claim ${shortUid(claim.uid)} already ended (${range})`, 'make a new claim instead');
  }
  let end: Date;
  if (typeof by === 'number') {
    if (!(by > 0) || !Number.isFinite(by))
      throw new UsageError('extend by a positive duration', 'e.g. hosthog extend 1h');
    end = new Date(claim.end.getTime() + by);
  } else {
    end = by;
    if (end.getTime() <= claim.end.getTime()) {
      throw new UsageError(
        `claim ${shortUid(claim.uid)} already lasts until ${range}`,
        'to end it earlier use hosthog edit --until or hosthog release',
      );
    }
  }
  checkSpan(claim.start, end, config);
  const extra: Claim = { ...claim, start: claim.end, end };
  checkConflicts([extra], holdingOthers(claims, claim), config, now);
  return { patch: { end }, ...occurrenceOf(claim) };
}

export function planEdit(
  claim: Claim,
  changes: ClaimChanges,
  actor: Actor,
  claims: Claim[],
  config: Config,
  now: Date,
): { patch: EventPatch; recurrenceId?: string } {
  mayChange(claim, actor, 'edit', config);
  const t = now.getTime();
  if (claim.end.getTime() <= t) {
    const range = formatRange(claim.start, claim.end, config.timezone, now);
    throw new UsageError(`claim ${shortUid(claim.uid)} already ended (${range})`, 'make a new claim instead');
  }
  const patch: EventPatch = {};
  // Moving only the start keeps the length (as calendar apps move events; docs/events.md):
  // the new end is part of the patch, so the message, the conflict check and the stored event agree.
  const moved = !!changes.start && changes.start.getTime() !== claim.start.getTime();
  const start = changes.start ?? claim.start;
  const end =
    changes.until ??
    (moved ? new Date(start.getTime() + (claim.end.getTime() - claim.start.getTime())) : claim.end);
  if (moved) {
    if (start.getTime() < t - PAST_GRACE_MS)
      throw new UsageError('cannot move the start into the past', 'give a later --at');
    checkAhead(start, config, now);
    patch.start = start;
  }
  if (end.getTime() !== claim.end.getTime()) {
    if (end.getTime() <= t)
      throw new UsageError('the new end is already past', 'to end the claim now use hosthog release');
    patch.end = end;
  }
  if (patch.start || patch.end) checkSpan(start, end, config);

  const resources = changes.resources ? checkResources(changes.resources, config) : claim.resources;
  if (
    changes.resources &&
    !(resources.length === claim.resources.length && resources.every((r, i) => r === claim.resources[i]))
  ) {
    patch.resources = resources;
  }
  const hog = changes.hog ?? claim.hog;
  let mode: Mode = changes.mode ?? claim.mode;
  if (hog && changes.mode === 'shared') {
    throw new UsageError('a hog claim is always exclusive', 'add --no-hog to make it shared');
  }
  if (hog) mode = 'exclusive';
  if (hog !== claim.hog) patch.hog = hog;
  if (mode !== claim.mode) patch.mode = mode;
  if (changes.note !== undefined) {
    const note = checkNote(changes.note);
    if (note !== claim.note) patch.note = note;
  }
  if (changes.allow !== undefined) {
    const allow = checkUsers(changes.allow, '--allow');
    if (allow.join(',') !== claim.allow.join(',')) patch.allow = allow;
  }
  if (Object.keys(patch).length === 0) {
    throw new UsageError(
      `nothing to change in claim ${shortUid(claim.uid)}`,
      'give e.g. --note, --until, --at, --resources, --exclusive, --shared, --hog or --allow',
    );
  }
  const wider = patch.start || patch.end || patch.resources || patch.mode || patch.hog !== undefined;
  if (wider) {
    const next: Claim = { ...claim, start, end, resources, mode, hog };
    checkConflicts([next], holdingOthers(claims, claim), config, now);
  }
  return { patch, ...occurrenceOf(claim) };
}

export type ReleasePlan =
  | { action: 'end-now'; patch: EventPatch; recurrenceId?: string }
  | { action: 'cancel'; patch: EventPatch; recurrenceId?: string }
  | { action: 'delete' };

export function planRelease(claim: Claim, actor: Actor, now: Date): ReleasePlan {
  mayChange(claim, actor, 'release');
  const t = now.getTime();
  if (claim.end.getTime() <= t) {
    throw new UsageError(`claim ${shortUid(claim.uid)} already ended`, 'nothing to release');
  }
  if (claim.start.getTime() < t) {
    // Ends on the whole minute, as it is shown (unless it started within this minute).
    const minute = Math.floor(t / 60_000) * 60_000;
    return {
      action: 'end-now',
      patch: { end: new Date(minute > claim.start.getTime() ? minute : t) },
      ...occurrenceOf(claim),
    };
  }
  return { action: 'cancel', patch: { cancelled: true }, ...occurrenceOf(claim) };
}

export function planAnnounce(
  text: string,
  start: Date,
  end: Date,
  actor: Actor,
  config: Config,
  now: Date,
  newUid: string,
): { spec: AnnouncementSpec } {
  if (!actor.isAdmin) throw new PermissionError('only admins may announce', adminHint(config));
  const clean = cleanText(text, ANNOUNCE_MAX);
  if (!clean)
    throw new UsageError(
      'an announcement needs a text',
      'e.g. hosthog announce "reboot at 18:00" --until 18:30',
    );
  if (Array.from(text.trim()).length > ANNOUNCE_MAX)
    throw new UsageError(`an announcement may have at most ${ANNOUNCE_MAX} characters`);
  if (!(end.getTime() > start.getTime()))
    throw new UsageError('an announcement must end after it starts', 'check --until (and --from)');
  if (end.getTime() <= now.getTime())
    throw new UsageError('this announcement would already be over', 'give a later --until');
  checkAhead(start, config, now);
  return {
    spec: {
      kind: 'announcement',
      uid: newUid,
      host: config.host,
      text: clean,
      start,
      end,
      timezone: config.timezone,
      author: actor.user,
    },
  };
}

/**
 * `hosthog hog`: only an exclusive claim can be hogged (issue #5: the holder of an exclusive
 * claim); a shared one is refused with the way to make it exclusive, not silently converted.
 */
export function checkHoggable(claim: Claim): void {
  if (claim.mode !== 'exclusive') {
    throw new UsageError(
      `claim ${shortUid(claim.uid)} is shared: only an exclusive claim can be a hog`,
      `make it exclusive first: hosthog edit ${shortUid(claim.uid)} --exclusive`,
    );
  }
}
