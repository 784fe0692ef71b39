/**
 * npm run bench:cli: wall time of `hosthog status` and `hosthog list` against `node -e 0`, medians
 * of repeated runs, on a host whose snapshot holds a realistic calendar (300 events, some
 * recurring, synced from a local calendar directory). Target: ≤ 2.5 × node -e 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestConfig, vevent } from '../test/harness/config.js';
import { REPO } from '../test/harness/cli.js';
import { writeSection, machineLine } from './report.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 31);
const main = join(REPO, 'dist/src/cli/main.js');

function time(argv: string[], env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const vdir = join(REPO, '.hosthog-dev', 'bench-cli-vdir');
mkdirSync(vdir, { recursive: true });
const now = Date.now();
for (let i = 0; i < 300; i++) {
  const start = new Date(now + (i - 20) * 3600_000);
  writeFileSync(
    join(vdir, `ev-${i}.ics`),
    vevent(
      `ev-${i}`,
      `user${i % 9} ${i % 4 === 0 ? 'exclusive ' : ''}gpu${i % 2}: run ${i}`,
      start,
      new Date(start.getTime() + 2 * 3600_000),
      i % 10 === 0 ? 'RRULE:FREQ=DAILY;COUNT=20' : '',
    ),
  );
}
const cfg = writeTestConfig({ vdir });
const env = { ...process.env, HOSTHOG_CONFIG: cfg.path };
const sync = spawnSync(process.execPath, [main, 'sync'], { env, encoding: 'utf8' });
if (sync.status !== 0) throw new Error(`sync failed: ${sync.stderr}`);

const cases: [string, string[]][] = [
  ['node -e 0', [process.execPath, '-e', '0']],
  ['hosthog status', [process.execPath, main, 'status']],
  ['hosthog list', [process.execPath, main, 'list']],
  ['hosthog status --json', [process.execPath, main, 'status', '--json']],
];
const runs = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (const [, argv] of cases) time(argv, env); // warm the page cache
for (let i = 0; i < RUNS; i++) for (const [name, argv] of cases) runs.get(name)!.push(time(argv, env));
const med = Object.fromEntries(cases.map(([name]) => [name, median(runs.get(name)!)]));
const base = med['node -e 0'];
const verdict = (name: string): string =>
  name === 'node -e 0'
    ? 'baseline'
    : med[name] / base <= 2.5
      ? 'target ≤ 2.5×: met'
      : 'target ≤ 2.5×: MISSED';
const rows = cases.map(
  ([name]) =>
    `| \`${name}\` | ${med[name].toFixed(1)} ms | ${(med[name] / base).toFixed(2)}× | ${verdict(name)} |`,
);
const body = [
  '## bench:cli — start-up of reading commands',
  '',
  `Median wall time of ${RUNS} runs each (interleaved), snapshot of a 300-event calendar. ${machineLine()}.`,
  '',
  '| command | median | vs node -e 0 | note |',
  '|---|---|---|---|',
  ...rows,
].join('\n');
writeSection(REPO, 'cli', body);
process.stdout.write(body + '\n');
