/** lastPossibleEnd: a conservative bound on when an event object can still occur (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastPossibleEnd } from '../src/core/ics-span.js';

const MARGIN = 2 * 86_400_000;
const cal = (...lines: string[]) =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'BEGIN:VEVENT',
    'UID:x',
    ...lines,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');

test('one-off events end at DTEND (or DTSTART + DURATION, or a day for a DATE), plus the zone margin', () => {
  assert.equal(
    lastPossibleEnd(cal('DTSTART:20240101T100000Z', 'DTEND:20240101T120000Z')),
    Date.UTC(2024, 0, 1, 12) + MARGIN,
  );
  assert.equal(
    lastPossibleEnd(cal('DTSTART;TZID=Europe/Berlin:20240101T100000', 'DURATION:PT3H')),
    Date.UTC(2024, 0, 1, 13) + MARGIN,
  );
  assert.equal(lastPossibleEnd(cal('DTSTART;VALUE=DATE:20240101')), Date.UTC(2024, 0, 2) + MARGIN);
  assert.equal(
    lastPossibleEnd(
      cal(
        'DTSTART:20240101T100000Z',
        'DTEND:20240101T110000Z',
        'BEGIN:VALARM',
        'TRIGGER:-PT15M',
        'END:VALARM',
      ),
    ),
    Date.UTC(2024, 0, 1, 11) + MARGIN,
  );
});

test('series: UNTIL and COUNT bound them; no end, monthly/yearly COUNT or odd BY parts mean any time', () => {
  const s = 'DTSTART:20240101T100000Z';
  const e = 'DTEND:20240101T110000Z';
  assert.equal(
    lastPossibleEnd(cal(s, e, 'RRULE:FREQ=DAILY;UNTIL=20240110T100000Z')),
    Date.UTC(2024, 0, 10, 11) + MARGIN,
  );
  const weekly = lastPossibleEnd(cal(s, e, 'RRULE:FREQ=WEEKLY;COUNT=30'));
  assert.ok(weekly >= Date.UTC(2024, 0, 1, 11) + 29 * 7 * 86_400_000, 'covers the 30th week');
  assert.ok(weekly < Date.UTC(2025, 0, 1), 'but ends');
  assert.ok(
    lastPossibleEnd(cal(s, e, 'RRULE:FREQ=DAILY;BYDAY=MO;COUNT=5')) >= Date.UTC(2024, 0, 29, 11),
    'a filtered daily rule: five Mondays',
  );
  for (const r of [
    'RRULE:FREQ=DAILY',
    'RRULE:FREQ=MONTHLY;COUNT=3',
    'RRULE:FREQ=WEEKLY;BYMONTH=2;COUNT=3',
    'RRULE:FREQ=WEEKLY;BYDAY=1MO;COUNT=3',
  ]) {
    assert.equal(lastPossibleEnd(cal(s, e, r)), Infinity, r);
  }
  assert.equal(
    lastPossibleEnd(cal(s, e, 'RDATE:20250301T100000Z')),
    Date.UTC(2025, 2, 1, 11) + MARGIN,
    'an RDATE extends it',
  );
});

test('an overridden instance moved later counts; anything unreadable means any time', () => {
  const text = [
    'BEGIN:VCALENDAR',
    'BEGIN:VEVENT',
    'UID:x',
    'DTSTART:20240101T100000Z',
    'DTEND:20240101T110000Z',
    'RRULE:FREQ=DAILY;COUNT=2',
    'END:VEVENT',
    'BEGIN:VEVENT',
    'UID:x',
    'RECURRENCE-ID:20240102T100000Z',
    'DTSTART:20240601T100000Z',
    'DTEND:20240601T110000Z',
    'END:VEVENT',
    'END:VCALENDAR',
  ].join('\r\n');
  assert.equal(lastPossibleEnd(text), Date.UTC(2024, 5, 1, 11) + MARGIN);
  assert.equal(lastPossibleEnd(cal('DTSTART:garbage')), Infinity);
  assert.equal(lastPossibleEnd('BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nEND:VTODO\r\nEND:VCALENDAR'), Infinity);
  assert.equal(
    lastPossibleEnd(cal('DTSTART:20240101T100000Z', 'RDATE;VALUE=PERIOD:20240105T100000Z/PT1H')),
    Infinity,
  );
});
