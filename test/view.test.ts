/** Pure-logic tests: overlap rules, the deterministic ruling, hostView windows and staleness. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimsOverlap, conflicts, rule, isExclusive } from '../src/core/conflicts.js';
import { hostView, HORIZON_MS } from '../src/core/view.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import type { Announcement, Claim, Snapshot } from '../src/core/types.js';

const T0 = Date.parse('2026-11-22T12:00:00Z');
const at = (min: number) => new Date(T0 + min * 60_000);

function claim(o: Partial<Claim> & { uid: string }): Claim {
  return {
    kind: 'claim',
    recurring: false,
    start: at(0),
    end: at(60),
    allDay: false,
    title: '',
    user: 'alice',
    mode: 'shared',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    ...o,
  };
}
function ann(o: Partial<Announcement> & { uid: string }): Announcement {
  return {
    kind: 'announcement',
    recurring: false,
    start: at(0),
    end: at(60),
    allDay: false,
    title: '',
    text: 'hello',
    ...o,
  };
}
function cfg(extra: Record<string, unknown> = {}): Config {
  const r = validateConfig(
    { host: 'gpu-box-3', timezone: 'Europe/Berlin', ...extra },
    { hostname: 'x', timezone: 'UTC' },
    'test',
  );
  assert.deepEqual(r.problems, []);
  return r.config!;
}
const snap = (occurrences: (Claim | Announcement)[], o: Partial<Snapshot> = {}): Snapshot => ({
  occurrences,
  syncedAt: at(0),
  ...o,
});
const uids = (cs: Claim[]) => cs.map((c) => c.uid);

// ---- overlap -----------------------------------------------------------------------------------

test('claimsOverlap: half-open time ranges; touching claims do not overlap', () => {
  const a = claim({ uid: 'a', start: at(0), end: at(60) });
  assert.equal(claimsOverlap(a, claim({ uid: 'b', start: at(60), end: at(120) })), false);
  assert.equal(claimsOverlap(a, claim({ uid: 'b', start: at(-60), end: at(0) })), false);
  assert.equal(claimsOverlap(a, claim({ uid: 'b', start: at(59), end: at(120) })), true);
  assert.equal(claimsOverlap(a, claim({ uid: 'b', start: at(10), end: at(20) })), true, 'contained');
  assert.equal(claimsOverlap(a, claim({ uid: 'b', start: at(-10), end: at(200) })), true, 'containing');
});

const overlapByResources =
  'claimsOverlap: resources — disjoint lists do not overlap, shared resource does, whole host overlaps all';
test(overlapByResources, () => {
  const g0 = claim({ uid: 'a', resources: ['gpu0'] });
  const g1 = claim({ uid: 'b', resources: ['gpu1'] });
  const g01 = claim({ uid: 'c', resources: ['gpu1', 'gpu0'] });
  const whole = claim({ uid: 'd', resources: [] });
  assert.equal(claimsOverlap(g0, g1), false);
  assert.equal(claimsOverlap(g0, g01), true);
  assert.equal(claimsOverlap(g1, g01), true);
  assert.equal(claimsOverlap(whole, g0), true);
  assert.equal(claimsOverlap(g1, whole), true);
  assert.equal(claimsOverlap(whole, claim({ uid: 'e' })), true);
  // resource overlap alone is not enough
  assert.equal(
    claimsOverlap(g0, claim({ uid: 'f', resources: ['gpu0'], start: at(60), end: at(90) })),
    false,
  );
});

test('conflicts: shared+shared never; exclusive vs shared or exclusive does; hog implies exclusive', () => {
  const sh = (uid: string, user: string, res: string[] = []) => claim({ uid, user, resources: res });
  const ex = (uid: string, user: string, res: string[] = []) =>
    claim({ uid, user, mode: 'exclusive', resources: res });
  assert.equal(conflicts(sh('a', 'alice'), sh('b', 'bob')), false);
  assert.equal(conflicts(ex('a', 'alice'), sh('b', 'bob')), true);
  assert.equal(conflicts(sh('a', 'alice'), ex('b', 'bob')), true);
  assert.equal(conflicts(ex('a', 'alice'), ex('b', 'bob')), true);
  assert.equal(conflicts(ex('a', 'alice', ['gpu0']), ex('b', 'bob', ['gpu1'])), false, 'disjoint resources');
  assert.equal(conflicts(ex('a', 'alice', ['gpu0']), sh('b', 'bob')), true, 'whole-host shared touches gpu0');
  const hogShared = claim({ uid: 'h', user: 'carol', mode: 'shared', hog: true });
  assert.equal(isExclusive(hogShared), true);
  assert.equal(conflicts(hogShared, sh('b', 'bob')), true);
  const later = ex('l', 'bob');
  later.start = at(60);
  later.end = at(120);
  assert.equal(conflicts(ex('a', 'alice'), later), false, 'no time overlap');
});

test('conflicts: a user never conflicts with themself, nor an occurrence with itself', () => {
  assert.equal(
    conflicts(
      claim({ uid: 'a', user: 'alice', mode: 'exclusive', hog: true }),
      claim({ uid: 'b', user: 'alice' }),
    ),
    false,
  );
  const x = claim({ uid: 'a', user: 'alice', mode: 'exclusive' });
  assert.equal(conflicts(x, { ...x, user: 'bob' }), false, 'same uid, same recurrence-id');
  assert.equal(
    conflicts(x, { ...x, user: 'bob', recurrenceId: '2026-11-22T12:00:00.000Z' }),
    true,
    'other occurrence',
  );
});

// ---- ruling ------------------------------------------------------------------------------------

test('rule: the earlier-booked claim holds, even if it starts later', () => {
  const early = claim({
    uid: 'z-early',
    user: 'alice',
    mode: 'exclusive',
    start: at(30),
    end: at(90),
    created: at(-600),
  });
  const late = claim({
    uid: 'a-late',
    user: 'bob',
    mode: 'exclusive',
    start: at(0),
    end: at(60),
    created: at(-60),
  });
  const r = rule([late, early]);
  assert.deepEqual(uids(r.holds), ['z-early']);
  assert.equal(r.overruled.length, 1);
  assert.equal(r.overruled[0].claim.uid, 'a-late');
  assert.equal(r.overruled[0].by.uid, 'z-early');
});

test('rule: a missing created counts as the start; ties go to earlier start, then uid', () => {
  // no created: booked at start(0) vs created at(10) → the one without created wins
  const noCreated = claim({ uid: 'b', user: 'bob', mode: 'exclusive', start: at(0), end: at(60) });
  const created10 = claim({
    uid: 'a',
    user: 'alice',
    mode: 'exclusive',
    start: at(-30),
    end: at(30),
    created: at(10),
  });
  assert.deepEqual(uids(rule([created10, noCreated]).holds), ['b']);
  // same created, earlier start wins
  const s0 = claim({
    uid: 'z',
    user: 'alice',
    mode: 'exclusive',
    start: at(0),
    end: at(60),
    created: at(-100),
  });
  const s10 = claim({
    uid: 'a',
    user: 'bob',
    mode: 'exclusive',
    start: at(10),
    end: at(60),
    created: at(-100),
  });
  assert.deepEqual(uids(rule([s10, s0]).holds), ['z']);
  // same created and start: smaller uid wins
  const u1 = claim({ uid: 'uid-1', user: 'alice', mode: 'exclusive', created: at(-100) });
  const u2 = claim({ uid: 'uid-2', user: 'bob', mode: 'exclusive', created: at(-100) });
  assert.deepEqual(uids(rule([u2, u1]).holds), ['uid-1']);
  // invalid created date is treated as missing
  const bad = claim({ uid: 'bad', user: 'carol', mode: 'exclusive', start: at(0), created: new Date(NaN) });
  const ok = claim({ uid: 'ok', user: 'dave', mode: 'exclusive', start: at(0), created: at(-1) });
  assert.deepEqual(uids(rule([bad, ok]).holds), ['ok']);
});

test('rule: an overruled claim does not overrule others', () => {
  // A (alice, 0-60) holds; B (bob, 30-120) overruled by A; C (carol, 90-150) only overlaps B → holds
  const A = claim({
    uid: 'A',
    user: 'alice',
    mode: 'exclusive',
    start: at(0),
    end: at(60),
    created: at(-300),
  });
  const B = claim({
    uid: 'B',
    user: 'bob',
    mode: 'exclusive',
    start: at(30),
    end: at(120),
    created: at(-200),
  });
  const C = claim({
    uid: 'C',
    user: 'carol',
    mode: 'exclusive',
    start: at(90),
    end: at(150),
    created: at(-100),
  });
  const r = rule([C, B, A]);
  assert.deepEqual(uids(r.holds), ['A', 'C']);
  assert.deepEqual(
    r.overruled.map((x) => [x.claim.uid, x.by.uid]),
    [['B', 'A']],
  );
});

test('rule: shared claims coexist, an exclusive one booked later loses to all of them (by the first)', () => {
  const s1 = claim({ uid: 's1', user: 'alice', created: at(-300) });
  const s2 = claim({ uid: 's2', user: 'bob', created: at(-200) });
  const ex = claim({ uid: 'ex', user: 'carol', mode: 'exclusive', created: at(-100) });
  const r = rule([ex, s2, s1]);
  assert.deepEqual(uids(r.holds), ['s1', 's2']);
  assert.deepEqual(
    r.overruled.map((x) => [x.claim.uid, x.by.uid]),
    [['ex', 's1']],
  );
  // booked first, the exclusive one wins over both shared ones
  const ex0 = { ...ex, created: at(-400) };
  const r2 = rule([s1, s2, ex0]);
  assert.deepEqual(uids(r2.holds), ['ex']);
  assert.deepEqual(r2.overruled.map((x) => x.claim.uid).sort(), ['s1', 's2']);
});

test('rule: result is independent of input order (all permutations)', () => {
  const cs = [
    claim({ uid: 'a', user: 'u1', mode: 'exclusive', start: at(0), end: at(60), created: at(-50) }),
    claim({ uid: 'b', user: 'u2', start: at(30), end: at(90) }),
    claim({
      uid: 'c',
      user: 'u3',
      mode: 'exclusive',
      resources: ['gpu0'],
      start: at(45),
      end: at(200),
      created: at(-50),
    }),
    claim({ uid: 'd', user: 'u4', resources: ['gpu1'], start: at(100), end: at(150), created: at(-500) }),
    claim({ uid: 'e', user: 'u5', hog: true, start: at(120), end: at(180), created: at(-40) }),
  ];
  const perms = (xs: Claim[]): Claim[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  const key = (cs2: Claim[]) => {
    const r = rule(cs2);
    return JSON.stringify([uids(r.holds), r.overruled.map((x) => [x.claim.uid, x.by.uid])]);
  };
  const expected = key(cs);
  for (const p of perms(cs)) assert.equal(key(p), expected);
  const r = rule(cs);
  // d booked first (gpu1), a (whole host, exclusive) then c (gpu0) by start tie-break → c loses to a;
  // b (shared, booked at its start 30) loses to a; e (hog, 120–180) conflicts with d → loses to d.
  assert.deepEqual(uids(r.holds), ['a', 'd']);
  assert.deepEqual(
    r.overruled.map((x) => [x.claim.uid, x.by.uid]),
    [
      ['b', 'a'],
      ['c', 'a'],
      ['e', 'd'],
    ],
  );
});

test('rule: the day-indexed ruling equals the plain definition on 300 random calendars', () => {
  // The definition, written as plainly as possible: booking order, first conflicting hold wins.
  const plain = (cs: Claim[]) => {
    const booked = (c: Claim) => c.created?.getTime() ?? c.start.getTime();
    const ordered = [...cs].sort(
      (a, b) =>
        booked(a) - booked(b) ||
        a.start.getTime() - b.start.getTime() ||
        (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0),
    );
    const holds: Claim[] = [];
    const over: [string, string][] = [];
    for (const c of ordered) {
      const by = holds.find((h) => conflicts(h, c));
      if (by) over.push([c.uid, by.uid]);
      else holds.push(c);
    }
    return { holds: holds.map((h) => h.uid).sort(), over: over.sort() };
  };
  let seed = 42; // mulberry32: a small PRNG whose low bits are random too
  const rnd = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  for (let round = 0; round < 300; round++) {
    const cs: Claim[] = [];
    for (let i = 0, n = 2 + rnd(40); i < n; i++) {
      const start = rnd(60 * 24 * 20) - 60 * 24 * 5; // minutes, over ~3 weeks
      const len = [0, 30, 60 * 23, 60 * 24, 60 * 24 * 3, 60 * 24 * 70][rnd(6)] + rnd(90) * (rnd(4) ? 1 : -1);
      cs.push(
        claim({
          uid: `c${i}`,
          user: `u${rnd(5)}`,
          mode: rnd(3) ? 'shared' : 'exclusive',
          hog: rnd(10) === 0,
          resources: [[], ['gpu0'], ['gpu1'], ['gpu0', 'gpu1']][rnd(4)],
          start: at(start),
          end: at(start + len),
          created: rnd(3) ? at(rnd(10_000) - 20_000) : undefined,
        }),
      );
    }
    const r = rule(cs);
    const want = plain(cs);
    assert.deepEqual(
      {
        holds: r.holds.map((h) => h.uid).sort(),
        over: r.overruled.map((x) => [x.claim.uid, x.by.uid] as [string, string]).sort(),
      },
      want,
      `round ${round}`,
    );
  }
});

test('rule: empty input', () => {
  assert.deepEqual(rule([]), { holds: [], overruled: [] });
});

// ---- hostView ----------------------------------------------------------------------------------

test('hostView: active includes start == now, excludes end == now; upcoming is (now, now+24h)', () => {
  const now = at(0);
  const v = hostView(
    snap([
      claim({ uid: 'starts-now', user: 'a', start: at(0), end: at(10) }),
      claim({ uid: 'ended-now', user: 'b', start: at(-10), end: at(0) }),
      claim({ uid: 'running', user: 'c', start: at(-100), end: at(100) }),
      claim({ uid: 'soon', user: 'd', start: at(1), end: at(10) }),
      claim({
        uid: 'edge-in',
        user: 'e',
        start: new Date(now.getTime() + HORIZON_MS - 1),
        end: at(24 * 60 + 30),
      }),
      claim({
        uid: 'edge-out',
        user: 'f',
        start: new Date(now.getTime() + HORIZON_MS),
        end: at(24 * 60 + 30),
      }),
      claim({ uid: 'past', user: 'g', start: at(-300), end: at(-200) }),
    ]),
    cfg(),
    now,
  );
  assert.deepEqual(uids(v.active), ['running', 'starts-now']);
  assert.deepEqual(uids(v.upcoming), ['soon', 'edge-in']);
  assert.equal(v.host, 'gpu-box-3');
  assert.equal(v.timezone, 'Europe/Berlin');
  assert.equal(v.now, now);
});

test('hostView: overruled claims are not active/upcoming but are listed as conflicts within 24 h', () => {
  const holder = claim({
    uid: 'h',
    user: 'alice',
    mode: 'exclusive',
    start: at(-60),
    end: at(120),
    created: at(-1000),
  });
  const lost = claim({
    uid: 'l',
    user: 'bob',
    mode: 'exclusive',
    start: at(60),
    end: at(90),
    created: at(-10),
  });
  const lostPast = claim({
    uid: 'lp',
    user: 'bob',
    mode: 'exclusive',
    start: at(-50),
    end: at(-40),
    created: at(-10),
  });
  const farHolder = claim({
    uid: 'fh',
    user: 'alice',
    mode: 'exclusive',
    start: at(3000),
    end: at(3100),
    created: at(-1000),
  });
  const lostFar = claim({
    uid: 'lf',
    user: 'bob',
    mode: 'exclusive',
    start: at(3000),
    end: at(3100),
    created: at(-10),
  });
  const v = hostView(snap([holder, lost, lostPast, farHolder, lostFar]), cfg(), at(0));
  assert.deepEqual(uids(v.active), ['h']);
  assert.deepEqual(uids(v.upcoming), []);
  assert.deepEqual(
    v.conflicts.map((x) => [x.claim.uid, x.by.uid]),
    [['l', 'h']],
  );
});

test('hostView: exclusiveHolder is the active whole-host exclusive claim (hog preferred), else null', () => {
  const now = at(0);
  const ex = claim({ uid: 'x', user: 'alice', mode: 'exclusive' });
  assert.equal(hostView(snap([ex]), cfg(), now).exclusiveHolder?.uid, 'x');
  assert.equal(
    hostView(snap([claim({ uid: 's', user: 'alice' })]), cfg(), now).exclusiveHolder,
    null,
    'shared',
  );
  assert.equal(
    hostView(snap([claim({ uid: 'g', user: 'alice', mode: 'exclusive', resources: ['gpu0'] })]), cfg(), now)
      .exclusiveHolder,
    null,
    'resource only',
  );
  assert.equal(
    hostView(snap([claim({ uid: 'f', user: 'alice', mode: 'exclusive', start: at(10) })]), cfg(), now)
      .exclusiveHolder,
    null,
    'not yet',
  );
  const hog = claim({ uid: 'y', user: 'alice', mode: 'shared', hog: true, start: at(-5) });
  assert.equal(
    hostView(snap([ex, hog]), cfg(), now).exclusiveHolder?.uid,
    'y',
    'hog preferred among own claims',
  );
});

const announcementsWindow =
  'hostView: announcements active now or starting within 24 h, sorted; ended and far ones left out';
test(announcementsWindow, () => {
  const v = hostView(
    snap([
      ann({ uid: 'later', start: at(600), end: at(700) }),
      ann({ uid: 'now', start: at(-10), end: at(10) }),
      ann({ uid: 'ended', start: at(-20), end: at(0) }),
      ann({ uid: 'far', start: at(24 * 60), end: at(24 * 60 + 10) }),
      claim({ uid: 'c' }),
    ]),
    cfg(),
    at(0),
  );
  assert.deepEqual(
    v.announcements.map((a) => a.uid),
    ['now', 'later'],
  );
});

test('stale: fresh up to exactly stalePolls × pollMs, stale 1 ms later', () => {
  const c = cfg({ bridge: { poll: '60s', stale_polls: 3 } });
  const synced = at(0);
  const limit = 3 * 60_000;
  const s = snap([], { syncedAt: synced, failingSince: at(1), lastError: 'ECONNREFUSED 127.0.0.1:5232' });
  assert.equal(hostView(s, c, new Date(synced.getTime() + limit)).stale, null);
  const v = hostView(s, c, new Date(synced.getTime() + limit + 1));
  assert.deepEqual(v.stale, { since: at(1), lastError: 'ECONNREFUSED 127.0.0.1:5232' });
  assert.equal(v.syncedAt, synced);
  // a single failed poll inside the limit is not stale
  assert.equal(hostView(s, c, at(1)).stale, null);
  // a different poll interval moves the boundary
  const c2 = cfg({ bridge: { poll: '10s', stale_polls: 2 } });
  assert.equal(hostView(s, c2, new Date(synced.getTime() + 20_000)).stale, null);
  assert.notEqual(hostView(s, c2, new Date(synced.getTime() + 20_001)).stale, null);
});

test('stale: never synced is stale; since is null without failingSince; no lastError key when none', () => {
  const v = hostView(snap([], { syncedAt: null }), cfg(), at(0));
  assert.deepEqual(v.stale, { since: null });
  assert.equal(v.syncedAt, null);
  const v2 = hostView(snap([], { syncedAt: at(-100) }), cfg(), at(0));
  assert.deepEqual(v2.stale, { since: null });
});

test('hostView is pure: same input, same output; input not mutated', () => {
  const occ = [
    claim({ uid: 'b', user: 'bob', mode: 'exclusive', start: at(30), end: at(90) }),
    claim({ uid: 'a', user: 'alice', start: at(0), end: at(60), created: at(-10) }),
  ];
  const s = snap(occ);
  const before = JSON.stringify(s);
  const v1 = hostView(s, cfg(), at(5));
  const v2 = hostView(s, cfg(), at(5));
  assert.deepEqual(v1, v2);
  assert.equal(JSON.stringify(s), before);
});
