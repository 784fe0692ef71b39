/** Pure-logic tests: the motd text, terminal width fitting, and local-time formatting (incl. DST). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMotd, displayWidth, fitColumns, wrapColumns, MOTD_MAX_LINES } from '../src/core/motd.js';
import {
  formatTime,
  formatRange,
  isoWithOffset,
  formatStamp,
  formatDayRange,
} from '../src/core/format-time.js';
import { hostView } from '../src/core/view.js';
import { isClean } from '../src/core/sanitize.js';
import type { Announcement, Claim, Snapshot } from '../src/core/types.js';
import { validateConfig } from '../src/config/schema.js';
import { b, NOW, TZ, claim, ann, hostConfig, snap } from './harness/occurrences.js';

const cfg = hostConfig;
const motd = (s: Snapshot, now = NOW, c = cfg()) => renderMotd(hostView(s, c, now));
const linesOf = (text: string) => text.replace(/\n$/, '').split('\n');

function assertTerminalSafe(text: string): void {
  assert.ok(text.endsWith('\n'));
  for (const line of linesOf(text)) {
    assert.ok(displayWidth(line) <= 80, `wider than 80 (${displayWidth(line)}): ${line}`);
    assert.ok(isClean(line), `control character in: ${JSON.stringify(line)}`);
  }
}

// ---- width -------------------------------------------------------------------------------------

const displayWidthCells =
  'displayWidth: ASCII 1, CJK and emoji 2, combining marks 0, ZWJ sequences and flags one wide cell';
test(displayWidthCells, () => {
  assert.equal(displayWidth('abc'), 3);
  assert.equal(displayWidth('学習'), 4);
  assert.equal(displayWidth('한국'), 4);
  assert.equal(displayWidth('ｆｕｌｌ'), 8);
  assert.equal(displayWidth('😀'), 2);
  assert.equal(displayWidth('e\u0301'), 1);
  assert.equal(displayWidth('👨\u200d👩\u200d👧'), 2);
  assert.equal(displayWidth('🇩🇪'), 2);
  assert.equal(displayWidth('❤\ufe0f'), 2);
  assert.equal(displayWidth('é—…·'), 4);
});

test('fitColumns: never wider than asked, ends with …, never splits a wide character or cluster', () => {
  assert.equal(fitColumns('short', 80), 'short');
  const wide = '学'.repeat(100);
  const f = fitColumns(wide, 80);
  assert.ok(displayWidth(f) <= 80);
  assert.ok(f.endsWith('…'));
  assert.equal(f, '学'.repeat(39) + '…');
  const odd = fitColumns('a' + '学'.repeat(100), 10); // a + 4 wide = 9 cols + … = 10
  assert.equal(odd, 'a学学学学…');
  const fam = fitColumns('👨\u200d👩\u200d👧'.repeat(50), 9);
  assert.equal(fam, '👨\u200d👩\u200d👧'.repeat(4) + '…');
  for (let cols = 1; cols <= 20; cols++)
    assert.ok(displayWidth(fitColumns('x😀学e\u0301'.repeat(20), cols)) <= cols);
});

test('wrapColumns: wraps at spaces, caps line count with …', () => {
  const w = wrapColumns('one two three four five six seven', 10, 2);
  assert.equal(w.length, 2);
  assert.equal(w[0], 'one two');
  assert.ok(w[1].endsWith('…') && displayWidth(w[1]) <= 10);
  assert.deepEqual(wrapColumns('fits', 10, 3), ['fits']);
  for (const l of wrapColumns('学'.repeat(500), 30, 3)) assert.ok(displayWidth(l) <= 30);
});

// ---- time formatting ---------------------------------------------------------------------------

test('formatTime: today HH:MM, within 6 days weekday, later full date; in the host zone', () => {
  assert.equal(formatTime(b('2026-11-22T14:05:00'), TZ, NOW), '14:05');
  assert.equal(formatTime(b('2026-11-22T23:59:00'), TZ, NOW), '23:59');
  assert.equal(formatTime(b('2026-11-23T00:00:00'), TZ, NOW), 'Mon 00:00');
  assert.equal(formatTime(b('2026-11-24T09:00:00'), TZ, NOW), 'Tue 09:00');
  assert.equal(formatTime(b('2026-11-28T09:00:00'), TZ, NOW), 'Sat 09:00');
  assert.equal(formatTime(b('2026-11-29T09:00:00'), TZ, NOW), '2026-11-29 09:00');
  assert.equal(formatTime(b('2026-12-01T09:00:00'), TZ, NOW), '2026-12-01 09:00');
  assert.equal(formatTime(b('2026-11-21T22:00:00'), TZ, NOW), 'Sat 22:00', 'yesterday');
  // same instant, other zone: 13:05Z is 08:05 in New York, same day
  assert.equal(formatTime(NOW, 'America/New_York', NOW), '08:05');
  // "today" is the host zone's day, not UTC's: 23:30 Berlin = 22:30Z
  const lateNow = b('2026-11-22T23:30:00');
  assert.equal(formatTime(b('2026-11-23T00:30:00'), TZ, lateNow), 'Mon 00:30');
  assert.equal(formatTime(b('2026-11-23T00:30:00'), 'UTC', lateNow), '23:30');
});

test('formatRange: same day, other day, across days', () => {
  assert.equal(formatRange(b('2026-11-22T14:05:00'), b('2026-11-22T14:15:00'), TZ, NOW), '14:05–14:15');
  assert.equal(formatRange(b('2026-11-24T09:00:00'), b('2026-11-24T11:00:00'), TZ, NOW), 'Tue 09:00–11:00');
  assert.equal(
    formatRange(b('2026-11-22T14:00:00'), b('2026-11-27T18:00:00'), TZ, NOW),
    'today 14:00 – Fri 18:00',
  );
  assert.equal(
    formatRange(b('2026-11-21T22:00:00'), b('2026-11-22T06:00:00'), TZ, NOW),
    'Sat 22:00 – today 06:00',
  );
  assert.equal(
    formatRange(b('2026-12-01T09:00:00'), b('2026-12-02T09:00:00'), TZ, NOW),
    '2026-12-01 09:00 – 2026-12-02 09:00',
  );
});

test('isoWithOffset: zone offset incl. half hours, milliseconds only when present', () => {
  assert.equal(isoWithOffset(new Date('2026-12-01T09:00:00Z'), TZ), '2026-12-01T10:00:00+01:00');
  assert.equal(isoWithOffset(new Date('2026-07-01T09:00:00Z'), TZ), '2026-07-01T11:00:00+02:00');
  assert.equal(isoWithOffset(new Date('2026-12-01T09:00:00Z'), 'UTC'), '2026-12-01T09:00:00+00:00');
  assert.equal(isoWithOffset(new Date('2026-12-01T09:00:00Z'), 'Asia/Kolkata'), '2026-12-01T14:30:00+05:30');
  assert.equal(
    isoWithOffset(new Date('2026-12-01T09:00:00Z'), 'America/St_Johns'),
    '2026-12-01T05:30:00-03:30',
  );
  assert.equal(isoWithOffset(new Date('2026-12-01T09:00:00.250Z'), TZ), '2026-12-01T10:00:00.250+01:00');
  assert.equal(
    isoWithOffset(new Date('2026-12-01T23:30:00Z'), TZ),
    '2026-12-02T00:30:00+01:00',
    'midnight is 00, not 24',
  );
  for (const s of [
    '2026-03-29T00:59:59Z',
    '2026-03-29T01:00:00Z',
    '2026-10-25T00:30:00Z',
    '2026-10-25T01:30:00Z',
  ]) {
    const d = new Date(s);
    assert.equal(new Date(isoWithOffset(d, TZ)).getTime(), d.getTime(), `round trip ${s}`);
  }
});

test('DST days in Europe/Berlin: spring forward and fall back', () => {
  // 2026-03-29: 02:00 CET → 03:00 CEST at 01:00Z
  const springNow = new Date('2026-03-29T00:00:00Z'); // 01:00 CET
  assert.equal(isoWithOffset(new Date('2026-03-29T00:30:00Z'), TZ), '2026-03-29T01:30:00+01:00');
  assert.equal(isoWithOffset(new Date('2026-03-29T01:30:00Z'), TZ), '2026-03-29T03:30:00+02:00');
  assert.equal(
    formatRange(new Date('2026-03-29T00:30:00Z'), new Date('2026-03-29T01:30:00Z'), TZ, springNow),
    '01:30–03:30',
  );
  assert.equal(
    formatTime(new Date('2026-03-29T21:59:00Z'), TZ, springNow),
    '23:59',
    'the short day is still today',
  );
  assert.equal(formatTime(new Date('2026-03-29T22:00:00Z'), TZ, springNow), 'Mon 00:00');
  // 2026-10-25: 03:00 CEST → 02:00 CET at 01:00Z; 02:30 happens twice
  const fallNow = new Date('2026-10-24T23:00:00Z'); // 01:00 CEST
  assert.equal(isoWithOffset(new Date('2026-10-25T00:30:00Z'), TZ), '2026-10-25T02:30:00+02:00');
  assert.equal(isoWithOffset(new Date('2026-10-25T01:30:00Z'), TZ), '2026-10-25T02:30:00+01:00');
  assert.equal(
    formatTime(new Date('2026-10-25T22:59:00Z'), TZ, fallNow),
    '23:59',
    'the long day is still today',
  );
  assert.equal(formatTime(new Date('2026-10-25T23:00:00Z'), TZ, fallNow), 'Mon 00:00');
  assert.equal(formatStamp(new Date('2026-10-25T01:30:00Z'), TZ), 'Sun 2026-10-25 02:30');
  // a claim over the spring-forward gap, seen in the motd
  const c = claim({
    uid: 'dst',
    user: 'alice',
    mode: 'exclusive',
    start: new Date('2026-03-29T00:00:00Z'),
    end: new Date('2026-03-29T02:00:00Z'),
  });
  const text = motd(snap([c], { syncedAt: springNow }), new Date('2026-03-29T00:30:00Z'));
  assert.match(text, /alice · exclusive · whole host · until 04:00/);
  assert.match(text, /Sun 2026-03-29 01:30 Europe\/Berlin/);
});

test('formatDayRange: whole-day events by day names, end exclusive', () => {
  assert.equal(formatDayRange(b('2026-11-22T00:00:00'), b('2026-11-23T00:00:00'), TZ, NOW), 'all day today');
  assert.equal(
    formatDayRange(b('2026-11-23T00:00:00'), b('2026-11-24T00:00:00'), TZ, NOW),
    'all day tomorrow',
  );
  assert.equal(
    formatDayRange(b('2026-11-24T00:00:00'), b('2026-11-27T00:00:00'), TZ, NOW),
    'Tue – Thu (all day)',
  );
  assert.equal(
    formatDayRange(b('2026-12-24T00:00:00'), b('2026-12-27T00:00:00'), TZ, NOW),
    '2026-12-24 – 2026-12-26 (all day)',
  );
  // across the fall-back day (25 h long)
  assert.equal(
    formatDayRange(
      new Date('2026-10-24T22:00:00Z'),
      new Date('2026-10-25T23:00:00Z'),
      TZ,
      new Date('2026-10-25T10:00:00Z'),
    ),
    'all day today',
  );
});

test('motd: an all-day claim tomorrow reads by day, not by midnights', () => {
  const c = claim({
    uid: 'ad',
    user: 'erin',
    allDay: true,
    start: b('2026-11-23T00:00:00'),
    end: b('2026-11-24T00:00:00'),
  });
  const lines = linesOf(motd(snap([c], { syncedAt: b('2026-11-22T20:00:00') }), b('2026-11-22T20:00:00')));
  assert.deepEqual(lines.slice(1), ['NEXT 24H:', '  all day tomorrow erin · shared · whole host']);
});

// ---- motd --------------------------------------------------------------------------------------

test('motd: nothing claimed → the one free line', () => {
  assert.equal(
    motd(snap([])),
    'gpu-box-3 is free: no claims in the next 24 h. Claim it: hosthog claim --for 2h\n',
  );
  // claims further than 24 h away do not count
  const far = claim({ uid: 'far', start: b('2026-11-23T15:00:00'), end: b('2026-11-23T16:00:00') });
  assert.equal(
    motd(snap([far])),
    'gpu-box-3 is free: no claims in the next 24 h. Claim it: hosthog claim --for 2h\n',
  );
});

test('motd: NOW and NEXT 24H show who, mode, resources or whole host, until when, note', () => {
  const text = motd(
    snap([
      claim({
        uid: 'a',
        user: 'alice',
        mode: 'exclusive',
        hog: true,
        note: 'training run',
        end: b('2026-11-22T18:00:00'),
      }),
      claim({
        uid: 'b',
        user: 'bob',
        resources: ['gpu0', 'gpu1'],
        start: b('2026-11-22T19:00:00'),
        end: b('2026-11-23T02:00:00'),
        note: 'eval',
      }),
      claim({
        uid: 'c',
        user: 'alice',
        start: b('2026-11-22T12:00:00'),
        end: b('2026-11-24T12:00:00'),
        resources: ['gpu2'],
      }),
    ]),
  );
  assert.deepEqual(linesOf(text), [
    'gpu-box-3 · hosthog · Sun 2026-11-22 14:05 Europe/Berlin',
    'NOW:',
    '  alice · shared · gpu2 · until Tue 12:00',
    '  alice · exclusive, hog · whole host · until 18:00 · training run',
    'NEXT 24H:',
    '  today 19:00 – Mon 02:00 bob · shared · gpu0,gpu1 · eval',
  ]);
  assertTerminalSafe(text);
});

test('motd: announcements (current and upcoming), conflict line, stale line', () => {
  const text = motd(
    snap(
      [
        claim({
          uid: 'a',
          user: 'alice',
          mode: 'exclusive',
          start: b('2026-11-22T13:00:00'),
          end: b('2026-11-22T16:00:00'),
          created: b('2026-11-20T10:00:00'),
        }),
        claim({
          uid: 'b',
          user: 'bob',
          mode: 'exclusive',
          start: b('2026-11-22T14:00:00'),
          end: b('2026-11-22T15:00:00'),
          created: b('2026-11-21T10:00:00'),
        }),
        ann({ uid: 'n1', text: 'Reboot Tuesday 09:00 for kernel update', end: b('2026-11-24T09:00:00') }),
        ann({ uid: 'n2', text: 'UPS test', start: b('2026-11-22T20:00:00'), end: b('2026-11-22T20:30:00') }),
      ],
      {
        syncedAt: b('2026-11-22T13:00:00'),
        failingSince: b('2026-11-22T13:02:00'),
        lastError: 'ECONNREFUSED',
      },
    ),
  );
  assert.deepEqual(linesOf(text), [
    'gpu-box-3 · hosthog · Sun 2026-11-22 14:05 Europe/Berlin',
    'NOW:',
    '  alice · exclusive · whole host · until 16:00',
    // the coming one first (issue 12: most urgent first)
    'ANNOUNCEMENT 20:00–20:30: UPS test',
    'ANNOUNCEMENT until Tue 09:00: Reboot Tuesday 09:00 for kernel update',
    "! conflict: bob's exclusive claim 14:00–15:00 overlaps alice's (alice holds)",
    '! calendar unreachable since 13:02 (last sync 13:00): showing what was known',
  ]);
});

test('motd: stale without failingSince, and never synced (does not claim the host is free)', () => {
  const old = motd(snap([], { syncedAt: b('2026-11-22T13:00:00') }));
  assert.deepEqual(linesOf(old), [
    'gpu-box-3 is free: no claims in the next 24 h. Claim it: hosthog claim --for 2h',
    '! calendar not synced since 13:00: showing what was known',
  ]);
  const never = motd(snap([], { syncedAt: null, failingSince: b('2026-11-22T13:02:00'), lastError: 'x' }));
  assert.deepEqual(linesOf(never), [
    'gpu-box-3 · hosthog · Sun 2026-11-22 14:05 Europe/Berlin',
    '! calendar never synced (failing since 13:02): claims on this host are unknown',
  ]);
  assert.doesNotMatch(never, /is free/);
});

test('motd: 10 kB notes, long names, many resources and wide characters stay within 80 columns', () => {
  const huge = 'n'.repeat(10_240);
  const wide = '学習😀'.repeat(3000);
  const text = motd(
    snap(
      [
        claim({ uid: 'a', user: 'alice', note: huge }),
        claim({
          uid: 'b',
          user: 'b'.repeat(300),
          note: wide,
          resources: Array.from({ length: 50 }, (_, i) => `gpu${i}`),
        }),
        claim({
          uid: 'c',
          user: '学生さん',
          note: wide,
          start: b('2026-11-22T16:00:00'),
          end: b('2026-11-22T17:00:00'),
        }),
        claim({
          uid: 'd',
          user: 'dave',
          note: 'a' + wide,
          start: b('2026-11-22T16:00:00'),
          end: b('2026-11-22T17:00:00'),
          resources: ['学'.repeat(100)],
        }),
        ann({ uid: 'n', text: wide }),
      ],
      { syncedAt: b('2026-11-22T10:00:00'), failingSince: b('2026-11-22T10:01:00') },
    ),
  );
  assertTerminalSafe(text);
  const lines = linesOf(text);
  assert.ok(lines.length <= MOTD_MAX_LINES);
  assert.ok(
    lines.some((l) => l.startsWith('  alice · shared · whole host · until 18:00 · nnnn') && l.endsWith('…')),
  );
  assert.ok(lines.some((l) => l.includes('学生さん')));
  assert.ok(text.length < 2000, 'the motd stays short');
});

test('motd: control characters and escapes in any calendar text never reach the output', () => {
  const evil =
    'x\u001b[31mRED\u001b[0m\u001b]0;pwned\u0007\u009b2J\u202eevil\u0000\u0008\r\nnext\u007f\u0085';
  const text = motd(
    snap(
      [
        claim({ uid: 'a', user: evil, note: evil, resources: [evil] }),
        claim({
          uid: 'b',
          user: 'bob',
          mode: 'exclusive',
          note: evil,
          start: b('2026-11-22T16:00:00'),
          end: b('2026-11-22T17:00:00'),
        }),
        ann({ uid: 'n', text: evil }),
      ],
      { syncedAt: b('2026-11-22T10:00:00'), lastError: evil },
    ),
    NOW,
    cfg(),
  );
  assertTerminalSafe(text);
  assert.doesNotMatch(text, /pwned/);
  assert.match(text, /xRED/);
});

test('motd: host name from config is cleaned too', () => {
  const r = validateConfig({ host: 'box\u001b[2J', timezone: TZ }, { hostname: 'x', timezone: 'UTC' }, 't');
  const text = renderMotd(hostView(snap([]), r.config!, NOW));
  assertTerminalSafe(text);
  assert.match(text, /^box is free/);
});

test('motd: at most 15 lines; overflow becomes "+N more" and warnings are kept', () => {
  const occ: (Claim | Announcement)[] = [];
  for (let i = 0; i < 20; i++)
    occ.push(
      claim({
        uid: `now${String(i).padStart(2, '0')}`,
        user: `user${i}`,
        start: b('2026-11-22T14:00:00'),
        resources: [`r${i}`],
      }),
    );
  for (let i = 0; i < 20; i++)
    occ.push(
      claim({
        uid: `nx${String(i).padStart(2, '0')}`,
        user: `next${i}`,
        start: new Date(b('2026-11-22T15:00:00').getTime() + i * 60_000),
        resources: [`r${i}`],
      }),
    );
  for (let i = 0; i < 5; i++) occ.push(ann({ uid: `n${i}`, text: `notice ${i}` }));
  // 5 conflicts: exclusive whole-host claims by other users booked after everything else
  for (let i = 0; i < 5; i++)
    occ.push(
      claim({
        uid: `zz${i}`,
        user: `late${i}`,
        mode: 'exclusive',
        start: b('2026-11-22T16:00:00'),
        created: b('2026-11-22T14:00:00'),
      }),
    );
  const text = motd(
    snap(occ, { syncedAt: b('2026-11-22T12:00:00'), failingSince: b('2026-11-22T12:01:00') }),
  );
  const lines = linesOf(text);
  assertTerminalSafe(text);
  assert.equal(lines.length, MOTD_MAX_LINES);
  assert.equal(lines[0], 'gpu-box-3 · hosthog · Sun 2026-11-22 14:05 Europe/Berlin');
  assert.equal(lines.filter((l) => l.startsWith('ANNOUNCEMENT')).length, 1);
  assert.ok(lines.includes('+4 more announcements (hosthog status)'));
  assert.equal(lines.filter((l) => l.startsWith('! conflict')).length, 1);
  assert.ok(lines.includes('+4 more conflicts (hosthog status)'));
  assert.equal(lines.at(-1), '! calendar unreachable since 12:01 (last sync 12:00): showing what was known');
  // NOW and NEXT both present, with their overflow counts adding up
  const nowAt = lines.indexOf('NOW:');
  const nextAt = lines.indexOf('NEXT 24H:');
  assert.ok(nowAt > 0 && nextAt > nowAt);
  const more = (l: string) => Number(/^ {2}\+(\d+) more/.exec(l)?.[1] ?? 0);
  const nowShown = lines.slice(nowAt + 1, nextAt).filter((l) => !more(l)).length;
  const nowMore = lines
    .slice(nowAt + 1, nextAt)
    .map(more)
    .reduce((x, y) => x + y, 0);
  assert.equal(nowShown + nowMore, 20);
  const nextBlock = lines.slice(nextAt + 1).filter((l) => l.startsWith('  '));
  assert.equal(nextBlock.filter((l) => !more(l)).length + nextBlock.map(more).reduce((x, y) => x + y, 0), 20);
});

test('motd: few active claims leave room for more upcoming ones', () => {
  const occ: Claim[] = [claim({ uid: 'a', user: 'alice' })];
  for (let i = 0; i < 12; i++)
    occ.push(
      claim({
        uid: `nx${String(i).padStart(2, '0')}`,
        user: `u${i}`,
        start: new Date(b('2026-11-22T15:00:00').getTime() + i * 60_000),
      }),
    );
  const lines = linesOf(motd(snap(occ)));
  assert.equal(lines.length, MOTD_MAX_LINES);
  assert.equal(lines.filter((l) => /^ {2}\S/.test(l) && !l.includes('more')).length, 1 + 10);
  assert.equal(lines.at(-1), '  +2 more (hosthog status)');
});
