/**
 * Switching the calendar (config url/path changed, bridge restarted on the same state_dir)
 * tells nobody that the old calendar's claims were "released" or "cancelled": the bridge does
 * not take the old calendar's snapshot as what came before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bridge } from '../src/bridge/bridge.js';
import { loadConfig } from '../src/config/load.js';
import { silentLog } from '../src/host/store/log.js';
import { planNotices } from '../src/core/notify-plan.js';
import { writeTestConfig, vevent } from './harness/config.js';
import type { Occurrence } from '../src/core/types.js';

test("a switched calendar sends no released/cancelled notices for the old calendar's events", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-switch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [a, bDir] = [join(dir, 'cal-a'), join(dir, 'cal-b')];
  mkdirSync(a);
  mkdirSync(bDir);
  const now = Date.now();
  const s = new Date(Math.floor(now / 60_000) * 60_000 - 600_000);
  const f = new Date(now + 3_600_000 * 5);
  writeFileSync(join(a, 'x.ics'), vevent('x@a', 'hh-alice exclusive: running', s, new Date(now + 3_600_000)));
  writeFileSync(join(a, 'y.ics'), vevent('y@a', 'hh-bob gpu0: later', f, new Date(f.getTime() + 3_600_000)));
  writeFileSync(
    join(bDir, 'z.ics'),
    vevent('z@b', 'hh-carol gpu1: other host', f, new Date(f.getTime() + 3_600_000)),
  );

  const seen: { prev: Occurrence[] | null; next: Occurrence[] }[] = [];
  const hook = async (prev: { occurrences: Occurrence[] } | null, next: { occurrences: Occurrence[] }) => {
    seen.push({ prev: prev?.occurrences ?? null, next: next.occurrences });
  };
  const cfgA = writeTestConfig({ vdir: a });
  t.after(() => rmSync(cfgA.dir, { recursive: true, force: true }));
  const one = await Bridge.open(loadConfig({ path: cfgA.path }), silentLog(), { hooks: [hook] });
  await one.syncOnce();
  await one.stop();
  assert.equal(seen.at(-1)!.next.length, 2);

  // The admin points the same state directory at another calendar and restarts.
  const cfgB = { path: join(dir, 'b.toml') };
  writeFileSync(cfgB.path, readFileSync(cfgA.path, 'utf8').replace(`path = "${a}"`, `path = "${bDir}"`));
  seen.length = 0;
  const two = await Bridge.open(loadConfig({ path: cfgB.path }), silentLog(), { hooks: [hook] });
  await two.syncOnce();
  await two.stop();
  assert.equal(seen.length, 1, 'one refresh: the first sync of the new calendar');
  assert.equal(seen[0].prev, null);
  assert.deepEqual(
    seen[0].next.map((o) => o.uid),
    ['z@b'],
  );
  const config = loadConfig({ path: cfgB.path });
  const notices = planNotices(seen[0].prev, seen[0].next, new Date(), new Set(), config);
  assert.deepEqual(
    notices.filter((n) => n.kind === 'released' || n.kind === 'cancelled'),
    [],
  );
});
