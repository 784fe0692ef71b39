/** Pure-logic tests: `hosthog status` text (full and brief) and the JSON shape. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStatus, statusJson } from '../src/core/status-render.js';
import { displayWidth } from '../src/core/motd.js';
import { hostView } from '../src/core/view.js';
import { isClean } from '../src/core/sanitize.js';
import type { Snapshot } from '../src/core/types.js';
import { b, NOW, claim, ann, hostConfig, snap } from './harness/occurrences.js';

const cfg = hostConfig;
const view = (s: Snapshot, now = NOW) => hostView(s, cfg(), now);
const linesOf = (text: string) => text.replace(/\n$/, '').split('\n');
function assertTerminalSafe(text: string): void {
  for (const line of linesOf(text)) {
    assert.ok(displayWidth(line) <= 80, `wider than 80: ${line}`);
    assert.ok(isClean(line), `control character in: ${JSON.stringify(line)}`);
  }
}

const busy = () =>
  snap([
    claim({
      uid: 'a',
      user: 'alice',
      mode: 'exclusive',
      hog: true,
      allow: ['carol', 'dave'],
      note: 'training run '.repeat(20),
      created: b('2026-11-20T09:00:00'),
    }),
    claim({
      uid: 'b',
      user: 'bob',
      mode: 'exclusive',
      start: b('2026-11-22T15:00:00'),
      end: b('2026-11-22T16:00:00'),
      created: b('2026-11-21T09:00:00'),
    }),
    claim({
      uid: 'c',
      user: 'carol',
      resources: ['gpu0'],
      start: b('2026-11-22T19:00:00'),
      end: b('2026-11-23T02:00:00'),
    }),
    ann({ uid: 'n1', text: 'Reboot Tuesday 09:00' }),
  ]);

const statusFullText =
  'status: full text lists active and upcoming with ranges, wrapped notes, hog allow list, conflicts';
test(statusFullText, () => {
  const text = renderStatus(view(busy()), {});
  const lines = linesOf(text);
  assert.equal(lines[0], 'gpu-box-3 · hosthog · Sun 2026-11-22 14:05 Europe/Berlin');
  assert.equal(lines[1], 'synced 14:04');
  assert.equal(lines[2], 'NOW:');
  assert.equal(lines[3], '  alice · exclusive, hog · whole host · 14:00–18:00');
  assert.ok(lines[4].startsWith('    note: training run training run'));
  assert.ok(lines.includes('    lets in: carol, dave'));
  const next = lines.indexOf('NEXT 24H:');
  assert.equal(lines[next + 1], '  carol · shared · gpu0 · today 19:00 – Mon 02:00');
  assert.ok(lines.includes('ANNOUNCEMENT until Tue 09:00: Reboot Tuesday 09:00'));
  assert.ok(lines.includes("! conflict: bob's exclusive claim 15:00–16:00 overlaps alice's (alice holds)"));
  // the note wraps over at most 3 lines, the last one cut with …
  const noteLines = lines.filter((l) => l.startsWith('    ') && !l.includes('lets in'));
  assert.equal(noteLines.length, 3);
  assert.ok(noteLines[2].endsWith('…'));
  assertTerminalSafe(text);
});

test('status: shows the stale warning and the last error; never-synced does not say free', () => {
  const stale = renderStatus(
    view(
      snap([], {
        syncedAt: b('2026-11-22T13:00:00'),
        failingSince: b('2026-11-22T13:02:00'),
        lastError: 'connect ECONNREFUSED 127.0.0.1:5232\u001b[2J',
      }),
    ),
    {},
  );
  const lines = linesOf(stale);
  assert.ok(lines.includes('! calendar unreachable since 13:02 (last sync 13:00): showing what was known'));
  assert.ok(lines.includes('  last error: connect ECONNREFUSED 127.0.0.1:5232'));
  assert.ok(
    lines.includes('gpu-box-3 is free: no claims in the next 24 h. Claim it: hosthog claim --for 2h'),
  );
  assert.ok(!lines.some((l) => l.startsWith('synced')));
  assertTerminalSafe(stale);
  const never = renderStatus(view(snap([], { syncedAt: null })), {});
  assert.doesNotMatch(never, /is free/);
  assert.match(never, /! calendar never synced: claims on this host are unknown/);
});

const statusRunawayRule =
  'status: a runaway rule (a claim every minute) lists 30 upcoming rows, then one line for the rest';
test(statusRunawayRule, () => {
  const many = Array.from({ length: 200 }, (_, i) =>
    claim({
      uid: `m${i}`,
      user: 'mallory',
      mode: 'shared',
      resources: ['gpu0'],
      start: new Date(NOW.getTime() + (i + 1) * 60_000),
      end: new Date(NOW.getTime() + (i + 1) * 60_000 + 30_000),
    }),
  );
  const text = renderStatus(view(snap(many, { syncedAt: NOW })), {});
  assert.equal(linesOf(text).filter((l) => /mallory/.test(l)).length, 30);
  assert.ok(linesOf(text).includes('  … and 170 more (hosthog list shows all)'), text);
});

test('status --brief: one line, a second only for warnings; all fit 80 columns', () => {
  assert.equal(renderStatus(view(snap([])), { brief: true }), 'gpu-box-3: free for 24 h\n');
  assert.equal(
    renderStatus(view(busy()), { brief: true }),
    'gpu-box-3: alice exclusive, hog until 18:00; next carol 19:00\n! 1 conflict: hosthog status\n',
  );
  const shared = snap(
    [
      claim({ uid: 'a', user: 'alice', resources: ['gpu0'] }),
      claim({ uid: 'b', user: 'bob', resources: ['gpu1'] }),
      claim({ uid: 'c', user: 'alice', resources: ['gpu2'] }),
    ],
    { syncedAt: b('2026-11-22T12:00:00') },
  );
  assert.equal(
    renderStatus(view(shared), { brief: true }),
    'gpu-box-3: in use by alice, bob\n! calendar stale (last sync 12:00)\n',
  );
  const upcomingOnly = snap([claim({ uid: 'a', user: 'alice', start: b('2026-11-22T16:00:00') })]);
  assert.equal(renderStatus(view(upcomingOnly), { brief: true }), 'gpu-box-3: free; next alice 16:00\n');
  assert.equal(
    renderStatus(view(snap([], { syncedAt: null })), { brief: true }),
    'gpu-box-3: claims unknown\n! calendar never synced\n',
  );
  const many = snap(
    Array.from({ length: 40 }, (_, i) =>
      claim({ uid: `u${i}`, user: `someone-with-a-long-name-${i}`, resources: [`r${i}`] }),
    ),
  );
  const text = renderStatus(view(many), { brief: true });
  assert.equal(linesOf(text).length, 1);
  assertTerminalSafe(text);
});

const CLAIM_KEYS = ['end', 'hog', 'mode', 'note', 'resources', 'start', 'uid', 'user'];
const ANN_KEYS = ['end', 'start', 'text', 'uid'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?[+-]\d\d:\d\d$/;

const statusJsonShape =
  'statusJson: exact shape — top-level keys, claim and announcement keys, ISO times with the zone offset';
test(statusJsonShape, () => {
  const j = statusJson(view(busy()));
  assert.deepEqual(Object.keys(j).sort(), [
    'active',
    'announcements',
    'conflicts',
    'exclusive_holder',
    'host',
    'now',
    'stale',
    'synced_at',
    'timezone',
    'upcoming',
  ]);
  const round = JSON.parse(JSON.stringify(j)) as typeof j;
  assert.deepEqual(round, j, 'plain JSON data');
  assert.deepEqual(round.active, [
    {
      uid: 'a',
      user: 'alice',
      mode: 'exclusive',
      hog: true,
      resources: [],
      note: 'training run '.repeat(20).trim(),
      start: '2026-11-22T14:00:00+01:00',
      end: '2026-11-22T18:00:00+01:00',
    },
  ]);
  assert.deepEqual(round.upcoming, [
    {
      uid: 'c',
      user: 'carol',
      mode: 'shared',
      hog: false,
      resources: ['gpu0'],
      note: '',
      start: '2026-11-22T19:00:00+01:00',
      end: '2026-11-23T02:00:00+01:00',
    },
  ]);
  assert.deepEqual(round.announcements, [
    {
      uid: 'n1',
      text: 'Reboot Tuesday 09:00',
      start: '2026-11-22T08:00:00+01:00',
      end: '2026-11-24T09:00:00+01:00',
    },
  ]);
  assert.equal(round.synced_at, '2026-11-22T14:04:30+01:00');
  assert.equal(round.now, '2026-11-22T14:05:00+01:00');
  assert.equal(round.host, 'gpu-box-3');
  assert.equal(round.timezone, 'Europe/Berlin');
  assert.equal(round.stale, null);
  assert.equal(round.exclusive_holder?.uid, 'a');
  assert.equal(round.conflicts.length, 1);
  assert.equal(round.conflicts[0].claim.uid, 'b');
  assert.equal(round.conflicts[0].by.uid, 'a');
  for (const c of [
    ...round.active,
    ...round.upcoming,
    round.exclusive_holder!,
    round.conflicts[0].claim,
    round.conflicts[0].by,
  ]) {
    assert.deepEqual(Object.keys(c).sort(), CLAIM_KEYS);
    assert.match(c.start, ISO);
    assert.match(c.end, ISO);
  }
  for (const a of round.announcements) assert.deepEqual(Object.keys(a).sort(), ANN_KEYS);
});

test('statusJson: empty, never synced, stale; hog implies mode exclusive; summer offset', () => {
  const never = statusJson(
    view(snap([], { syncedAt: null, failingSince: b('2026-11-22T13:00:00'), lastError: 'boom' })),
  );
  assert.deepEqual(never.active, []);
  assert.deepEqual(never.upcoming, []);
  assert.deepEqual(never.announcements, []);
  assert.equal(never.synced_at, null);
  assert.deepEqual(never.stale, { since: '2026-11-22T13:00:00+01:00', last_error: 'boom' });
  assert.equal(never.exclusive_holder, null);
  const stale = statusJson(view(snap([], { syncedAt: b('2026-11-22T13:00:00') })));
  assert.deepEqual(stale.stale, { since: null, last_error: null });
  const summerNow = new Date('2026-07-01T10:00:00Z');
  const hog = statusJson(
    view(
      snap(
        [
          claim({
            uid: 'h',
            mode: 'shared',
            hog: true,
            start: new Date('2026-07-01T09:00:00Z'),
            end: new Date('2026-07-01T12:00:00Z'),
          }),
        ],
        { syncedAt: summerNow },
      ),
      summerNow,
    ),
  );
  assert.equal(hog.active[0].mode, 'exclusive');
  assert.equal(hog.active[0].start, '2026-07-01T11:00:00+02:00');
  assert.equal(hog.now, '2026-07-01T12:00:00+02:00');
});

test('statusJson: calendar text is cleaned, long notes kept (up to 10 000 code points)', () => {
  const note = 'x'.repeat(5000) + '\u001b[31m' + 'y'.repeat(20_000);
  const j = statusJson(
    view(snap([claim({ uid: 'a', user: 'al\u0007ice', note, resources: ['gpu\u00850'] })])),
  );
  const c = j.active[0];
  assert.equal(c.user, 'alice');
  assert.deepEqual(c.resources, ['gpu0']);
  assert.ok(isClean(c.note));
  assert.equal(Array.from(c.note).length, 10_000);
  assert.ok(c.note.startsWith('x'.repeat(5000) + 'yyy'));
});
