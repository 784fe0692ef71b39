/**
 * claim -x --force through the bridge's own booking record (src/bridge/first-seen.ts): the
 * forced claim is ruled as booked first only once the bridge marks it (a back-dated CREATED in
 * the event alone wins nothing); after the mark every claim in its way is overruled and the
 * next refresh's notices tell each holder, urgently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bridge } from '../src/bridge/bridge.js';
import { firstSeen } from '../src/bridge/first-seen.js';
import { loadConfig } from '../src/config/load.js';
import { silentLog } from '../src/host/store/log.js';
import { planNotices } from '../src/core/notify-plan.js';
import { planClaim } from '../src/core/plan-write.js';
import { encodeEvent } from '../src/core/ics-write.js';
import { rule } from '../src/core/conflicts.js';
import { writeTestConfig, vevent } from './harness/config.js';
import type { Claim, Occurrence } from '../src/core/types.js';

test('a forced claim holds once the bridge marks it; the holders in its way are told', async (t) => {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-force-'));
  const cfg = writeTestConfig({ vdir });
  t.after(() => {
    rmSync(vdir, { recursive: true, force: true });
    rmSync(cfg.dir, { recursive: true, force: true });
  });
  mkdirSync(cfg.stateDir, { recursive: true });
  const config = loadConfig({ path: cfg.path });
  const now = new Date();
  const s = new Date(now.getTime() - 3_600_000);
  const e = new Date(now.getTime() + 3_600_000);
  writeFileSync(join(vdir, 'a.ics'), vevent('a-1', 'hh-alice gpu0: training', s, e));
  writeFileSync(join(vdir, 'b.ics'), vevent('b-1', 'hh-bob gpu1: eval', s, e));
  const seen = firstSeen(cfg.stateDir);
  const runs: { prev: Occurrence[] | null; next: Occurrence[] }[] = [];
  const b = await Bridge.open(config, silentLog(), {
    stamp: (o, n) => seen.stamp(o, n),
    hooks: [
      async (prev, next) => {
        runs.push({ prev: prev?.occurrences ?? null, next: next.occurrences });
      },
    ],
  });
  t.after(() => b.stop());
  await b.syncOnce();
  const claims = () => b.current!.occurrences.filter((o) => o.kind === 'claim') as Claim[];
  const { spec, overrules } = planClaim(
    {
      resources: [],
      mode: 'exclusive',
      hog: false,
      note: 'urgent reboot',
      allow: [],
      start: new Date(Math.floor(now.getTime() / 60_000) * 60_000),
      end: new Date(now.getTime() + 600_000),
      force: true,
    },
    { user: 'root', isAdmin: true },
    claims(),
    config,
    now,
    'forced-1',
  );
  assert.deepEqual(overrules!.map((c) => c.uid).sort(), ['a-1', 'b-1']);
  writeFileSync(join(vdir, 'forced.ics'), encodeEvent(spec, now));
  await b.syncOnce();
  // Seen just now: CREATED at the epoch in the file is not trusted, the forced claim loses.
  assert.deepEqual(
    rule(claims()).overruled.map((o) => o.claim.uid),
    ['forced-1'],
  );
  seen.markForced('forced-1', new Date());
  await b.restamp();
  assert.deepEqual(
    rule(claims())
      .overruled.map((o) => [o.claim.uid, o.by.uid])
      .sort(),
    [
      ['a-1', 'forced-1'],
      ['b-1', 'forced-1'],
    ],
  );
  const last = runs.at(-1)!;
  const told = planNotices(last.prev, last.next, new Date(), new Set(), config, { author: 'root' }).filter(
    (n) => n.kind === 'overruled',
  );
  assert.deepEqual(told.map((n) => (n.to as { users: string[] }).users[0]).sort(), ['hh-alice', 'hh-bob']);
  assert.ok(told.every((n) => n.urgent && /"urgent reboot"/.test(n.body)));
});
