import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './harness/cli.js';
import ICAL from 'ical.js';
import { decodeObjects, type DecodeOptions } from '../src/core/ics-read.js';
import {
  zonedToUtc,
  utcToZoned,
  vtimezone,
  resolveTzid,
  isValidZone,
  WINDOWS_ZONES,
  ABBREVIATIONS,
} from '../src/core/zones.js';
import { isClean } from '../src/core/sanitize.js';
import type { Claim, Occurrence, CalendarObject } from '../src/core/types.js';

const dir = join(REPO, 'test/fixtures') + '/';
const obj = (name: string): CalendarObject => ({
  href: `/cal/${name}`,
  etag: '"1"',
  data: readFileSync(dir + name, 'utf8'),
});
const WIDE: DecodeOptions = {
  timezone: 'Europe/Berlin',
  from: new Date('2026-01-01T00:00:00Z'),
  to: new Date('2027-01-01T00:00:00Z'),
};
const decode = (name: string, opts: DecodeOptions = WIDE) => decodeObjects([obj(name)], opts);
const iso = (d: Date) => d.toISOString();
const span = (o: Occurrence) => [iso(o.start), iso(o.end)];
const claim = (o: Occurrence): Claim => {
  assert.equal(o.kind, 'claim');
  return o as Claim;
};

const zonedToUtcAcrossDst =
  'zones: zonedToUtc across Berlin DST, gaps read with the offset before, overlaps take the earlier instant';
test(zonedToUtcAcrossDst, () => {
  assert.equal(
    iso(zonedToUtc({ year: 2026, month: 10, day: 19, hour: 9, minute: 0, second: 0 }, 'Europe/Berlin')),
    '2026-10-19T07:00:00.000Z',
  );
  assert.equal(
    iso(zonedToUtc({ year: 2026, month: 10, day: 26, hour: 9, minute: 0, second: 0 }, 'Europe/Berlin')),
    '2026-10-26T08:00:00.000Z',
  );
  // spring gap 2026-03-29 02:30 does not exist → offset before (+01:00) → 01:30Z (= 03:30 CEST)
  assert.equal(
    iso(zonedToUtc({ year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin')),
    '2026-03-29T01:30:00.000Z',
  );
  // autumn overlap 2026-10-25 02:30 happens twice → earlier (CEST) → 00:30Z
  assert.equal(
    iso(zonedToUtc({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin')),
    '2026-10-25T00:30:00.000Z',
  );
  assert.equal(
    iso(zonedToUtc({ year: 2026, month: 11, day: 1, hour: 1, minute: 30, second: 0 }, 'America/New_York')),
    '2026-11-01T05:30:00.000Z',
  );
  assert.equal(
    iso(zonedToUtc({ year: 2026, month: 6, day: 1, hour: 12, minute: 0, second: 0 }, 'UTC')),
    '2026-06-01T12:00:00.000Z',
  );
  assert.deepEqual(utcToZoned(new Date('2026-10-25T00:30:00Z'), 'Europe/Berlin'), {
    year: 2026,
    month: 10,
    day: 25,
    hour: 2,
    minute: 30,
    second: 0,
    weekday: 0,
  });
  assert.deepEqual(utcToZoned(new Date('2026-12-31T23:59:59Z'), 'Asia/Tokyo'), {
    year: 2027,
    month: 1,
    day: 1,
    hour: 8,
    minute: 59,
    second: 59,
    weekday: 5,
  });
});

test('zones: resolveTzid maps prefixed, Windows and plain names', () => {
  assert.equal(resolveTzid('Europe/Berlin'), 'Europe/Berlin');
  assert.equal(resolveTzid('/Europe/Berlin'), 'Europe/Berlin');
  assert.equal(resolveTzid('/mozilla.org/20050126_1/Europe/Berlin'), 'Europe/Berlin');
  assert.equal(resolveTzid('W. Europe Standard Time'), 'Europe/Berlin');
  assert.equal(resolveTzid('Pacific Standard Time'), 'America/Los_Angeles');
  assert.equal(resolveTzid('UTC'), 'UTC');
  assert.equal(resolveTzid('Mars/Olympus_Mons'), null);
  assert.equal(resolveTzid(''), null);
});

test('zones: vtimezone for Berlin has yearly rules; a zone without DST has one STANDARD', () => {
  const v = vtimezone('Europe/Berlin', new Date('2026-10-01Z'), new Date('2027-03-01Z'));
  assert.ok(v.endsWith('\r\n') && v.includes('\r\n') && !/[^\r]\n/.test(v));
  assert.match(
    v,
    new RegExp(
      /BEGIN:DAYLIGHT\r\nDTSTART:\d{4}0330T020000\r\nTZOFFSETFROM:\+0100\r\nTZOFFSETTO:\+0200\r\n/.source +
        /RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZNAME:CEST/.source,
    ),
  );
  assert.match(
    v,
    new RegExp(
      /BEGIN:STANDARD\r\nDTSTART:\d{4}10\d\dT030000\r\nTZOFFSETFROM:\+0200\r\nTZOFFSETTO:\+0100\r\n/.source +
        /RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZNAME:CET/.source,
    ),
  );
  const tokyo = vtimezone('Asia/Tokyo', new Date('2026-01-01Z'), new Date('2026-12-01Z'));
  assert.match(
    tokyo,
    /BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:\+0900\r\nTZOFFSETTO:\+0900/,
  );
  assert.ok(!tokyo.includes('DAYLIGHT'));
  // Sao Paulo stopped DST in 2019: its rules end (UNTIL or RDATEs), never open-ended past the end
  const sp = vtimezone('America/Sao_Paulo', new Date('2018-01-01Z'), new Date('2020-01-01Z'));
  assert.match(sp, /UNTIL=2019/);
});

test('zones: ical.js reading our VTIMEZONE agrees with Intl for every hour across the covered range', () => {
  for (const tz of [
    'Europe/Berlin',
    'America/New_York',
    'Australia/Sydney',
    'Asia/Tokyo',
    'America/Santiago',
    'America/Sao_Paulo',
    'Asia/Kolkata',
    'Australia/Lord_Howe',
    'Pacific/Chatham',
  ]) {
    const from = new Date(tz === 'America/Sao_Paulo' ? '2017-06-01T00:00:00Z' : '2026-01-01T00:00:00Z');
    const to = new Date(from.getTime() + 2 * 365 * 86_400_000);
    const cal = ICAL.Component.fromString(
      `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n${vtimezone(tz, from, to)}END:VCALENDAR\r\n`,
    );
    const zone = new ICAL.Timezone(cal.getFirstSubcomponent('vtimezone')!);
    for (let t = from.getTime(); t < to.getTime(); t += 3 * 3600_000 + 17 * 60_000) {
      const p = utcToZoned(new Date(t), tz);
      const time = new ICAL.Time(
        {
          year: p.year,
          month: p.month,
          day: p.day,
          hour: p.hour,
          minute: p.minute,
          second: p.second,
          isDate: false,
        },
        zone,
      );
      const back = time.toUnixTime() * 1000;
      // in an autumn overlap ical.js may pick the other (later) instant of the same wall time;
      // anything else must match exactly
      const ok =
        back === t ||
        (Math.abs(back - t) <= 3600_000 &&
          JSON.stringify(utcToZoned(new Date(back), tz)) === JSON.stringify(p));
      assert.ok(ok, `${tz} ${new Date(t).toISOString()} → ${new Date(back).toISOString()}`);
    }
  }
});

test('Nextcloud: TZID Europe/Berlin with VTIMEZONE after the VEVENT', () => {
  const r = decode('nextcloud-timed.ics');
  assert.deepEqual(r.problems, []);
  assert.equal(r.occurrences.length, 1);
  const c = claim(r.occurrences[0]);
  assert.deepEqual(span(c), ['2026-11-23T09:00:00.000Z', '2026-11-23T11:00:00.000Z']);
  assert.equal(c.uid, '5b0f8c1e-3d3a-4f55-9a7e-2f6f4c1d9e01');
  assert.equal(c.href, '/cal/nextcloud-timed.ics');
  assert.equal(c.recurring, false);
  assert.equal(c.recurrenceId, undefined);
  assert.equal(c.allDay, false);
  assert.equal(c.user, 'alice');
  assert.equal(c.mode, 'exclusive');
  assert.equal(c.hog, false);
  assert.deepEqual(c.resources, ['gpu0']);
  assert.equal(c.note, 'ICML runs');
  assert.deepEqual(c.allow, []);
  assert.equal(c.title, 'alice exclusive gpu0: ICML runs');
  assert.equal(iso(c.created!), '2026-11-20T10:15:00.000Z');
});

const weeklyAcrossDst =
  'weekly recurrence across the October 2026 DST change with EXDATE, RDATE, moved and cancelled overrides';
test(weeklyAcrossDst, () => {
  const r = decode('nextcloud-weekly-dst.ics');
  assert.deepEqual(r.problems, []);
  const got = r.occurrences.map((o) => [...span(o), o.recurrenceId, claim(o).mode, claim(o).note]);
  assert.deepEqual(got, [
    [
      '2026-10-12T07:00:00.000Z',
      '2026-10-12T08:00:00.000Z',
      '2026-10-12T07:00:00.000Z',
      'shared',
      'weekly sync jobs',
    ], // CEST
    // 10-19 EXDATE
    [
      '2026-10-26T08:00:00.000Z',
      '2026-10-26T09:00:00.000Z',
      '2026-10-26T08:00:00.000Z',
      'shared',
      'weekly sync jobs',
    ], // CET: still 09:00 local
    [
      '2026-10-28T13:00:00.000Z',
      '2026-10-28T14:00:00.000Z',
      '2026-10-28T13:00:00.000Z',
      'shared',
      'weekly sync jobs',
    ], // RDATE
    [
      '2026-11-03T12:00:00.000Z',
      '2026-11-03T13:00:00.000Z',
      '2026-11-02T08:00:00.000Z',
      'exclusive',
      'moved to Tuesday',
    ], // moved override
    // 11-09 cancelled override
    [
      '2026-11-16T08:00:00.000Z',
      '2026-11-16T09:00:00.000Z',
      '2026-11-16T08:00:00.000Z',
      'shared',
      'weekly sync jobs',
    ],
    [
      '2026-11-23T08:00:00.000Z',
      '2026-11-23T09:00:00.000Z',
      '2026-11-23T08:00:00.000Z',
      'shared',
      'weekly sync jobs',
    ],
    [
      '2026-11-30T08:00:00.000Z',
      '2026-11-30T09:00:00.000Z',
      '2026-11-30T08:00:00.000Z',
      'shared',
      'weekly sync jobs',
    ], // UNTIL inclusive
  ]);
  for (const o of r.occurrences) {
    assert.equal(o.recurring, true);
    assert.equal(iso(o.created!), '2026-10-01T08:00:00.000Z');
  }
});

test('window bounds: only occurrences intersecting [from,to), and maxOccurrences caps with a problem', () => {
  const r = decode('nextcloud-weekly-dst.ics', {
    timezone: 'Europe/Berlin',
    from: new Date('2026-10-26T08:30:00Z'),
    to: new Date('2026-11-16T08:00:00Z'),
  });
  assert.deepEqual(
    r.occurrences.map((o) => iso(o.start)),
    ['2026-10-26T08:00:00.000Z', '2026-10-28T13:00:00.000Z', '2026-11-03T12:00:00.000Z'],
  );
  const capped = decode('nextcloud-weekly-dst.ics', { ...WIDE, maxOccurrences: 2 });
  assert.equal(capped.occurrences.length, 2);
  assert.equal(capped.problems.length, 1);
  assert.match(capped.problems[0].message, /more than 2 occurrences/);
});

test('an endless daily rule is bounded to the window', () => {
  const data = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    'BEGIN:VEVENT',
    'UID:daily',
    'DTSTAMP:20200101T000000Z',
    'SUMMARY:zoe',
    'DTSTART:20200101T100000Z',
    'DTEND:20200101T110000Z',
    'RRULE:FREQ=DAILY',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  const r = decodeObjects([{ href: '/d', etag: null, data }], {
    timezone: 'UTC',
    from: new Date('2026-11-01T00:00:00Z'),
    to: new Date('2026-11-04T00:00:00Z'),
  });
  assert.deepEqual(
    r.occurrences.map((o) => iso(o.start)),
    ['2026-11-01T10:00:00.000Z', '2026-11-02T10:00:00.000Z', '2026-11-03T10:00:00.000Z'],
  );
  assert.deepEqual(r.problems, []);
});

test('Thunderbird: X-MOZ props and VALARM, hog title', () => {
  const r = decode('thunderbird.ics');
  const c = claim(r.occurrences[0]);
  assert.deepEqual(span(c), ['2026-12-01T07:00:00.000Z', '2026-12-01T17:00:00.000Z']);
  assert.equal(c.user, 'carol');
  assert.equal(c.hog, true);
  assert.equal(c.mode, 'exclusive');
  assert.equal(c.note, 'benchmarks');
  assert.equal(iso(c.created!), '2026-11-18T15:30:12.000Z');
});

test('iOS: prefixed TZID "/Europe/Berlin", "Maintenance window" is an announcement', () => {
  const r = decode('ios-prefixed-tzid.ics');
  assert.equal(r.occurrences.length, 1);
  const a = r.occurrences[0];
  assert.equal(a.kind, 'announcement');
  assert.equal(a.kind === 'announcement' && a.text, 'Maintenance window');
  assert.deepEqual(span(a), ['2026-11-25T17:00:00.000Z', '2026-11-25T19:00:00.000Z']);
});

test('Mozilla-prefixed TZID without VTIMEZONE resolves through Intl', () => {
  const c = claim(decode('mozilla-prefixed-no-vtimezone.ics').occurrences[0]);
  assert.deepEqual(span(c), ['2026-11-27T14:00:00.000Z', '2026-11-27T15:00:00.000Z']);
  assert.equal(c.user, 'frank');
  assert.equal(iso(c.created!), '2026-11-21T08:00:00.000Z'); // no CREATED → DTSTAMP
});

test('DAVx5: America/New_York, resources with a space after the comma', () => {
  const c = claim(decode('davx5-newyork.ics').occurrences[0]);
  assert.deepEqual(span(c), ['2026-11-24T14:00:00.000Z', '2026-11-24T22:00:00.000Z']);
  assert.deepEqual(c.resources, ['gpu0', 'gpu1']);
  assert.equal(c.note, 'training');
  assert.equal(c.mode, 'shared');
});

test('Outlook: Windows zone name, with and without VTIMEZONE', () => {
  const c = claim(decode('outlook-windows-zone.ics').occurrences[0]);
  assert.deepEqual(span(c), ['2026-11-26T08:00:00.000Z', '2026-11-26T10:00:00.000Z']);
  assert.equal(c.user, 'erin');
  assert.equal(c.mode, 'exclusive');
  const s = claim(decode('outlook-windows-zone-no-vtimezone.ics').occurrences[0]);
  assert.deepEqual(span(s), ['2026-07-15T07:00:00.000Z', '2026-07-15T08:00:00.000Z']); // summer: +02:00
  assert.equal(s.mode, 'shared');
});

test('all-day events are whole days in the host zone (also across DST); missing DTEND = one day', () => {
  const a = decode('allday.ics').occurrences[0];
  assert.equal(a.kind, 'announcement');
  assert.equal(a.allDay, true);
  assert.deepEqual(span(a), ['2026-10-23T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
  const g = claim(decode('allday-no-dtend.ics').occurrences[0]);
  assert.deepEqual(span(g), ['2026-11-23T23:00:00.000Z', '2026-11-24T23:00:00.000Z']);
  const ny = claim(decode('allday-no-dtend.ics', { ...WIDE, timezone: 'America/New_York' }).occurrences[0]);
  assert.deepEqual(span(ny), ['2026-11-24T05:00:00.000Z', '2026-11-25T05:00:00.000Z']);
});

test('floating times are host time', () => {
  const c = claim(decode('floating.ics').occurrences[0]);
  assert.deepEqual(span(c), ['2026-11-24T09:00:00.000Z', '2026-11-24T10:30:00.000Z']);
  assert.deepEqual([c.user, c.mode, c.resources, c.note], ['henry', 'exclusive', ['gpu3'], 'floating time']);
  const u = claim(decode('floating.ics', { ...WIDE, timezone: 'UTC' }).occurrences[0]);
  assert.deepEqual(span(u), ['2026-11-24T10:00:00.000Z', '2026-11-24T11:30:00.000Z']);
});

test('TZID without VTIMEZONE: weekly across the US DST change stays 09:00 New York time', () => {
  const r = decode('tzid-no-vtimezone-weekly.ics');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.occurrences.map(span), [
    ['2026-10-26T13:00:00.000Z', '2026-10-26T14:00:00.000Z'],
    ['2026-11-02T14:00:00.000Z', '2026-11-02T15:00:00.000Z'],
    ['2026-11-09T14:00:00.000Z', '2026-11-09T15:00:00.000Z'],
  ]);
});

test('UTC EXDATE and UTC RECURRENCE-IDs match a TZID known only to Intl (Google style)', () => {
  const r = decode('utc-exdate-override-no-vtimezone.ics');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(
    r.occurrences.map((o) => [...span(o), o.recurrenceId, claim(o).note]),
    [
      ['2026-10-26T13:00:00.000Z', '2026-10-26T14:00:00.000Z', '2026-10-26T13:00:00.000Z', ''],
      // 11-02 excluded by a UTC EXDATE (09:00 EST = 14:00Z)
      ['2026-11-09T20:00:00.000Z', '2026-11-09T21:00:00.000Z', '2026-11-09T14:00:00.000Z', 'evening instead'],
      // 11-16 cancelled by a UTC override
    ],
  );
  assert.deepEqual(claim(r.occurrences[1]).resources, ['gpu1']);
});

test('an RDATE written in UTC next to a zoned DTSTART keeps its instant', () => {
  const data = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    'BEGIN:VEVENT',
    'UID:rd',
    'DTSTAMP:20260101T000000Z',
    'SUMMARY:ivan',
    'DTSTART;TZID=Europe/Berlin:20261026T090000',
    'DTEND;TZID=Europe/Berlin:20261026T100000',
    'RRULE:FREQ=WEEKLY;COUNT=2',
    'RDATE:20261028T150000Z',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  const r = decodeObjects([{ href: '/rd', etag: null, data }], WIDE);
  assert.deepEqual(
    r.occurrences.map((o) => [...span(o), o.recurrenceId]),
    [
      ['2026-10-26T08:00:00.000Z', '2026-10-26T09:00:00.000Z', '2026-10-26T08:00:00.000Z'],
      ['2026-10-28T15:00:00.000Z', '2026-10-28T16:00:00.000Z', '2026-10-28T15:00:00.000Z'],
      ['2026-11-02T08:00:00.000Z', '2026-11-02T09:00:00.000Z', '2026-11-02T08:00:00.000Z'],
    ],
  );
});

test('an unknown TZID without VTIMEZONE is read as host time and reported', () => {
  const data = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//t//EN',
    'BEGIN:VEVENT',
    'UID:mars',
    'DTSTAMP:20260101T000000Z',
    'SUMMARY:zed',
    'DTSTART;TZID=Mars/Olympus:20261124T100000',
    'DTEND;TZID=Mars/Olympus:20261124T110000',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  const r = decodeObjects([{ href: '/m', etag: null, data }], WIDE);
  assert.deepEqual(span(r.occurrences[0]), ['2026-11-24T09:00:00.000Z', '2026-11-24T10:00:00.000Z']);
  assert.equal(r.problems.length, 1, 'named once, not once per property');
  assert.match(r.problems[0].message, /unknown time zone Mars\/Olympus/);
  assert.equal(r.problems[0].shown, true);
  assert.match(r.occurrences[0].title, /\(time zone unknown\)$/);
});

const pythonEst =
  "TZID=EST as python-caldav/icalendar write it (no VTIMEZONE): the zone database's EST, not host time";
test(pythonEst, () => {
  const r = decode('python-icalendar-tzid-est.ics');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(
    r.occurrences.map((o) => [o.uid, ...span(o)]),
    [
      ['py-est5edt-1', '2026-06-15T13:00:00.000Z', '2026-06-15T14:00:00.000Z'], // 09:00 EDT
      // 09:00 EST = 14:00Z (host zone would be 08:00Z)
      ['py-est-1', '2026-11-24T14:00:00.000Z', '2026-11-24T16:00:00.000Z'],
    ],
  );
  assert.equal(claim(r.occurrences[1]).note, 'training run');
});

test('every legacy zone name the system has a file for is read with its own offset', () => {
  const jan = { year: 2026, month: 1, day: 15, hour: 12, minute: 0, second: 0 };
  const want: Record<string, number> = {
    EST: -5,
    EST5EDT: -5,
    CET: 1,
    MST: -7,
    HST: -10,
    EET: 2,
    WET: 0,
    MET: 1,
    PST8PDT: -8,
    CST6CDT: -6,
    MST7MDT: -7,
    Japan: 9,
  };
  for (const [name, h] of Object.entries(want)) {
    const tz = resolveTzid(name);
    assert.ok(tz, `${name} resolves`);
    assert.equal(iso(zonedToUtc(jan, tz)), new Date(Date.UTC(2026, 0, 15, 12 - h)).toISOString(), name);
  }
});

const abbreviationsNameRegion =
  "abbreviations from the documented table (EDT, JST, …) name their region; ICU's legacy IDs do not leak in";
test(abbreviationsNameRegion, () => {
  const edt = decode('tzid-edt-abbreviation.ics');
  assert.deepEqual(edt.problems, []);
  assert.deepEqual(edt.occurrences.map(span), [['2026-07-15T13:00:00.000Z', '2026-07-15T14:00:00.000Z']]);
  const jst = decode('tzid-jst-abbreviation.ics');
  assert.deepEqual(jst.problems, []);
  assert.deepEqual(jst.occurrences.map(span), [['2026-11-24T00:00:00.000Z', '2026-11-24T03:00:00.000Z']]);
  assert.equal(resolveTzid('BST'), 'Europe/London', "British Summer Time, not ICU's Dhaka");
  assert.equal(resolveTzid('pdt'), 'America/Los_Angeles');
  assert.equal(resolveTzid('CEST'), 'Europe/Berlin');
  for (const [k, v] of Object.entries(ABBREVIATIONS)) assert.ok(isValidZone(v), `${k} → ${v} is a zone here`);
  for (const [k, v] of Object.entries(WINDOWS_ZONES)) assert.ok(isValidZone(v), `${k} → ${v} is a zone here`);
  assert.ok(Object.keys(WINDOWS_ZONES).length >= 130);
  assert.equal(resolveTzid('Tokyo Standard Time'), 'Asia/Tokyo');
  assert.equal(resolveTzid('FLE Standard Time'), 'Europe/Kyiv');
});

const unknownTzidMarked =
  'an unknown TZID: shown in host time with a visible mark on every occurrence, named once as shown';
test(unknownTzidMarked, () => {
  const r = decode('tzid-unknown.ics');
  assert.deepEqual(
    r.occurrences.map((o) => [...span(o), claim(o).note]),
    [
      ['2026-11-24T09:00:00.000Z', '2026-11-24T10:00:00.000Z', '(time zone unknown)'],
      ['2026-11-25T09:00:00.000Z', '2026-11-25T10:00:00.000Z', '(time zone unknown)'],
    ],
  );
  assert.deepEqual(r.problems, [
    {
      href: '/cal/tzid-unknown.ics',
      shown: true,
      message:
        'unknown time zone Springfield Local Time: shown in Europe/Berlin time, marked (time zone unknown)',
    },
  ]);
});

test('DURATION instead of DTEND; DTSTART only = 1 minute', () => {
  const r = decode('duration-and-instant.ics');
  assert.deepEqual(
    r.occurrences.map((o) => [o.uid, ...span(o)]),
    [
      ['dur-1', '2026-11-24T10:00:00.000Z', '2026-11-24T11:30:00.000Z'],
      ['instant-1', '2026-11-24T12:00:00.000Z', '2026-11-24T12:01:00.000Z'],
    ],
  );
});

const endBeforeStart =
  'an end at or before the start: the event is left out and named as a problem (also for one override)';
test(endBeforeStart, () => {
  const ev = (uid: string, start: string, end: string, extra = '') =>
    [
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20261101T000000Z',
      `DTSTART:${start}`,
      `DTEND:${end}`,
      'SUMMARY:ivan excl',
      extra,
      'END:VEVENT',
    ]
      .filter(Boolean)
      .join('\r\n');
  const cal = (...evs: string[]) =>
    ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', ...evs, 'END:VCALENDAR', ''].join('\r\n');
  const r = decodeObjects(
    [
      { href: '/cal/back.ics', etag: null, data: cal(ev('back-1', '20261130T110000Z', '20261130T100000Z')) },
      { href: '/cal/zero.ics', etag: null, data: cal(ev('zero-1', '20261130T110000Z', '20261130T110000Z')) },
      {
        href: '/cal/weekly.ics',
        etag: null,
        data: cal(
          ev('wk-1', '20261102T090000Z', '20261102T100000Z', 'RRULE:FREQ=WEEKLY;COUNT=3'),
          ev('wk-1', '20261109T090000Z', '20261109T080000Z', 'RECURRENCE-ID:20261109T090000Z'),
        ),
      },
    ],
    WIDE,
  );
  assert.deepEqual(
    r.occurrences.map((o) => [o.uid, iso(o.start)]),
    [
      ['wk-1', '2026-11-02T09:00:00.000Z'],
      ['wk-1', '2026-11-16T09:00:00.000Z'],
    ],
  );
  assert.deepEqual(
    r.problems.map((p) => [p.href, p.message]),
    [
      ['/cal/back.ics', 'event back-1 does not end after it starts: ignored'],
      ['/cal/zero.ics', 'event zero-1 does not end after it starts: ignored'],
      ['/cal/weekly.ics', 'event wk-1 does not end after it starts: ignored'],
    ],
  );
});

const uidInTwoFiles =
  'one UID in two files (a vdir can hold that): the first file by name keeps it, the copy ' +
  'is named as a problem';
test(uidInTwoFiles, () => {
  const ev = (summary: string) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//t//EN',
      'BEGIN:VEVENT',
      'UID:same-1',
      'DTSTAMP:20261101T000000Z',
      'DTSTART:20261130T100000Z',
      'DTEND:20261130T110000Z',
      `SUMMARY:${summary}`,
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  const r = decodeObjects(
    [
      { href: '/cal/qa15.ics', etag: null, data: ev('grace gpu1') },
      { href: '/cal/qa14.ics', etag: null, data: ev('alice hog') },
    ],
    WIDE,
  );
  assert.deepEqual(
    r.occurrences.map((o) => [o.uid, claim(o).user]),
    [['same-1', 'alice']],
  );
  assert.deepEqual(r.problems, [
    { href: '/cal/qa15.ics', message: 'UID same-1 is also used by qa14.ics: this copy is ignored' },
  ]);
});

test('STATUS:CANCELLED events are ignored', () => {
  const r = decode('cancelled.ics');
  assert.deepEqual(r.occurrences, []);
  assert.deepEqual(r.problems, []);
});

test('no UID and broken objects become problems, never exceptions; good objects still decode', () => {
  const r = decodeObjects(
    [obj('no-uid.ics'), obj('broken.ics'), obj('nextcloud-timed.ics'), { href: '/x', etag: null, data: '' }],
    WIDE,
  );
  assert.equal(r.occurrences.length, 1);
  assert.equal(r.occurrences[0].uid, '5b0f8c1e-3d3a-4f55-9a7e-2f6f4c1d9e01');
  assert.deepEqual(
    r.problems.map((p) => p.href),
    ['/cal/no-uid.ics', '/cal/broken.ics', '/x'],
  );
  assert.match(r.problems[0].message, /without UID/);
});

test('hosthog-written event: X-HOSTHOG props are authoritative', () => {
  const c = claim(decode('hosthog-written.ics').occurrences[0]);
  assert.deepEqual(span(c), ['2026-11-24T08:00:00.000Z', '2026-11-24T20:00:00.000Z']);
  assert.deepEqual(
    [c.user, c.mode, c.hog, c.resources, c.note, c.allow],
    ['alice', 'exclusive', true, ['gpu0', 'gpu1'], 'ICML, final runs', ['bob', 'carol']],
  );
  assert.equal(c.title, 'alice hog gpu0,gpu1: ICML, final runs');
});

test('hosthog event whose SUMMARY a person edited: the title wins over stale X- props and categories', () => {
  const c = claim(decode('hosthog-edited-in-webapp.ics').occurrences[0]);
  assert.deepEqual(
    [c.user, c.mode, c.hog, c.resources, c.note],
    ['alice', 'shared', false, [], 'only gpu checks now'],
  );
  assert.deepEqual(c.allow, ['bob']); // same user: the allow list (not expressible in a title) stays
});

const forgedProperties =
  'forged hosthog properties: invalid user falls back to the title, bad allow/resource entries are dropped';
test(forgedProperties, () => {
  const ev = (xuser: string) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//t//EN',
      'BEGIN:VEVENT',
      'UID:forged',
      'DTSTAMP:20260101T000000Z',
      'SUMMARY:bob excl',
      'DTSTART:20261124T100000Z',
      'DTEND:20261124T110000Z',
      'X-HOSTHOG-KIND:claim',
      `X-HOSTHOG-USER:${xuser}`,
      'X-HOSTHOG-MODE:shared',
      'X-HOSTHOG-HOG:yes',
      'X-HOSTHOG-RESOURCES:gpu0\\,gpu 1;rm\\,GPU2',
      'X-HOSTHOG-ALLOW:carol\\,-oProxyCommand=x\\,Dave\\,a b',
      'X-HOSTHOG-SUMMARY:bob excl',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  const ok = claim(decodeObjects([{ href: '/f', etag: null, data: ev('bob') }], WIDE).occurrences[0]);
  assert.deepEqual(
    [ok.user, ok.mode, ok.hog, ok.resources, ok.allow],
    ['bob', 'exclusive', true, ['gpu0', 'gpu2'], ['carol', 'Dave']],
  );
  const bad = claim(
    decodeObjects([{ href: '/f', etag: null, data: ev('root\u001b[31m x') }], WIDE).occurrences[0],
  );
  assert.deepEqual(
    [bad.user, bad.mode, bad.hog, bad.resources, bad.allow],
    ['bob', 'exclusive', false, [], []],
  );
});

test('hostile titles: escape sequences, bell, bidi overrides removed; 10 kB title capped', () => {
  const r = decode('hostile-titles.ics');
  assert.equal(r.occurrences.length, 3);
  const [a, b, c] = r.occurrences;
  assert.equal(a.title, 'Free pizza now evil');
  assert.equal(a.kind === 'announcement' && a.text, 'Free pizza now evil');
  const m = claim(b);
  assert.equal(m.user, 'mallory');
  assert.equal(m.note, 'click me');
  assert.equal(m.title, 'mallory excl: click me');
  assert.equal(Array.from(c.title).length, 200);
  assert.ok(c.title.endsWith('…'));
  for (const o of r.occurrences) {
    assert.ok(isClean(o.title), o.title);
    if (o.kind === 'announcement') assert.ok(isClean(o.text) && Array.from(o.text).length <= 200);
    else assert.ok(isClean(o.note) && isClean(o.user));
  }
});

test('results from several objects are sorted by start', () => {
  const r = decodeObjects(
    ['thunderbird.ics', 'floating.ics', 'nextcloud-timed.ics', 'allday.ics'].map(obj),
    WIDE,
  );
  const starts = r.occurrences.map((o) => o.start.getTime());
  assert.deepEqual(
    starts,
    [...starts].sort((x, y) => x - y),
  );
  assert.equal(r.occurrences.length, 4);
});
