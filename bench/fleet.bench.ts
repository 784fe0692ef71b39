/**
 * npm run bench:fleet: 100 host calendars × 2,000 events each in ONE calendar home on a real
 * Radicale; cold and warm `hosthog hosts`, `hosthog free`, `hosthog stats --since 365d`, each
 * as a real CLI process, with requests and bytes (HOSTHOG_FLEET_STATS); warm hosts also after one
 * change, on the sync-token path and with --refresh. BENCH_KEEP=1 keeps the server for profiling.
 * Targets: warm hosts
 * < 2 s (and per-calendar requests < 2 kB), cold < 60 s, warm stats over a year < 3 s.
 *
 * Generation writes Radicale's storage directly while it is stopped (200,000 PUTs would take
 * far longer and measure Radicale), with Radicale's item cache as PUTs would have left it
 * (Radicale parsing 200,000 items on first access takes ~4 ms each here: 13 minutes). BENCH_HOSTS and
 * BENCH_EVENTS scale it down for a quick look.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readdirSync, statSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { startRadicale } from '../test/harness/servers.js';
import { REPO } from '../test/harness/cli.js';
import { writeFleetConfig, authOf, homeOf } from '../test/harness/fleet.js';
import { homeDir } from '../src/fleet/discover.js';
import { writeSection, machineLine } from './report.js';

const HOSTS = Number(process.env.BENCH_HOSTS ?? 100);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const HOUR = 3_600_000;
const main = join(REPO, 'dist/src/cli/main.js');
const step = (s: string) => process.stderr.write(`bench:fleet: ${s}\n`);

/**
 * Writes Radicale's per-item cache and sync history (pickles) for every .ics under the home, without
 * vobject.
 */
const RADICALE_CACHE = `
import os, sys, pickle, hashlib, calendar, time, re
from radicale.storage import CACHE_VERSION
from radicale.item import get_etag
home = sys.argv[1]
def ts(v):
    return calendar.timegm(time.strptime(v, '%Y%m%dT%H%M%SZ'))
for col in sorted(os.listdir(home)):
    d = os.path.join(home, col)
    if not os.path.isdir(d) or col.startswith('.'):
        continue
    cache = os.path.join(d, '.Radicale.cache', 'item')
    history = os.path.join(d, '.Radicale.cache', 'history')
    os.makedirs(cache, exist_ok=True)
    os.makedirs(history, exist_ok=True)
    for name in os.listdir(d):
        if not name.endswith('.ics'):
            continue
        raw = open(os.path.join(d, name), 'rb').read()
        text = raw.decode()
        h = hashlib.sha256(); h.update(CACHE_VERSION); h.update(raw)
        uid = re.search(r'^UID:(.*)$', text, re.M).group(1).strip()
        start = ts(re.search(r'^DTSTART:(.*)$', text, re.M).group(1).strip())
        end = ts(re.search(r'^DTEND:(.*)$', text, re.M).group(1).strip())
        if 'RRULE:FREQ=WEEKLY;COUNT=4' in text:
            end += 3 * 7 * 86400
        etag = get_etag(text)
        with open(os.path.join(cache, name), 'wb') as fb:
            pickle.dump((h.hexdigest(), uid, etag, text, name, 'VEVENT', start, end), fb)
        with open(os.path.join(history, name), 'wb') as fb:
            pickle.dump([etag, get_etag(os.urandom(16).hex() + '/' + etag).strip('"')], fb)
`;

const f = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
/**
 * Claims one after another on a host (as hosthog would allow), ~7 h apart, 10 % weekly-recurring
 * (4 times).
 */
function hostEvents(h: number, now: number): string[] {
  const out: string[] = [];
  let t = now - 450 * 24 * HOUR + (h % 24) * HOUR;
  let x = h * 7919 + 1;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < EVENTS; i++) {
    t += Math.floor(rnd() * 6) * HOUR;
    const dur = (1 + Math.floor(rnd() * 8)) * HOUR;
    const rec = i % 10 === 0;
    const user = `user${Math.floor(rnd() * 30)}`;
    const kind = rnd();
    const what =
      kind < 0.3 ? 'exclusive' : kind < 0.6 ? `gpu${Math.floor(rnd() * 4)}` : kind < 0.65 ? 'hog' : 'shared';
    out.push(
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//hosthog bench//EN',
        'BEGIN:VEVENT',
        `UID:h${h}-e${i}`,
        `DTSTAMP:${f(new Date(t - 86_400_000))}`,
        `DTSTART:${f(new Date(t))}`,
        `DTEND:${f(new Date(t + dur))}`,
        `SUMMARY:${user} ${what}: run ${i} of the sweep`,
        ...(rec ? ['RRULE:FREQ=WEEKLY;COUNT=4'] : []),
        'END:VEVENT',
        'END:VCALENDAR',
        '',
      ].join('\r\n'),
    );
    t += dur;
  }
  return out;
}

function findDir(dir: string, name: string): string | null {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (!statSync(p).isDirectory()) continue;
    if (e === name && existsSync(join(p, '.Radicale.props'))) return p;
    const sub = findDir(p, name);
    if (sub) return sub;
  }
  return null;
}

interface Run {
  ms: number;
  stats: {
    requests: number;
    bytes: number;
    synced: number;
    skipped: number;
    syncMs: number;
    discovery: { requests: number; bytes: number; ms: number };
  } | null;
  out: string;
}
function cli(args: string[], env: NodeJS.ProcessEnv): Run {
  step(`running hosthog ${args.join(' ')}`);
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [main, ...args], {
    env: { ...process.env, ...env, HOSTHOG_FLEET_STATS: '1' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0 && r.status !== 1)
    throw new Error(
      `hosthog ${args.join(' ')} exited ${r.status} ${r.signal ?? ''} ${r.error ?? ''}: ${r.stderr}`,
    );
  const last = r.stderr.trim().split('\n').pop() ?? '';
  let stats = null;
  try {
    stats = JSON.parse(last);
  } catch {
    /* command without stats */
  }
  return { ms, stats, out: r.stdout };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (b: number) => `${(b / 1024).toFixed(1)} kB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(): Promise<void> {
  const srv = await startRadicale();
  let flDir: string | null = null;
  try {
    const now = Date.now();
    const home = findDir(srv.dir, 'hosthog')!.replace(/\/hosthog$/, '');
    const genStart = Date.now();
    await srv.stop();
    for (let h = 0; h < HOSTS; h++) {
      const name = `gpu-box-${String(h).padStart(3, '0')}`;
      const dir = join(home, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, '.Radicale.props'),
        JSON.stringify({ 'D:displayname': name, tag: 'VCALENDAR' }),
      );
      hostEvents(h, now).forEach((ics, i) => writeFileSync(join(dir, `h${h}-e${i}.ics`), ics));
    }
    const writeMs = Date.now() - genStart;
    // Radicale's item cache, as PUTs would have left it (its own hash, etag and pickle format;
    // the served text is the file's text).
    const pyStart = Date.now();
    const py = spawnSync('/usr/bin/python3', ['-c', RADICALE_CACHE, home], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`building Radicale's item cache failed: ${py.stderr}`);
    const cacheMs = Date.now() - pyStart;
    await srv.start();
    const warmStart = Date.now();
    const homeUrl = srv.calendarUrl.replace(/hosthog\/$/, '');
    const body =
      '<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token/>' +
      '<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>';
    let next = 0;
    await Promise.all(
      [0, 1].map(async () => {
        while (next < HOSTS) {
          const h = next++;
          const r = await fetch(`${homeUrl}gpu-box-${String(h).padStart(3, '0')}/`, {
            method: 'REPORT',
            headers: { authorization: authOf(srv), depth: '1', 'content-type': 'application/xml' },
            body,
          });
          await r.arrayBuffer();
          if (h % 10 === 0) step(`server cache ${h}/${HOSTS} (${Date.now() - warmStart} ms)`);
        }
      }),
    );
    const serverWarmMs = Date.now() - warmStart;
    step(
      `generated ${HOSTS}×${EVENTS} in ${writeMs} ms, item cache ${cacheMs} ms, listing ${serverWarmMs} ms`,
    );

    const fl = writeFleetConfig(srv, 'alice', 'match = "gpu-box-*"');
    flDir = fl.dir;
    rmSync(join(fl.dir, 'cache'), { recursive: true, force: true });
    const load0 = loadavg();
    const coldHosts = cli(['hosts'], fl.env);
    step(`cold hosts ${coldHosts.ms.toFixed(0)} ms ${JSON.stringify(coldHosts.stats)}`);
    const lines = coldHosts.out.trim().split('\n').length;
    // Radicale's getlastmodified has 1-second resolution: the run after a sync in the same
    // second as the last change asks that calendar again (the racy guard); let a second pass.
    await sleep(1100);
    const warmHosts = [0, 1, 2].map(() => cli(['hosts'], fl.env));
    step(`warm hosts ${warmHosts.map((r) => r.ms.toFixed(0)).join(', ')} ms`);
    // One claim changes on one host: that calendar's getlastmodified moves, one REPORT.
    const ch = Math.min(42, HOSTS - 1);
    const changed = `${homeUrl}gpu-box-${String(ch).padStart(3, '0')}/`;
    const put = await fetch(`${changed}bench-change.ics`, {
      method: 'PUT',
      headers: { authorization: authOf(srv), 'content-type': 'text/calendar; charset=utf-8' },
      body: hostEvents(ch, now)[0].replace(`UID:h${ch}-e0`, 'UID:bench-change'),
    });
    await put.arrayBuffer();
    if (put.status >= 300) throw new Error(`PUT for the changed calendar: ${put.status}`);
    await sleep(1100);
    const oneChanged = cli(['hosts'], fl.env);
    // The sync-token path (how a home on any other server is checked): today's PROPFIND with
    // every calendar's sync-token, the home's remembered check set to tokens for these runs.
    const homeMode = join(homeDir(join(fl.dir, 'cache', 'hosthog'), homeOf(srv)), 'fleet-home.json');
    const kept = readFileSync(homeMode, 'utf8');
    writeFileSync(homeMode, JSON.stringify({ ask: 'token', why: 'bench: the sync-token path' }));
    cli(['hosts'], fl.env); // the caches learn the tokens
    const tokenHosts = cli(['hosts'], fl.env);
    writeFileSync(homeMode, kept);
    const forced = cli(['hosts', '--refresh'], fl.env);
    const free = [0, 1, 2].map(() => cli(['free', '--for', '4h', '--gpus', '2'], fl.env));
    const coldStats = cli(['stats', '--since', '365d'], fl.env);
    step(`cold stats ${coldStats.ms.toFixed(0)} ms`);
    const warmStats = [0, 1, 2].map(() => cli(['stats', '--since', '365d'], fl.env));
    if (process.env.BENCH_KEEP) {
      writeFileSync('/tmp/hh-fleet-bench-env.json', JSON.stringify(fl.env));
      step('kept: env in /tmp/hh-fleet-bench-env.json; touch /tmp/hh-fleet-bench-stop to finish');
      while (!existsSync('/tmp/hh-fleet-bench-stop')) await sleep(2000);
      rmSync('/tmp/hh-fleet-bench-stop', { force: true });
    }
    const load1 = loadavg();
    const wh = median(warmHosts.map((r) => r.ms));
    const ws = median(warmStats.map((r) => r.ms));
    const srvMs = (rs: Run[]) => median(rs.map((r) => r.stats?.discovery.ms ?? 0));
    const own = (rs: Run[]) => median(rs.map((r) => r.ms - (r.stats?.discovery.ms ?? 0)));
    const st = warmHosts[0].stats!;
    const reqs = (r: Run) => r.stats!.discovery.requests + r.stats!.requests;
    const bytes = (r: Run) => kb(r.stats!.discovery.bytes + r.stats!.bytes);
    const perCal = forced.stats ? forced.stats.bytes / Math.max(1, forced.stats.requests) : 0;
    const oc = oneChanged.stats!;
    const metOr = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const row = (...cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
    const rows = [
      row(
        'cold `hosts` (empty ~/.cache/hosthog)',
        reqs(coldHosts),
        bytes(coldHosts),
        secs(coldHosts.ms),
        `target < 60 s: ${metOr(coldHosts.ms < 60_000)}`,
      ),
      row(
        'warm `hosts`, nothing changed (getlastmodified; median of 3)',
        reqs(warmHosts[0]),
        bytes(warmHosts[0]),
        `${wh.toFixed(0)} ms`,
        `target < 2 s: ${metOr(wh < 2000)}; ${st.skipped} calendars skipped; ` +
          `Radicale answering the PROPFIND: ${srvMs(warmHosts).toFixed(0)} ms, ` +
          `the rest (hosthog): ${own(warmHosts).toFixed(0)} ms`,
      ),
      row(
        'warm `hosts`, one claim changed on one host',
        reqs(oneChanged),
        bytes(oneChanged),
        `${oneChanged.ms.toFixed(0)} ms`,
        `${oc.synced} calendar asked (its sync-collection, ${kb(oc.bytes)}), ${oc.skipped} skipped; ` +
          `PROPFIND ${oc.discovery.ms} ms`,
      ),
      row(
        "warm `hosts`, sync-token path (the home's check set to tokens, as on other servers)",
        reqs(tokenHosts),
        bytes(tokenHosts),
        `${tokenHosts.ms.toFixed(0)} ms`,
        'the previous warm path: Radicale answering a PROPFIND with every sync-token: ' +
          `${tokenHosts.stats!.discovery.ms} ms`,
      ),
      row(
        'warm `hosts --refresh`, every calendar asked (sync-collection with its token)',
        reqs(forced),
        bytes(forced),
        `${forced.ms.toFixed(0)} ms`,
        `PROPFIND ${forced.stats!.discovery.ms} ms, per-calendar requests ${forced.stats!.syncMs} ms; ` +
          `${forced.stats!.requests} per-calendar requests ` +
          "(the check's PROPFIND Depth 0 and the sync-collection REPORT) " +
          `of ${(perCal / 1024).toFixed(2)} kB each on average: target < 2 kB ${metOr(perCal < 2048)}`,
      ),
      row(
        'warm `free --for 4h --gpus 2` (median of 3)',
        reqs(free[0]),
        bytes(free[0]),
        `${median(free.map((r) => r.ms)).toFixed(0)} ms`,
        `PROPFIND ${srvMs(free).toFixed(0)} ms, the rest ${own(free).toFixed(0)} ms`,
      ),
      row(
        'cold `stats --since 365d` (first decode of the year)',
        reqs(coldStats),
        bytes(coldStats),
        secs(coldStats.ms),
        `PROPFIND ${secs(coldStats.stats?.discovery.ms ?? 0)}`,
      ),
      row(
        'warm `stats --since 365d` (median of 3)',
        reqs(warmStats[0]),
        bytes(warmStats[0]),
        `${ws.toFixed(0)} ms`,
        `target < 3 s: ${metOr(ws < 3000)}; PROPFIND ${srvMs(warmStats).toFixed(0)} ms, ` +
          'the rest (hosthog: read the cached claims of the year, compute, draw) ' +
          `${own(warmStats).toFixed(0)} ms`,
      ),
    ];
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    const text = [
      '## bench:fleet — 100 host calendars × 2,000 events on one Radicale',
      '',
      `${HOSTS} host calendars × ${EVENTS} events (10 % weekly-recurring, 4 times) in one calendar home, ` +
        `Radicale from Debian on loopback; \`hosts\` listed ${lines} hosts. ${machineLine()}, ` +
        `${cpus().length} CPUs shared with other work: load average (1, 5, 15 min) ${la(load0)} ` +
        `at the start of the measured runs and ${la(load1)} at their end ` +
        '(figures are from a loaded machine when that is above ~1). ' +
        `Generation: ${secs(writeMs)} writing the items into Radicale's storage, ` +
        `${secs(cacheMs)} writing Radicale's item cache as PUTs would have left it ` +
        '(its hash, etag and pickle format, without vobject), with its sync-token history, ' +
        `then ${secs(serverWarmMs)} for one untimed listing per calendar. ` +
        'Each figure is a whole CLI process (Node start-up included). ' +
        "Requests and bytes as counted by hosthog's HTTP layer (request line, headers, bodies).",
      '',
      '| what | requests | bytes | time | note |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      'On Radicale every sync token (and getctag) the server reports, in a PROPFIND or a sync-collection, ' +
        "is computed by reading all of that calendar's items from disk: seconds for 200,000 items. " +
        "Its getlastmodified for a calendar is the newest mtime of the calendar's directory and files " +
        '(os.stat only), so on Radicale a warm run asks the home for display names ' +
        'and getlastmodified only, and a calendar whose value is the one its cache holds ' +
        "(and older than the second of the answer that preceded that cache's sync: the racy guard) " +
        'is neither asked nor decoded again. ' +
        'Other servers (Nextcloud, DAViCal, Xandikos) keep sync tokens in a database or git, ' +
        'cheap to report: there the warm run asks for the tokens ' +
        '(the fourth row shows what that path costs on Radicale). ' +
        '`--refresh` asks every calendar (fifth row: on Radicale each calendar costs two requests ' +
        "that read all its items, the calendar check's PROPFIND Depth 0, which asks for the sync-token, " +
        'once per process, and the sync-collection). docs/fleet.md says why this is safe. ' +
        '`stats` keeps, per calendar and decoded window, the claims that hold (after the conflict rule), ' +
        'packed as numbers (fleet-stats.json, ~50 kB per calendar here against ~700 kB ' +
        "of decoded occurrences), so a warm `stats` neither parses the year's occurrences " +
        'nor runs the conflict rule again.',
    ].join('\n');
    writeSection(REPO, 'fleet', text);
    process.stdout.write(text + '\n');
  } finally {
    await srv.destroy();
    // The fleet config and its ~200 MB of caches.
    if (flDir) rmSync(flDir, { recursive: true, force: true });
  }
}

process.on('exit', (code) => step(`exit ${code}`));
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
  process.on(sig, () => {
    step(`got ${sig}`);
    process.exit(2);
  });
run().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
