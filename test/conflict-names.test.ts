/** Issue 12: a refused claim names every claim in its way and whom to ask (an urgent reboot meets them all). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planClaim, type ClaimRequest, type Actor } from '../src/core/plan-write.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import type { Claim } from '../src/core/types.js';
import { ConflictError } from '../src/core/errors.js';

const { config } = validateConfig({ host: 'box', timezone: 'UTC', resources: ['gpu0', 'gpu1'] }, { hostname: 'box', timezone: 'UTC' }, 'c');
const NOW = new Date('2026-11-20T09:00:00Z');
const root: Actor = { user: 'root', isAdmin: true };
const c = (uid: string, user: string, resources: string[]): Claim => ({
  kind: 'claim', uid, recurring: false, allDay: false, title: '', mode: 'shared', hog: false, resources, note: '', allow: [],
  start: new Date(NOW.getTime() - 3_600_000), end: new Date(NOW.getTime() + 3 * 3_600_000), user,
});

test('claim -x over three shared claims: refused (exit 3) naming all three and their holders', () => {
  const req: ClaimRequest = { resources: [], mode: 'exclusive', hog: false, note: 'reboot', allow: [], start: NOW, end: new Date(NOW.getTime() + 600_000) };
  const claims = [c('a-1', 'alice', ['gpu0']), c('b-1', 'bob', ['gpu1']), c('c-1', 'carol', [])];
  assert.throws(() => planClaim(req, root, claims, config as Config, NOW, 'new'), (e: unknown) => {
    assert.ok(e instanceof ConflictError);
    assert.equal(e.exitCode, 3);
    for (const id of ['a-1', 'b-1', 'c-1']) assert.match(e.message, new RegExp(`\\(id ${id}\\)`));
    assert.match(e.hint ?? '', /ask alice, bob, carol: hosthog notify --to alice,bob,carol "…"/);
    assert.ok(!e.line().includes('\n'));
    return true;
  });
});

test('--in 0m means now (the same start as no --in at all)', async () => {
  const { claimTimes } = await import('../src/core/when.js');
  const now = new Date('2026-11-20T09:00:30Z');
  assert.deepEqual(claimTimes({ in: '0m', for: '1h' }, now, 'UTC'), claimTimes({ for: '1h' }, now, 'UTC'));
});
