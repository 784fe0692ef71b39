import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planNotices, messageNotice, type Notice } from '../src/core/notify-plan.js';
import { Ledger } from '../src/host/sessions/ledger.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import type { Claim, Announcement, Occurrence } from '../src/core/types.js';
import { isClean } from '../src/core/sanitize.js';

const { config } = validateConfig(
  {
    host: 'gpu-box-3',
    timezone: 'Europe/Berlin',
    notify: { reminders: ['15m', '5m'] },
    bridge: { poll: '60s' },
  },
  { hostname: 'x', timezone: 'UTC' },
  'test',
);
const CFG = config as Config;
const MIN = 60_000;
const T0 = new Date('2026-03-02T09:00:00Z'); // 10:00 in Berlin

function claim(p: Partial<Claim> & { uid: string }): Claim {
  return {
    kind: 'claim',
    recurring: false,
    allDay: false,
    user: 'alice',
    mode: 'exclusive',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    title: 'training run',
    start: new Date(T0.getTime() + 60 * MIN),
    end: new Date(T0.getTime() + 180 * MIN),
    ...p,
  };
}
const at = (min: number) => new Date(T0.getTime() + min * MIN);

/**
 * Simulates the bridge: each run plans, "delivers", records in the ledger, saves; optionally restarts
 * (reload).
 */
function runner(dir: string) {
  let ledger = Ledger.load(dir);
  let prev: Occurrence[] | null = null;
  const delivered: Notice[] = [];
  return {
    delivered,
    run(next: Occurrence[], now: Date): Notice[] {
      const ns = planNotices(prev, next, now, ledger.keys(), CFG, { lastRun: ledger.lastRun ?? undefined });
      for (const n of ns) ledger.markSent(n, now);
      ledger.save(now);
      prev = next;
      delivered.push(...ns);
      return ns;
    },
    restart() {
      ledger = Ledger.load(dir);
      prev = null;
    },
  };
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'hh-notify-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('first run after start announces nothing as new', () => {
  const occ = [claim({ uid: 'a' }), claim({ uid: 'b', user: 'bob', start: at(300), end: at(400) })];
  const ns = planNotices(null, occ, T0, new Set(), CFG);
  assert.deepEqual(ns, []);
});

test('new, changed, cancelled, released claims; exclusive urgent, shared not', () => {
  const a = claim({ uid: 'a' });
  const s = claim({
    uid: 's',
    user: 'bob',
    mode: 'shared',
    resources: ['gpu0'],
    start: at(120),
    end: at(200),
  });
  const ns = planNotices([], [a, s], T0, new Set(), CFG);
  assert.deepEqual(
    ns.map((n) => [n.kind, n.key, n.urgent]),
    [
      ['new', 'new:a', true],
      ['new', 'new:s', false],
    ],
  );
  assert.match(ns[0].title, /^alice claimed gpu-box-3/);
  assert.match(ns[0].body, /exclusive: the whole host, 11:00–13:00 · "training run"/);
  assert.match(ns[1].body, /shared: gpu0, 12:00–13:20/);

  const a2 = { ...a, end: at(240) };
  const ch = planNotices([a, s], [a2, s], T0, new Set(), CFG);
  assert.equal(ch.length, 1);
  assert.equal(ch[0].kind, 'changed');
  assert.match(ch[0].body, /11:00–14:00/);

  const canc = planNotices([a2, s], [a2], T0, new Set(), CFG);
  assert.deepEqual(
    canc.map((n) => n.kind),
    ['cancelled'],
  );
  assert.match(
    canc[0].title,
    /^bob's claim on gpu-box-3 was cancelled/,
    'says whose claim, not who cancelled it (an admin may have)',
  );
  assert.equal(canc[0].urgent, false);

  // Released: running claim whose end moved to now.
  const now = at(90);
  const rel = planNotices([a2], [{ ...a2, end: now }], now, new Set(), CFG);
  assert.deepEqual(
    rel.map((n) => [n.kind, n.key]),
    [['released', `ended:a:${a.start.toISOString()}`]],
  );
  // ...and the "ended" that would follow uses the same key, so it never comes after a release.
  const after = planNotices(
    [{ ...a2, end: now }],
    [{ ...a2, end: now }],
    at(91),
    new Set(rel.map((n) => n.key)),
    CFG,
  );
  assert.deepEqual(after, []);
  // Deleted while running: released too.
  const del = planNotices([a2], [], now, new Set(), CFG);
  assert.deepEqual(
    del.map((n) => n.kind),
    ['released'],
  );
});

test('reminders at 15m and 5m, started, ending-soon to the holder only, ended', (t) => {
  const r = runner(tmp(t));
  const a = claim({ uid: 'a', start: at(60), end: at(120) });
  const kinds: string[] = [];
  for (let m = 0; m <= 130; m++)
    for (const n of r.run([a], at(m))) kinds.push(`${m}:${n.kind}:${n.key.split(':')[1]}`);
  assert.deepEqual(kinds, [
    '45:reminder:15m',
    '55:reminder:5m',
    '60:started:a',
    '105:ending-soon:15m',
    '115:ending-soon:5m',
    '120:ended:a',
  ]);
  const ending = r.delivered.filter((n) => n.kind === 'ending-soon');
  for (const n of ending) assert.deepEqual(n.to, { users: ['alice'] });
  assert.match(r.delivered[0].title, /alice's claim on gpu-box-3 starts in 15m/);
  assert.equal(r.delivered[0].urgent, true);
  assert.match(ending[1].title, /Your claim on gpu-box-3 ends in 5m/);
});

test('exactly once across restarts over the same window', (t) => {
  const dir = tmp(t);
  const a = claim({ uid: 'a', start: at(60), end: at(120) });
  const b = claim({ uid: 'b', user: 'bob', mode: 'shared', start: at(30), end: at(70) });
  const once = runner(tmp(t));
  for (let m = 0; m <= 130; m += 1) once.run([a, b], at(m));
  const reference = once.delivered.map((n) => n.key);

  const r = runner(dir);
  for (let m = 0; m <= 130; m += 1) {
    r.run([a, b], at(m));
    r.restart(); // every poll: reload the ledger from disk, prev = null
    // and a re-sync of the same minute after the restart
    assert.deepEqual(r.run([a, b], at(m)), []);
  }
  assert.deepEqual(
    r.delivered.map((n) => n.key),
    reference,
  );
  assert.equal(new Set(reference).size, reference.length);
  const file = JSON.parse(readFileSync(join(dir, 'notify-ledger.json'), 'utf8'));
  assert.equal(file.version, 1);
  assert.ok(Object.keys(file.sent).length >= reference.length);
});

test('stale moments are never fired: a bridge down for an hour sends no old reminders', () => {
  const a = claim({ uid: 'a', start: at(60), end: at(120) });
  // Last run at minute 0, next run at minute 100: 15m/5m reminders, started: all stale.
  const ns = planNotices([a], [a], at(100), new Set(), CFG, { lastRun: at(0) });
  assert.deepEqual(
    ns.map((n) => n.kind),
    [],
  );
  // At 106 ending-soon 15m (moment 105) is due.
  const ns2 = planNotices([a], [a], at(106), new Set(), CFG, { lastRun: at(100) });
  assert.deepEqual(
    ns2.map((n) => n.kind),
    ['ending-soon'],
  );
  // A moment before lastRun is not re-fired even if the key is unknown.
  assert.deepEqual(planNotices([a], [a], at(107), new Set(), CFG, { lastRun: at(106) }), []);
});

test('both reminder offsets due at once: only the nearer one', () => {
  const a = claim({ uid: 'a', start: at(60), end: at(120) });
  const ns = planNotices([a], [a], at(56), new Set(), CFG, { lastRun: at(44) });
  assert.deepEqual(
    ns.map((n) => n.key),
    [`reminder:5m:a:${a.start.toISOString()}`],
  );
});

test('bursts of new claims coalesce into one summary that covers them', () => {
  const cs = ['a', 'b', 'c', 'd', 'e'].map((u, i) =>
    claim({ uid: u, user: `user${i}`, start: at(300 + i * 200), end: at(400 + i * 200) }),
  );
  const ns = planNotices([], cs, T0, new Set(), CFG);
  assert.equal(ns.length, 1);
  assert.equal(ns[0].kind, 'new');
  assert.match(ns[0].title, /5 claims new or changed/);
  assert.match(ns[0].body, /user0, user1, user2, user3, user4/);
  assert.deepEqual(ns[0].covers, ['new:a', 'new:b', 'new:c', 'new:d', 'new:e']);
  // Three stay separate.
  assert.equal(planNotices([], cs.slice(0, 3), T0, new Set(), CFG).length, 3);
});

test('recurring event: one "new" for the series, not one per occurrence', () => {
  const occ = [0, 1, 2, 3, 4].map((d) =>
    claim({
      uid: 'r',
      recurring: true,
      recurrenceId: at(60 + d * 1440).toISOString(),
      start: at(60 + d * 1440),
      end: at(120 + d * 1440),
    }),
  );
  const ns = planNotices([], occ, T0, new Set(), CFG);
  assert.equal(ns.length, 1);
  assert.match(ns[0].body, /\(repeats\)/);
});

test('announcements once when active; hostile text is cleaned and capped', () => {
  const evil = '\u001b]0;pwned\u0007\u001b[31mRED\u001b[0m\u0007 \u202eevil\u202c ' + 'x'.repeat(10_000);
  const ann: Announcement = {
    kind: 'announcement',
    uid: 'n1',
    recurring: false,
    allDay: false,
    start: at(-1),
    end: at(600),
    title: evil,
    text: evil,
  };
  const c = claim({ uid: 'h', title: evil, note: evil, user: 'mallory$(touch /tmp/x)' });
  const ns = planNotices([], [ann, c], T0, new Set(), CFG);
  assert.deepEqual(ns.map((n) => n.kind).sort(), ['announcement', 'new']);
  for (const n of ns) {
    assert.ok(isClean(n.title) && isClean(n.body), 'no control or bidi characters');
    assert.ok(Array.from(n.title).length <= 100 && Array.from(n.body).length <= 300);
    assert.ok(!n.title.includes('pwned') && !n.body.includes('pwned'));
  }
  // Already active at first start and older than the stale limit: not repeated.
  assert.deepEqual(planNotices(null, [{ ...ann, start: at(-60) }], T0, new Set(), CFG), []);
  // Becoming active later: sent.
  const future = { ...ann, uid: 'n2', start: at(30) };
  assert.deepEqual(
    planNotices([future], [future], at(30), new Set(), CFG).map((n) => n.kind),
    ['announcement'],
  );
});

test('messageNotice is signed and cleaned', () => {
  const n = messageNotice('hh-alice', 'reboot at 5\u001b[2J pm\n please', T0);
  assert.equal(n.kind, 'message');
  assert.equal(n.title, 'Message from hh-alice');
  assert.equal(n.body, 'reboot at 5 pm please — from hh-alice');
  assert.equal(n.key, `message:hh-alice:${T0.toISOString()}`);
});

test('ledger prunes keys older than a week', (t) => {
  const dir = tmp(t);
  const l = Ledger.load(dir);
  l.markSent('old', new Date('2026-01-01T00:00:00Z'));
  l.markSent('recent', new Date('2026-01-07T00:00:00Z'));
  l.save(new Date('2026-01-09T00:00:00Z'));
  const l2 = Ledger.load(dir);
  assert.deepEqual([...l2.keys()], ['recent']);
  assert.equal(l2.lastRun?.toISOString(), '2026-01-09T00:00:00.000Z');
});

test('moving a claim is "changed", not cancelled+new; series edits and window drift', () => {
  const a = claim({ uid: 'a' });
  const moved = { ...a, start: at(120), end: at(240) };
  const ns = planNotices([a], [moved], T0, new Set(), CFG);
  assert.deepEqual(
    ns.map((n) => n.kind),
    ['changed'],
  );
  assert.match(ns[0].body, /12:00–14:00/);

  const day = 1440;
  const series = (shift: number, days: number[]) =>
    days.map((d) =>
      claim({
        uid: 'r',
        recurring: true,
        recurrenceId: at(60 + shift + d * day).toISOString(),
        start: at(60 + shift + d * day),
        end: at(120 + shift + d * day),
      }),
    );
  const s0 = series(0, [0, 1, 2]);
  // The expansion window moves on: a 4th occurrence appears at the far end. Not news.
  assert.deepEqual(planNotices(s0, series(0, [0, 1, 2, 3]), T0, new Set(), CFG), []);
  // The whole series moves by an hour: one "changed".
  const shifted = planNotices(s0, series(60, [0, 1, 2]), T0, new Set(), CFG);
  assert.deepEqual(
    shifted.map((n) => n.kind),
    ['changed'],
  );
  // One occurrence removed (EXDATE): one "cancelled".
  const ex = planNotices(s0, series(0, [0, 2]), T0, new Set(), CFG);
  assert.deepEqual(
    ex.map((n) => [n.kind, n.key]),
    [['cancelled', `cancelled:r:${at(60 + day).toISOString()}`]],
  );
  // Whole series deleted: one "cancelled", not one per occurrence.
  assert.deepEqual(
    planNotices(s0, [], T0, new Set(), CFG).map((n) => n.kind),
    ['cancelled'],
  );
});
