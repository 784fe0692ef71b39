/**
 * The calendar bench:sync measures (also for profiling by hand): n events spread evenly over five
 * years of history up to a month ahead, 10 % weekly-recurring (30 occurrences), written into a
 * Radicale collection with Radicale's own item cache, then listed once (untimed for hosthog).
 */
import { readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { TestServer } from '../test/harness/servers.js';

const RECURRING = 0.1;
const DAY = 86_400_000;
const HISTORY = 5 * 365 * DAY;
const AHEAD = 30 * DAY;

export function ics(i: number, n: number, base: number): string {
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

export function findCollection(dir: string, name: string): string | null {
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
export const RADICALE_CACHE = `
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

/** Fill srv's collection `bench` with n events; returns the seconds Radicale took to list them once. */
export async function seedRadicale(srv: TestServer, n: number): Promise<number> {
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
  const t = performance.now();
  const warm = await fetch(srv.calendarUrl, {
    method: 'REPORT',
    headers: { authorization: auth, depth: '1', 'content-type': 'application/xml' },
    body:
      '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">' +
      '<d:prop><d:getetag/><c:calendar-data/></d:prop>' +
      '<c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>',
    signal: AbortSignal.timeout(3_600_000),
  });
  await warm.arrayBuffer();
  const radicaleListS = (performance.now() - t) / 1000;
  return (performance.now() - t) / 1000;
}
