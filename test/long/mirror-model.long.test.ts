/**
 * The mirror's model-based test, long form (`npm run test:long`): 1,000 generated runs of 16
 * steps against a real Radicale behind a fault-injecting proxy, and 1,000 against a vdir.
 * Seeds differ from the short form's (test/mirror-model.test.ts); a failure names its seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRadicale } from '../harness/servers.js';
import { startFaultProxy } from '../harness/fault-proxy.js';
import { modelRuns } from '../harness/mirror-model.js';

test('mirror model (long): 1,000 runs on Radicale with faults', async (t) => {
  const server = await startRadicale();
  t.after(() => server.destroy());
  const proxy = await startFaultProxy(server.calendarUrl);
  t.after(() => proxy.close());
  const s = await modelRuns({ kind: 'radicale', server, proxy }, 1_000_000, 1000, 16);
  t.diagnostic(
    `runs ${s.runs}, steps ${s.steps}, syncs ${s.syncs} (${s.failed} failed by a fault, ${s.full} full)`,
  );
  assert.equal(s.runs, process.env.HOSTHOG_MODEL_SEED ? 1 : 1000);
});

test('mirror model (long): 1,000 runs on a vdir', async (t) => {
  const s = await modelRuns({ kind: 'vdir' }, 2_000_000, 1000, 16);
  t.diagnostic(`runs ${s.runs}, steps ${s.steps}, syncs ${s.syncs}`);
  assert.equal(s.runs, process.env.HOSTHOG_MODEL_SEED ? 1 : 1000);
});
