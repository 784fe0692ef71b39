/**
 * The stats fixture: one host calendar's events in the week 2026-11-02 – 2026-11-09
 * (Europe/Berlin), with the hours counted by hand (see the comments).
 */
import { vtimezone } from '../src/core/zones.js';

const VTZ = vtimezone(
  'Europe/Berlin',
  new Date('2026-10-01T00:00:00Z'),
  new Date('2026-12-31T00:00:00Z'),
).trim();
const cal = (...lines: string[]) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//hosthog tests//EN', ...lines, 'END:VCALENDAR', ''].join(
    '\r\n',
  );

export const STATS_FROM = '2026-11-02T00:00:00+01:00';
export const STATS_UNTIL = '2026-11-09T00:00:00+01:00';

/** uid → ics. Hand count: dave 9 h (exclusive), erin 24 h, frank 5 h, gina 1 h in the period. */
export const STATS_EVENTS: Record<string, string> = {
  // Daily 10:00–12:00 Mon 2 … Fri 6 (5 × 2 h), minus the EXDATE on Wed 4 (−2 h), Thu 5 moved
  // to 13:00–16:00 by an override (3 h instead of 2): 2 + 2 + 3 + 2 = 9 h, all exclusive.
  'dave-series': cal(
    VTZ,
    'BEGIN:VEVENT',
    'UID:dave-series',
    'DTSTAMP:20261001T000000Z',
    'CREATED:20261001T000000Z',
    'DTSTART;TZID=Europe/Berlin:20261102T100000',
    'DTEND;TZID=Europe/Berlin:20261102T120000',
    'RRULE:FREQ=DAILY;COUNT=5',
    'EXDATE;TZID=Europe/Berlin:20261104T100000',
    'SUMMARY:dave exclusive: nightly tests',
    'END:VEVENT',
    'BEGIN:VEVENT',
    'UID:dave-series',
    'DTSTAMP:20261001T000000Z',
    'RECURRENCE-ID;TZID=Europe/Berlin:20261105T100000',
    'DTSTART;TZID=Europe/Berlin:20261105T130000',
    'DTEND;TZID=Europe/Berlin:20261105T160000',
    'SUMMARY:dave exclusive: nightly tests',
    'END:VEVENT',
  ),
  // All day Saturday 7: 24 h (shared, whole host).
  'erin-allday': cal(
    'BEGIN:VEVENT',
    'UID:erin-allday',
    'DTSTAMP:20261001T000000Z',
    'DTSTART;VALUE=DATE:20261107',
    'DTEND;VALUE=DATE:20261108',
    'SUMMARY:erin: offsite data crunching',
    'END:VEVENT',
  ),
  // Across midnight, Sat 7 22:00 – Sun 8 03:00: 5 h on gpu0 (3 of them after the all-day event).
  'frank-night': cal(
    VTZ,
    'BEGIN:VEVENT',
    'UID:frank-night',
    'DTSTAMP:20261001T000000Z',
    'DTSTART;TZID=Europe/Berlin:20261107T220000',
    'DTEND;TZID=Europe/Berlin:20261108T030000',
    'SUMMARY:frank gpu0: training',
    'END:VEVENT',
  ),
  // Sun 8 23:00 – Mon 9 02:00: only the first hour is in the period.
  'gina-late': cal(
    VTZ,
    'BEGIN:VEVENT',
    'UID:gina-late',
    'DTSTAMP:20261001T000000Z',
    'DTSTART;TZID=Europe/Berlin:20261108T230000',
    'DTEND;TZID=Europe/Berlin:20261109T020000',
    'SUMMARY:gina: late run',
    'END:VEVENT',
  ),
  // Cancelled: does not count.
  'hank-cancelled': cal(
    'BEGIN:VEVENT',
    'UID:hank-cancelled',
    'DTSTAMP:20261001T000000Z',
    'DTSTART:20261103T080000Z',
    'DTEND:20261103T160000Z',
    'STATUS:CANCELLED',
    'SUMMARY:hank exclusive: cancelled run',
    'END:VEVENT',
  ),
};
/** Hours during which at least one claim was on the host: 9 + 24 + 3 + 1. */
export const STATS_BUSY_HOURS = 37;
export const STATS_CLAIMED_HOURS = 39;
