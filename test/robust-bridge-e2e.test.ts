/**
 * Issue 10 against the REAL bridge process (`hosthog bridge`, root, its unix socket), with real
 * users (test/harness/users.ts) and a real calendar (a vdir, or Radicale): requests are sent
 * straight to the socket by a raw client (test/harness/raw-client.ts), past the CLI's checks.
 *  - case 1: the never-occurring FREQ rule is refused at the socket; in the calendar it is left
 *    out within its budget and named by doctor, and the bridge keeps answering;
 *  - case 2: dense SECONDLY series are capped per series, requests stay fast; active claims per
 *    user are capped;
 *  - case 4: one user's many idle connections (proven or not) never make another's release fail;
 *  - case 9: a fixed password is used by the next write without a restart (file change and
 *    SIGHUP reload, logged), a lab member is not told to fix a root-only file, `hosthog sync`
 *    asks the running bridge, a recovered server is noticed within one poll interval;
 *  - case 11: hh-Secdave and hh-secdave are two users;
 *  - case 12: a plain user's process whose arguments say "bridge" does not hold the state lock.
 * The hog/tmux headline (case 3) is in robust-hog-e2e.test.ts.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Socket } from 'node:net';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { writeTestConfig, vevent, type TestConfig } from './harness/config.js';
import { startCli, runCli, waitFor, REPO } from './harness/cli.js';
import { startRadicale } from './harness/servers.js';
import { connectAs, rawCall } from './harness/raw-client.js';

let users: Record<string, TestUser> = {};
before(() => {
  users = ensureTestUsers();
});

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
const inMin = (m: number) => new Date(Math.floor((Date.now() + m * 60_000) / 60_000) * 60_000);

type Bridge = ReturnType<typeof startCli>;
function startBridge(cfg: TestConfig, t: { after(fn: () => unknown): void }): Bridge {
  const b = startCli(['bridge'], { cwd: REPO, env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' } });
  t.after(async () => {
    if (b.exitCode !== null || b.signalCode !== null) return;
    const done = new Promise((r) => b.once('exit', r));
    b.kill('SIGTERM');
    await Promise.race([done, sleep(5000)]);
    if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
  });
  return b;
}
async function until<T>(b: Bridge, fn: () => T | Promise<T>, what: string, ms = 20_000): Promise<T> {
  try {
    return await waitFor(fn, what, ms, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nbridge output:\n${b.output().slice(-3000)}`);
  }
}
/** Every line the bridge wrote is one JSON object (no node-cron console lines). */
function assertJsonLog(b: Bridge): void {
  for (const line of b.output().split('\n').filter(Boolean))
    assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
}
function claimParams(start: Date, minutes: number, extra: Record<string, unknown> = {}) {
  return {
    resources: [],
    mode: 'exclusive',
    hog: false,
    note: '',
    allow: [],
    start: start.toISOString(),
    end: new Date(start.getTime() + minutes * 60_000).toISOString(),
    ...extra,
  };
}
/** SECONDLY-style series as another calendar client could write it: `count` one-second occurrences. */
function denseSeries(uid: string, user: string, start: Date, count: number): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//adversary//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${f(new Date())}`,
    `DTSTART:${f(start)}`,
    `DTEND:${f(new Date(start.getTime() + 1000))}`,
    `SUMMARY:${user} exclusive`,
    `RRULE:FREQ=SECONDLY;COUNT=${count}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}
const NEVER = 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2';

const cases1And2 =
  'cases 1 and 2, real bridge: the never-occurring rule is refused at the socket and left ' +
  'out of the calendar within its budget; dense series are capped; requests stay fast; ' +
  'active claims per user capped';
test(cases1And2, async (t) => {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-robust-vdir-'));
  const cfg = writeTestConfig({
    vdir,
    extra: '[limits]\nmax_occurrences = 300\nmax_active_claims = 4\nexpansion_ms = 200\n',
  });
  const env = { HOSTHOG_CONFIG: cfg.path };
  const bridge = startBridge(cfg, t);
  await until(bridge, () => read(cfg.motd).includes('test-box'), 'first motd');
  const bob = users['hh-bob'].uid;

  // Case 1 at the socket: refused at once with the CLI's own message.
  let t0 = Date.now();
  const r1 = await rawCall(cfg.socket, bob, 'claim', claimParams(inMin(10), 30, { rrule: NEVER }));
  assert.equal(r1.ok, false);
  assert.match(!r1.ok ? r1.error.message : '', /never occurs/);
  assert.ok(Date.now() - t0 < 5000, `refusal took ${Date.now() - t0} ms`);

  // Case 1 and 2 in the calendar (another client wrote them): the bridge keeps going.
  writeFileSync(
    join(vdir, 'never.ics'),
    vevent('never', 'hh-bob exclusive', inMin(5), inMin(35), `RRULE:${NEVER}`),
  );
  const snapFile = join(cfg.stateDir, 'snapshot.json');
  await until(
    bridge,
    () => /too costly to expand/.test(read(snapFile)),
    'the rule named as a problem',
    30_000,
  );
  const doctor = await runCli(['doctor'], { env });
  assert.match(doctor.stdout, /never\.ics.*too costly to expand .*left out/);
  const users3 = ['hh-alice', 'hh-bob', 'hh-carol'];
  for (let i = 0; i < 10; i++)
    writeFileSync(
      join(vdir, `dense-${i}.ics`),
      denseSeries(`dense-${i}`, users3[i % 3], inMin(60 + i), 1000),
    );
  await until(bridge, () => /dense-9/.test(read(snapFile)), 'the series decoded', 30_000);
  const snap = JSON.parse(read(snapFile)) as {
    occurrences: { uid: string }[];
    problems: { href: string; message: string }[];
  };
  for (let i = 0; i < 10; i++)
    assert.equal(snap.occurrences.filter((o) => o.uid === `dense-${i}`).length, 300, `dense-${i} capped`);
  assert.equal(snap.occurrences.filter((o) => o.uid === 'never').length, 0);
  assert.ok(statSync(snapFile).size < 3_000_000, `snapshot.json ${statSync(snapFile).size} bytes`);

  // Requests stay fast with 3,000 dense occurrences to rule against.
  const carol = users['hh-carol'].uid;
  t0 = Date.now();
  const r2 = await rawCall(cfg.socket, carol, 'claim', claimParams(inMin(180), 60, { resources: ['gpu0'] }));
  const claimMs = Date.now() - t0;
  assert.equal(r2.ok, true, JSON.stringify(r2));
  assert.ok(claimMs < 5000, `a claim took ${claimMs} ms`);

  // Active claims per user (4 here): hh-carol now holds 4 (each dense series counts once),
  // a 5th is refused; hh-dave may make 4.
  const c5 = await rawCall(cfg.socket, carol, 'claim', claimParams(inMin(900), 30, { resources: ['gpu1'] }));
  assert.equal(c5.ok, false);
  assert.match(!c5.ok ? c5.error.message : '', /you hold 4 current or upcoming claims/);
  const dave = users['hh-dave'].uid;
  for (let i = 0; i < 4; i++) {
    const r = await rawCall(
      cfg.socket,
      dave,
      'claim',
      claimParams(inMin(300 + i * 120), 30, { resources: ['gpu1'] }),
    );
    assert.equal(r.ok, true, JSON.stringify(r));
  }
  const d5 = await rawCall(cfg.socket, dave, 'claim', claimParams(inMin(1000), 30, { resources: ['gpu1'] }));
  assert.equal(d5.ok, false);
  assertJsonLog(bridge);
  t.diagnostic(`claim with 10 dense series in the calendar: ${claimMs} ms`);
});

const case4 =
  'case 4, real bridge: one user holding many idle connections (proven and unproven) cannot ' +
  "make another user's release fail";
test(case4, async (t) => {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-robust-vdir-'));
  const cfg = writeTestConfig({ vdir });
  const bridge = startBridge(cfg, t);
  await until(bridge, () => read(cfg.motd).includes('test-box'), 'first motd');
  const bob = users['hh-bob'].uid;
  const alice = users['hh-alice'].uid;
  const claim = await rawCall(
    cfg.socket,
    alice,
    'claim',
    claimParams(inMin(30), 30, { resources: ['gpu0'] }),
  );
  assert.equal(claim.ok, true, JSON.stringify(claim));

  // hh-bob: 80 proven idle connections, then 100 that never say hello.
  const proven = await Promise.all(Array.from({ length: 80 }, () => connectAs(cfg.socket, bob)));
  t.after(() => proven.forEach((c) => c.close()));
  const welcomed = proven.filter((c) => c.state === 'welcome').length;
  assert.ok(welcomed <= 16, `${welcomed} proven connections kept by one user`);
  // The rest: refused by the per-uid cap (or, arriving while 64 wait, the oldest made way).
  assert.ok(
    proven.some((c) => /already have 16 connections/.test(c.error?.message ?? '')),
    'the per-uid cap refused some',
  );
  assert.ok(
    proven.every((c) => c.state === 'welcome' || /already have 16|busy/.test(c.error?.message ?? '')),
  );
  const silent: Socket[] = [];
  t.after(() => silent.forEach((s) => s.destroy()));
  for (let i = 0; i < 100; i++) silent.push(createConnection(cfg.socket).on('error', () => undefined));
  await sleep(300);

  const rel = await rawCall(cfg.socket, alice, 'release', {});
  assert.equal(rel.ok, true, JSON.stringify(rel));
  const who = await rawCall(cfg.socket, 0, 'whoami', {});
  assert.equal(who.ok, true, JSON.stringify(who));
  assertJsonLog(bridge);
});

function ensureUser(name: string): TestUser {
  try {
    execFileSync('getent', ['passwd', name]);
  } catch {
    try {
      execFileSync('/usr/sbin/useradd', [
        '--badname',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ]);
    } catch (e) {
      try {
        execFileSync('getent', ['passwd', name]);
      } catch {
        throw e;
      }
    }
  }
  const [, , uid, gid, , home] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' })
    .trim()
    .split(':');
  return { name, uid: Number(uid), gid: Number(gid), home };
}

const case11 =
  'case 11, real bridge: hh-Secdave and hh-secdave are two users (verified uid → one name, ' +
  'matched case-sensitively)';
test(case11, async (t) => {
  const upper = ensureUser('hh-Secdave');
  const lower = ensureUser('hh-secdave');
  assert.notEqual(upper.uid, lower.uid);
  const vdir = mkdtempSync(join(tmpdir(), 'hh-robust-vdir-'));
  const cfg = writeTestConfig({ vdir });
  const bridge = startBridge(cfg, t);
  await until(bridge, () => read(cfg.motd).includes('test-box'), 'first motd');
  const who = await rawCall(cfg.socket, upper.uid, 'whoami', {});
  assert.deepEqual(who.ok && (who.result as { user: string }).user, 'hh-Secdave');
  const start = inMin(20);
  const mine = await rawCall(cfg.socket, lower.uid, 'claim', claimParams(start, 30));
  assert.equal(mine.ok, true, JSON.stringify(mine));
  // The other user's exclusive claim at the same time conflicts (they are not the same person) …
  const theirs = await rawCall(cfg.socket, upper.uid, 'claim', claimParams(start, 30));
  assert.equal(theirs.ok, false);
  assert.match(!theirs.ok ? theirs.error.message : '', /overlaps hh-secdave's exclusive claim/);
  // … and cannot release it; its holder can.
  const rel = await rawCall(cfg.socket, upper.uid, 'release', {});
  assert.equal(rel.ok, false);
  const own = await rawCall(cfg.socket, lower.uid, 'release', {});
  assert.equal(own.ok, true, JSON.stringify(own));
  // A title written by a person: "hh-Secdave exclusive" is hh-Secdave's claim, not hh-secdave's.
  writeFileSync(join(vdir, 'by-hand.ics'), vevent('by-hand', 'hh-Secdave exclusive', inMin(60), inMin(90)));
  await until(
    bridge,
    () => read(join(cfg.stateDir, 'snapshot.json')).includes('by-hand'),
    'the hand-written claim',
  );
  const snap = JSON.parse(read(join(cfg.stateDir, 'snapshot.json'))) as {
    occurrences: { uid: string; user?: string }[];
  };
  assert.equal(snap.occurrences.find((o) => o.uid === 'by-hand')?.user, 'hh-Secdave');
});

const case12 =
  'case 12, real bridge: a plain user\'s process whose arguments say "main.js bridge" at ' +
  'the stored pid does not hold the state lock';
test(case12, async (t) => {
  const vdir = mkdtempSync(join(tmpdir(), 'hh-robust-vdir-'));
  const cfg = writeTestConfig({ vdir });
  const bob = users['hh-bob'];
  const fake = spawn(
    process.execPath,
    ['-e', 'setInterval(() => {}, 1000)', join(REPO, 'dist/src/cli/main.js'), 'bridge'],
    { uid: bob.uid, gid: bob.gid, stdio: 'ignore' },
  );
  t.after(() => fake.kill('SIGKILL'));
  await sleep(300);
  assert.match(readFileSync(`/proc/${fake.pid}/cmdline`, 'utf8'), /main\.js\0bridge/);
  execFileSync('mkdir', ['-p', cfg.stateDir]);
  writeFileSync(join(cfg.stateDir, 'bridge.pid'), `${fake.pid}\n`);
  const bridge = startBridge(cfg, t);
  await until(bridge, () => read(cfg.motd).includes('test-box'), 'the bridge starts despite the look-alike');
  assert.equal(read(join(cfg.stateDir, 'bridge.pid')).trim(), String(bridge.pid));
  // The real bridge does hold it: a second one is refused.
  const second = await runCli(['bridge'], { env: { HOSTHOG_CONFIG: cfg.path }, timeoutMs: 15_000 });
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, new RegExp(`another hosthog bridge \\(pid ${bridge.pid}\\)`));
});

const case9 =
  'case 9, real bridge + Radicale: a fixed password is used without a restart; a lab member ' +
  'is told to ask an admin; SIGHUP reloads; hosthog sync asks the bridge; a recovered ' +
  'server is noticed within one poll';
test(case9, async (t) => {
  const rad = await startRadicale();
  t.after(() => rad.destroy());
  const cfg = writeTestConfig({
    calendarUrl: rad.calendarUrl,
    username: rad.username,
    password: 'wrong',
    bridge: 'stale_polls = 2\n',
  });
  const env = { HOSTHOG_CONFIG: cfg.path };
  const bridge = startBridge(cfg, t);
  await until(bridge, () => /calendar login refused/.test(bridge.output()), 'the refused login');
  const alice = users['hh-alice'].uid;
  const refused = await rawCall(cfg.socket, alice, 'claim', claimParams(inMin(30), 30));
  assert.equal(refused.ok, false);
  const err = !refused.ok ? refused.error : { type: '', message: '', hint: '' };
  assert.equal(err.type, 'AuthError');
  assert.doesNotMatch(`${err.message} ${err.hint}`, /password_file|\[calendar\]/);
  assert.match(err.hint ?? '', /tell an admin/);

  // Fix the password file: the bridge notices by itself, says what changed, and the next write works.
  writeFileSync(join(cfg.dir, 'password'), `${rad.password}\n`, { mode: 0o600 });
  await until(
    bridge,
    () => /"changed":\["calendar.password"\]/.test(bridge.output()),
    'reload logged with what changed',
    10_000,
  );
  assert.doesNotMatch(
    bridge.output(),
    /"changed":\[[^\]]*secret|"password":"/,
    'the password itself is never logged',
  );
  const ok = await rawCall(cfg.socket, alice, 'claim', claimParams(inMin(30), 30));
  assert.equal(ok.ok, true, JSON.stringify(ok));

  // systemctl reload = SIGHUP: reloaded and logged.
  bridge.kill('SIGHUP');
  await until(
    bridge,
    () => /SIGHUP.*config reloaded: nothing changed|config reloaded: nothing changed/.test(bridge.output()),
    'SIGHUP reload',
  );
  assert.equal(bridge.exitCode, null, 'SIGHUP does not stop the bridge');

  // hosthog sync as root: the running bridge syncs (no second process racing it).
  const s = await runCli(['sync'], { env });
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^synced .* \(by the bridge\): /);

  // Outage: the motd says so; once the server is back it is noticed within one poll (5 s).
  await rad.stop();
  await until(
    bridge,
    () => /unreachable|not synced/.test(read(cfg.motd)),
    'the motd says the calendar is failing',
    40_000,
  );
  await sleep(25_000); // several failed polls: an exponential back-off would now wait 40 s and more
  await rad.start();
  const up = Date.now();
  await until(bridge, () => !/unreachable|not synced/.test(read(cfg.motd)), 'the motd recovers', 30_000);
  const recoveredMs = Date.now() - up;
  assert.ok(recoveredMs < 5000 + 3000, `recovered after ${recoveredMs} ms`);
  t.diagnostic(`motd current again ${recoveredMs} ms after the server was back`);
  assertJsonLog(bridge);
});
