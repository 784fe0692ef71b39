/**
 * The mirror's model-based test, short form (test/harness/mirror-model.ts has the model and the
 * invariants): a few hundred generated runs against a real Radicale behind a fault-injecting
 * proxy and against a vdir. `npm run test:long` runs more than a thousand (test/long/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRadicale } from './harness/servers.js';
import { startFaultProxy } from './harness/fault-proxy.js';
import { modelRuns } from './harness/mirror-model.js';

const modelWithFaults =
  'mirror model: 120 runs on Radicale with faults (token expiry, 5xx, truncation, timeouts, restarts)';
test(modelWithFaults, async (t) => {
  const server = await startRadicale();
  t.after(() => server.destroy());
  const proxy = await startFaultProxy(server.calendarUrl);
  t.after(() => proxy.close());
  const s = await modelRuns({ kind: 'radicale', server, proxy }, 10_000, 120, 8);
  t.diagnostic(
    `runs ${s.runs}, steps ${s.steps}, syncs ${s.syncs} (${s.failed} failed by a fault, ${s.full} full)`,
  );
  assert.ok(
    s.syncs > 300 && s.failed > 20 && s.full > 20,
    'the faults and the full reconciles really happened',
  );
});

test('mirror model: 200 runs on a vdir (file writes, restarts)', async (t) => {
  const s = await modelRuns({ kind: 'vdir' }, 20_000, 200, 8);
  t.diagnostic(`runs ${s.runs}, steps ${s.steps}, syncs ${s.syncs}`);
  assert.ok(s.syncs > 500);
});
