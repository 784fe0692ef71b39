import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './harness/cli.js';
import { encodeEvent, patchEvent, type ClaimSpec, type AnnouncementSpec } from '../src/core/ics-write.js';
import { decodeObjects, type DecodeOptions } from '../src/core/ics-read.js';
import { UsageError } from '../src/core/errors.js';
import type { Claim, Occurrence } from '../src/core/types.js';

const NOW = new Date('2026-11-20T08:00:00Z');
const LATER = new Date('2026-11-21T09:30:00Z');
const WIN: DecodeOptions = {
  timezone: 'Europe/Berlin',
  from: new Date('2026-01-01T00:00:00Z'),
  to: new Date('2027-06-01T00:00:00Z'),
};
const dec = (data: string, opts: DecodeOptions = WIN) =>
  decodeObjects([{ href: '/cal/x.ics', etag: null, data }], opts);
const iso = (d: Date) => d.toISOString();
const claim = (o: Occurrence): Claim => {
  assert.equal(o.kind, 'claim');
  return o as Claim;
};
const fixture = (n: string) => readFileSync(join(REPO, 'test/fixtures', n), 'utf8');

const spec: ClaimSpec = {
  kind: 'claim',
  uid: 'hosthog-1234',
  host: 'gpu-box-1',
  user: 'alice',
  mode: 'exclusive',
  hog: false,
  resources: ['gpu0', 'gpu1'],
  note: 'ICML runs; phase 2, final',
  allow: ['bob'],
  start: new Date('2026-11-24T08:00:00Z'),
  end: new Date('2026-11-24T12:00:00Z'),
  timezone: 'Europe/Berlin',
};

function prop(ics: string, name: string): string[] {
  const unfolded = ics.replace(/\r\n[ \t]/g, '').replace(/BEGIN:VTIMEZONE[\s\S]*?END:VTIMEZONE\r\n/g, '');
  return unfolded
    .split('\r\n')
    .filter((l) => l.split(/[;:]/)[0] === name)
    .map((l) => l.slice(l.indexOf(':') + 1));
}

test('encodeEvent: a phone/Nextcloud-valid VCALENDAR with hosthog properties', () => {
  const ics = encodeEvent(spec, NOW);
  assert.ok(ics.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:'));
  assert.ok(ics.endsWith('END:VCALENDAR\r\n'));
  assert.ok(!/[^\r]\n/.test(ics), 'CRLF only');
  for (const line of ics.split('\r\n')) assert.ok(Buffer.byteLength(line) <= 75, line);
  assert.deepEqual(prop(ics, 'UID'), ['hosthog-1234']);
  assert.deepEqual(prop(ics, 'DTSTAMP'), ['20261120T080000Z']);
  assert.deepEqual(prop(ics, 'CREATED'), ['20261120T080000Z']);
  assert.deepEqual(prop(ics, 'LAST-MODIFIED'), ['20261120T080000Z']);
  assert.deepEqual(prop(ics, 'SEQUENCE'), ['0']);
  assert.deepEqual(prop(ics, 'STATUS'), ['CONFIRMED']);
  assert.match(ics, /\r\nDTSTART;TZID=Europe\/Berlin:20261124T090000\r\n/);
  assert.match(ics, /\r\nDTEND;TZID=Europe\/Berlin:20261124T130000\r\n/);
  assert.match(ics, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Berlin\r\n/);
  assert.deepEqual(prop(ics, 'SUMMARY'), ['alice exclusive gpu0\\,gpu1: ICML runs\\; phase 2\\, final']);
  assert.deepEqual(prop(ics, 'CATEGORIES'), ['hosthog,claim,exclusive']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-KIND'), ['claim']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-USER'), ['alice']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-MODE'), ['exclusive']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-HOG'), ['FALSE']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-RESOURCES'), ['gpu0\\,gpu1']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-NOTE'), ['ICML runs\\; phase 2\\, final']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-ALLOW'), ['bob']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-HOST'), ['gpu-box-1']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-SUMMARY'), prop(ics, 'SUMMARY'));
  assert.deepEqual(prop(ics, 'RRULE'), []);
});

test('encodeEvent in UTC writes UTC times and no VTIMEZONE', () => {
  const ics = encodeEvent({ ...spec, timezone: 'UTC' }, NOW);
  assert.match(ics, /\r\nDTSTART:20261124T080000Z\r\n/);
  assert.match(ics, /\r\nDTEND:20261124T120000Z\r\n/);
  assert.ok(!ics.includes('VTIMEZONE'));
});

test('round trip: encodeEvent → decodeObjects gives the same claim fields and instants', () => {
  for (const s of [
    spec,
    { ...spec, hog: true, mode: 'shared' as const, resources: [], note: '', allow: [] },
    { ...spec, timezone: 'America/New_York' },
    { ...spec, timezone: 'UTC' },
  ]) {
    const r = dec(encodeEvent(s, NOW));
    assert.deepEqual(r.problems, []);
    assert.equal(r.occurrences.length, 1);
    const c = claim(r.occurrences[0]);
    assert.equal(c.uid, s.uid);
    assert.equal(iso(c.start), iso(s.start));
    assert.equal(iso(c.end), iso(s.end));
    assert.equal(c.user, s.user);
    assert.equal(c.mode, s.hog ? 'exclusive' : s.mode);
    assert.equal(c.hog, s.hog);
    assert.deepEqual(c.resources, s.resources);
    assert.equal(c.note, s.note);
    assert.deepEqual(c.allow, s.allow);
    assert.equal(c.recurring, false);
    assert.equal(iso(c.created!), iso(NOW));
  }
});

test('round trip of an announcement with author', () => {
  const a: AnnouncementSpec = {
    kind: 'announcement',
    uid: 'ann-1',
    host: 'gpu-box-1',
    text: 'NixOS upgrade, reboot at 18:00',
    start: new Date('2026-11-28T17:00:00Z'),
    end: new Date('2026-11-28T19:00:00Z'),
    timezone: 'Europe/Berlin',
    author: 'root',
  };
  const ics = encodeEvent(a, NOW);
  assert.deepEqual(prop(ics, 'CATEGORIES'), ['hosthog,announcement']);
  assert.deepEqual(prop(ics, 'X-HOSTHOG-KIND'), ['announcement']);
  const o = dec(ics).occurrences[0];
  assert.equal(o.kind, 'announcement');
  assert.equal(o.kind === 'announcement' && o.text, 'NixOS upgrade, reboot at 18:00');
  assert.deepEqual([iso(o.start), iso(o.end)], ['2026-11-28T17:00:00.000Z', '2026-11-28T19:00:00.000Z']);
});

test('a hostile note/user is cleaned before it is written', () => {
  const ics = encodeEvent(
    { ...spec, note: 'a\r\nEND:VEVENT\r\n\u001b[31mx\u202e', resources: ['GPU0', 'gpu0'] },
    NOW,
  );
  assert.ok(!ics.includes('\u001b') && !ics.includes('\u202e'));
  assert.equal((ics.match(/\r\nEND:VEVENT\r\n/g) ?? []).length, 1);
  assert.equal((ics.match(/\r\nBEGIN:/g) ?? []).length, 4); // VTIMEZONE, DAYLIGHT, STANDARD, VEVENT
  const c = claim(dec(ics).occurrences[0]);
  assert.equal(c.note, 'a END:VEVENT x');
  assert.deepEqual(claim(dec(ics).occurrences[0]).resources, ['gpu0']);
  assert.throws(() => encodeEvent({ ...spec, user: 'Bad User!' }, NOW), UsageError);
  assert.throws(() => encodeEvent({ ...spec, allow: ['-oProxyCommand=x'] }, NOW), UsageError);
  assert.throws(() => encodeEvent({ ...spec, resources: ['gpu0;x'] }, NOW), UsageError);
  assert.throws(
    () => patchEvent(encodeEvent(spec, NOW), { allow: ['a b'] }, LATER, { timezone: 'UTC' }),
    UsageError,
  );
  assert.throws(() => encodeEvent({ ...spec, end: spec.start }, NOW), UsageError);
  assert.throws(() => encodeEvent({ ...spec, timezone: 'Mars/Base' }, NOW), UsageError);
  assert.throws(() => encodeEvent({ ...spec, rrule: 'FREQ=WEEKLY\r\nX:1' }, NOW), UsageError);
});

test('a recurring claim written in Europe/Berlin at 09:00 stays at 09:00 local across DST', () => {
  const ics = encodeEvent(
    {
      ...spec,
      start: new Date('2026-10-12T07:00:00Z'),
      end: new Date('2026-10-12T09:00:00Z'),
      rrule: 'FREQ=WEEKLY;BYDAY=MO;UNTIL=20270405T000000Z',
    },
    NOW,
  );
  assert.deepEqual(prop(ics, 'RRULE'), ['FREQ=WEEKLY;BYDAY=MO;UNTIL=20270405T000000Z']);
  const r = dec(ics);
  assert.equal(r.occurrences.length, 25); // Mondays 2026-10-12 … 2027-03-29
  const byDay = new Map(r.occurrences.map((o) => [iso(o.start).slice(0, 10), iso(o.start).slice(11, 16)]));
  assert.equal(byDay.get('2026-10-19'), '07:00'); // CEST
  assert.equal(byDay.get('2026-10-26'), '08:00'); // CET after 25 Oct
  assert.equal(byDay.get('2027-03-22'), '08:00');
  assert.equal(byDay.get('2027-03-29'), '07:00'); // CEST again after 28 Mar
  for (const o of r.occurrences) {
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(o.start);
    assert.equal(local, '09:00');
    assert.equal(o.end.getTime() - o.start.getTime(), 2 * 3600_000);
    assert.equal(o.recurring, true);
    assert.equal(o.recurrenceId, iso(o.start));
  }
});

test('patchEvent keeps unknown X-FOO and the VALARM, bumps SEQUENCE, updates DTSTAMP/LAST-MODIFIED', () => {
  const base = encodeEvent(spec, NOW).replace(
    'END:VEVENT',
    'X-FOO;X-PARAM=1:keep me\\, please\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\n' +
      'DESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT',
  );
  const out = patchEvent(base, { note: 'new note', hog: true }, LATER, { timezone: 'Europe/Berlin' });
  assert.deepEqual(prop(out, 'X-FOO'), ['keep me\\, please']);
  assert.match(out.replace(/\r\n[ \t]/g, ''), /X-FOO;X-PARAM=1:keep me\\, please/);
  assert.match(out, /BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:soon\r\nEND:VALARM/);
  assert.deepEqual(prop(out, 'SEQUENCE'), ['1']);
  assert.deepEqual(prop(out, 'DTSTAMP'), ['20261121T093000Z']);
  assert.deepEqual(prop(out, 'LAST-MODIFIED'), ['20261121T093000Z']);
  assert.deepEqual(prop(out, 'CREATED'), ['20261120T080000Z']);
  assert.deepEqual(prop(out, 'SUMMARY'), ['alice hog gpu0\\,gpu1: new note']);
  assert.deepEqual(prop(out, 'X-HOSTHOG-SUMMARY'), prop(out, 'SUMMARY'));
  assert.deepEqual(prop(out, 'X-HOSTHOG-HOG'), ['TRUE']);
  assert.deepEqual(prop(out, 'X-HOSTHOG-NOTE'), ['new note']);
  assert.deepEqual(prop(out, 'CATEGORIES'), ['hosthog,claim,exclusive,hog']);
  assert.equal(prop(out, 'X-HOSTHOG-KIND').length, 1);
  const c = claim(dec(out).occurrences[0]);
  assert.deepEqual(
    [c.user, c.mode, c.hog, c.note, c.resources, c.allow],
    ['alice', 'exclusive', true, 'new note', ['gpu0', 'gpu1'], ['bob']],
  );
  assert.equal(iso(c.start), iso(spec.start));
  // a second patch bumps again; mode shared clears hog
  const out2 = patchEvent(out, { mode: 'shared', allow: ['carol', 'dave'], resources: [] }, LATER, {
    timezone: 'Europe/Berlin',
  });
  assert.deepEqual(prop(out2, 'SEQUENCE'), ['2']);
  const c2 = claim(dec(out2).occurrences[0]);
  assert.deepEqual(
    [c2.mode, c2.hog, c2.allow, c2.resources, c2.title],
    ['shared', false, ['carol', 'dave'], [], 'alice: new note'],
  );
});

test("patchEvent moves times in the event's own zone and can cancel", () => {
  const moved = patchEvent(
    encodeEvent(spec, NOW),
    { start: new Date('2026-11-25T13:00:00Z'), end: new Date('2026-11-25T15:30:00Z') },
    LATER,
    { timezone: 'Europe/Berlin' },
  );
  assert.match(moved, /\r\nDTSTART;TZID=Europe\/Berlin:20261125T140000\r\n/);
  assert.match(moved, /\r\nDTEND;TZID=Europe\/Berlin:20261125T163000\r\n/);
  const c = claim(dec(moved).occurrences[0]);
  assert.deepEqual(
    [iso(c.start), iso(c.end), c.note],
    ['2026-11-25T13:00:00.000Z', '2026-11-25T15:30:00.000Z', spec.note],
  );
  // only the start: the length is kept
  const shifted = patchEvent(encodeEvent(spec, NOW), { start: new Date('2026-11-24T10:00:00Z') }, LATER, {
    timezone: 'Europe/Berlin',
  });
  const s = dec(shifted).occurrences[0];
  assert.deepEqual([iso(s.start), iso(s.end)], ['2026-11-24T10:00:00.000Z', '2026-11-24T14:00:00.000Z']);
  const cancelled = patchEvent(encodeEvent(spec, NOW), { cancelled: true }, LATER, {
    timezone: 'Europe/Berlin',
  });
  assert.deepEqual(prop(cancelled, 'STATUS'), ['CANCELLED']);
  assert.deepEqual(dec(cancelled).occurrences, []);
  assert.throws(
    () =>
      patchEvent(encodeEvent(spec, NOW), { end: new Date('2026-11-24T07:00:00Z') }, LATER, {
        timezone: 'Europe/Berlin',
      }),
    UsageError,
  );
  assert.throws(() => patchEvent('garbage', { note: 'x' }, LATER, { timezone: 'Europe/Berlin' }), UsageError);
});

test('patchEvent with recurrenceId: edit one occurrence (override), cancel another (EXDATE)', () => {
  const weekly = encodeEvent(
    {
      ...spec,
      start: new Date('2026-10-19T07:00:00Z'),
      end: new Date('2026-10-19T09:00:00Z'),
      rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=4',
    },
    NOW,
  );
  const edited = patchEvent(
    weekly,
    {
      note: 'only this week',
      start: new Date('2026-10-27T09:00:00Z'),
      end: new Date('2026-10-27T10:00:00Z'),
    },
    LATER,
    { timezone: 'Europe/Berlin', recurrenceId: '2026-10-26T08:00:00.000Z' },
  );
  assert.match(edited, /RECURRENCE-ID;TZID=Europe\/Berlin:20261026T090000/);
  const twice = patchEvent(edited, { note: 'edited again' }, LATER, {
    timezone: 'Europe/Berlin',
    recurrenceId: '2026-10-26T08:00:00.000Z',
  });
  // the same override is edited, not a second one
  assert.equal((twice.match(/RECURRENCE-ID/g) ?? []).length, 1);
  const cancelled = patchEvent(twice, { cancelled: true }, LATER, {
    timezone: 'Europe/Berlin',
    recurrenceId: '2026-11-02T08:00:00.000Z',
  });
  assert.match(cancelled, /\r\nEXDATE;TZID=Europe\/Berlin:20261102T090000\r\n/);
  const got = dec(cancelled).occurrences.map((o) => [
    iso(o.start),
    iso(o.end),
    o.recurrenceId,
    claim(o).note,
  ]);
  assert.deepEqual(got, [
    ['2026-10-19T07:00:00.000Z', '2026-10-19T09:00:00.000Z', '2026-10-19T07:00:00.000Z', spec.note],
    ['2026-10-27T09:00:00.000Z', '2026-10-27T10:00:00.000Z', '2026-10-26T08:00:00.000Z', 'edited again'],
    ['2026-11-09T08:00:00.000Z', '2026-11-09T10:00:00.000Z', '2026-11-09T08:00:00.000Z', spec.note],
  ]);
  // cancelling the overridden occurrence drops its override too
  const gone = patchEvent(cancelled, { cancelled: true }, LATER, {
    timezone: 'Europe/Berlin',
    recurrenceId: '2026-10-26T08:00:00.000Z',
  });
  assert.equal((gone.match(/RECURRENCE-ID/g) ?? []).length, 0);
  assert.deepEqual(
    dec(gone).occurrences.map((o) => iso(o.start)),
    ['2026-10-19T07:00:00.000Z', '2026-11-09T08:00:00.000Z'],
  );
});

test('patchEvent on events written by calendar apps keeps their data and adds hosthog properties', () => {
  const nc = fixture('nextcloud-weekly-dst.ics');
  const out = patchEvent(nc, { note: 'new plan' }, LATER, { timezone: 'Europe/Berlin' });
  assert.match(out, /PRODID:-\/\/IDN nextcloud.com\/\/Calendar app 4.7.6\/\/EN/);
  assert.equal((out.match(/BEGIN:VEVENT/g) ?? []).length, 3);
  assert.equal((out.match(/BEGIN:VTIMEZONE/g) ?? []).length, 1);
  assert.deepEqual(prop(out, 'SEQUENCE'), ['5', '5', '5']); // master 4 → 5, the two overrides keep 5
  const occ = dec(out).occurrences;
  assert.equal(occ.length, 7);
  assert.equal(claim(occ[0]).note, 'new plan');
  assert.equal(claim(occ[3]).note, 'moved to Tuesday'); // the moved override keeps its own title
  const tb = patchEvent(
    fixture('thunderbird.ics'),
    { start: new Date('2026-12-02T07:00:00Z'), end: new Date('2026-12-02T08:00:00Z') },
    LATER,
    { timezone: 'Europe/Berlin' },
  );
  assert.match(tb, /X-MOZ-GENERATION:3/);
  assert.match(tb, /BEGIN:VALARM/);
  assert.match(tb, /\r\nSUMMARY:carol hog: benchmarks\r\n/); // only times changed: the title stays as typed
  assert.deepEqual(
    dec(tb).occurrences.map((o) => [iso(o.start), iso(o.end)]),
    [['2026-12-02T07:00:00.000Z', '2026-12-02T08:00:00.000Z']],
  );
  const allday = patchEvent(
    fixture('allday.ics'),
    {
      text: 'NixOS upgrade moved to Sunday',
      start: new Date('2026-10-24T22:00:00Z'),
      end: new Date('2026-10-25T23:00:00Z'),
    },
    LATER,
    { timezone: 'Europe/Berlin' },
  );
  assert.match(allday, /DTSTART;VALUE=DATE:20261025/);
  assert.match(allday, /DTEND;VALUE=DATE:20261026/);
  const a = dec(allday).occurrences[0];
  assert.equal(a.kind === 'announcement' && a.text, 'NixOS upgrade moved to Sunday');
  assert.equal(a.allDay, true);
});

test('another parser (python3-icalendar) reads what hosthog writes and patches', () => {
  const weekly = encodeEvent({ ...spec, rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=3' }, NOW);
  const patched = patchEvent(weekly, { note: 'x, y; z' }, LATER, {
    timezone: 'Europe/Berlin',
    recurrenceId: '2026-12-01T08:00:00.000Z',
  });
  const py = [
    'import sys, icalendar',
    'cal = icalendar.Calendar.from_ical(sys.stdin.read())',
    'for c in cal.walk():',
    '    if c.name == "VEVENT":',
    '        print(str(c.get("summary")), c.decoded("dtstart").isoformat(), ' +
      'str(c.get("x-hosthog-note")), sep="|")',
    '    if c.name == "VTIMEZONE":',
    '        print("tz", str(c.get("tzid")), len(c.subcomponents), sep="|")',
  ].join('\n');
  const out = execFileSync('/usr/bin/python3', ['-c', py], { input: patched, encoding: 'utf8' })
    .trim()
    .split('\n');
  assert.deepEqual(out, [
    'tz|Europe/Berlin|2',
    'alice exclusive gpu0,gpu1: ICML runs; phase 2, final|2026-11-24T09:00:00+01:00|' +
      'ICML runs; phase 2, final',
    'alice exclusive gpu0,gpu1: x, y; z|2026-12-01T09:00:00+01:00|x, y; z',
  ]);
});
