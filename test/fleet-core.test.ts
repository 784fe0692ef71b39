/** The fleet's pure core: free-window search and ranking, host rows, statistics, charts, requests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Claim } from '../src/core/types.js';
import type { HostSnapshot } from '../src/core/fleet-types.js';
import { findFree, claimCommand } from '../src/core/fleet-free.js';
import { hostRows, renderHosts } from '../src/core/fleet-hosts.js';
import { computeStats } from '../src/core/stats-compute.js';
import { bar, renderStats } from '../src/core/stats-render.js';
import { renderStatsHtml } from '../src/core/stats-html.js';
import { editRequests, requestTarget } from '../src/core/fleet-request.js';
import { decodeObjects } from '../src/core/ics-read.js';
import { union, totalMs } from '../src/core/fleet-intervals.js';
import { globMatch } from '../src/fleet/discover.js';
import { vevent } from './harness/config.js';

const H = 3_600_000;
const NOW = new Date('2026-12-01T10:00:00Z');
const at = (h: number) => new Date(NOW.getTime() + h * H);
let n = 0;
function claim(user: string, s: number, e: number, o: Partial<Claim> = {}): Claim {
  return {
    kind: 'claim',
    uid: `u${++n}`,
    user,
    mode: 'shared',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    recurring: false,
    start: at(s),
    end: at(e),
    allDay: false,
    title: '',
    created: new Date(0),
    ...o,
  };
}
const host = (
  name: string,
  claims: Claim[],
  resources = ['gpu0', 'gpu1', 'gpu2', 'gpu3'],
  extra: Partial<HostSnapshot> = {},
): HostSnapshot => ({
  host: name,
  url: `http://x/${name}/`,
  resources,
  occurrences: claims,
  syncedAt: NOW,
  ...extra,
});

test('findFree ranks whole-window first, then fewest other users, then most free resources', () => {
  const hosts = [
    host('busy', [claim('bob', -1, 1, { mode: 'exclusive' })]),
    host('shared', [
      claim('carol', -1, 5, { resources: ['gpu0'] }),
      claim('dan', 0, 5, { resources: ['gpu1'] }),
    ]),
    host('one-user', [claim('carol', -1, 5, { resources: ['gpu0', 'gpu1', 'gpu2'] })]),
    host('empty', []),
    host('mine', [claim('alice', -1, 5, { mode: 'exclusive' })]),
  ];
  const r = findFree(hosts, { start: NOW, end: at(4), exclusive: false, me: 'alice' }, NOW);
  assert.deepEqual(
    r.map((x) => [x.host, x.whole, x.others.length]),
    [
      ['empty', true, 0],
      ['mine', true, 0],
      ['one-user', true, 1],
      ['shared', true, 2],
      ['busy', false, 1],
    ],
  );
  assert.equal(r[4].from?.getTime(), at(1).getTime());
  assert.equal(r[0].command, 'hosthog claim --host empty --for 4h');
});

const FIND_FREE_TITLE =
  'findFree: --exclusive is blocked by shared claims; --gpus picks unclaimed resources; ' +
  'stale hosts rank after current ones';
test(FIND_FREE_TITLE, () => {
  const hosts = [
    host('shared', [claim('carol', -1, 5, { resources: ['gpu0', 'gpu1'] })]),
    host('small', [], ['gpu0']),
    host('old', [], undefined, { error: 'calendar unreachable' }),
  ];
  const ex = findFree(hosts, { start: NOW, end: at(2), exclusive: true, me: 'alice' }, NOW);
  assert.deepEqual(
    ex.map((x) => [x.host, x.whole, x.stale]),
    [
      ['small', true, false],
      ['old', true, true],
      ['shared', false, false],
    ],
  );
  const g2 = findFree(hosts, { start: NOW, end: at(2), exclusive: true, gpus: 2, me: 'alice' }, NOW);
  assert.deepEqual(
    g2.map((x) => x.host),
    ['shared', 'old'],
    'a host with fewer resources than asked is left out',
  );
  assert.deepEqual(g2[0].take, ['gpu2', 'gpu3']);
  const g3 = findFree(hosts, { start: NOW, end: at(2), exclusive: true, gpus: 3, me: 'alice' }, NOW);
  assert.equal(g3.find((x) => x.host === 'shared')!.whole, false);
  assert.equal(g3.find((x) => x.host === 'shared')!.from?.getTime(), at(5).getTime());
  const sharedOk = findFree(hosts, { start: NOW, end: at(2), exclusive: false, gpus: 4, me: 'alice' }, NOW);
  assert.equal(sharedOk.find((x) => x.host === 'shared')!.whole, true, 'shared with shared never conflicts');
  assert.equal(
    claimCommand('b', ['gpu0'], at(3), 2 * H, true, NOW),
    'hosthog claim --host b gpu0 --at 2026-12-01T13:00:00Z --for 2h --exclusive',
  );
});

test('findFree ignores overruled claims (the conflict rule decides who holds)', () => {
  const early = claim('bob', 0, 3, { mode: 'exclusive', created: new Date(1) });
  const late = claim('carol', 0, 3, { mode: 'exclusive', created: new Date(2) });
  const r = findFree(
    [host('h', [early, late])],
    { start: NOW, end: at(1), exclusive: false, me: 'alice' },
    NOW,
  );
  assert.deepEqual(r[0].others, ['bob']);
});

test('hostRows and renderHosts: holders, next, free resources, staleness', () => {
  const rows = hostRows(
    [
      host('b', [claim('bob', -1, 2, { resources: ['gpu0'], mode: 'exclusive' }), claim('erin', 3, 4)]),
      host('a', [], [], { error: 'HTTP 503', syncedAt: null }),
    ],
    NOW,
  );
  assert.deepEqual(
    rows.map((r) => r.host),
    ['a', 'b'],
  );
  assert.deepEqual(rows[1].freeResources, ['gpu1', 'gpu2', 'gpu3']);
  assert.equal(rows[1].next?.user, 'erin');
  assert.equal(rows[0].freeResources, null);
  const text = renderHosts(rows, 'UTC', NOW);
  assert.match(text, /^a\s+free · next: — · STALE \(HTTP 503\)$/m);
  assert.match(
    text,
    /^b\s+bob exclusive gpu0 until 12:00 · next: erin 13:00 · free: gpu1,gpu2,gpu3 · synced 0s ago$/m,
  );
});

const COMPUTE_STATS_TITLE =
  'computeStats: sums, union share, exclusive and hog hours, top users, clipping, by resource, heat map';
test(COMPUTE_STATS_TITLE, () => {
  const hosts = [
    host(
      'x',
      [
        claim('bob', -2, 2, { mode: 'exclusive', resources: ['gpu0'] }), // 2 h inside [0, 10)
        claim('carol', 1, 3, { resources: ['gpu1'] }), // 2 h, overlaps bob 1 h
        claim('dan', 8, 12, { hog: true, mode: 'exclusive' }), // 2 h inside, whole host
      ],
      ['gpu0', 'gpu1'],
    ),
    host('y', []),
  ];
  const s = computeStats(hosts, { from: NOW, to: at(10), by: 'host', timezone: 'UTC' });
  const x = s.rows.find((r) => r.key === 'x')!;
  assert.equal(x.claimedHours, 6);
  assert.equal(x.share, 5 / 10); // [0,3) ∪ [8,10)
  assert.equal(x.exclusiveHours, 4);
  assert.equal(x.hogHours, 2);
  assert.deepEqual(
    x.top.map((t) => t.user),
    ['bob', 'carol', 'dan'],
  );
  assert.deepEqual(
    s.rows.find((r) => r.key === 'y'),
    { key: 'y', claimedHours: 0, share: 0, exclusiveHours: 0, hogHours: 0, top: [] },
  );
  const byRes = computeStats(hosts, { from: NOW, to: at(10), by: 'resource', timezone: 'UTC' });
  assert.deepEqual(
    byRes.rows.map((r) => [r.key, r.claimedHours]),
    [
      ['x/gpu0', 4],
      ['x/gpu1', 4],
    ],
  );
  const byUser = computeStats(hosts, { from: NOW, to: at(10), by: 'user', timezone: 'UTC' });
  assert.deepEqual(
    byUser.rows.map((r) => [r.key, r.claimedHours, r.share]),
    [
      ['bob', 2, 2 / 6],
      ['carol', 2, 2 / 6],
      ['dan', 2, 2 / 6],
    ],
  );
  // 2026-12-01 is a Tuesday (row 1); bob's 10:00–12:00 UTC is in hours 10 and 11.
  assert.equal(s.heat[1][10], 1 + 0); // bob only (carol starts 11:00)
  assert.equal(s.heat[1][11], 2);
  assert.equal(
    s.heat.flat().reduce((a, b) => a + b, 0),
    6,
  );
  assert.equal(s.timeline.find((t) => t.host === 'x')!.buckets.length, 10);
  assert.deepEqual(s.timeline.find((t) => t.host === 'x')!.buckets.slice(0, 4), [1, 1, 1, 0]);
});

test('stats of a recurring series count each occurrence once, and not the cancelled or excluded ones', () => {
  const ics = vevent(
    's1',
    'bob exclusive: series',
    new Date('2026-11-02T09:00:00Z'),
    new Date('2026-11-02T11:00:00Z'),
    'RRULE:FREQ=DAILY;COUNT=4\r\nEXDATE:20261103T090000Z',
  );
  const occ = decodeObjects([{ href: '/c/s1.ics', etag: null, data: ics }], {
    timezone: 'UTC',
    from: new Date('2026-11-01T00:00:00Z'),
    to: new Date('2026-11-10T00:00:00Z'),
  }).occurrences;
  const s = computeStats([host('h', occ as Claim[], [])], {
    from: new Date('2026-11-01T00:00:00Z'),
    to: new Date('2026-11-10T00:00:00Z'),
    by: 'host',
    timezone: 'UTC',
  });
  assert.equal(s.rows[0].claimedHours, 6);
});

test('bar, renderStats and the HTML page', () => {
  assert.equal(bar(1, 1, 4), '████');
  assert.equal(bar(1, 2, 4), '██');
  assert.equal(bar(1, 16, 4), '▎');
  assert.equal(bar(0, 1, 4), '');
  const s = computeStats([host('x', [claim('bob', 0, 2), claim('<script>', 0, 1)])], {
    from: NOW,
    to: at(4),
    by: 'host',
    timezone: 'UTC',
  });
  assert.match(renderStats(s), /^x\s+3\.0\s+50\.0%\s+0\.0\s+0\.0\s+█{24}\s+bob 2\.0h, <script> 1\.0h$/m);
  const html = renderStatsHtml(s);
  assert.match(html, /<svg id="timeline"[\s\S]*<svg id="users"[\s\S]*<svg id="heat"/);
  assert.doesNotMatch(html, /<script>/, 'names from the calendar are escaped');
  assert.match(html, /&lt;script&gt;/);
});

test('requests: added to the claim event, read back, closed; the target is found by uid prefix', () => {
  const ics = vevent('abcd-1234', 'bob exclusive: training', at(-1), at(1));
  const withReq = editRequests(ics, 'abcd-1234', {
    add: { from: 'alice', at: NOW, text: 'could I have it at 15:00?' },
  });
  const occ = decodeObjects([{ href: '/c/a.ics', etag: null, data: withReq }], {
    timezone: 'UTC',
    from: at(-2),
    to: at(2),
  }).occurrences[0] as Claim;
  assert.equal(occ.user, 'bob');
  assert.deepEqual(occ.requests, [
    { from: 'alice', at: '2026-12-01T10:00:00Z', text: 'could I have it at 15:00?' },
  ]);
  const closed = editRequests(withReq, 'abcd-1234', { close: true });
  const occ2 = decodeObjects([{ href: '/c/a.ics', etag: null, data: closed }], {
    timezone: 'UTC',
    from: at(-2),
    to: at(2),
  }).occurrences[0] as Claim;
  assert.equal(occ2.requests, undefined);
  assert.throws(
    () => editRequests(ics, 'abcd-1234', { add: { from: 'alice', at: NOW, text: '\u0007' } }),
    /request what/,
  );
  const c = claim('bob', -1, 1, { uid: 'abcd-1234' });
  assert.equal(requestTarget([c], 'abcd', NOW), c);
  assert.throws(() => requestTarget([c], 'abcd', at(2)), /no current or coming claim/);
});

test('intervals and the display-name glob', () => {
  assert.deepEqual(
    union([
      [5, 7],
      [0, 2],
      [1, 3],
      [7, 8],
    ]),
    [
      [0, 3],
      [5, 8],
    ],
  );
  assert.equal(
    totalMs(
      union([
        [0, 2],
        [1, 3],
      ]),
    ),
    3,
  );
  assert.ok(globMatch('gpu-*', 'gpu-box-3'));
  assert.ok(!globMatch('gpu-*', 'Personal'));
  assert.ok(globMatch('*', 'a.b'));
  assert.ok(!globMatch('gpu?', 'gpu10'));
});
