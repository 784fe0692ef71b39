/**
 * npm run bench:runtime: the bridge's resident memory however it is started. A 5,000-event
 * local calendar (vdir, 10 % weekly-recurring); the bridge started (1) by hand as `hosthog
 * bridge` (bin/hosthog, as under tmux, runit, s6 or supervisord), (2) with the systemd unit's
 * ExecStart line, (3) as plain `node dist/src/cli/main.js bridge` (it re-runs itself once with
 * the runtime: the bridge and its small waiting parent are both counted), and (4) for
 * reference, node without the runtime (what a plain start was before). RSS after the first
 * sync and 20 s later. Target: (1)–(3) within 10 % of the unit's. Writes docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { writeTestConfig } from '../test/harness/config.js';
import { waitFor, REPO } from '../test/harness/cli.js';
import { RUNTIME_GUARD } from '../src/bridge/runtime.js';
import { writeSection, machineLine } from './report.js';

const N = Number(process.env.BENCH_EVENTS ?? 5000);
const NOTE =
  'The unit, `npm run bridge` and `hosthog bridge` all start node through `bin/hosthog`, which execs it ' +
  'with the runtime: one process, the same RSS. A plain `node dist/src/cli/main.js bridge` re-runs ' +
  'itself with the runtime, but Node 20 cannot exec(2) itself: its idle parent stays (a bare node is ' +
  '~40 MB RSS here), so that way of starting misses the 10 % target.';

function ics(i: number, base: number): string {
  const f = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  const start = new Date(base + (i % 1440) * 3600_000 - 30 * 86_400_000);
  const end = new Date(start.getTime() + (1 + (i % 5)) * 3600_000);
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hosthog bench//EN',
    'BEGIN:VEVENT',
    `UID:bench-${i}`,
    `DTSTAMP:${f(new Date(base))}`,
    `DTSTART:${f(start)}`,
    `DTEND:${f(end)}`,
    `SUMMARY:user${i % 40} ${i % 3 === 0 ? 'exclusive ' : ''}gpu${i % 2}: run ${i}`,
    ...(i % 10 === 0 ? ['RRULE:FREQ=WEEKLY;COUNT=30'] : []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

const rssOf = (pid: number): number =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const children = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};
/** RSS of a process and all its descendants, MB. */
const treeRss = (pid: number): number => rssOf(pid) + children(pid).reduce((a, c) => a + treeRss(c), 0);

async function measure(name: string, argv: string[], env: NodeJS.ProcessEnv, vdir: string) {
  const cfg = writeTestConfig({ vdir, host: 'bench-box' });
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    HOSTHOG_CONFIG: cfg.path,
    HOSTHOG_LOG_LEVEL: 'warn',
    ...env,
  };
  if (!(RUNTIME_GUARD in env)) delete e[RUNTIME_GUARD];
  for (const k of ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'])
    if (!(k in env)) delete e[k];
  const child = spawn(argv[0], argv.slice(1), { env: e, stdio: 'ignore', cwd: REPO });
  await waitFor(
    () => existsSync(join(cfg.stateDir, 'snapshot.json')) && existsSync(cfg.motd),
    `${name}: first sync`,
    180_000,
    50,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const first = treeRss(child.pid!);
  await new Promise((r) => setTimeout(r, 20_000));
  const later = treeRss(child.pid!);
  const procs = 1 + children(child.pid!).length;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
  return { name, first, later, procs };
}

async function main() {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-bench-vdir-'));
  mkdirSync(vdir, { recursive: true });
  const base = Date.now();
  for (let i = 0; i < N; i++) writeFileSync(join(vdir, `bench-${i}.ics`), ics(i, base));
  const unit = readFileSync(join(REPO, 'systemd/hosthog-bridge.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m
    .exec(unit)![1]
    .split(' ')
    .map((a) => a.replace('/usr/local/lib/hosthog/current', REPO));
  const main = join(REPO, 'dist/src/cli/main.js');
  const runs = [];
  runs.push(await measure('systemd unit ExecStart', execStart, {}, vdir));
  runs.push(
    await measure('`hosthog bridge` by hand (bin/hosthog)', [join(REPO, 'bin/hosthog'), 'bridge'], {}, vdir),
  );
  runs.push(
    await measure(
      '`node dist/src/cli/main.js bridge` (re-runs itself once; both processes)',
      [process.execPath, main, 'bridge'],
      {},
      vdir,
    ),
  );
  runs.push(
    await measure(
      'reference: node without the runtime (the old plain start)',
      [process.execPath, main, 'bridge'],
      { [RUNTIME_GUARD]: '1' },
      vdir,
    ),
  );
  const ref = runs[0].later;
  const rows = runs.map((r, i) => {
    const d = ((r.later - ref) / ref) * 100;
    const verdict =
      i === 0
        ? 'reference'
        : i === 3
          ? `${d >= 0 ? '+' : ''}${d.toFixed(0)} % (not a target)`
          : `${d >= 0 ? '+' : ''}${d.toFixed(1)} %; ` +
            `target within 10 %: ${Math.abs(d) <= 10 ? 'met' : 'MISSED'}`;
    return `| ${r.name} | ${r.procs} | ${r.first.toFixed(1)} MB | ${r.later.toFixed(1)} MB | ${verdict} |`;
  });
  const body = [
    "## bench:runtime — the bridge's RSS however it is started",
    '',
    `${N} events (10 % weekly-recurring) in a local calendar directory. ` +
      'RSS of the bridge (and of any process it started itself) 1 s after its first sync ' +
      `and 20 s later (polls every 5 s). ${machineLine()}.`,
    '',
    '| started as | processes | RSS after first sync | RSS 20 s later | vs the unit |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    NOTE,
  ].join('\n');
  writeSection(REPO, 'runtime', body);
  process.stdout.write(body + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
