/**
 * Which claims hold and which are overruled. Pure.
 *
 * THE RULE (copied to the docs):
 *  - Two claims OVERLAP when their times overlap (half-open [start, end): a claim ending at
 *    14:00 does not overlap one starting at 14:00) AND their resources overlap. A claim with no
 *    resources is on the whole host and overlaps every claim; two resource lists overlap when
 *    they share at least one resource.
 *  - Two overlapping claims CONFLICT when at least one of them is exclusive (a hog claim is
 *    always exclusive). Shared + shared never conflict.
 *  - A user never conflicts with themself: alice may hold an exclusive claim and a shared one
 *    (or two exclusive ones) at the same time; both hold. (The same occurrence, same uid and
 *    same recurrence-id, never conflicts with itself either.)
 *  - Ruling: claims are taken in booking order: earliest `created` first (on the host the
 *    bridge sets it to when it first saw the event, src/bridge/first-seen.ts, never the
 *    client's CREATED; a claim without a valid `created` counts as booked at its start), ties broken by earlier start, then by
 *    uid, then by recurrence-id (plain string order). Each claim, in that order, holds unless
 *    it conflicts with a claim that already holds; then it is overruled by the first such
 *    (earliest booked) holding claim. An overruled claim does not overrule anyone: a claim
 *    that only conflicts with overruled claims holds.
 *  - The result does not depend on the order of the input.
 */
import type { Claim } from './types.js';

/** True if [a.start, a.end) and [b.start, b.end) intersect and the resources intersect. */
export function claimsOverlap(a: Claim, b: Claim): boolean {
  if (!(a.start.getTime() < b.end.getTime() && b.start.getTime() < a.end.getTime())) return false;
  if (a.resources.length === 0 || b.resources.length === 0) return true;
  return a.resources.some((r) => b.resources.includes(r));
}

/** Exclusive in effect: a hog is always exclusive. */
export function isExclusive(c: Claim): boolean {
  return c.hog || c.mode === 'exclusive';
}

function sameOccurrence(a: Claim, b: Claim): boolean {
  return a.uid === b.uid && (a.recurrenceId ?? '') === (b.recurrenceId ?? '');
}

/** Overlap, at least one exclusive, different users (see the rule above). */
export function conflicts(a: Claim, b: Claim): boolean {
  if (sameOccurrence(a, b)) return false;
  if (a.user === b.user) return false;
  if (!isExclusive(a) && !isExclusive(b)) return false;
  return claimsOverlap(a, b);
}

export interface Ruling {
  /** Claims that hold, sorted by start (then uid). */
  holds: Claim[];
  /** Claims that lose, each with the holding claim that overrules it, sorted by start. */
  overruled: { claim: Claim; by: Claim }[];
}

function bookedAt(c: Claim): number {
  const t = c.created?.getTime();
  return t !== undefined && Number.isFinite(t) ? t : c.start.getTime();
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Booking order: created (or start), then start, then uid, then recurrence-id. */
export function bookingOrder(a: Claim, b: Claim): number {
  return (
    bookedAt(a) - bookedAt(b) ||
    a.start.getTime() - b.start.getTime() ||
    cmpStr(a.uid, b.uid) ||
    cmpStr(a.recurrenceId ?? '', b.recurrenceId ?? '')
  );
}

function byStart(a: Claim, b: Claim): number {
  return a.start.getTime() - b.start.getTime() || cmpStr(a.uid, b.uid) || cmpStr(a.recurrenceId ?? '', b.recurrenceId ?? '');
}

export function rule(claims: Claim[]): Ruling {
  // Sort keys computed once (a comparator calling getTime() costs n·log n Date calls).
  const keyed = claims.map((c) => ({ c, b: bookedAt(c), s: c.start.getTime() }));
  keyed.sort((x, y) => x.b - y.b || x.s - y.s || cmpStr(x.c.uid, y.c.uid) || cmpStr(x.c.recurrenceId ?? '', y.c.recurrenceId ?? ''));
  const ordered = keyed.map((k) => k.c);
  const holds: Claim[] = [];
  const overruled: { claim: Claim; by: Claim }[] = [];
  // Holding claims indexed by the days they touch, so each claim is checked only against
  // holds near it in time (a snapshot has a few thousand occurrences; every CLI start rules
  // them all). Among the conflicting holds the earliest booked (lowest index) overrules.
  const DAY = 86_400_000;
  const byDay = new Map<number, number[]>();
  const long: number[] = []; // holds spanning more than LONG_DAYS: checked against everyone
  const LONG_DAYS = 62;
  const days = (s: number, e: number) => [Math.floor(s / DAY), Math.floor((Math.max(e, s + 1) - 1) / DAY)];
  for (const c of ordered) {
    const s = c.start.getTime();
    const e = c.end.getTime();
    let best = -1;
    const consider = (i: number) => { if ((best < 0 || i < best) && conflicts(holds[i], c)) best = i; };
    for (const i of long) consider(i);
    const [d0, d1] = days(s, e);
    if (d1 - d0 > LONG_DAYS) { for (let i = 0; i < holds.length; i++) consider(i); } else {
      for (let d = d0; d <= d1; d++) for (const i of byDay.get(d) ?? []) consider(i);
    }
    if (best >= 0) { overruled.push({ claim: c, by: holds[best] }); continue; }
    const i = holds.push(c) - 1;
    if (d1 - d0 > LONG_DAYS) long.push(i);
    else for (let d = d0; d <= d1; d++) { const b = byDay.get(d); if (b) b.push(i); else byDay.set(d, [i]); }
  }
  holds.sort(byStart);
  overruled.sort((x, y) => byStart(x.claim, y.claim));
  return { holds, overruled };
}
