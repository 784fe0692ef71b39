/**
 * Issue 12: a refused claim names every claim in its way and whom to ask (an urgent reboot meets
 * them all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planClaim, type ClaimRequest, type Actor } from '../src/core/plan-write.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import type { Claim } from '../src/core/types.js';
import { ConflictError } from '../src/core/errors.js';

const { config } = validateConfig(
  { host: 'box', timezone: 'UTC', resources: ['gpu0', 'gpu1'] },
  { hostname: 'box', timezone: 'UTC' },
  'c',
);
const NOW = new Date('2026-11-20T09:00:00Z');
const root: Actor = { user: 'root', isAdmin: true };
const c = (uid: string, user: string, resources: string[]): Claim => ({
  kind: 'claim',
  uid,
  recurring: false,
  allDay: false,
  title: '',
  mode: 'shared',
  hog: false,
  resources,
  note: '',
  allow: [],
  start: new Date(NOW.getTime() - 3_600_000),
  end: new Date(NOW.getTime() + 3 * 3_600_000),
  user,
});

test('claim -x over three shared claims: refused (exit 3) naming all three and their holders', () => {
  const req: ClaimRequest = {
    resources: [],
    mode: 'exclusive',
    hog: false,
    note: 'reboot',
    allow: [],
    start: NOW,
    end: new Date(NOW.getTime() + 600_000),
  };
  const claims = [c('a-1', 'alice', ['gpu0']), c('b-1', 'bob', ['gpu1']), c('c-1', 'carol', [])];
  assert.throws(
    () => planClaim(req, root, claims, config as Config, NOW, 'new'),
    (e: unknown) => {
      assert.ok(e instanceof ConflictError);
      assert.equal(e.exitCode, 3);
      for (const id of ['a-1', 'b-1', 'c-1']) assert.match(e.message, new RegExp(`\\(id ${id}\\)`));
      assert.match(e.hint ?? '', /ask alice, bob, carol: hosthog notify --to alice,bob,carol "…"/);
      assert.ok(!e.line().includes('\n'));
      return true;
    },
  );
});

test('--in 0m means now (the same start as no --in at all)', async () => {
  const { claimTimes } = await import('../src/core/when.js');
  const now = new Date('2026-11-20T09:00:30Z');
  assert.deepEqual(claimTimes({ in: '0m', for: '1h' }, now, 'UTC'), claimTimes({ for: '1h' }, now, 'UTC'));
});

const adminForceOverrules =
  'claim -x --force by an admin: booked first, overrules every claim in the way; their ' +
  'holders are told why, urgently';
test(adminForceOverrules, async () => {
  const { encodeEvent } = await import('../src/core/ics-write.js');
  const { decodeObjects } = await import('../src/core/ics-read.js');
  const { rule } = await import('../src/core/conflicts.js');
  const { planNotices } = await import('../src/core/notify-plan.js');
  const { PermissionError } = await import('../src/core/errors.js');
  const req: ClaimRequest = {
    resources: [],
    mode: 'exclusive',
    hog: false,
    note: 'reboot for kernel update',
    allow: [],
    start: NOW,
    end: new Date(NOW.getTime() + 600_000),
    force: true,
  };
  const claims = [c('a-1', 'alice', ['gpu0']), c('b-1', 'bob', ['gpu1']), c('c-1', 'carol', [])];
  // A lab member may not: the holders are named, with whom to ask.
  assert.throws(
    () => planClaim(req, { user: 'dave', isAdmin: false }, claims, config as Config, NOW, 'n'),
    (e: unknown) => {
      assert.ok(e instanceof PermissionError);
      assert.match(e.message, /only an admin may --force: .*\(id a-1\).*\(id b-1\).*\(id c-1\)/);
      assert.match(e.hint ?? '', /hosthog notify --to alice,bob,carol/);
      return true;
    },
  );
  const { spec, overrules } = planClaim(req, root, claims, config as Config, NOW, 'forced-1');
  assert.deepEqual(overrules!.map((o) => o.uid).sort(), ['a-1', 'b-1', 'c-1']);
  // Written and read back: it holds, all three are overruled by it.
  const { occurrences } = decodeObjects([{ href: '/f.ics', etag: null, data: encodeEvent(spec, NOW) }], {
    timezone: 'UTC',
    from: new Date(NOW.getTime() - 86_400_000),
    to: new Date(NOW.getTime() + 86_400_000),
    maxOccurrences: 10,
  });
  const forced = occurrences[0] as Claim;
  const after = [...claims.map((x) => ({ ...x, created: new Date(NOW.getTime() - 86_400_000) })), forced];
  const r = rule(after);
  assert.deepEqual(r.overruled.map((o) => [o.claim.uid, o.by.uid]).sort(), [
    ['a-1', 'forced-1'],
    ['b-1', 'forced-1'],
    ['c-1', 'forced-1'],
  ]);
  const before = after.filter((x) => x.uid !== 'forced-1');
  const notices = planNotices(before, after, NOW, new Set(), config as Config, { author: 'root' }).filter(
    (n) => n.kind === 'overruled',
  );
  assert.deepEqual(notices.map((n) => (n.to as { users: string[] }).users[0]).sort(), [
    'alice',
    'bob',
    'carol',
  ]);
  for (const n of notices) {
    assert.equal(n.urgent, true);
    assert.match(n.title, /^Your claim on box is overruled by root's$/);
    assert.match(n.body, /"reboot for kernel update"/);
  }
});
