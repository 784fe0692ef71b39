/**
 * The GPU sampler's host side: the deadline kills a hanging nvidia-smi and all it started
 * (process group) and answers at once; pids map to users through /proc, and a pid of another
 * pid namespace (NSpid differs, or not in our /proc) is "unknown user", not dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBounded } from '../src/host/gpus/run-bounded.js';
import { pidOwner, readPasswdNames } from '../src/host/gpus/proc-users.js';
import { GpuSampler, readGpus } from '../src/host/gpus/sampler.js';
import { REPO } from './harness/cli.js';

const STAND_IN = join(REPO, 'test/fixtures/nvidia-smi/stand-in.mjs');
/** Running (a killed orphan may stay a zombie until PID 1 reaps it: that is not running). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const hangingCommandKilled =
  'the deadline: a command that hangs (and its children) is killed, the answer comes at the deadline';
test(hangingCommandKilled, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-bounded-'));
  try {
    const t0 = Date.now();
    const r = await runBounded(['sh', '-c', `sleep 60 & echo $! > ${dir}/child; sleep 60`], 500);
    const took = Date.now() - t0;
    assert.equal(r.timedOut, true);
    assert.ok(took < 3000, `took ${took} ms`);
    const child = Number(readFileSync(join(dir, 'child'), 'utf8'));
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(alive(child), false, 'the background child of the hung command is gone too');
    assert.deepEqual(await runBounded(['/nonexistent/nvidia-smi'], 1000), {
      code: null,
      stdout: '',
      stderr: '',
      error: '/nonexistent/nvidia-smi not found',
      timedOut: false,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pid owners: our own pid is ours; another namespace's pid or a missing one is unknown", () => {
  const names = readPasswdNames();
  const me = pidOwner(process.pid, names);
  assert.equal(me.user, names.get(process.getuid!()));
  assert.match(me.start ?? '', /^\d+$/);
  const proc = mkdtempSync(join(tmpdir(), 'hh-proc-'));
  try {
    mkdirSync(join(proc, '470'));
    writeFileSync(join(proc, '470', 'status'), 'Name:\tpython3\nUid:\t0\t0\t0\t0\nNSpid:\t8812\t470\n');
    assert.deepEqual(
      pidOwner(470, names, proc),
      { user: null, start: null },
      'NSpid differs: another namespace',
    );
    assert.deepEqual(pidOwner(471, names, proc), { user: null, start: null }, 'not in our /proc');
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test('a reading through the stand-in: the fixture pid 470 (not ours) is an unknown user, kept', async () => {
  const scen = join(mkdtempSync(join(tmpdir(), 'hh-scen-')), 's.json');
  writeFileSync(
    scen,
    JSON.stringify({
      gpus: [{ index: 0, busy: true }],
      apps: [
        { pid: 470, gpu: 0 },
        { pid: process.pid, gpu: 0, mem: 100 },
      ],
    }),
  );
  const r = await readGpus({
    command: [process.execPath, STAND_IN, scen],
    timeoutMs: 5000,
    procRoot: join(tmpdir(), 'no-such-proc'),
  });
  assert.ok(!('error' in r));
  if ('error' in r) return;
  assert.deepEqual(
    r.gpus.map((g) => [g.index, g.utilization, g.memoryUsedMib]),
    [[0, 100, 4093]],
  );
  assert.deepEqual(
    r.processes.map((p) => [p.pid, p.user, p.memoryMib]),
    [
      [470, null, 4084],
      [process.pid, null, 100],
    ],
  );
  const own = await readGpus({ command: [process.execPath, STAND_IN, scen], timeoutMs: 5000 });
  assert.ok(!('error' in own) && own.processes[1].user === readPasswdNames().get(process.getuid!()));
  // The sampler keeps the last good reading and says why the latest attempt failed.
  writeFileSync(scen, JSON.stringify({ mode: 'fail' }));
  const s = new GpuSampler({ command: [process.execPath, STAND_IN, scen], sampleMs: 1000, timeoutMs: 5000 });
  const failed = await s.sampleOnce();
  assert.equal(failed.reading, null);
  assert.match(failed.failure!.error, /^nvidia-smi failed \(exit 9\): NVIDIA-SMI has failed/);
});
