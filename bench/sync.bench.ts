/**
 * npm run bench:sync: hosthog against vdirsyncer (Debian's package) on calendars with years of
 * history, on a real Radicale: 500, 5,000 and 50,000 events (BENCH_SIZES to choose), spread
 * over five years up to a month ahead, 10 % weekly-recurring (30 occurrences). Per size:
 * first `hosthog sync` (fresh state, default timeout), its peak RSS, an idle one-shot sync's CPU,
 * `hosthog status` against `node -e 0`, an idle bridge (poll 60 s, started plainly: it sets its
 * own runtime flags) over BENCH_IDLE_S seconds (180), its RSS, and CLI write (an announcement) → motd; vdirsyncer's
 * first and idle sync in the same run. Writes docs/benchmarks.md (section "sync").
 * CPU figures are user + system time (from GNU time or /proc), so a loaded machine changes them less than wall times.
 */
import {
  mkdtempSync,
  readdirSync,
  statSync,
  writeFileSync,
  readFileSync,
  existsSync,
  mkdirSync,
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

const SIZES = (process.env.BENCH_SIZES ?? '500,5000,50000').split(',').map(Number);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 180);
const RECURRING = 0.1;
const DAY = 86_400_000;
const HISTORY = 5 * 365 * DAY;
const AHEAD = 30 * DAY;
const MAIN = join(REPO, 'dist/src/cli/main.js');
const step = (s: string) => process.stderr.write(`bench: ${new Date().toISOString().slice(11, 19)} ${s}\n`);

function ics(i: number, n: number, base: number): string {
  const f = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  // Evenly spread over five years of history and a month ahead (whole hours).
  const start = new Date(Math.floor((base - HISTORY + (i / n) * (HISTORY + AHEAD)) / 3600_000) * 3600_000);
  const end = new Date(start.getTime() + (1 + (i % 5)) * 3600_000);
  const rec = i % Math.round(1 / RECURRING) === 0;
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hosthog bench//EN',
    'BEGIN:VEVENT',
    `UID:bench-${i}`,
    `DTSTAMP:${f(new Date(base))}`,
    `DTSTART;TZID=Europe/Berlin:${f(start).replace('Z', '')}`,
    `DTEND;TZID=Europe/Berlin:${f(end).replace('Z', '')}`,
    `SUMMARY:user${i % 40} ${i % 3 === 0 ? 'exclusive ' : ''}gpu${i % 2}: run ${i} of the nightly sweep`,
    ...(rec ? ['RRULE:FREQ=WEEKLY;COUNT=30'] : []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

function findCollection(dir: string, name: string): string | null {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (!statSync(p).isDirectory()) continue;
    if (e === name && existsSync(join(p, '.Radicale.props'))) return p;
    const sub = findCollection(p, name);
    if (sub) return sub;
  }
  return null;
}

/** Builds Radicale 3's item and history cache for the .ics files of one collection (argv[1]). */
const RADICALE_CACHE = `
import os, sys, pickle, hashlib, calendar, time, re
from radicale.storage import CACHE_VERSION
from radicale.item import get_etag
d = sys.argv[1]
cache = os.path.join(d, '.Radicale.cache', 'item')
history = os.path.join(d, '.Radicale.cache', 'history')
os.makedirs(cache, exist_ok=True)
os.makedirs(history, exist_ok=True)
def ts(line):
    return calendar.timegm(time.strptime(line.rsplit(':', 1)[1].strip()[:15], '%Y%m%dT%H%M%S'))
for name in os.listdir(d):
    if not name.endswith('.ics'):
        continue
    raw = open(os.path.join(d, name), 'rb').read()
    text = raw.decode()
    h = hashlib.sha256(); h.update(CACHE_VERSION); h.update(raw)
    uid = re.search(r'^UID:(.*)$', text, re.M).group(1).strip()
    start = ts(re.search(r'^DTSTART.*$', text, re.M).group(0)) - 86400
    end = ts(re.search(r'^DTEND.*$', text, re.M).group(0)) + 86400
    if 'RRULE:' in text:
        end += 31 * 7 * 86400
    etag = get_etag(text)
    with open(os.path.join(cache, name), 'wb') as fb:
        pickle.dump((h.hexdigest(), uid, etag, text, 'VCALENDAR', 'VEVENT', start, end), fb)
    with open(os.path.join(history, name), 'wb') as fb:
        pickle.dump([etag, get_etag(os.urandom(16).hex() + '/' + etag).strip('"')], fb)
`;

interface Timed {
  wallS: number;
  cpuS: number;
  rssMB: number;
  out: string;
}

/** Run a command under GNU time: wall, user + system CPU, peak RSS. */
function timed(argv: string[], env: NodeJS.ProcessEnv = process.env): Timed {
  const dir = mkdtempSync(join(tmpdir(), 'hh-bench-time-'));
  const file = join(dir, 't');
  const r = spawnSync('/usr/bin/time', ['-o', file, '-f', '%e %U %S %M', ...argv], {
    env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
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
  vdirFirst: Timed | null;
  vdirIdle: Timed | null;
  radicaleListS: number;
  appended: number;
  snapBytes: number;
  nearBytes: number;
}

async function one(n: number): Promise<Row> {
  const srv: TestServer = await startRadicale({ calendar: 'bench' });
  try {
    const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
    const col = findCollection(srv.dir, 'bench');
    if (!col) throw new Error('Radicale collection not found');
    const base = Date.now();
    await srv.stop();
    for (let i = 0; i < n; i++) writeFileSync(join(col, `bench-${i}.ics`), ics(i, n, base));
    // Radicale's own item cache, written as Radicale writes it (radicale/storage/multifilesystem/
    // cache.py): otherwise the first listing of 50,000 items costs Radicale half an hour here.
    const py = spawnSync('/usr/bin/python3', ['-c', RADICALE_CACHE, col], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`Radicale cache: ${py.stderr}`);
    await srv.start();
    // One untimed listing (Radicale reads its cache; the PUTs would have built it).
    let t = performance.now();
    const warm = await fetch(srv.calendarUrl, {
      method: 'REPORT',
      headers: { authorization: auth, depth: '1', 'content-type': 'application/xml' },
      body: '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>',
      signal: AbortSignal.timeout(3_600_000),
    });
    await warm.arrayBuffer();
    const radicaleListS = (performance.now() - t) / 1000;
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
    const child = spawn(process.execPath, [MAIN, 'bridge'], { env, stdio: 'ignore' });
    const t0 = Date.now();
    await waitFor(() => existsSync(cfg.socket), 'bridge socket', 600_000, 50);
    const bridgeStartMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 15_000)); // its first poll and the start-up's garbage
    const pid = bridgePid(child.pid!);
    const c0 = procStat(pid);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const c1 = procStat(pid);
    const idleCpuS = c1.cpuS - c0.cpuS;
    step(`${n}: idle bridge ${idleCpuS.toFixed(2)} s CPU in ${IDLE_S} s, RSS ${c1.rssMB.toFixed(0)} MB`);

    // CLI write → motd while the bridge runs.
    const motdBefore = readFileSync(cfg.motd, 'utf8');
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
    const w = spawn(process.execPath, [MAIN, 'announce', 'bench', 'write', '--until', until], {
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
    await waitFor(() => readFileSync(cfg.motd, 'utf8') !== motdBefore, 'motd shows the write', 60_000, 10);
    const motdMs = performance.now() - t;
    await exited;
    await new Promise((r) => setTimeout(r, 1000));
    const sizesAfter = sizes();
    const logName = Object.keys(sizesAfter).find((f) => f.endsWith('.log'))!;
    const appended = sizesAfter[logName] - (sizesBefore[logName] ?? 0);
    const snapBytes = sizesAfter['snapshot.json'] ?? 0;
    const nearBytes = sizesAfter['snapshot-near.json'] ?? 0;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    // The peer: vdirsyncer, caldav → filesystem, same calendar, same run.
    let vdirFirst: Timed | null = null;
    let vdirIdle: Timed | null = null;
    if (existsSync('/usr/bin/vdirsyncer')) {
      const vd = mkdtempSync(join(tmpdir(), 'hh-bench-vdir-'));
      mkdirSync(join(vd, 'local'));
      const conf = join(vd, 'config');
      writeFileSync(
        conf,
        `[general]\nstatus_path = "${vd}/status/"\n\n[pair bench]\na = "remote"\nb = "local"\ncollections = null\n\n[storage remote]\ntype = "caldav"\nurl = "${srv.calendarUrl}"\nusername = "${srv.username}"\npassword = "${srv.password}"\n\n[storage local]\ntype = "filesystem"\npath = "${vd}/local/"\nfileext = ".ics"\n`,
      );
      spawnSync('vdirsyncer', ['-c', conf, 'discover'], { input: 'y\n'.repeat(5), encoding: 'utf8' });
      vdirFirst = timed(['vdirsyncer', '-c', conf, 'sync']);
      vdirIdle = timed(['vdirsyncer', '-c', conf, 'sync']);
      step(`${n}: vdirsyncer first ${vdirFirst.wallS} s, idle ${vdirIdle.cpuS.toFixed(2)} s CPU`);
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
  for (const n of SIZES) rows.push(await one(n));
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const cols = rows.map((r) => r.n.toLocaleString('en'));
  const line = (what: string, f: (r: Row) => string, target = '') =>
    `| ${what} | ${rows.map(f).join(' | ')} | ${target} |`;
  const v = (t: Timed | null, f: (t: Timed) => string) => (t ? f(t) : 'not installed');
  const body = [
    '## bench:sync — years of history on Radicale, hosthog and vdirsyncer',
    '',
    `Calendars of ${cols.join(', ')} events spread evenly over five years up to a month ahead, 10 % weekly-recurring (30 occurrences), on Radicale from Debian on loopback; the bridge polls every 60 s, [calendar] timeout is the default 15 s (of silence). ${machineLine()}. **Taken on a loaded 2-core machine shared with other builds and tests** (load average at the end: ${load}); CPU times (user + system) are the figures to compare, walls are inflated by the load.`,
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
    line('idle vdirsyncer sync, CPU', (r) => v(r.vdirIdle, (t) => `${t.cpuS.toFixed(2)} s`)),
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
      'CLI write (`hosthog announce`) → answer / → motd, wall',
      (r) => `${(r.writeMs / 1000).toFixed(2)} s / ${(r.motdMs / 1000).toFixed(2)} s`,
      '< 1 s',
    ),
    line(
      'one-event write: appended to the object store / snapshot.json / snapshot-near.json rewritten',
      (r) =>
        `${(r.appended / 1024).toFixed(1)} kB / ${(r.snapBytes / 1024).toFixed(0)} kB / ${(r.nearBytes / 1024).toFixed(1)} kB`,
      'grows with the change',
    ),
    line(
      '`hosthog status` vs `node -e 0` (medians of 11)',
      (r) => `${r.statusX.toFixed(2)}× (${r.statusMs.toFixed(0)} / ${r.nodeMs.toFixed(0)} ms)`,
      '≤ 2.5×',
    ),
  ].join('\n');
  writeSection(REPO, 'sync', body);
  process.stdout.write(body + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
