/**
 * The real CLI (hosthog sync, list, doctor) is never fooled by the calendar side: a principal
 * URL on Radicale is refused with the calendars found there and the motd never says "free";
 * TZID=EST (python-caldav/icalendar), EDT and JST land at the right instants; an unknown TZID
 * is shown marked "(time zone unknown)" and named by doctor; plain http:// to another host is
 * warned about by doctor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRadicale } from './harness/servers.js';
import { writeTestConfig } from './harness/config.js';
import { runCli } from './harness/cli.js';

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

const principalUrlRefused =
  'a principal URL on Radicale: hosthog sync refuses in one line naming the calendar; the ' +
  'motd never says free; doctor names it';
test(principalUrlRefused, async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const principal = new URL(`/${srv.username}/`, srv.calendarUrl).toString();
  const cfg = writeTestConfig({ calendarUrl: principal, username: srv.username, password: srv.password });
  const r = await runCli(['sync'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(r.code, 5, r.stderr);
  // the JSON lines are the bridge log
  const lines = r.stderr.split('\n').filter((x) => x && !x.startsWith('{'));
  assert.equal(lines.length, 1, 'one line');
  assert.equal(
    lines[0] + '\n',
    `hosthog: ${principal} is not a calendar (it is a principal: a user); ` +
      `calendars found there: ${srv.calendarUrl} ("test calendar") ` +
      '(set [calendar] url (or --calendar) to one of them)\n',
  );
  assert.doesNotMatch(read(cfg.motd), /is free/);
  const d = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.match(
    d.stdout,
    new RegExp(
      '^FAIL +calendar: .*is not a calendar .*calendars found there: ' +
        srv.calendarUrl.replace(/[.?*+()[\]]/g, '\\$&'),
      'm',
    ),
    d.stdout,
  );
  // The right URL then works.
  const good = writeTestConfig({
    calendarUrl: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
  });
  assert.equal((await runCli(['sync'], { env: { HOSTHOG_CONFIG: good.path } })).code, 0);
  assert.match(read(good.motd), /is free/);
});

const zonesAtTheRightInstants =
  'TZID=EST, EDT, JST at the right instants; an unknown TZID shown marked and named by doctor';
test(zonesAtTheRightInstants, async () => {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-tz-vdir-'));
  const cfg = writeTestConfig({ vdir, timezone: 'Europe/Berlin' });
  const day = new Date(Date.now() + 2 * 86_400_000);
  const two = (n: number) => String(n).padStart(2, '0');
  const ymd = `${day.getUTCFullYear()}${two(day.getUTCMonth() + 1)}${two(day.getUTCDate())}`;
  const ev = (uid: string, summary: string, tzid: string) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//python-caldav//caldav//en_DK',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20260101T000000Z',
      `SUMMARY:${summary}`,
      `DTSTART;TZID=${tzid}:${ymd}T090000`,
      `DTEND;TZID=${tzid}:${ymd}T100000`,
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  writeFileSync(join(vdir, 'est.ics'), ev('est', 'hh-alice gpu0', 'EST'));
  writeFileSync(join(vdir, 'jst.ics'), ev('jst', 'hh-bob gpu1', 'JST'));
  writeFileSync(join(vdir, 'edt.ics'), ev('edt', 'hh-carol', 'EDT'));
  // The unknown zone's event starts within the motd's 24 h: two hours from now, host (Berlin) wall time.
  const berlin = (d: Date) => {
    const w = Object.fromEntries(
      new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
      })
        .formatToParts(d)
        .map((p) => [p.type, p.value]),
    );
    return `${w.year}${w.month}${w.day}T${w.hour}0000`;
  };
  const soon = Date.now() + 2 * 3_600_000;
  writeFileSync(
    join(vdir, 'mars.ics'),
    ev('mars', 'hh-dave gpu0', 'Olympus Mons Time')
      .replace(`${ymd}T090000`, berlin(new Date(soon)))
      .replace(`${ymd}T100000`, berlin(new Date(soon + 3_600_000))),
  );
  assert.equal((await runCli(['sync'], { env: { HOSTHOG_CONFIG: cfg.path } })).code, 0);
  const ll = await runCli(['list', '--json'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.equal(ll.code, 0, ll.stderr);
  const claims = JSON.parse(ll.stdout) as { uid: string; start: string; note: string }[];
  const at = (uid: string) => {
    const c = claims.find((x) => x.uid === uid);
    assert.ok(c, uid);
    return { start: new Date(c.start).toISOString(), note: c.note };
  };
  const iso = (h: number) =>
    new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), h)).toISOString();
  assert.equal(at('est').start, iso(14), '09:00 EST = 14:00Z (the host zone would give 08:00Z)');
  assert.equal(at('jst').start, iso(0), '09:00 JST = 00:00Z');
  const nyOffset = -new Date(`${day.toISOString().slice(0, 10)}T12:00:00Z`)
    .toLocaleString('en-US', { timeZone: 'America/New_York', timeZoneName: 'shortOffset' })
    .match(/GMT([+-]\d+)/)![1];
  assert.equal(at('edt').start, iso(9 + Number(nyOffset)), '09:00 New York time');
  assert.equal(at('mars').note, '(time zone unknown)');
  assert.match(read(cfg.motd), /\(time zone unknown\)/, 'the motd shows the mark');
  const d = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path } });
  assert.match(
    d.stdout,
    new RegExp(
      /^warn +event mars\.ics is shown with a doubt: unknown time zone Olympus Mons Time: /.source +
        /shown in Europe\/Berlin time, marked \(time zone unknown\)$/.source,
      'm',
    ),
    d.stdout,
  );
  assert.doesNotMatch(d.stdout, /est\.ics|jst\.ics|edt\.ics/);
});

test('doctor warns about plain http:// to another host', async () => {
  const cfg = writeTestConfig({ calendarUrl: 'http://192.0.2.10:5232/alice/cal/', username: 'alice' });
  const d = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path }, timeoutMs: 60_000 });
  assert.match(
    d.stdout,
    new RegExp(
      /^warn +\[calendar\] url uses plain http:\/\/ to 192\.0\.2\.10:5232: /.source +
        /the password and every event cross the network unencrypted\n +fix: use the https:\/\/ URL/.source,
      'm',
    ),
    d.stdout,
  );
});
