import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWhen, parseEnd, parseDurationArg, claimTimes } from '../src/core/when.js';
import { UsageError } from '../src/core/errors.js';

const TZ = 'Europe/Berlin';
// Friday 2026-11-20 10:00 in Berlin (CET, +01:00).
const NOW = new Date('2026-11-20T09:00:00Z');
const at = (text: string, now = NOW) => parseWhen(text, now, TZ).toISOString();

test('ISO instants with an offset or Z are taken as given', () => {
  assert.equal(at('2026-12-01T10:00:00+01:00'), '2026-12-01T09:00:00.000Z');
  assert.equal(at('2026-12-01T10:00:00Z'), '2026-12-01T10:00:00.000Z');
  assert.equal(at('2026-12-01T10:00-0500'), '2026-12-01T15:00:00.000Z');
  assert.equal(at('2026-12-01T10:00:00.250+05:30'), '2026-12-01T04:30:00.000Z');
});

test('ISO and dates without an offset are read in the host zone', () => {
  assert.equal(at('2026-12-01T10:00'), '2026-12-01T09:00:00.000Z');
  assert.equal(at('2026-12-01'), '2026-11-30T23:00:00.000Z');
  assert.equal(at('2026-12-01 14:00'), '2026-12-01T13:00:00.000Z');
  assert.equal(at('2026-07-01 14:00'), '2026-07-01T12:00:00.000Z'); // summer time
});

test('now and relative times', () => {
  assert.equal(at('now'), NOW.toISOString());
  assert.equal(at('NOW '), NOW.toISOString());
  assert.equal(at('+2h'), '2026-11-20T11:00:00.000Z');
  assert.equal(at('in 5m'), '2026-11-20T09:05:00.000Z');
  assert.equal(at('in 2 hours'), '2026-11-20T11:00:00.000Z');
  assert.equal(at('in 1h30m'), '2026-11-20T10:30:00.000Z');
});

test('a clock time alone is the next such time (today if ahead, else tomorrow)', () => {
  assert.equal(at('14:00'), '2026-11-20T13:00:00.000Z');
  assert.equal(at('5pm'), '2026-11-20T16:00:00.000Z');
  assert.equal(at('5:30 pm'), '2026-11-20T16:30:00.000Z');
  assert.equal(at('9:00'), '2026-11-21T08:00:00.000Z'); // 09:00 already past at 10:00
  assert.equal(at('9am'), '2026-11-21T08:00:00.000Z');
  assert.equal(at('10:00'), '2026-11-21T09:00:00.000Z'); // exactly now counts as past
  assert.equal(at('noon'), '2026-11-20T11:00:00.000Z');
  assert.equal(at('midnight'), '2026-11-20T23:00:00.000Z');
  assert.equal(at('12am'), '2026-11-20T23:00:00.000Z');
  assert.equal(at('12pm'), '2026-11-20T11:00:00.000Z');
  assert.equal(at('at 18:00'), '2026-11-20T17:00:00.000Z');
});

test('today / tomorrow', () => {
  assert.equal(at('today 18:00'), '2026-11-20T17:00:00.000Z');
  assert.equal(at('today 8:00'), '2026-11-20T07:00:00.000Z'); // past, kept: the planner refuses it
  assert.equal(at('tomorrow'), '2026-11-20T23:00:00.000Z');
  assert.equal(at('tomorrow 9:00'), '2026-11-21T08:00:00.000Z');
  assert.equal(at('Tomorrow at 9am'), '2026-11-21T08:00:00.000Z');
});

test('weekdays: the next one after now, rolling over the week', () => {
  // NOW is Friday 10:00.
  assert.equal(at('friday 18:00'), '2026-11-20T17:00:00.000Z'); // today, still ahead
  assert.equal(at('fri 9:00'), '2026-11-27T08:00:00.000Z'); // today's is past → next week
  assert.equal(at('fri'), '2026-11-26T23:00:00.000Z'); // 00:00 today is past → next Friday
  assert.equal(at('saturday'), '2026-11-20T23:00:00.000Z');
  assert.equal(at('mon 9:00'), '2026-11-23T08:00:00.000Z');
  assert.equal(at('next monday 9:00'), '2026-11-23T08:00:00.000Z');
  assert.equal(at('thursday 14:00'), '2026-11-26T13:00:00.000Z');
  assert.equal(at('Wed noon'), '2026-11-25T11:00:00.000Z');
  // Month and year rollover: Thursday 2026-12-31 → Monday 2027-01-04.
  assert.equal(at('mon 9:00', new Date('2026-12-31T12:00:00Z')), '2027-01-04T08:00:00.000Z');
});

test('DST: autumn change (Berlin 2026-10-25) and spring change (2027-03-28)', () => {
  const satAutumn = new Date('2026-10-24T10:00:00Z'); // Sat 12:00 CEST
  assert.equal(at('tomorrow 12:00', satAutumn), '2026-10-25T11:00:00.000Z'); // CET
  assert.equal(at('12:00', satAutumn), '2026-10-25T11:00:00.000Z');
  assert.equal(at('sun 02:30', satAutumn), '2026-10-25T00:30:00.000Z'); // ambiguous → earlier
  assert.equal(at('in 24h', satAutumn), '2026-10-25T10:00:00.000Z'); // plain elapsed time
  const satSpring = new Date('2027-03-27T19:00:00Z'); // Sat 20:00 CET
  assert.equal(at('tomorrow 9:00', satSpring), '2027-03-28T07:00:00.000Z'); // CEST
  assert.equal(at('tomorrow 02:30', satSpring), '2027-03-28T01:30:00.000Z'); // gap → 03:30 CEST
  assert.equal(at('2027-03-28 01:30', satSpring), '2027-03-28T00:30:00.000Z');
});

test('other zones', () => {
  assert.equal(parseWhen('14:00', NOW, 'America/New_York').toISOString(), '2026-11-20T19:00:00.000Z');
  assert.equal(parseWhen('tomorrow', NOW, 'UTC').toISOString(), '2026-11-21T00:00:00.000Z');
});

test('unreadable times are UsageErrors with a hint listing the forms', () => {
  for (const bad of [
    '',
    'soon',
    '25:00',
    '2026-13-01',
    '2026-02-30',
    '13pm',
    '0am',
    'in',
    '+x',
    'friday at',
    'yesterday',
    '14:60',
    'in -5m',
    'fri fri',
  ]) {
    assert.throws(
      () => parseWhen(bad, NOW, TZ),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, `${bad}: ${e}`);
        assert.match(e.line(), /cannot read the time/);
        assert.match(e.hint ?? '', /tomorrow 9:00/);
        return true;
      },
    );
  }
});

test('parseDurationArg', () => {
  assert.equal(parseDurationArg('5m'), 300_000);
  assert.equal(parseDurationArg('2h'), 7_200_000);
  assert.equal(parseDurationArg('3d'), 259_200_000);
  assert.equal(parseDurationArg('1h30m'), 5_400_000);
  for (const bad of ['', '0m', 'abc', '5', '-5m', '2 fortnights']) {
    assert.throws(
      () => parseDurationArg(bad),
      (e: unknown) => e instanceof UsageError && /duration/.test(e.message) && /1h30m/.test(e.hint ?? ''),
    );
  }
});

const untilWords =
  '--until: day words and distances mean what they mean now; a bare clock is the next such ' +
  'time after the start';
test(untilWords, () => {
  const end = (text: string, start: string) => parseEnd(text, new Date(start), NOW, TZ).toISOString();
  // Starts tomorrow 20:00 (Sat 19:00Z): "tomorrow 21:00" is one hour later, not a day later.
  assert.equal(end('tomorrow 21:00', '2026-11-21T19:00:00Z'), '2026-11-21T20:00:00.000Z');
  // Starts in 3h: "in 4h" is counted from now.
  assert.equal(end('in 4h', '2026-11-20T12:00:00Z'), '2026-11-20T13:00:00.000Z');
  // A bare clock after a late start: the next night.
  assert.equal(end('02:00', '2026-11-20T21:00:00Z'), '2026-11-21T01:00:00.000Z');
  assert.equal(end('at 2am', '2026-11-20T21:00:00Z'), '2026-11-21T01:00:00.000Z');
  // Same day, later clock.
  assert.equal(end('18:00', '2026-11-20T12:00:00Z'), '2026-11-20T17:00:00.000Z');
  // A day word before the start stays as typed (the planner then says the end is before the start).
  assert.equal(end('today 11:00', '2026-11-21T19:00:00Z'), '2026-11-20T10:00:00.000Z');
});

const claimTimesMinutes =
  'claimTimes: made now or "in N" on the whole minute (start and end); --at as typed; a ' +
  'very short claim keeps its seconds';
test(claimTimesMinutes, () => {
  const t = new Date('2026-11-20T09:13:38Z'); // 10:13:38 Berlin
  const iso = (r: { start: Date; end: Date | null }) => [r.start.toISOString(), r.end?.toISOString() ?? null];
  assert.deepEqual(iso(claimTimes({ for: '10m' }, t, TZ)), [
    '2026-11-20T09:13:00.000Z',
    '2026-11-20T09:23:00.000Z',
  ]);
  assert.deepEqual(iso(claimTimes({ in: '5m', for: '10m' }, t, TZ)), [
    '2026-11-20T09:18:00.000Z',
    '2026-11-20T09:28:00.000Z',
  ]);
  assert.deepEqual(iso(claimTimes({ until: 'in 10m' }, t, TZ)), [
    '2026-11-20T09:13:00.000Z',
    '2026-11-20T09:23:00.000Z',
  ]);
  assert.deepEqual(iso(claimTimes({ at: '11:00', until: '12:30' }, t, TZ)), [
    '2026-11-20T10:00:00.000Z',
    '2026-11-20T11:30:00.000Z',
  ]);
  assert.deepEqual(iso(claimTimes({ for: '10s' }, t, TZ)), [
    '2026-11-20T09:13:38.000Z',
    '2026-11-20T09:13:48.000Z',
  ]);
  assert.deepEqual(iso(claimTimes({}, t, TZ)), ['2026-11-20T09:13:00.000Z', null]);
});
