/**
 * npm run bench:sync: a 5,000-event calendar (10 % weekly-recurring) on a real Radicale.
 * Measures requests and bytes of an idle poll, of a one-event change, and of a full fetch with
 * tsdav's fetchCalendarObjects; the time of the first sync (full reconcile + decode + motd);
 * and the RSS of a real `hosthog bridge` process after its first sync. Writes docs/benchmarks.md.
 * Targets: idle poll 1 request and < 2 kB; first sync < 5 s; bridge RSS < 100 MB.
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchCalendarObjects } from 'tsdav';
import { startRadicale } from '../test/harness/servers.js';
import { writeTestConfig } from '../test/harness/config.js';
import { spawn } from 'node:child_process';
import { waitFor, REPO } from '../test/harness/cli.js';

import { loadConfig } from '../src/config/load.js';
import { Bridge } from '../src/bridge/bridge.js';
import { silentLog } from '../src/host/store/log.js';
import { writeSection, machineLine } from './report.js';
import { BRIDGE_NODE_FLAGS, BRIDGE_ENV, RUNTIME_GUARD } from '../src/bridge/runtime.js';

const N = Number(process.env.BENCH_EVENTS ?? 5000);
const RECURRING = 0.1;

function ics(i: number, base: number): string {
  const f = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const start = new Date(base + (i % 1440) * 3600_000 - 30 * 86_400_000);
  const end = new Date(start.getTime() + (1 + (i % 5)) * 3600_000);
  const rec = i % Math.round(1 / RECURRING) === 0;
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//hosthog bench//EN', 'BEGIN:VEVENT', `UID:bench-${i}`, `DTSTAMP:${f(new Date(base))}`,
    `DTSTART;TZID=Europe/Berlin:${f(start).replace('Z', '')}`, `DTEND;TZID=Europe/Berlin:${f(end).replace('Z', '')}`,
    `SUMMARY:user${i % 40} ${i % 3 === 0 ? 'exclusive ' : ''}gpu${i % 2}: run ${i} of the nightly sweep`,
    ...(rec ? ['RRULE:FREQ=WEEKLY;COUNT=30'] : []), 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
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

function countingFetch() {
  const stats = { requests: 0, bytes: 0 };
  const f = async (input: RequestInfo | URL, init?: RequestInit) => {
    stats.requests++;
    const body = init?.body ? Buffer.byteLength(String(init.body)) : 0;
    const res = await fetch(input, init);
    const buf = Buffer.from(await res.arrayBuffer());
    let headerBytes = 0;
    res.headers.forEach((v, k) => (headerBytes += k.length + v.length + 4));
    stats.bytes += body + buf.length + headerBytes;
    return new Response(buf, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { f: f as typeof fetch, stats };
}

async function main(): Promise<void> {
  const step = (s: string) => process.env.BENCH_DEBUG && process.stderr.write(`bench: ${s}\n`);
  const srv = await startRadicale({ calendar: 'bench' });
  try {
    const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
    // Seed: write the items straight into Radicale's storage while it is stopped (5,000 PUTs
    // would take minutes and measure Radicale, not us).
    const col = findCollection(srv.dir, 'bench');
    const base = Date.now();
    const seedStart = Date.now();
    if (col) {
      await srv.stop();
      for (let i = 0; i < N; i++) writeFileSync(join(col, `bench-${i}.ics`), ics(i, base));
      await srv.start();
      // Radicale builds its per-item cache on first access; PUT would have built it as items
      // arrived. One untimed listing stands in for that, so we measure hosthog, not the warm-up.
      const warm = await fetch(srv.calendarUrl, { method: 'REPORT', headers: { authorization: auth, depth: '1', 'content-type': 'application/xml' }, body: '<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>' });
      await warm.arrayBuffer();
    } else {
      for (let i = 0; i < N; i++) {
        await fetch(`${srv.calendarUrl}bench-${i}.ics`, { method: 'PUT', headers: { authorization: auth, 'content-type': 'text/calendar' }, body: ics(i, base) });
      }
    }
    const seedMs = Date.now() - seedStart;
    step(`seeded ${N} in ${seedMs} ms (collection ${col})`);

    // First sync, in-process: full reconcile + decode + snapshot + motd.
    const cfg = writeTestConfig({ calendarUrl: srv.calendarUrl, username: srv.username, password: srv.password, host: 'bench-box' });
    const config = loadConfig({ path: cfg.path, withPassword: true });
    const bridge = await Bridge.open(config, silentLog());
    step("bridge open");
    let t = performance.now();
    const first = await bridge.syncOnce();
    const firstMs = performance.now() - t;
    step(`first sync ${firstMs.toFixed(0)} ms: ${JSON.stringify(first)}`);
    const occurrences = bridge.current?.occurrences.length ?? 0;

    const idle = await bridge.syncOnce();
    const r = await fetch(`${srv.calendarUrl}bench-7.ics`, { method: 'PUT', headers: { authorization: auth, 'content-type': 'text/calendar' }, body: ics(7, base).replace('run 7 of', 'run 7 (edited) of') });
    if (r.status >= 300) throw new Error(`PUT ${r.status}`);
    t = performance.now();
    const one = await bridge.syncOnce();
    const oneMs = performance.now() - t;
    await bridge.stop();

    // The naive way: tsdav's fetchCalendarObjects over the whole calendar.
    const cf = countingFetch();
    t = performance.now();
    const all = await fetchCalendarObjects({ calendar: { url: srv.calendarUrl }, headers: { authorization: auth }, fetch: cf.f });
    const fullMs = performance.now() - t;

    // RSS of a real bridge process after its first sync.
    const cfg2 = writeTestConfig({ calendarUrl: srv.calendarUrl, username: srv.username, password: srv.password, host: 'bench-box' });
    // Started as systemd/hosthog-bridge.service starts it (same V8 flags and malloc settings).
    const child = spawn(process.execPath, [...BRIDGE_NODE_FLAGS, join(REPO, 'dist/src/cli/main.js'), 'bridge'], { env: { ...process.env, ...BRIDGE_ENV, [RUNTIME_GUARD]: '1', HOSTHOG_CONFIG: cfg2.path, HOSTHOG_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    const t2 = Date.now();
    await waitFor(() => existsSync(join(cfg2.stateDir, 'snapshot.json')) && existsSync(cfg2.motd), 'bridge first sync', 120_000, 50);
    const bridgeFirstMs = Date.now() - t2;
    const mem = () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
      return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
    };
    await new Promise((res) => setTimeout(res, 1000));
    const { rss: rssMb, hwm: hwmMb } = mem();
    // ... and after a few idle polls (the test config polls every 5 s): it must stay there.
    await new Promise((res) => setTimeout(res, 30_000));
    const later = mem();
    child.kill('SIGTERM');

    const kB = (b: number) => (b / 1024).toFixed(1);
    const rows = [
      ['idle poll (sync-collection, nothing changed)', `${idle.stats.requests}`, `${idle.stats.bytes} B`, '', idle.stats.requests === 1 && idle.stats.bytes < 2048 ? 'target 1 req, < 2 kB: met' : 'target 1 req, < 2 kB: MISSED'],
      ['one event changed (delta + multiget)', `${one.stats.requests}`, `${kB(one.stats.bytes)} kB`, `${oneMs.toFixed(0)} ms`, `${one.changed} changed`],
      ['first sync, hosthog (PROPFIND token + one calendar-query + decode + motd)', `${first.stats.requests}`, `${kB(first.stats.bytes)} kB`, `${firstMs.toFixed(0)} ms`, firstMs < 5000 ? 'target < 5 s: met' : 'target < 5 s: MISSED'],
      ['full fetch, tsdav fetchCalendarObjects', `${cf.stats.requests}`, `${kB(cf.stats.bytes)} kB`, `${fullMs.toFixed(0)} ms`, `${all.length} objects`],
      ['`hosthog bridge` process: first sync to motd', '', '', `${bridgeFirstMs} ms`, 'includes Node start-up'],
      ['`hosthog bridge` RSS after first sync', '', '', '', `${rssMb.toFixed(1)} MB (peak ${hwmMb.toFixed(1)} MB); target < 100 MB: ${rssMb < 100 ? 'met' : 'MISSED'}`],
      ['`hosthog bridge` RSS 30 s later (6 idle polls)', '', '', '', `${later.rss.toFixed(1)} MB; target < 100 MB: ${later.rss < 100 ? 'met' : 'MISSED'}`],
    ];
    const body = [
      '## bench:sync — 5,000-event calendar on Radicale',
      '',
      `${N} events (${Math.round(N * RECURRING)} weekly-recurring, 30 occurrences each), Radicale from Debian on loopback; ${occurrences} occurrences in the bridge's window. ${machineLine()}. Seeding took ${seedMs} ms (files written into Radicale's storage, then one untimed listing to build Radicale's item cache). Bytes are request bodies + response headers and bodies as seen by fetch.`,
      '',
      '| what | requests | bytes | time | note |',
      '|---|---|---|---|---|',
      ...rows.map((x) => `| ${x.join(' | ')} |`),
    ].join('\n');
    writeSection(REPO, 'sync', body);
    process.stdout.write(body + '\n');
  } finally {
    await srv.destroy();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
