/**
 * npm run bench:sync: hosthog against vdirsyncer (Debian's package) on calendars with years of
 * history, on a real Radicale: 500, 5,000 and 50,000 events (BENCH_SIZES to choose), spread
 * over five years up to a month ahead, 10 % weekly-recurring (30 occurrences). Per size:
 * first `hosthog sync` (fresh state, default timeout), its peak RSS, an idle one-shot sync's CPU,
 * `hosthog status` against `node -e 0`, an idle bridge (poll 60 s, started plainly: it sets its
 * own runtime flags) over BENCH_IDLE_S seconds (180), its RSS, and CLI write (an announcement) →
 * motd; vdirsyncer's first and idle sync in the same run. Writes docs/benchmarks.md (section "sync").
 * CPU figures are user + system time (from GNU time or /proc), so a loaded machine changes them less
 * than wall times.
 */
import {
  mkdtempSync,
  readdirSync,
  statSync,
  writeFileSync,
  readFileSync,
  existsSync,
  mkdirSync,
  openSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startRadicale, type TestServer } from '../test/harness/servers.js';
import { writeTestConfig } from '../test/harness/config.js';
import { waitFor, REPO } from '../test/harness/cli.js';
import { writeSection, machineLine } from './report.js';
import { BRIDGE_NODE_FLAGS, BRIDGE_ENV, RUNTIME_GUARD } from '../src/bridge/runtime.js';
import { LogStore } from '../src/host/store/log-store.js';
import { summarize } from '../src/bridge/mirror.js';
import { seedRadicale } from './sync-seed.js';
import { fiveLogins } from './sync-logins.js';

/** Take an flock(1) lock (a child holds it); the returned function releases it. */
async function holdLock(path: string): Promise<() => void> {
  const holder = spawn('flock', [path, 'sh', '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  await new Promise<void>((res, rej) => {
    holder.stdout!.once('data', () => res());
    holder.once('exit', (c) => rej(new Error(`flock ${path} exited ${c}`)));
  });
  return () => holder.stdin!.end();
}

const SIZES = (process.env.BENCH_SIZES ?? '500,5000,50000').split(',').map(Number);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 180);
/** Each vdirsyncer step is bounded by this (seconds). */
const VDIR_TIMEOUT_S = Number(process.env.BENCH_VDIR_TIMEOUT_S ?? 150);
const DAY = 86_400_000;
const MAIN = join(REPO, 'dist/src/cli/main.js');
const step = (s: string) => process.stderr.write(`bench: ${new Date().toISOString().slice(11, 19)} ${s}\n`);

interface Timed {
  wallS: number;
  cpuS: number;
  rssMB: number;
  out: string;
}

/** Under GNU time: wall, user + system CPU, peak RSS. With timeoutS: null when it did not finish. */
function timed(argv: string[], env?: NodeJS.ProcessEnv): Timed;
function timed(argv: string[], env: NodeJS.ProcessEnv | undefined, timeoutS: number): Timed | null;
function timed(argv: string[], env: NodeJS.ProcessEnv = process.env, timeoutS?: number): Timed | null {
  const dir = mkdtempSync(join(tmpdir(), 'hh-bench-time-'));
  const file = join(dir, 't');
  const bound = timeoutS ? ['/usr/bin/timeout', '-k', '5', String(timeoutS)] : [];
  const r = spawnSync('/usr/bin/time', ['-o', file, '-f', '%e %U %S %M', ...bound, ...argv], {
    env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (timeoutS && (r.status === 124 || r.status === 137)) return null;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const [e, u, s, m] = readFileSync(file, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wallS: e, cpuS: u + s, rssMB: m / 1024, out: r.stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** CPU seconds (user + system) and RSS of a running process, from /proc. */
function procStat(pid: number): { cpuS: number; rssMB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    cpuS: (Number(f[11]) + Number(f[12])) / tick,
    rssMB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024,
  };
}

/** The bridge's own process (a plain start re-executes itself with its runtime flags). */
function bridgePid(launcher: number): number {
  const kids = spawnSync('pgrep', ['-P', String(launcher)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);
  return kids.length ? kids[0] : launcher;
}

interface Row {
  n: number;
  live: number;
  occurrences: number;
  first: Timed;
  idle: Timed;
  statusX: number;
  statusMs: number;
  nodeMs: number;
  bridgeCpuPct: number;
  bridgeCpuSPerHour: number;
  bridgeRss: number;
  bridgeStartMs: number;
  writeMs: number;
  motdMs: number;
  /** Until the notice showed in all five users' tmux (NaN: not within 30 s); told: how many. */
  noticeMs: number;
  told: number;
  /** undefined: vdirsyncer not installed; null: did not finish in VDIR_TIMEOUT_S. */
  vdirFirst: Timed | null | undefined;
  vdirIdle: Timed | null | undefined;
  radicaleListS: number;
  appended: number;
  snapBytes: number;
  nearBytes: number;
}

async function one(n: number): Promise<Row> {
  const srv: TestServer = await startRadicale({ calendar: 'bench' });
  try {
    const radicaleListS = await seedRadicale(srv, n);
    let t = 0;
    step(`${n}: seeded, cold listing ${radicaleListS.toFixed(1)} s`);

    // A host config with the defaults that matter: poll 60 s, [calendar] timeout 15 s.
    const cfg = writeTestConfig({
      calendarUrl: srv.calendarUrl,
      username: srv.username,
      password: srv.password,
      host: 'bench-box',
    });
    writeFileSync(
      cfg.path,
      readFileSync(cfg.path, 'utf8')
        .replace(/^timeout = .*$/m, '')
        .replace(/^poll = .*$/m, 'poll = "60s"'),
    );
    const env = { ...process.env, HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'warn' };
    const first = timed([process.execPath, MAIN, 'sync'], env);
    step(`${n}: first sync ${first.wallS} s, ${first.rssMB.toFixed(0)} MB: ${first.out.trim()}`);
    const idle = timed([process.execPath, MAIN, 'sync'], env);
    const occurrences = Number(/(\d+) occurrences/.exec(idle.out)?.[1] ?? NaN);
    const store = new LogStore(join(cfg.stateDir, 'cache'), { summarize });
    const from = Date.now() - 2 * DAY;
    const live = store.keys().filter((k) => {
      const l = store.summary(k)?.l;
      return l === null || l === undefined || l >= from;
    }).length;
    store.close();

    // status against node -e 0: medians of interleaved runs (wall; both start the same way).
    const st: number[] = [];
    const nd: number[] = [];
    for (let i = 0; i < 11; i++) {
      let a = performance.now();
      spawnSync(process.execPath, ['-e', '0']);
      nd.push(performance.now() - a);
      a = performance.now();
      const r = spawnSync(process.execPath, [MAIN, 'status'], { env });
      st.push(performance.now() - a);
      if (r.status !== 0) throw new Error(`status: ${r.stderr}`);
    }

    // The bridge, started plainly (no flags): idle CPU and RSS over IDLE_S seconds.
    // Its output goes to a file: a bridge that ends during the run says why (the bench stops).
    const bridgeLog = join(cfg.dir, 'bridge.log');
    const out = openSync(bridgeLog, 'a');
    const child = spawn(process.execPath, [MAIN, 'bridge'], {
      env: { ...env, HOSTHOG_LOG_LEVEL: 'info' },
      stdio: ['ignore', out, out],
    });
    let bridgeGone = '';
    let stopping = false;
    child.once('exit', (code, sig) => {
      if (stopping) return;
      bridgeGone = `the bridge exited (${code ?? sig}): ${readFileSync(bridgeLog, 'utf8').slice(-3000)}`;
      step(bridgeGone);
    });
    const t0 = Date.now();
    await waitFor(() => existsSync(cfg.socket), 'bridge socket', 600_000, 50);
    const bridgeStartMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 15_000)); // its first poll and the start-up's garbage
    const pid = bridgePid(child.pid!);
    const c0 = procStat(pid);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    if (bridgeGone || !existsSync(`/proc/${pid}`)) throw new Error(bridgeGone || `bridge ${pid} is gone`);
    const c1 = procStat(pid);
    const idleCpuS = c1.cpuS - c0.cpuS;
    step(`${n}: idle bridge ${idleCpuS.toFixed(2)} s CPU in ${IDLE_S} s, RSS ${c1.rssMB.toFixed(0)} MB`);

    // CLI write → motd while the bridge runs, with five users logged in (tmux each), so the
    // announcement's notices go out to five users; real users and tmux are shared with the e2e
    // tests: under their lock.
    const e2eLock = await holdLock('/tmp/hosthog-e2e.lock');
    const logins = await fiveLogins(`hhbench${process.pid}`);
    const sizes = () =>
      Object.fromEntries(
        ['cache', '.'].flatMap((d) =>
          readdirSync(join(cfg.stateDir, d)).map((f) => [
            join(d, f),
            statSync(join(cfg.stateDir, d, f)).size,
          ]),
        ),
      );
    const sizesBefore = sizes();
    t = performance.now();
    // An announcement (root is an admin): a claim could be refused as a conflict in a dense calendar.
    const until = new Date(Date.now() + 2 * 3600_000).toLocaleTimeString('en-GB', {
      timeZone: 'Europe/Berlin',
      hour: '2-digit',
      minute: '2-digit',
    });
    const text = `bench write ${n}`;
    const w = spawn(process.execPath, [MAIN, 'announce', text, '--until', until], {
      env,
      stdio: 'ignore',
    });
    let writeMs = NaN;
    const exited = new Promise<void>((res) =>
      w.once('exit', (code) => {
        writeMs = performance.now() - t;
        if (code !== 0) step(`announce exited ${code}`);
        res();
      }),
    );
    await waitFor(() => readFileSync(cfg.motd, 'utf8').includes(text), 'motd shows the write', 60_000, 10);
    const motdMs = performance.now() - t;
    await exited;
    let noticeMs = NaN;
    let told = 0;
    try {
      await waitFor(
        () => (told = logins.users.filter((u) => logins.messages(u).includes(text)).length) === 5,
        'five users told',
        30_000,
        20,
      );
      noticeMs = performance.now() - t;
    } catch {
      step(`${n}: only ${told} of 5 users were told within 30 s`);
    } finally {
      logins.close();
      e2eLock();
    }
    step(
      `${n}: write answered ${writeMs.toFixed(0)} ms, motd ${motdMs.toFixed(0)} ms, ` +
        `notices ${noticeMs.toFixed(0)} ms`,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const sizesAfter = sizes();
    const logName = Object.keys(sizesAfter).find((f) => f.endsWith('.log'))!;
    const appended = sizesAfter[logName] - (sizesBefore[logName] ?? 0);
    const snapBytes = sizesAfter['snapshot.json'] ?? 0;
    const nearBytes = sizesAfter['snapshot-near.json'] ?? 0;
    stopping = true;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    // The peer: vdirsyncer, caldav → filesystem, same calendar, same run.
    let vdirFirst: Timed | null | undefined;
    let vdirIdle: Timed | null | undefined;
    if (existsSync('/usr/bin/vdirsyncer')) {
      const vd = mkdtempSync(join(tmpdir(), 'hh-bench-vdir-'));
      mkdirSync(join(vd, 'local'));
      const conf = join(vd, 'config');
      writeFileSync(
        conf,
        `[general]\nstatus_path = "${vd}/status/"\n\n` +
          '[pair bench]\na = "remote"\nb = "local"\ncollections = null\n\n' +
          `[storage remote]\ntype = "caldav"\nurl = "${srv.calendarUrl}"\n` +
          `username = "${srv.username}"\npassword = "${srv.password}"\n\n` +
          `[storage local]\ntype = "filesystem"\npath = "${vd}/local/"\nfileext = ".ics"\n`,
      );
      // discover is bounded too (at 50,000 events it took vdirsyncer about 5 minutes here); one
      // that did not finish counts as a first sync that did not finish.
      const discovered = spawnSync('vdirsyncer', ['-c', conf, 'discover'], {
        input: 'y\n'.repeat(5),
        encoding: 'utf8',
        timeout: VDIR_TIMEOUT_S * 1000,
        killSignal: 'SIGKILL',
      });
      // Each step bounded (a 50,000-event first sync takes vdirsyncer far longer than the bench).
      vdirFirst =
        discovered.status !== 0
          ? null
          : timed(['vdirsyncer', '-c', conf, 'sync'], process.env, VDIR_TIMEOUT_S);
      vdirIdle = vdirFirst ? timed(['vdirsyncer', '-c', conf, 'sync'], process.env, VDIR_TIMEOUT_S) : null;
      step(
        `${n}: vdirsyncer first ${vdirFirst?.wallS ?? 'dnf'} s, ` +
          `idle ${vdirIdle?.cpuS.toFixed(2) ?? 'dnf'} s CPU`,
      );
    }
    return {
      n,
      live,
      occurrences,
      first,
      idle,
      statusMs: median(st),
      nodeMs: median(nd),
      statusX: median(st) / median(nd),
      bridgeCpuPct: (idleCpuS / IDLE_S) * 100,
      bridgeCpuSPerHour: (idleCpuS / IDLE_S) * 3600,
      bridgeRss: c1.rssMB,
      bridgeStartMs,
      writeMs,
      motdMs,
      noticeMs,
      told,
      vdirFirst,
      vdirIdle,
      radicaleListS,
      appended,
      snapBytes,
      nearBytes,
    };
  } finally {
    await srv.destroy();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadStart = loadavg();
  // The servers' processes are unref'd (test harness): without this, waiting for a busy Radicale
  // to stop (after vdirsyncer was cut off) could leave node with nothing to wait for, and it
  // would exit 0 before writing the table.
  const alive = setInterval(() => undefined, 60_000);
  const started = Date.now();
  for (const n of SIZES) rows.push(await one(n));
  const load = loadavg();
  const minutes = ((Date.now() - started) / 60_000).toFixed(0);
  const cols = rows.map((r) => r.n.toLocaleString('en'));
  const line = (what: string, f: (r: Row) => string, target = '') =>
    `| ${what} | ${rows.map(f).join(' | ')} | ${target} |`;
  const v = (t: Timed | null | undefined, f: (t: Timed) => string, first = true) =>
    t
      ? f(t)
      : t === undefined
        ? 'not installed'
        : first
          ? `did not finish in ${VDIR_TIMEOUT_S} s`
          : '— (first sync did not finish)';
  const body = [
    '## bench:sync — years of history on Radicale, hosthog and vdirsyncer',
    '',
    `Calendars of ${cols.join(', ')} events spread evenly over five years up to a month ahead, 10 % ` +
      'weekly-recurring (30 occurrences), on Radicale from Debian on loopback; the bridge polls every ' +
      `60 s, [calendar] timeout is the default 15 s (of silence). ${machineLine()}. ` +
      '**Taken on a 2-core machine shared with other builds and tests**: ' +
      `load average (1, 5, 15 min) ${loadStart} at the start, ${load} at the end of this ` +
      `${minutes}-minute run; CPU times (user + system) are the figures to compare, walls are inflated ` +
      'by the load.',
    '',
    'Written by one unattended run. The idle one-shot `hosthog sync` runs with no bridge running, so it is ' +
      "the direct path over CalDAV (one sync-collection REPORT, like vdirsyncer's idle sync against the " +
      `same server), not a request to a bridge. Each vdirsyncer step is bounded by ${VDIR_TIMEOUT_S} s ` +
      '(BENCH_VDIR_TIMEOUT_S). The write step logs five users in (the test users and hh-erin, each in a ' +
      "tmux server with an attached client) so the announcement's notice goes out to five users; the " +
      'notices are delivered after the answer (in the background, with their own 30 s deadline).',
    '',
    `| what | ${cols.join(' | ')} | target |`,
    `|---|${rows.map(() => '---|').join('')}---|`,
    line(
      'objects that can still occur (decoded) / occurrences in the window',
      (r) => `${r.live} / ${r.occurrences}`,
    ),
    line(
      'Radicale: calendar-query of everything, warm (untimed for us)',
      (r) => `${r.radicaleListS.toFixed(1)} s`,
    ),
    line(
      'first `hosthog sync` (fresh state), wall / CPU',
      (r) => `${r.first.wallS.toFixed(1)} s / ${r.first.cpuS.toFixed(1)} s`,
      '50k: < 10 s',
    ),
    line('peak RSS of that sync', (r) => `${r.first.rssMB.toFixed(0)} MB`, '50k: < 250 MB'),
    line('vdirsyncer first sync, wall / CPU / peak RSS', (r) =>
      v(r.vdirFirst, (t) => `${t.wallS.toFixed(1)} s / ${t.cpuS.toFixed(1)} s / ${t.rssMB.toFixed(0)} MB`),
    ),
    line('idle one-shot `hosthog sync`, CPU', (r) => `${r.idle.cpuS.toFixed(2)} s`, '5k: ≤ vdirsyncer'),
    line('idle vdirsyncer sync, CPU', (r) => v(r.vdirIdle, (t) => `${t.cpuS.toFixed(2)} s`, !!r.vdirFirst)),
    line(
      `idle bridge (poll 60 s, ${IDLE_S} s measured), CPU`,
      (r) => `${r.bridgeCpuPct.toFixed(3)} % of a core (${r.bridgeCpuSPerHour.toFixed(1)} s/h)`,
      '50k: < 0.2 %',
    ),
    line(
      'idle bridge RSS (started plainly: `hosthog bridge`)',
      (r) => `${r.bridgeRss.toFixed(0)} MB`,
      '50k: < 100 MB',
    ),
    line('bridge start (from its cache) to socket, wall', (r) => `${(r.bridgeStartMs / 1000).toFixed(2)} s`),
    line(
      'CLI write (`hosthog announce`), five users logged in (tmux): → answer / → motd, wall',
      (r) => `${(r.writeMs / 1000).toFixed(2)} s / ${(r.motdMs / 1000).toFixed(2)} s`,
      '< 1 s',
    ),
    line('… → its notice shown to all five users (tmux), wall', (r) =>
      Number.isNaN(r.noticeMs) ? `${r.told} of 5 within 30 s` : `${(r.noticeMs / 1000).toFixed(2)} s`,
    ),
    line(
      'one-event write: appended to the object store / snapshot.json / snapshot-near.json rewritten',
      (r) =>
        `${(r.appended / 1024).toFixed(1)} kB / ${(r.snapBytes / 1024).toFixed(0)} kB / ` +
        `${(r.nearBytes / 1024).toFixed(1)} kB`,
      'grows with the change',
    ),
    line(
      '`hosthog status` vs `node -e 0` (medians of 11)',
      (r) => `${r.statusX.toFixed(2)}× (${r.statusMs.toFixed(0)} / ${r.nodeMs.toFixed(0)} ms)`,
      '≤ 2.5×',
    ),
    '',
    'What an idle bridge does, and why it does not grow with the history: one sync-collection REPORT per ' +
      'poll (etags compared against a view of the store index, nothing decoded); each minute the motd, the ' +
      "hooks and the GPU samples read the snapshot's near part (the next day), the hog hook rules a " +
      "snapshot's claims once, not every minute; the per-second check is an interval timer (node-cron " +
      'evaluating a per-second expression cost 0.14 % of a core) and node-cron ticks on the minute. What ' +
      'is left is the same at every size: session discovery, GPU sampling, the motd and state files. The ' +
      'first sync stores the calendar-query while it streams (batches of 1,000), so its peak RSS no longer ' +
      'holds the whole listing; its wall time is mostly Radicale: the PROPFIND for the sync token and the ' +
      'calendar-query each read every item (about 2.6 s and 3 s at 50,000 here).',
  ].join('\n');
  writeSection(REPO, 'sync', body);
  clearInterval(alive);
  process.stdout.write(body + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
