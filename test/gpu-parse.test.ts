/**
 * The nvidia-smi parsers against the REAL answers of an H200 host (test/fixtures/nvidia-smi,
 * copied byte for byte from the shared fixtures), each parsed with the fields of the command
 * that produced it; and the stand-in nvidia-smi the e2e tests use reproduces those bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  APP_FIELDS,
  GPU_FIELDS,
  parseComputeApps,
  parseQueryGpu,
  splitCsvLine,
} from '../src/core/gpu-parse.js';
import { REPO } from './harness/cli.js';

const DIR = join(REPO, 'test/fixtures/nvidia-smi');
const fixture = (f: string) => readFileSync(join(DIR, f), 'utf8');
const UUID = 'GPU-a7a88fc1-ae25-3d2c-c9b9-60676aa8f913';

test('fixtures are the real bytes (", " separators, one trailing newline)', () => {
  assert.equal(
    fixture('compute-apps.csv'),
    `470, /opt/torch/.venv/bin/python3, 4084, ${UUID}, 00000000:00:06.0\n`,
  );
  assert.equal(fixture('query-gpu-idle.csv'), `0, ${UUID}, NVIDIA H200, 00000000:00:06.0, 0, 0, 143771\n`);
  assert.equal(fixture('query-gpu-busy.csv'), `0, ${UUID}, 100, 4093\n`);
});

test('query-gpu-idle.csv (index,uuid,name,pci.bus_id,utilization.gpu,memory.used,memory.total)', () => {
  const r = parseQueryGpu(fixture('query-gpu-idle.csv'), [
    'index',
    'uuid',
    'name',
    'pci.bus_id',
    'utilization.gpu',
    'memory.used',
    'memory.total',
  ]);
  assert.deepEqual(r, {
    bad: 0,
    items: [
      {
        index: 0,
        uuid: UUID,
        busId: '00000000:00:06.0',
        utilization: 0,
        memoryUsedMib: 0,
        memoryTotalMib: 143771,
      },
    ],
  });
});

test('query-gpu-busy.csv (index,uuid,utilization.gpu,memory.used)', () => {
  const r = parseQueryGpu(fixture('query-gpu-busy.csv'), ['index', 'uuid', 'utilization.gpu', 'memory.used']);
  assert.deepEqual(r, {
    bad: 0,
    items: [
      { index: 0, uuid: UUID, busId: null, utilization: 100, memoryUsedMib: 4093, memoryTotalMib: null },
    ],
  });
});

test('compute-apps.csv (pid,process_name,used_memory,gpu_uuid,gpu_bus_id)', () => {
  const r = parseComputeApps(fixture('compute-apps.csv'), [
    'pid',
    'process_name',
    'used_memory',
    'gpu_uuid',
    'gpu_bus_id',
  ]);
  assert.deepEqual(r, {
    bad: 0,
    items: [{ pid: 470, memoryMib: 4084, gpuUuid: UUID, gpuBusId: '00000000:00:06.0' }],
  });
});

test('a process name with ", " in it cannot shift the columns', () => {
  const line = `470, /tmp/x, 999, GPU-ffffffff-0000-0000-0000-000000000000, 4084, ${UUID}, 00000000:00:06.0`;
  const r = parseComputeApps(line + '\n', ['pid', 'process_name', 'used_memory', 'gpu_uuid', 'gpu_bus_id']);
  assert.equal(r.items[0].gpuUuid, UUID);
  assert.equal(r.items[0].memoryMib, 4084);
  assert.equal(
    splitCsvLine(line, ['pid', 'process_name', 'used_memory', 'gpu_uuid', 'gpu_bus_id'])!.process_name,
    '/tmp/x, 999, GPU-ffffffff-0000-0000-0000-000000000000',
  );
});

test('[N/A] values are null; malformed lines are counted, not guessed', () => {
  const r = parseQueryGpu(
    `0, ${UUID}, 00000000:00:06.0, [N/A], [N/A], 143771\ngarbage\n1, nope, x, 1, 2, 3\n`,
  );
  assert.equal(r.bad, 2);
  assert.deepEqual(r.items[0], {
    index: 0,
    uuid: UUID,
    busId: '00000000:00:06.0',
    utilization: null,
    memoryUsedMib: null,
    memoryTotalMib: 143771,
  });
  const a = parseComputeApps(`470, [N/A], ${UUID}\nx, 1, ${UUID}\n`);
  assert.deepEqual(a, { bad: 1, items: [{ pid: 470, memoryMib: null, gpuUuid: UUID, gpuBusId: null }] });
});

test('the stand-in nvidia-smi prints the fixtures byte for byte, and the sampler fields parse', () => {
  const run = (args: string[], scenario = '-') =>
    execFileSync(
      process.execPath,
      [join(DIR, 'stand-in.mjs'), scenario, ...args, '--format=csv,noheader,nounits'],
      { encoding: 'utf8' },
    );
  assert.equal(
    run(['--query-gpu=index,uuid,name,pci.bus_id,utilization.gpu,memory.used,memory.total']),
    fixture('query-gpu-idle.csv'),
  );
  assert.equal(
    run(['--query-compute-apps=pid,process_name,used_memory,gpu_uuid,gpu_bus_id']),
    fixture('compute-apps.csv'),
  );
  const gpus = parseQueryGpu(run([`--query-gpu=${GPU_FIELDS.join(',')}`]));
  assert.deepEqual(
    gpus.items.map((g) => [g.index, g.uuid, g.memoryTotalMib]),
    [[0, UUID, 143771]],
  );
  const apps = parseComputeApps(run([`--query-compute-apps=${APP_FIELDS.join(',')}`]));
  assert.deepEqual(apps.items, [{ pid: 470, memoryMib: 4084, gpuUuid: UUID, gpuBusId: null }]);
});
