/**
 * Quiet host against a REAL systemd (test/harness/systemd.ts: Debian's systemd as PID 1 of its
 * own namespaces): the configured units that are active are stopped for a hog and exactly those
 * are started again; units that were already stopped stay stopped; ssh and systemd's own are
 * never stopped; the record on disk survives a crash at any point; a unit that will not start
 * again stays recorded. The planner's rule is checked on plain data too.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystemd, type TestSystemd } from './harness/systemd.js';
import { createQuietHost, readQuietState, QUIET_FILE } from '../src/host/hog/quiet-host.js';
import {
  planQuiet,
  restoreOrder,
  isUnitPattern,
  beginHog,
  recordStop,
  recordRelease,
} from '../src/core/quiet-plan.js';

const sleeper = (d: string) => `[Unit]\nDescription=${d}\n[Service]\nExecStart=/bin/sleep infinity\n`;
let sd: TestSystemd;
let starting: Promise<TestSystemd> | undefined;

/** The test systemd, started by the first test that needs it (the plain-data tests do not). */
async function up(): Promise<void> {
  starting ??= startSystemd({
    'hh-render.service': sleeper('a remote desktop, say'),
    'hh-idle.service': sleeper('installed but not running'),
    'hh-nightly.timer': '[Unit]\nDescription=nightly job timer\n[Timer]\nOnCalendar=*-*-* 03:00:00\n',
    'hh-nightly.service': '[Unit]\nDescription=nightly job\n[Service]\nType=oneshot\nExecStart=/bin/true\n',
    'hh-weekly.timer': '[Unit]\nDescription=weekly job timer\n[Timer]\nOnCalendar=Sun *-*-* 04:00:00\n',
    'hh-weekly.service': '[Unit]\nDescription=weekly job\n[Service]\nType=oneshot\nExecStart=/bin/true\n',
    'ssh.service': sleeper('stands in for sshd'),
    'hh-session.service':
      '[Unit]\nDescription=needs hh-render (as xrdp needs xrdp-sesman)\n' +
      'Requires=hh-render.service\nAfter=hh-render.service\n[Service]\nExecStart=/bin/sleep infinity\n',
    'hh-fragile.service':
      '[Unit]\nDescription=starts only while its flag file exists\n[Service]\n' +
      'ExecStartPre=/usr/bin/test -e /tmp/hh-fragile-ok\nExecStart=/bin/sleep infinity\n',
  });
  sd = await starting;
}
after(async () => {
  await sd?.stop();
});

async function startAll(...units: string[]): Promise<void> {
  const r = await sd.ctl('start', ...units);
  assert.equal(r.code, 0, r.stderr);
}
async function states(...units: string[]): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const u of units) out[u] = await sd.isActive(u);
  return out;
}

const plannerServicesAndTimers =
  'planner: services and timers only, never ssh/systemd/hosthog/logins; timers stop first and start last';
test(plannerServicesAndTimers, () => {
  const p = planQuiet([
    'xrdp.service',
    'apt-daily.timer',
    'ssh.service',
    'systemd-journald.service',
    'hosthog-bridge.service',
    'user@1000.service',
    'cups.socket',
    'apt-daily.timer',
    'getty@tty1.service',
  ]);
  assert.deepEqual(p.stop, ['apt-daily.timer', 'xrdp.service']);
  assert.deepEqual(
    p.refused.map((r) => r.unit),
    [
      'cups.socket',
      'getty@tty1.service',
      'hosthog-bridge.service',
      'ssh.service',
      'systemd-journald.service',
      'user@1000.service',
    ],
  );
  assert.deepEqual(restoreOrder(['a.timer', 'b.service', 'c.timer']), ['b.service', 'a.timer', 'c.timer']);
  for (const ok of ['xrdp.service', '*.timer', 'apt-*', 'getty@tty[12].service'])
    assert.equal(isUnitPattern(ok), true, ok);
  for (const bad of [
    '',
    '--all',
    'a b.service',
    '/etc/x.service',
    'xrdp',
    '$(reboot).service',
    'x.service;reboot',
  ])
    assert.equal(isUnitPattern(bad), false, bad);
});

const recordTransitions =
  'record transitions (plain data): owed units carried over, what went down recorded, a ' +
  'unit that would not stop dropped, failed starts kept';
test(recordTransitions, () => {
  // A new hog: one unit still owed from the last hog, the plan names it again and one more.
  const b = beginHog(
    [{ unit: 'fragile.service', status: 'stopped' }],
    ['a.timer', 'fragile.service', 'x.service'],
  );
  assert.deepEqual(b.toStop, ['a.timer', 'x.service']);
  assert.deepEqual(b.units, [
    { unit: 'fragile.service', status: 'stopped' },
    { unit: 'a.timer', status: 'intended' },
    { unit: 'x.service', status: 'intended' },
  ]);
  // systemd stopped a.timer, would not stop x.service, and took y.service down along with a.timer.
  const r = recordStop(b.units, b.toStop, new Set(['x.service']), [
    'a.timer',
    'y.service',
    'fragile.service',
  ]);
  assert.deepEqual(r.stopped, ['a.timer']);
  assert.deepEqual(r.failed, ['x.service']);
  assert.deepEqual(r.alongWith, ['y.service'], 'already recorded units are not added twice');
  assert.deepEqual(r.units, [
    { unit: 'fragile.service', status: 'stopped' },
    { unit: 'a.timer', status: 'stopped' },
    { unit: 'y.service', status: 'stopped' },
  ]);
  // systemd could not be listed after the stop: nothing is guessed to have gone along.
  assert.deepEqual(recordStop(b.units, b.toStop, new Set(), null).alongWith, []);
  // Starting again: only what failed stays owed.
  assert.deepEqual(recordRelease(r.units, ['fragile.service']), [
    { unit: 'fragile.service', status: 'stopped' },
  ]);
  assert.deepEqual(recordRelease(r.units, []), []);
});

const matchingUnitsStopAndStart =
  'real systemd: the active matching units stop for the hog and exactly those start again after';
test(matchingUnitsStopAndStart, async () => {
  await up();
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-'));
  await startAll('hh-render.service', 'hh-nightly.timer', 'hh-weekly.timer', 'ssh.service');
  assert.deepEqual(await states('hh-idle.service'), { 'hh-idle.service': false });
  const q = createQuietHost({ stateDir: dir, systemctl: sd.systemctl });

  const r = await q.apply('hog-1', ['hh-render.service', 'hh-idle.service', 'hh-*.timer', 'ssh.service']);
  assert.deepEqual(r.stopped.sort(), ['hh-nightly.timer', 'hh-render.service', 'hh-weekly.timer']);
  assert.deepEqual(r.refused, [{ unit: 'ssh.service', why: 'it is the way in' }]);
  assert.deepEqual(
    await states(
      'hh-render.service',
      'hh-nightly.timer',
      'hh-weekly.timer',
      'ssh.service',
      'hh-idle.service',
    ),
    {
      'hh-render.service': false,
      'hh-nightly.timer': false,
      'hh-weekly.timer': false,
      'ssh.service': true,
      'hh-idle.service': false,
    },
  );
  const list = await sd.ctl(
    'list-units',
    '--type=timer',
    '--state=active',
    '--plain',
    '--no-legend',
    '--',
    'hh-*',
  );
  assert.equal(list.stdout.trim(), '', 'no hh timer active during the hog');
  // On disk, before anything else happens: every stopped unit is named.
  const st = readQuietState(dir)!;
  assert.equal(st.hogUid, 'hog-1');
  assert.deepEqual(st.units.map((u) => [u.unit, u.status]).sort(), [
    ['hh-nightly.timer', 'stopped'],
    ['hh-render.service', 'stopped'],
    ['hh-weekly.timer', 'stopped'],
  ]);

  // Every poll applies again: nothing is listed or stopped twice.
  const again = await q.apply('hog-1', ['hh-render.service', 'hh-*.timer']);
  assert.deepEqual(again.stopped, []);

  const rel = await q.release();
  assert.deepEqual(
    rel.started,
    ['hh-render.service', 'hh-nightly.timer', 'hh-weekly.timer'],
    'services first, then timers',
  );
  assert.deepEqual(
    await states('hh-render.service', 'hh-nightly.timer', 'hh-weekly.timer', 'hh-idle.service'),
    {
      'hh-render.service': true,
      'hh-nightly.timer': true,
      'hh-weekly.timer': true,
      'hh-idle.service': false,
    },
  );
  assert.equal(existsSync(join(dir, QUIET_FILE)), false, 'record removed once everything is back');
  rmSync(dir, { recursive: true, force: true });
});

const crashAfterRecord =
  'real systemd: a crash right after the record was written (units "intended") is undone by the next start';
test(crashAfterRecord, async () => {
  await up();
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-'));
  await startAll('hh-render.service', 'hh-nightly.timer');
  // What a bridge killed between writing its record and finishing the stop leaves behind:
  await sd.ctl('stop', 'hh-nightly.timer');
  writeFileSync(
    join(dir, QUIET_FILE),
    JSON.stringify({
      version: 1,
      hogUid: 'hog-2',
      units: [
        { unit: 'hh-nightly.timer', status: 'intended' },
        { unit: 'hh-render.service', status: 'intended' },
      ],
      updatedAt: '',
    }),
  );

  // Restarted while the same hog still holds: the stop is finished, the units stay recorded.
  const q1 = createQuietHost({ stateDir: dir, systemctl: sd.systemctl });
  const kept = await q1.reconcile('hog-2');
  assert.deepEqual(kept.kept.sort(), ['hh-nightly.timer', 'hh-render.service']);
  assert.deepEqual(await states('hh-render.service', 'hh-nightly.timer'), {
    'hh-render.service': false,
    'hh-nightly.timer': false,
  });
  assert.deepEqual(
    readQuietState(dir)!.units.map((u) => u.status),
    ['stopped', 'stopped'],
  );

  // Restarted after the hog ended (or it vanished from the calendar): everything comes back.
  const q2 = createQuietHost({ stateDir: dir, systemctl: sd.systemctl });
  const back = await q2.reconcile(null);
  assert.deepEqual(back.started.sort(), ['hh-nightly.timer', 'hh-render.service']);
  assert.deepEqual(await states('hh-render.service', 'hh-nightly.timer'), {
    'hh-render.service': true,
    'hh-nightly.timer': true,
  });
  assert.equal(existsSync(join(dir, QUIET_FILE)), false);
  rmSync(dir, { recursive: true, force: true });
});

const unitWillNotStart =
  'real systemd: a unit that will not start again stays recorded and is retried; the others ' +
  'come back at once';
test(unitWillNotStart, async () => {
  await up();
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-'));
  writeFileSync('/tmp/hh-fragile-ok', '');
  await startAll('hh-render.service', 'hh-fragile.service');
  const q = createQuietHost({ stateDir: dir, systemctl: sd.systemctl });
  const r = await q.apply('hog-3', ['hh-render.service', 'hh-fragile.service']);
  assert.deepEqual(r.stopped.sort(), ['hh-fragile.service', 'hh-render.service']);
  rmSync('/tmp/hh-fragile-ok'); // now it refuses to start
  const rel = await q.release();
  assert.deepEqual(rel.started, ['hh-render.service']);
  assert.deepEqual(rel.failed, ['hh-fragile.service']);
  assert.equal(await sd.isActive('hh-render.service'), true);
  assert.deepEqual(
    readQuietState(dir)!.units.map((u) => u.unit),
    ['hh-fragile.service'],
    'still recorded: retried at the next refresh',
  );
  writeFileSync('/tmp/hh-fragile-ok', '');
  const retry = await q.release();
  assert.deepEqual(retry.started, ['hh-fragile.service']);
  assert.equal(await sd.isActive('hh-fragile.service'), true);
  assert.equal(existsSync(join(dir, QUIET_FILE)), false);
  rmSync('/tmp/hh-fragile-ok', { force: true });
  rmSync(dir, { recursive: true, force: true });
});

test('no systemd to talk to: one clear error, nothing recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-'));
  const q = createQuietHost({ stateDir: dir, systemctl: ['/nonexistent/systemctl'] });
  await assert.rejects(q.apply('hog-4', ['*.timer']), /systemctl list-units failed/);
  assert.equal(existsSync(join(dir, QUIET_FILE)), false);
  assert.deepEqual(q.recorded(), []);
  rmSync(dir, { recursive: true, force: true });
});

const doctorQuietHost =
  'hosthog doctor says what a hog would stop now, and fails clearly when systemd cannot be reached';
test(doctorQuietHost, async () => {
  await up();
  const { writeTestConfig } = await import('./harness/config.js');
  const { runCli, REPO } = await import('./harness/cli.js');
  await startAll('hh-render.service', 'ssh.service');
  await sd.ctl('stop', 'hh-nightly.timer', 'hh-weekly.timer');
  const vdir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-vdir-'));
  const good = writeTestConfig({
    vdir,
    bridge:
      '\n[hog]\nquiet_units = ["hh-render.service", "hh-*.timer", "ssh.service"]\n' +
      `systemctl = ${JSON.stringify(sd.systemctl)}\n`,
  });
  const r = await runCli(['doctor'], { cwd: REPO, env: { HOSTHOG_CONFIG: good.path } });
  assert.match(
    r.stdout,
    /^ok +quiet host: a hog now would stop hh-render\.service; refuses ssh\.service$/m,
    r.stdout,
  );
  const bad = writeTestConfig({
    vdir,
    bridge: '\n[hog]\nquiet_units = ["*.timer"]\nsystemctl = ["/nonexistent/systemctl"]\n',
  });
  const r2 = await runCli(['doctor'], { cwd: REPO, env: { HOSTHOG_CONFIG: bad.path } });
  assert.equal(r2.code, 1, r2.stdout + r2.stderr);
  assert.match(r2.stdout, /^FAIL +quiet host: \/nonexistent\/systemctl does not answer/m);
  const worse = writeTestConfig({ vdir, bridge: '\n[hog]\nquiet_units = ["xrdp", "$(reboot).service"]\n' });
  const r3 = await runCli(['doctor'], { cwd: REPO, env: { HOSTHOG_CONFIG: worse.path } });
  assert.match(r3.stdout, /\[hog\] quiet_units: "xrdp" is not a service or timer name or pattern/);
  assert.match(
    r3.stdout,
    /\[hog\] quiet_units: "\$\(reboot\)\.service" is not a service or timer name or pattern/,
  );
  rmSync(vdir, { recursive: true, force: true });
});

test('real systemd: units systemd stops along with a configured one (Requires=) come back too', async () => {
  await up();
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-'));
  await startAll('hh-render.service', 'hh-session.service');
  const q = createQuietHost({ stateDir: dir, systemctl: sd.systemctl });
  const r = await q.apply('hog-5', ['hh-render.service']);
  assert.deepEqual(r.stopped.sort(), ['hh-render.service', 'hh-session.service']);
  assert.deepEqual(await states('hh-render.service', 'hh-session.service'), {
    'hh-render.service': false,
    'hh-session.service': false,
  });
  assert.deepEqual(q.recorded().sort(), ['hh-render.service', 'hh-session.service']);
  await q.release();
  assert.deepEqual(await states('hh-render.service', 'hh-session.service'), {
    'hh-render.service': true,
    'hh-session.service': true,
  });
  rmSync(dir, { recursive: true, force: true });
});

const unitStillOwed =
  'real systemd: a unit that failed to come back after one hog is still owed after the next hog';
test(unitStillOwed, async () => {
  await up();
  const dir = mkdtempSync(join(tmpdir(), 'hosthog-quiet-'));
  writeFileSync('/tmp/hh-fragile-ok', '');
  await sd.ctl('stop', 'hh-session.service'); // (it would go down with hh-render: another test's point)
  await startAll('hh-fragile.service', 'hh-render.service');
  const q = createQuietHost({ stateDir: dir, systemctl: sd.systemctl });
  await q.apply('hog-6', ['hh-fragile.service']);
  rmSync('/tmp/hh-fragile-ok');
  // The next hog begins before the fragile unit could start again.
  const r = await q.apply('hog-7', ['hh-render.service']);
  assert.deepEqual(r.stopped, ['hh-render.service']);
  assert.deepEqual(q.recorded().sort(), ['hh-fragile.service', 'hh-render.service'], 'still owed');
  assert.deepEqual(
    readQuietState(dir)!
      .units.map((u) => u.unit)
      .sort(),
    ['hh-fragile.service', 'hh-render.service'],
  );
  writeFileSync('/tmp/hh-fragile-ok', '');
  const back = await q.release();
  assert.deepEqual(back.started.sort(), ['hh-fragile.service', 'hh-render.service']);
  assert.deepEqual(await states('hh-fragile.service', 'hh-render.service'), {
    'hh-fragile.service': true,
    'hh-render.service': true,
  });
  rmSync('/tmp/hh-fragile-ok', { force: true });
  rmSync(dir, { recursive: true, force: true });
});
