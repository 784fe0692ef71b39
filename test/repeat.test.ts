import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRepeat, describeRepeat, repeatEnds } from '../src/core/repeat.js';
import { UsageError } from '../src/core/errors.js';

const TZ = 'Europe/Berlin';
const FIRST = new Date('2026-11-23T08:00:00Z'); // Monday 09:00 CET
const rr = (t: string, tz = TZ) => parseRepeat(t, FIRST, tz);

test('weekday rules with an UNTIL at the end of the named day in the host zone', () => {
  assert.equal(rr('every monday until 2027-03-01'), 'FREQ=WEEKLY;BYDAY=MO;UNTIL=20270301T225959Z');
  assert.equal(rr('Every Mon and Wed until 2027-01-31'), 'FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270131T225959Z');
  assert.equal(rr('on weekdays until 2027-01-31'), 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20270131T225959Z');
  // Summer time: the end of 2027-06-30 in Berlin is 21:59:59Z.
  assert.equal(rr('every friday until 2027-06-30'), 'FREQ=WEEKLY;BYDAY=FR;UNTIL=20270630T215959Z');
  // Another zone: the end of the day is later in UTC.
  assert.equal(
    rr('every monday until 2027-03-01', 'America/New_York'),
    'FREQ=WEEKLY;BYDAY=MO;UNTIL=20270302T045959Z',
  );
});

test('frequencies without an end are returned as is (the planner refuses them)', () => {
  assert.equal(rr('every weekday'), 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR');
  assert.equal(rr('every 2 weeks'), 'FREQ=WEEKLY;INTERVAL=2');
  assert.equal(rr('every 2 week'), 'FREQ=WEEKLY;INTERVAL=2');
  assert.equal(rr('fortnightly'), 'FREQ=WEEKLY;INTERVAL=2');
  assert.equal(rr('every other day'), 'FREQ=DAILY;INTERVAL=2');
  assert.equal(rr('daily'), 'FREQ=DAILY');
  assert.equal(rr('monthly'), 'FREQ=MONTHLY');
  assert.equal(rr('every month on the 2nd'), 'FREQ=MONTHLY;BYMONTHDAY=2');
  assert.equal(repeatEnds(rr('every weekday')), false);
});

test('COUNT forms', () => {
  assert.equal(rr('daily for 10 times'), 'FREQ=DAILY;COUNT=10');
  assert.equal(rr('every weekday 5 times'), 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=5');
  assert.equal(rr('weekly x 4'), 'FREQ=WEEKLY;COUNT=4');
  assert.equal(rr('fortnightly for 3 occurrences'), 'FREQ=WEEKLY;INTERVAL=2;COUNT=3');
  assert.equal(repeatEnds(rr('daily for 10 times')), true);
});

test('until month names, written dates, relative days and spans', () => {
  assert.equal(rr('weekly until march 2027'), 'FREQ=WEEKLY;UNTIL=20270301T225959Z');
  assert.equal(rr('every day until march 1st, 2027'), 'FREQ=DAILY;UNTIL=20270301T225959Z');
  assert.equal(rr('every day until 1 March 2027'), 'FREQ=DAILY;UNTIL=20270301T225959Z');
  // Relative to the first start (Monday 2026-11-23): "friday" is 2026-11-27.
  assert.equal(rr('every mon and wed until fri'), 'FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261127T225959Z');
  // "for 3 weeks" from Monday 23rd: through Sunday 2026-12-13.
  assert.equal(rr('every monday for 3 weeks'), 'FREQ=WEEKLY;BYDAY=MO;UNTIL=20261213T225959Z');
  assert.equal(rr('daily for 1 week'), 'FREQ=DAILY;UNTIL=20261129T225959Z');
  assert.equal(repeatEnds(rr('weekly until march 2027')), true);
});

test('raw RRULE values are validated and a DATE UNTIL becomes the end of that day', () => {
  assert.equal(rr('FREQ=WEEKLY;UNTIL=20270301'), 'FREQ=WEEKLY;UNTIL=20270301T225959Z');
  assert.equal(rr('RRULE:FREQ=DAILY;COUNT=3'), 'FREQ=DAILY;COUNT=3');
  assert.equal(
    rr('FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301T120000Z'),
    'FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301T120000Z',
  );
});

test('unreadable or too frequent rules are UsageErrors with a hint', () => {
  for (const bad of [
    '',
    'sometimes',
    'every monday blah',
    'every hour',
    'FREQ=HOURLY;COUNT=3',
    'FREQ=WEEKLY;COUNT=3;UNTIL=20270101',
    'every monday until 2027-02-30',
    'every monday until whenever',
    'daily for 0 times',
    'daily for 3 hours',
    'FREQ=NOPE',
  ]) {
    assert.throws(
      () => rr(bad),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, `${bad}: ${e}`);
        assert.match(e.hint ?? '', /every monday until/);
        return true;
      },
      bad,
    );
  }
});

test('describeRepeat reads the rule back, the UNTIL day in the host zone', () => {
  assert.equal(
    describeRepeat('FREQ=WEEKLY;BYDAY=MO;UNTIL=20270301T225959Z', TZ),
    'every week on Monday until 2027-03-01',
  );
  assert.equal(
    describeRepeat('FREQ=WEEKLY;BYDAY=MO;UNTIL=20270302T045959Z', 'America/New_York'),
    'every week on Monday until 2027-03-01',
  );
  assert.equal(describeRepeat('FREQ=DAILY;COUNT=10', TZ), 'every day for 10 times');
  assert.equal(describeRepeat('RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', TZ), 'every weekday');
  assert.equal(describeRepeat('FREQ=WEEKLY;INTERVAL=2;UNTIL=20270301', TZ), 'every 2 weeks until 2027-03-01');
  // Round trip of what parseRepeat writes.
  assert.equal(
    describeRepeat(rr('every mon and wed until 2027-01-31'), TZ),
    'every week on Monday, Wednesday until 2027-01-31',
  );
});
