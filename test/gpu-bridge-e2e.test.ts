/**
 * Issue 13 through the REAL bridge process (`hosthog bridge` as root, calendar = a local vdir)
 * with a stand-in nvidia-smi (test/fixtures/nvidia-smi/stand-in.mjs: the real H200 answers,
 * with the pids of real `sleep` processes this test starts as hh-alice and hh-carol):
 * the rows, the three flags, the notices (once across many samples), the idle mark (kept
 * across a restart), the CUDA_VISIBLE_DEVICES line (CLI and profile.d snippet), the same
 * per-GPU objects in gpus/status/who --json; and nvidia-smi absent, failing and hanging 60 s:
 * the motd stays current and says "GPUs unknown". Run under flock /tmp/hosthog-e2e.lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { cliCommand, REPO, runCli, startCli, waitFor } from './harness/cli.js';
import { vevent, writeTestConfig, type TestConfig } from './harness/config.js';
import { formatTime } from '../src/core/format-time.js';

const users = ensureTestUsers();
const alice = users['hh-alice'];
const carol = users['hh-carol'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAND_IN = join(REPO, 'test/fixtures/nvidia-smi/stand-in.mjs');
const HOST = `gpe${process.pid}`;
const TZ = 'Europe/Berlin';

type Bridge = ChildProcess & { output: () => string };
async function startBridge(cfg: TestConfig, all: Bridge[]): Promise<Bridge> {
  const b = startCli(['bridge'], {
    env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' },
    cwd: REPO,
  }) as Bridge;
  all.push(b);
  await waitFor(
    () => b.output().includes('hosthog bridge started') || b.exitCode !== null,
    'bridge start',
    30_000,
  );
  assert.equal(b.exitCode, null, `bridge exited: ${b.output().slice(-2000)}`);
  return b;
}
async function stopBridge(b: Bridge): Promise<void> {
  if (b.exitCode !== null || b.signalCode !== null) return;
  const gone = new Promise((r) => b.once('exit', r));
  b.kill('SIGTERM');
  await Promise.race([gone, sleep(15_000)]);
  if (b.exitCode === null && b.signalCode === null) {
    b.kill('SIGKILL');
    await gone;
  }
}
/** A real process of `u` (setpriv execs sleep: the pid is the sleep's). */
function sleeper(u: TestUser, all: ChildProcess[]): number {
  const p = spawn('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', 'sleep', '600'], {
    stdio: 'ignore',
  });
  all.push(p);
  return p.pid!;
}
function dropEvent(vdir: string, name: string, ics: string): void {
  const tmp = join(vdir, `.${name}.tmp`);
  writeFileSync(tmp, ics, { mode: 0o644 });
  renameSync(tmp, join(vdir, `${name}.ics`));
}
function scenario(path: string, s: object): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(s), { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}
function gpusConfig(command: string[], more = ''): string {
  return (
    `[notify]\nchannels = ["wall"]\n\n[gpus]\ncommand = ${JSON.stringify(command)}\n` +
    `sample = "1s"\ntimeout = "2s"\n${more}`
  );
}
const notified = (out: string, key: string) =>
  out.split('\n').filter((l) => l.includes('"notified"') && l.includes(`"key":"${key}"`));
const wholeMinute = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000);

test(
  'GPUs through the real bridge: rows, flags, notices once, idle mark, CUDA_VISIBLE_DEVICES, JSON',
  { timeout: 240_000 },
  async (t) => {
    const dir = mkdtempSync('/tmp/hh-gpu-e2e-');
    chmodSync(dir, 0o755);
    const vdir = join(dir, 'calendar');
    mkdirSync(vdir, { mode: 0o755 });
    const sc = join(dir, 'scenario.json');
    const procs: ChildProcess[] = [];
    const bridges: Bridge[] = [];
    t.after(async () => {
      for (const b of bridges) await stopBridge(b).catch(() => undefined);
      for (const p of procs) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const a0 = sleeper(alice, procs);
    const c0 = sleeper(carol, procs);
    const c1 = sleeper(carol, procs);
    const startOf = (pid: number) => {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
    };
    scenario(sc, {
      gpus: [{ index: 0, busy: true, used: 43_000 }, { index: 1, util: 35, used: 4093 }, { index: 2 }],
      apps: [
        { pid: a0, gpu: 0, mem: 38_912 },
        { pid: c0, gpu: 0, mem: 4084 },
        { pid: c1, gpu: 1, mem: 4084 },
      ],
    });
    const cfg = writeTestConfig({
      dir,
      vdir,
      host: HOST,
      timezone: TZ,
      extra: gpusConfig([process.execPath, STAND_IN, sc], 'idle_after = "2m"\n'),
    });
    const claimStart = wholeMinute(Date.now() - 5 * 60_000);
    dropEvent(
      vdir,
      'alice',
      vevent('alice-gpu@test', 'hh-alice gpu0,gpu2: training', claimStart, new Date(Date.now() + 3_600_000)),
    );
    const bridge = await startBridge(cfg, bridges);
    const env = { HOSTHOG_CONFIG: cfg.path };
    const asCarol = { env, uid: carol.uid, gid: carol.gid };

    // The table, as a plain user reads it (no nvidia-smi: state_dir/gpus.json).
    const table = await waitFor(
      async () => {
        const r = await runCli(['gpus'], asCarol);
        return r.stdout.includes('gpu2  claimed by hh-alice, idle') ? r.stdout : '';
      },
      'hosthog gpus with all rows',
      30_000,
    );
    const since = formatTime(claimStart, TZ, new Date());
    assert.deepEqual(table.trimEnd().split('\n'), [
      'gpu0  claimed by hh-alice · in use by hh-alice 38 GiB, hh-carol 4 GiB · 100 %',
      '  ! hh-carol uses gpu0, claimed by hh-alice',
      'gpu1  free · in use by hh-carol 4 GiB (no claim) · 35 %',
      `gpu2  claimed by hh-alice, idle since ${since}`,
    ]);
    const j = JSON.parse((await runCli(['gpus', '--json'], asCarol)).stdout);
    assert.equal(j.unknown, null);
    assert.deepEqual(
      j.gpus.map(
        (r: {
          resource: string;
          index: number;
          claimed_by: string[];
          processes: unknown[];
          memory_total_mib: number;
        }) => [r.resource, r.index, r.claimed_by, r.processes, r.memory_total_mib],
      ),
      [
        [
          'gpu0',
          0,
          ['hh-alice'],
          [
            { pid: a0, user: 'hh-alice', memory_mib: 38_912 },
            { pid: c0, user: 'hh-carol', memory_mib: 4084 },
          ],
          143771,
        ],
        ['gpu1', 1, [], [{ pid: c1, user: 'hh-carol', memory_mib: 4084 }], 143771],
        ['gpu2', 2, ['hh-alice'], [], 143771],
      ],
    );
    assert.deepEqual(
      j.flags.map((f: { resource: string; kind: string; user: string; holder: string }) => [
        f.resource,
        f.kind,
        f.user,
        f.holder,
      ]),
      [
        ['gpu0', 'claimed-by-other', 'hh-carol', 'hh-alice'],
        ['gpu1', 'unclaimed', 'hh-carol', null],
        ['gpu2', 'idle', null, 'hh-alice'],
      ],
    );

    // status, who and the motd show the same rows; --json carries the same objects.
    const status = (await runCli(['status'], asCarol)).stdout;
    const GPUS =
      'GPUS:\n  gpu0  claimed by hh-alice · in use by hh-alice 38 GiB, hh-carol 4 GiB · 100 %\n' +
      '    ! hh-carol uses gpu0, claimed by hh-alice\n' +
      '  gpu1  free · in use by hh-carol 4 GiB (no claim) · 35 %\n' +
      `  gpu2  claimed by hh-alice, idle since ${since}\n`;
    assert.ok(status.endsWith(`\n${GPUS}`), status);
    const sj = JSON.parse((await runCli(['status', '--json'], asCarol)).stdout);
    const wj = JSON.parse((await runCli(['who', '--json'], asCarol)).stdout);
    const strip = (x: { gpus: unknown[] }) => JSON.stringify(x.gpus);
    assert.equal(strip(sj.gpus), strip(j), 'status --json: the same per-GPU objects');
    assert.equal(strip(wj.gpus), strip(j), 'who --json: the same per-GPU objects');
    assert.ok((await runCli(['who'], asCarol)).stdout.endsWith(`\n${GPUS}`));
    await waitFor(
      () => readFileSync(cfg.motd, 'utf8').includes('gpu1  free · in use by hh-carol 4 GiB (no claim)'),
      'motd GPU rows',
      15_000,
    );
    assert.ok(readFileSync(cfg.motd, 'utf8').includes(GPUS), readFileSync(cfg.motd, 'utf8'));

    // CUDA_VISIBLE_DEVICES: the CLI for scripts, and the profile.d snippet in alice's shell.
    const asAlice = { env, uid: alice.uid, gid: alice.gid };
    assert.equal(
      (await runCli(['gpus', '--mine', '--env'], asAlice)).stdout,
      'export CUDA_VISIBLE_DEVICES=0,2\n',
    );
    assert.equal((await runCli(['gpus', '--mine', '--env'], asCarol)).stdout, '');
    const bin = join(dir, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    const loader = `file://${join(REPO, 'node_modules/tsx/dist/loader.mjs')}`;
    writeFileSync(
      join(bin, 'hosthog'),
      `#!/bin/sh\nexec ${cliCommand()
        .map((x) => (x === 'tsx' ? loader : x))
        .join(' ')} "$@"\n`,
      { mode: 0o755 },
    );
    const rc = join(dir, 'rc.sh');
    writeFileSync(rc, `. ${join(REPO, 'config/profile.d-hosthog.sh')}\n`, { mode: 0o644 });
    const shell = (u: TestUser) =>
      execFileSync(
        'setpriv',
        [
          `--reuid=${u.uid}`,
          `--regid=${u.gid}`,
          '--init-groups',
          'env',
          '-i',
          `HOME=${u.home}`,
          `HOSTHOG_CONFIG=${cfg.path}`,
          `PATH=${bin}:/usr/bin:/bin`,
          'LC_ALL=C.UTF-8',
          'bash',
          '--noprofile',
          '--rcfile',
          rc,
          '-i',
          '-c',
          'echo END',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000, cwd: '/' },
      );
    assert.equal(shell(alice), 'your claim: gpu0,gpu2 → export CUDA_VISIBLE_DEVICES=0,2\nEND\n');
    assert.equal(shell(carol), 'END\n');

    // Notices: once per job across many samples and refreshes (poll 5 s, sample 1 s).
    const k1 = `gpu:claimed-by-other:gpu0:${c0}:${startOf(c0)}:hh-alice`;
    await waitFor(() => notified(bridge.output(), k1).length, 'the gpu0 notice', 20_000);
    await sleep(12_000);
    const n1 = notified(bridge.output(), k1);
    assert.equal(n1.length, 1, bridge.output().slice(-3000));
    assert.match(n1[0], /"to":\["hh-carol","hh-alice"\]/);
    assert.equal(
      bridge
        .output()
        .split('\n')
        .filter((l) => l.includes('"notified"') && l.includes('gpu:')).length,
      1,
      'unclaimed use and idle are not notified',
    );
    assert.ok(
      JSON.parse(readFileSync(join(cfg.stateDir, 'notify-ledger.json'), 'utf8')).sent[k1],
      'recorded in the ledger',
    );

    // Alice's exclusive claim on the whole host: any GPU carol uses is flagged (and told once).
    dropEvent(
      vdir,
      'alice',
      vevent('alice-gpu@test', 'hh-alice exclusive: paper', claimStart, new Date(Date.now() + 3_600_000)),
    );
    const k2 = `gpu:during-exclusive:gpu1:${c1}:${startOf(c1)}:hh-alice`;
    await waitFor(() => notified(bridge.output(), k2).length, 'the during-exclusive notice', 30_000);
    const ex = JSON.parse((await runCli(['gpus', '--json'], asCarol)).stdout);
    assert.deepEqual(
      ex.flags.map((f: { resource: string; kind: string; user: string }) => [f.resource, f.kind, f.user]),
      [
        ['gpu0', 'during-exclusive', 'hh-carol'],
        ['gpu1', 'during-exclusive', 'hh-carol'],
      ],
    );
    assert.match(
      (await runCli(['gpus'], asCarol)).stdout,
      new RegExp(
        /\ngpu1 {2}claimed by hh-alice · in use by hh-carol 4 GiB · 35 %\n/.source +
          / {2}! hh-carol uses gpu1 during hh-alice's exclusive claim\n/.source,
      ),
    );
    await sleep(8_000);
    assert.equal(notified(bridge.output(), k2).length, 1);
    assert.equal(notified(bridge.output(), k1).length, 1);

    // The idle state survives a restart ("idle since" is not reset).
    dropEvent(
      vdir,
      'alice',
      vevent('alice-gpu@test', 'hh-alice gpu0,gpu2: training', claimStart, new Date(Date.now() + 3_600_000)),
    );
    await waitFor(
      async () =>
        (await runCli(['gpus'], asCarol)).stdout.includes(`gpu2  claimed by hh-alice, idle since ${since}`),
      'idle again',
      30_000,
    );
    const idleFile = JSON.parse(readFileSync(join(cfg.stateDir, 'gpu-idle.json'), 'utf8'));
    assert.equal(idleFile['gpu2|hh-alice'], claimStart.toISOString());
    await stopBridge(bridge);
    const b2 = await startBridge(cfg, bridges);
    await waitFor(
      async () =>
        (await runCli(['gpus'], asCarol)).stdout.includes(`gpu2  claimed by hh-alice, idle since ${since}`),
      'idle after restart',
      30_000,
    );
    await sleep(3000);
    assert.equal(notified(b2.output(), k1).length, 0, 'not told again after a restart');
  },
);

test(
  'nvidia-smi absent, failing, hanging 60 s: the motd stays current and says "GPUs unknown"; doctor says why',
  { timeout: 180_000 },
  async (t) => {
    const dir = mkdtempSync('/tmp/hh-gpu-bad-');
    chmodSync(dir, 0o755);
    const vdir = join(dir, 'calendar');
    mkdirSync(vdir, { mode: 0o755 });
    const sc = join(dir, 'scenario.json');
    const bridges: Bridge[] = [];
    t.after(async () => {
      for (const b of bridges) await stopBridge(b).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    });
    const now = Date.now();
    const motd = (cfg: TestConfig) => (existsSync(cfg.motd) ? readFileSync(cfg.motd, 'utf8') : '');

    // Absent.
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    const absent = writeTestConfig({
      dir: join(dir, 'a'),
      vdir,
      host: HOST,
      extra: gpusConfig(['/nonexistent/nvidia-smi']),
    });
    dropEvent(
      vdir,
      'alice',
      vevent('alice-1@test', 'hh-alice gpu0: training', new Date(now - 600_000), new Date(now + 3_600_000)),
    );
    const b1 = await startBridge(absent, bridges);
    await waitFor(
      () => motd(absent).includes('GPUs unknown: /nonexistent/nvidia-smi not found'),
      'motd: GPUs unknown (absent)',
      20_000,
    );
    assert.match(
      motd(absent),
      new RegExp(
        /GPUs unknown: \/nonexistent\/nvidia-smi not found\n/.source +
          / {2}gpu0 {2}claimed by hh-alice · use unknown\n {2}gpu1 {2}free · use unknown\n/.source,
      ),
    );
    assert.doesNotMatch(motd(absent), /gpu\d +free · not in use/);
    const doc = await runCli(['doctor'], { env: { HOSTHOG_CONFIG: absent.path } });
    assert.match(
      doc.stdout,
      /warn {2}GPUs unknown: \/nonexistent\/nvidia-smi not found\n {6}fix: install the NVIDIA driver/,
    );
    const gj = JSON.parse(
      (
        await runCli(['gpus', '--json'], {
          env: { HOSTHOG_CONFIG: absent.path },
          uid: carol.uid,
          gid: carol.gid,
        })
      ).stdout,
    );
    assert.equal(gj.unknown, '/nonexistent/nvidia-smi not found');
    assert.deepEqual(
      gj.gpus.map((r: { state: string }) => r.state),
      ['unknown', 'unknown'],
    );
    await stopBridge(b1);

    // Failing, then hanging for 60 s (killed after the 2 s timeout), then answering again.
    scenario(sc, { mode: 'fail' });
    const cfg = writeTestConfig({
      dir: join(dir, 'b'),
      vdir,
      host: HOST,
      extra: gpusConfig([process.execPath, STAND_IN, sc]),
    });
    await startBridge(cfg, bridges);
    await waitFor(
      () => motd(cfg).includes('GPUs unknown: nvidia-smi failed (exit 9): NVIDIA-SMI has failed'),
      'motd: GPUs unknown (failing)',
      20_000,
    );
    assert.match(motd(cfg), /\n {2}gpu0 {2}claimed by hh-alice · use unknown\n/);
    assert.match(
      (await runCli(['doctor'], { env: { HOSTHOG_CONFIG: cfg.path } })).stdout,
      new RegExp(
        /warn {2}GPUs unknown: nvidia-smi failed \(exit 9\): /.source +
          /NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/.source,
      ),
    );

    const pidFile = join(dir, 'hang.pid');
    scenario(sc, { mode: 'hang', pidFile });
    await waitFor(
      () => motd(cfg).includes('GPUs unknown: nvidia-smi did not answer in 2s'),
      'motd: GPUs unknown (hanging)',
      20_000,
    );
    const hung = Number(readFileSync(pidFile, 'utf8'));
    // While nvidia-smi hangs, the motd follows the calendar (a new claim shows within a poll).
    const t0 = Date.now();
    dropEvent(
      vdir,
      'carol',
      vevent('carol-1@test', 'hh-carol gpu1: eval', new Date(now - 60_000), new Date(now + 7_200_000)),
    );
    await waitFor(
      () => motd(cfg).includes('hh-carol · shared · gpu1'),
      'motd shows the new claim while nvidia-smi hangs',
      20_000,
    );
    const lag = Date.now() - t0;
    assert.ok(lag < 12_000, `motd took ${lag} ms`);
    assert.match(motd(cfg), /GPUs unknown: nvidia-smi did not answer in 2s/);
    // The hung child was killed at its deadline (not left to run its 60 s).
    const gone = () => {
      try {
        return /^\d+ \(.*\) Z /.test(readFileSync(`/proc/${hung}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    await waitFor(gone, 'hung stand-in killed', 10_000);

    scenario(sc, { gpus: [{ index: 0 }, { index: 1 }], apps: [] });
    await waitFor(
      () => motd(cfg).includes('gpu1  claimed by hh-carol · not in use'),
      'motd: GPUs known again',
      30_000,
    );
    assert.doesNotMatch(motd(cfg), /GPUs unknown/);
  },
);
