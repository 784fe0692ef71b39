/** The GPU planner, its text and its notices: pure logic, in-memory readings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type Config } from '../src/config/schema.js';
import {
  planGpus,
  publishedAsOf,
  type GpuProcess,
  type GpuReading,
  type GpuSource,
} from '../src/core/gpu-plan.js';
import type { GpuInfo } from '../src/core/gpu-parse.js';
import { claimHintLine, cudaEnvLine, gpuLine, gpuMotdLines, mineIndices } from '../src/core/gpu-render.js';
import { gpuNotices } from '../src/core/gpu-notices.js';
import { b, claim, NOW, TZ } from './harness/occurrences.js';

function cfg(gpus: Record<string, unknown> = {}, resources = ['gpu0', 'gpu1']): Config {
  const r = validateConfig(
    { host: 'gpu-box-3', timezone: TZ, resources, gpus },
    { hostname: 'x', timezone: 'UTC' },
    'test',
  );
  assert.deepEqual(r.problems, []);
  return r.config!;
}
const gpu = (index: number, o: Partial<GpuInfo> = {}): GpuInfo => ({
  index,
  uuid: `GPU-0000000${index}-ae25-3d2c-c9b9-60676aa8f913`,
  busId: `00000000:00:0${6 + index}.0`,
  utilization: 0,
  memoryUsedMib: 0,
  memoryTotalMib: 143771,
  ...o,
});
const proc = (pid: number, user: string | null, on: number, mem = 4084): GpuProcess => ({
  pid,
  user,
  memoryMib: mem,
  gpuUuid: gpu(on).uuid,
  gpuBusId: null,
  start: String(1000 + pid),
});
const reading = (
  processes: GpuProcess[],
  gpus = [
    gpu(0, { utilization: 97, memoryUsedMib: 38_912 }),
    gpu(1, { utilization: 100, memoryUsedMib: 4093 }),
  ],
  at = NOW,
): GpuReading => ({ at, gpus, processes });
const ok = (r: GpuReading): GpuSource => ({ reading: r, failure: null });

const rowsClaimedAndFree =
  'rows: claimed and in use by the holder; free and in use without a claim (shown, not a conflict)';
test(rowsClaimedAndFree, () => {
  const claims = [claim({ uid: 'a', user: 'alice', resources: ['gpu0'] })];
  const p = planGpus({
    claims,
    source: ok(reading([proc(100, 'alice', 0, 38_912), proc(200, 'carol', 1)])),
    config: cfg(),
    now: NOW,
    idle: {},
  });
  assert.equal(p.unknown, null);
  assert.deepEqual(
    p.gpus.map((r) => [r.resource, r.index, r.claimed_by, r.processes]),
    [
      ['gpu0', 0, ['alice'], [{ pid: 100, user: 'alice', memory_mib: 38_912 }]],
      ['gpu1', 1, [], [{ pid: 200, user: 'carol', memory_mib: 4084 }]],
    ],
  );
  assert.equal(gpuLine(p.gpus[0], TZ, NOW), 'gpu0  claimed by alice · in use by alice 38 GiB · 97 %');
  assert.equal(gpuLine(p.gpus[1], TZ, NOW), 'gpu1  free · in use by carol 4 GiB (no claim) · 100 %');
  assert.equal(p.gpus[1].flag?.kind, 'unclaimed');
  assert.equal(p.gpus[1].flag?.conflict, false);
  assert.deepEqual(gpuNotices(p, new Set(), 'gpu-box-3', NOW), []);
  const keys = Object.keys(p.gpus[0]).sort();
  assert.deepEqual(keys, [
    'claimed_by',
    'flag',
    'idle_since',
    'index',
    'memory_total_mib',
    'memory_used_mib',
    'processes',
    'resource',
    'state',
    'utilization',
    'uuid',
  ]);
});

test('flag: use of a GPU another user claimed; notice to both, keyed by gpu+pid+start, once', () => {
  const claims = [claim({ uid: 'a', user: 'alice', resources: ['gpu0'] })];
  const p = planGpus({
    claims,
    source: ok(reading([proc(100, 'alice', 0), proc(300, 'carol', 0)])),
    config: cfg(),
    now: NOW,
    idle: {},
  });
  const f = p.gpus[0].flag!;
  assert.deepEqual(
    [f.kind, f.conflict, f.user, f.holder, f.pid],
    ['claimed-by-other', true, 'carol', 'alice', 300],
  );
  assert.deepEqual(gpuMotdLines(p, TZ, NOW), [
    'GPUS:',
    '  gpu0  claimed by alice · in use by alice 4 GiB, carol 4 GiB · 97 %',
    '    ! carol uses gpu0, claimed by alice',
    '  gpu1  free · not in use',
  ]);
  const n = gpuNotices(p, new Set(), 'gpu-box-3', NOW);
  assert.equal(n.length, 1);
  assert.equal(n[0].key, 'gpu:claimed-by-other:gpu0:300:1300:alice');
  assert.deepEqual(n[0].to, { users: ['carol', 'alice'] });
  assert.equal(n[0].title, 'carol is using gpu0 on gpu-box-3, claimed by alice');
  assert.deepEqual(gpuNotices(p, new Set([n[0].key]), 'gpu-box-3', NOW), [], 'sent once');
  // The same pid started again (a new job) is a new notice.
  const again = planGpus({
    claims,
    source: ok(reading([{ ...proc(300, 'carol', 0), start: '9999' }])),
    config: cfg(),
    now: NOW,
    idle: {},
  });
  assert.equal(gpuNotices(again, new Set([n[0].key]), 'gpu-box-3', NOW).length, 1);
});

test("flag: any GPU used during another user's exclusive whole-host claim (allow list respected)", () => {
  const claims = [claim({ uid: 'x', user: 'alice', mode: 'exclusive', allow: ['bob'] })];
  const p = planGpus({
    claims,
    source: ok(reading([proc(300, 'carol', 1), proc(400, 'bob', 1), proc(100, 'alice', 0)])),
    config: cfg(),
    now: NOW,
    idle: {},
  });
  assert.deepEqual(
    p.flags.map((f) => [f.resource, f.kind, f.user, f.holder]),
    [['gpu1', 'during-exclusive', 'carol', 'alice']],
  );
  assert.deepEqual(p.gpus[1].claimed_by, ['alice']);
  const n = gpuNotices(p, new Set(), 'gpu-box-3', NOW);
  assert.equal(n[0].title, "carol is using gpu1 on gpu-box-3, during alice's exclusive claim");
});

test('a process of another pid namespace is shown as unknown user, never dropped nor flagged', () => {
  const claims = [claim({ uid: 'a', user: 'alice', resources: ['gpu0'] })];
  const p = planGpus({
    claims,
    source: ok(reading([proc(470, null, 0)])),
    config: cfg(),
    now: NOW,
    idle: {},
  });
  assert.deepEqual(p.gpus[0].processes, [{ pid: 470, user: null, memory_mib: 4084 }]);
  assert.equal(p.flags.length, 0);
  assert.match(gpuLine(p.gpus[0], TZ, NOW), /in use by unknown user 4 GiB/);
});

const idleClaimedGpu =
  'idle: a claimed GPU with no process of the holder for idle_after is "claimed, idle since ' +
  '14:10"; state carries';
test(idleClaimedGpu, () => {
  const c = cfg({ idle_after: '2h' });
  const claims = [
    claim({
      uid: 'a',
      user: 'alice',
      resources: ['gpu1'],
      start: b('2026-11-22T12:00:00'),
      end: b('2026-11-22T23:00:00'),
    }),
  ];
  // Busy at 14:10, then idle: at 16:09 not yet marked, at 16:10 marked, since 14:10.
  let s = planGpus({
    claims,
    source: ok(reading([proc(100, 'alice', 1)], undefined, b('2026-11-22T14:10:00'))),
    config: c,
    now: b('2026-11-22T14:10:00'),
    idle: {},
  });
  assert.deepEqual(s.idle, { 'gpu1|alice': b('2026-11-22T14:10:00').toISOString() });
  const at = (t: string) =>
    planGpus({ claims, source: ok(reading([], undefined, b(t))), config: c, now: b(t), idle: s.idle });
  assert.equal(at('2026-11-22T16:09:00').gpus[1].idle_since, null);
  s = at('2026-11-22T16:10:00');
  assert.equal(s.gpus[1].idle_since, b('2026-11-22T14:10:00').toISOString());
  assert.equal(s.gpus[1].flag?.kind, 'idle');
  assert.equal(gpuLine(s.gpus[1], TZ, b('2026-11-22T16:10:00')), 'gpu1  claimed by alice, idle since 14:10');
  // Never busy: idle since the claim's start.
  const never = planGpus({
    claims,
    source: ok(reading([], undefined, b('2026-11-22T14:05:00'))),
    config: c,
    now: b('2026-11-22T14:05:00'),
    idle: {},
  });
  assert.equal(never.gpus[1].idle_since, b('2026-11-22T12:00:00').toISOString());
});

const unknownNeverFree =
  'unknown, never free: failed sample, no sample, a reading older than 3 samples; the stale published file';
test(unknownNeverFree, () => {
  const claims = [claim({ uid: 'a', user: 'alice', resources: ['gpu0'] })];
  const c = cfg();
  const failed = planGpus({
    claims,
    source: { reading: reading([]), failure: { at: NOW, error: 'nvidia-smi not found' } },
    config: c,
    now: NOW,
    idle: { k: 'x' },
  });
  assert.equal(failed.unknown, 'nvidia-smi not found');
  assert.deepEqual(
    failed.gpus.map((r) => [r.resource, r.state, r.claimed_by]),
    [
      ['gpu0', 'unknown', ['alice']],
      ['gpu1', 'unknown', []],
    ],
  );
  assert.deepEqual(failed.idle, { k: 'x' }, 'idle state kept while unknown');
  assert.deepEqual(gpuMotdLines(failed, TZ, NOW), [
    'GPUS:',
    'GPUs unknown: nvidia-smi not found',
    '  gpu0  claimed by alice · use unknown',
    '  gpu1  free · use unknown',
  ]);
  assert.equal(
    planGpus({ claims, source: { reading: null, failure: null }, config: c, now: NOW, idle: {} }).unknown,
    'not sampled yet',
  );
  const old = planGpus({
    claims,
    source: ok(reading([], undefined, new Date(NOW.getTime() - 101_000))),
    config: c,
    now: NOW,
    idle: {},
  });
  assert.equal(old.unknown, 'no reading since 14:03');
  const fresh = planGpus({
    claims,
    source: ok(reading([proc(1, 'carol', 1)])),
    config: c,
    now: NOW,
    idle: {},
  });
  const later = publishedAsOf(fresh, c, new Date(NOW.getTime() + 200_000));
  assert.match(later.unknown!, /^the bridge has published no GPU reading since 14:05/);
  assert.deepEqual(
    later.gpus.map((r) => [r.state, r.processes.length]),
    [
      ['unknown', 0],
      ['unknown', 0],
    ],
  );
});

test('mapping: default gpuN = index N; explicit by index, uuid or PCI bus id; config problems', () => {
  const c = cfg({ resources: { big: gpu(1).uuid, bus: '0000:00:06.0', three: '3' } }, []);
  const p = planGpus({
    claims: [],
    source: ok(reading([], [gpu(0), gpu(1), gpu(2)])),
    config: c,
    now: NOW,
    idle: {},
  });
  assert.deepEqual(
    p.gpus.map((r) => [r.resource, r.index, r.state]),
    [
      ['big', 1, 'ok'],
      ['bus', 0, 'ok'],
      ['three', null, 'unknown'],
      ['gpu2', 2, 'ok'],
    ],
  );
  assert.equal(c.gpus.enabled, true);
  assert.equal(cfg({}, []).gpus.sampleMs, 30_000);
  assert.equal(cfg({}, []).gpus.idleAfterMs, 7_200_000);
  assert.deepEqual(cfg({}, []).gpus.command, ['nvidia-smi']);
  assert.equal(
    validateConfig({ resources: ['a'] }, { hostname: 'x', timezone: 'UTC' }, 't').config!.gpus.enabled,
    false,
  );
  const bad = validateConfig(
    { gpus: { command: [], resources: { 'x y': '0', g: 'zero' }, sample: '0s', colour: 1 } },
    { hostname: 'x', timezone: 'UTC' },
    't',
  );
  assert.equal(bad.problems.length, 5, bad.problems.join('\n'));
});

test("CUDA_VISIBLE_DEVICES: the holder's GPUs, printed as an export line", () => {
  const c = cfg({ resources: { big: gpu(1).uuid } }, ['gpu0', 'big']);
  const p = planGpus({ claims: [], source: ok(reading([])), config: c, now: NOW, idle: {} });
  const mine = mineIndices(p.gpus, ['big', 'gpu0', 'disk']);
  assert.equal(cudaEnvLine(mine), 'export CUDA_VISIBLE_DEVICES=0,1');
  assert.equal(claimHintLine(mineIndices([], ['gpu1'])), 'your claim: gpu1 → export CUDA_VISIBLE_DEVICES=1');
  assert.equal(claimHintLine([]), null);
});
