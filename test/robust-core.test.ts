/**
 * Issue 10 (the bridge cannot be frozen or stalled), the pure parts: bounded recurrence,
 * the indexed conflict rule against the plain quadratic one, case-sensitive user names, the
 * poll schedule after an outage. The same cases against the real bridge: robust-bridge-e2e.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeObjects } from '../src/core/ics-read.js';
import { parseRepeat } from '../src/core/repeat.js';
import { rule, conflicts, bookingOrder } from '../src/core/conflicts.js';
import { parseTitle, formatTitle } from '../src/core/title.js';
import { nextPollAt } from '../src/core/poll-schedule.js';
import type { Claim } from '../src/core/types.js';

const ev = (uid: string, rrule: string, summary = 'hh-bob exclusive') =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20261201T000000Z',
    `SUMMARY:${summary}`,
    'DTSTART:20261205T100000Z',
    'DTEND:20261205T100001Z',
    `RRULE:${rrule}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
const WINDOW = {
  timezone: 'Europe/Berlin',
  from: new Date('2026-12-04T00:00:00Z'),
  to: new Date('2027-02-04T00:00:00Z'),
};

const neverOccurringRule =
  'a rule that never occurs (case 1) is left out within its budget and named; other events still decode';
test(neverOccurringRule, () => {
  const t0 = Date.now();
  const r = decodeObjects(
    [
      { href: '/a.ics', etag: null, data: ev('never', 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2') },
      { href: '/b.ics', etag: null, data: ev('never2', 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30') },
      { href: '/c.ics', etag: null, data: ev('fine', 'FREQ=DAILY;COUNT=3', 'hh-alice') },
    ],
    { ...WINDOW, budgetMs: 200 },
  );
  const ms = Date.now() - t0;
  assert.ok(ms < 2000, `two over-budget events took ${ms} ms`);
  assert.deepEqual(
    r.occurrences.map((o) => o.uid),
    ['fine', 'fine', 'fine'],
  );
  assert.deepEqual(
    r.problems.map((p) => p.href),
    ['/a.ics', '/b.ics'],
  );
  for (const p of r.problems) assert.match(p.message, /too costly to expand .*left out/);
});

test('occurrences per series are capped (dense SECONDLY series, case 2)', () => {
  const r = decodeObjects([{ href: '/s.ics', etag: null, data: ev('dense', 'FREQ=SECONDLY;COUNT=5000') }], {
    ...WINDOW,
    maxOccurrences: 300,
  });
  assert.equal(r.occurrences.length, 300);
  assert.match(r.problems[0].message, /more than 300 occurrences/);
});

const parseRepeatRefuses =
  'parseRepeat (the check the bridge now applies to socket requests) refuses impossible and sub-daily rules';
test(parseRepeatRefuses, () => {
  const start = new Date('2026-12-05T10:00:00Z');
  assert.throws(
    () => parseRepeat('FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2', start, 'Europe/Berlin'),
    /never occurs/,
  );
  assert.throws(
    () => parseRepeat('FREQ=MONTHLY;BYMONTH=4,6;BYMONTHDAY=31;COUNT=2', start, 'Europe/Berlin'),
    /never occurs/,
  );
  assert.throws(() => parseRepeat('FREQ=SECONDLY;COUNT=1000', start, 'Europe/Berlin'), /at most daily/);
  assert.equal(
    parseRepeat('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2', start, 'Europe/Berlin'),
    'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2',
  );
  assert.equal(
    parseRepeat('FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=2', start, 'Europe/Berlin'),
    'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=2',
  );
});

/** The rule as documented, done the plain quadratic way: the reference for the indexed one. */
function naiveRule(claims: Claim[]): { holds: string[]; overruled: string[] } {
  const ordered = [...claims].sort(bookingOrder);
  const holds: Claim[] = [];
  const overruled: string[] = [];
  for (const c of ordered) {
    const by = holds.find((h) => conflicts(h, c));
    if (by) overruled.push(`${c.uid}|${c.recurrenceId ?? ''}>${by.uid}|${by.recurrenceId ?? ''}`);
    else holds.push(c);
  }
  return { holds: holds.map((h) => `${h.uid}|${h.recurrenceId ?? ''}`).sort(), overruled: overruled.sort() };
}

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const indexedRuleEqualsQuadratic =
  'indexed rule() equals the quadratic rule on random claims (short, long, whole-host, resources, ties)';
test(indexedRuleEqualsQuadratic, () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rnd(seed);
    const base = Date.UTC(2026, 11, 5);
    const spans = [1000, 60_000, 3_600_000, 86_400_000, 20 * 86_400_000, 400 * 86_400_000];
    const claims: Claim[] = Array.from({ length: 150 }, (_, i) => {
      const start =
        base + Math.floor((r() * 30 * 86_400_000) / 1000) * 1000 - (r() < 0.1 ? 300 * 86_400_000 : 0);
      const end = start + Math.max(1000, Math.floor(r() * spans[Math.floor(r() * spans.length)]));
      const res = r() < 0.3 ? [] : ['gpu0', 'gpu1', 'gpu2'].filter(() => r() < 0.5);
      return {
        kind: 'claim',
        uid: `u${Math.floor(r() * 60)}`,
        recurrenceId: `r${i}`,
        recurring: true,
        start: new Date(start),
        end: new Date(end),
        allDay: false,
        title: '',
        user: ['a', 'b', 'c', 'd'][Math.floor(r() * 4)],
        mode: r() < 0.5 ? 'exclusive' : 'shared',
        hog: r() < 0.1,
        resources: res,
        note: '',
        allow: [],
        ...(r() < 0.7 ? { created: new Date(base - Math.floor(r() * 5) * 1000) } : {}),
      } as Claim;
    });
    const got = rule(claims);
    const want = naiveRule(claims);
    assert.deepEqual(
      got.holds.map((h) => `${h.uid}|${h.recurrenceId ?? ''}`).sort(),
      want.holds,
      `seed ${seed}`,
    );
    assert.deepEqual(
      got.overruled
        .map((o) => `${o.claim.uid}|${o.claim.recurrenceId ?? ''}>${o.by.uid}|${o.by.recurrenceId ?? ''}`)
        .sort(),
      want.overruled,
      `seed ${seed}`,
    );
  }
});

test('user names are case-sensitive: Secdave and secdave are two users (case 11)', () => {
  const a = parseTitle('Secdave gpu0 exclusive', []);
  const b = parseTitle('secdave gpu0 exclusive', []);
  assert.equal(a.kind === 'claim' && a.user, 'Secdave');
  assert.equal(b.kind === 'claim' && b.user, 'secdave');
  assert.equal(
    formatTitle({ user: 'Secdave', mode: 'exclusive', hog: false, resources: ['gpu0'], note: '' }),
    'Secdave exclusive gpu0',
  );
  // A capitalised lone word is still an announcement ("Reboot"); a claim needs a marker then.
  assert.equal(parseTitle('Reboot', []).kind, 'announcement');
  const claim = (user: string, x: string) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//t//EN',
      'BEGIN:VEVENT',
      `UID:${x}`,
      'DTSTAMP:20261201T000000Z',
      `SUMMARY:${user} exclusive`,
      'DTSTART:20261205T100000Z',
      'DTEND:20261205T110000Z',
      'X-HOSTHOG-KIND:claim',
      'X-HOSTHOG-MODE:exclusive',
      `X-HOSTHOG-USER:${user}`,
      `X-HOSTHOG-SUMMARY:${user} exclusive`,
      'X-HOSTHOG-ALLOW:Carol\\,carol',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  const r = decodeObjects(
    [
      { href: '/1', etag: null, data: claim('Secdave', 'x1') },
      { href: '/2', etag: null, data: claim('secdave', 'x2') },
    ],
    WINDOW,
  );
  const users = r.occurrences.map((o) => (o.kind === 'claim' ? [o.user, o.allow] : null));
  assert.deepEqual(users, [
    ['Secdave', ['Carol', 'carol']],
    ['secdave', ['Carol', 'carol']],
  ]);
  // Two different users: their exclusive claims conflict (the same user never conflicts with themself).
  const claims = r.occurrences as Claim[];
  assert.equal(conflicts(claims[0], claims[1]), true);
});

const askedAgainAfterOutage =
  'after an outage the server is asked again within one poll interval (no exponential ' +
  'back-off); Retry-After is honoured';
test(askedAgainAfterOutage, () => {
  const last = new Date('2026-12-05T10:00:00Z');
  for (const failures of [1, 3, 8, 20]) {
    const at = nextPollAt(
      { lastAttemptAt: last, consecutiveFailures: failures, authBlocked: false, jitterMs: 0 },
      60_000,
    );
    assert.equal(at!.getTime() - last.getTime(), 60_000, `${failures} failures`);
  }
  const ra = nextPollAt(
    { lastAttemptAt: last, consecutiveFailures: 2, authBlocked: false, jitterMs: 0, retryAfterMs: 300_000 },
    60_000,
  );
  assert.equal(ra!.getTime() - last.getTime(), 300_000);
});
