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
 *  - Ruling: claims are taken in booking order: earliest `created` first (a claim without a
 *    valid `created` counts as booked at its start), ties broken by earlier start, then by
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
  const ordered = [...claims].sort(bookingOrder);
  const holds: Claim[] = [];
  const overruled: { claim: Claim; by: Claim }[] = [];
  for (const c of ordered) {
    const by = holds.find((h) => conflicts(h, c));
    if (by) overruled.push({ claim: c, by });
    else holds.push(c);
  }
  holds.sort(byStart);
  overruled.sort((x, y) => byStart(x.claim, y.claim));
  return { holds, overruled };
}
