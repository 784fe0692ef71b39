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
 *    client's CREATED; a claim without a valid `created` counts as booked at its start),
 *    ties broken by earlier start, then by uid, then by recurrence-id (plain string order).
 *    Each claim, in that order, holds unless
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
  return (
    a.start.getTime() - b.start.getTime() ||
    cmpStr(a.uid, b.uid) ||
    cmpStr(a.recurrenceId ?? '', b.recurrenceId ?? '')
  );
}

export function rule(claims: Claim[]): Ruling {
  // Sort keys computed once (a comparator calling getTime() costs n·log n Date calls).
  const keyed = claims.map((c) => ({ c, b: bookedAt(c), s: c.start.getTime() }));
  keyed.sort(
    (x, y) =>
      x.b - y.b ||
      x.s - y.s ||
      cmpStr(x.c.uid, y.c.uid) ||
      cmpStr(x.c.recurrenceId ?? '', y.c.recurrenceId ?? ''),
  );
  const ordered = keyed.map((k) => k.c);
  const holds: Claim[] = [];
  const overruled: { claim: Claim; by: Claim }[] = [];
  // Holding claims indexed by resource and time (HoldIndex), so each claim is checked only
  // against holds on its resources near it in time: dense repeats (thousands of one-second
  // occurrences) cost n·log n, not n². Among the conflicting holds the earliest booked
  // (lowest index) overrules.
  const index = new HoldIndex();
  for (const c of ordered) {
    let best = -1;
    index.visit(c, (i) => {
      if ((best < 0 || i < best) && conflicts(holds[i], c)) best = i;
    });
    if (best >= 0) {
      overruled.push({ claim: c, by: holds[best] });
      continue;
    }
    index.add(c, holds.push(c) - 1);
  }
  holds.sort(byStart);
  overruled.sort((x, y) => byStart(x.claim, y.claim));
  return { holds, overruled };
}

/**
 * Holds by resource ('' = the whole host) and, per resource, by time: a hold lasting at most
 * LEVEL_MS[l] sits in level l's bucket of its start; an overlapping hold then starts at most
 * one bucket before the query's first. Longer holds go to one list checked by everyone.
 */
const LEVEL_MS = Array.from({ length: 13 }, (_, l) => 1000 * 4 ** l); // 1 s … 194 days

class TimeIndex {
  private readonly levels = LEVEL_MS.map(() => new Map<number, number[]>());
  private readonly long: number[] = [];

  add(s: number, e: number, i: number): void {
    const l = LEVEL_MS.findIndex((ms) => e - s <= ms);
    if (l < 0) {
      this.long.push(i);
      return;
    }
    const k = Math.floor(s / LEVEL_MS[l]);
    const b = this.levels[l].get(k);
    if (b) b.push(i);
    else this.levels[l].set(k, [i]);
  }

  visit(s: number, e: number, f: (i: number) => void): void {
    for (const i of this.long) f(i);
    for (let l = 0; l < LEVEL_MS.length; l++) {
      const m = this.levels[l];
      if (!m.size) continue;
      const k0 = Math.floor(s / LEVEL_MS[l]) - 1;
      const k1 = Math.floor((Math.max(e, s + 1) - 1) / LEVEL_MS[l]);
      if (k1 - k0 + 1 > m.size) {
        // fewer buckets than the span: walk those there are
        for (const [k, b] of m) if (k >= k0 && k <= k1) for (const i of b) f(i);
        continue;
      }
      for (let k = k0; k <= k1; k++) {
        const b = m.get(k);
        if (b) for (const i of b) f(i);
      }
    }
  }
}

class HoldIndex {
  private readonly byResource = new Map<string, TimeIndex>();

  add(c: Claim, i: number): void {
    const s = c.start.getTime();
    const e = c.end.getTime();
    for (const r of c.resources.length ? c.resources : ['']) {
      let t = this.byResource.get(r);
      if (!t) {
        t = new TimeIndex();
        this.byResource.set(r, t);
      }
      t.add(s, e, i);
    }
  }

  /** Calls f for every hold that may overlap c (a hold on several resources may come more than once). */
  visit(c: Claim, f: (i: number) => void): void {
    const s = c.start.getTime();
    const e = c.end.getTime();
    if (!c.resources.length) {
      for (const t of this.byResource.values()) t.visit(s, e, f);
      return;
    }
    this.byResource.get('')?.visit(s, e, f);
    for (const r of c.resources) if (r !== '') this.byResource.get(r)?.visit(s, e, f);
  }
}
