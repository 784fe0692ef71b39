/**
 * Hog enforcement through the REAL bridge process (`hosthog bridge`), with a real sshd running
 * Debian's stock config with the hog gate wired (UsePAM yes, the pam_listfile line, the Banner
 * drop-in; bind-mounted in a private mount namespace, test/harness/sshd.ts; its PidFile is
 * [hog] sshd_pid_file), real unix users with real keys, and a real calendar (a local vdir, or
 * Radicale for the "calendar down" case):
 *  - a hog claim active now → after one poll only the holder, root and the allowed user get in;
 *    the others see the hog message; `hosthog hog --dry-run` lists who is let in;
 *    at the claim's end everyone gets in and the allow file is gone;
 *  - kill -9 of the bridge during a hog and a restart: the hog holds; `hosthog unhog --force`
 *    opens the gate; after the end everyone gets in;
 *  - the gate hidden from sshd: `hosthog claim --hog` exits 6 with one line, status --json says
 *    "enforced": false and why, the motd warns, doctor fails naming it;
 *  - `root hog: …` from the calendar is not enforced and doctor names it;
 *  - calendar server stopped: no NEW hog starts from a stale cache; a running one ends on time;
 *  - quiet host, with a real systemd (test/harness/systemd.ts): the configured active units stop
 *    with the hog and start again at its end, also across kill -9 and `unhog --force`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  startHogLab,
  makeGateRoot,
  LAB_USERS,
  type HogLab,
  type TestSshd,
  type UserKey,
} from './harness/sshd.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { writeTestConfig, vevent, type TestConfig } from './harness/config.js';
import { startCli, runCli as runCliAt, waitFor, REPO } from './harness/cli.js';
import { startRadicale } from './harness/servers.js';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { startSystemd } from './harness/systemd.js';
import { QUIET_FILE, readQuietState } from '../src/host/hog/quiet-host.js';

// cwd = the repo: `node --import tsx` (the uncompiled CLI) resolves tsx from the working dir.
const runCli = (args: string[], opts: Parameters<typeof runCliAt>[1] = {}) =>
  runCliAt(args, { cwd: REPO, ...opts });

let sshd: TestSshd | undefined;
let users: Record<string, TestUser> = {};
const keys: Record<string, UserKey> = {};
let tmp = '';
const ALL = LAB_USERS;

let lab: HogLab | undefined;

let gateDir = '';
let pamRoot = '';

before(async () => {
  gateDir = mkdtempSync('/run/hosthog-gate-');
  chmodSync(gateDir, 0o755);
  pamRoot = await makeGateRoot(gateDir);
  lab = await startHogLab('/tmp/hosthog-hog-e2e-', ensureTestUsers, { pamRoot });
  ({ sshd, users, tmp } = lab);
  Object.assign(keys, lab.keys);
});

after(async () => {
  await lab?.close();
  for (const d of [gateDir, pamRoot]) if (d) rmSync(d, { recursive: true, force: true });
});

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The gate is closed: the bridge wrote the allow list (sshd's PAM account phase reads it). */
const gateOn = () => existsSync(join(gateDir, 'allow'));
const allowList = () => read(join(gateDir, 'allow'));
/** bob's key login with the client's default LogLevel: sshd's Banner is printed. */
const bobTries = () =>
  sshd!.ssh('hh-bob', ['-i', keys['hh-bob'].keyFile, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes']);
async function loginOk(user: string): Promise<boolean> {
  const r = await sshd!.login(user, keys[user].keyFile);
  return r.code === 0 && r.stdout.trim() === 'ok';
}
async function assertLogins(expect: Record<string, boolean>, bridge?: { output(): string }): Promise<void> {
  for (const [u, ok] of Object.entries(expect)) {
    assert.equal(
      await loginOk(u),
      ok,
      `${u} should ${ok ? '' : 'NOT '}log in; allow: ${allowList()}\n` +
        `bridge: ${bridge?.output().slice(-1500) ?? ''}`,
    );
  }
}
const everyoneIn = Object.fromEntries(ALL.map((u) => [u, true]));
const hogHolds = { root: true, 'hh-alice': true, 'hh-carol': true, 'hh-bob': false, 'hh-dave': false };
const LET_IN = 'hh-alice\nhh-carol\nroot\n';

/** The [hog] table: mount in the test sshd's namespace, read ITS AuthorizedKeysFile. */
function hogToml(maxCacheAge = '1m'): string {
  const pidFile = join(sshd!.dir, 'sshd.pid');
  return (
    `\n[hog]\nsshd_pid_file = "${pidFile}"\ngate_dir = "${gateDir}"\n` +
    `max_cache_age = "${maxCacheAge}"\nlockout = "message"\n`
  );
}

/** "hh-alice hog: benchmarks", hh-carol allowed (hosthog's X- properties, as the CLI writes them). */
function hogEvent(uid: string, start: Date, end: Date): string {
  return vevent(
    uid,
    'hh-alice hog: benchmarks',
    start,
    end,
    'X-HOSTHOG-KIND:claim\r\nX-HOSTHOG-USER:hh-alice\r\nX-HOSTHOG-ALLOW:hh-carol',
  );
}
/** Whole seconds (the iCalendar text has no milliseconds). */
const at = (msFromNow: number) => new Date(Math.floor((Date.now() + msFromNow) / 1000) * 1000);

function startBridge(
  cfg: TestConfig,
  t: { after(fn: () => unknown): void },
): ChildProcess & { output: () => string } {
  const b = startCli(['bridge'], { cwd: REPO, env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' } });
  t.after(() => {
    if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
  });
  return b;
}
async function kill9(b: ChildProcess): Promise<void> {
  if (b.exitCode !== null || b.signalCode !== null) return;
  const done = new Promise((r) => b.once('exit', r));
  b.kill('SIGKILL');
  await done;
}
async function stopBridge(b: ChildProcess & { output: () => string }): Promise<void> {
  const done = new Promise<number | null>((r) => b.once('exit', (c) => r(c)));
  b.kill('SIGTERM');
  assert.equal(await done, 0, b.output().slice(-2000));
}
/** waitFor, and on a timeout say what the bridge logged. */
async function until<T>(
  b: { output(): string },
  fn: () => T | Promise<T>,
  what: string,
  ms = 20_000,
  every = 100,
): Promise<T> {
  try {
    return await waitFor(fn, what, ms, every);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nbridge output:\n${b.output().slice(-3000)}`);
  }
}
/** Whatever happens, no test leaves the gate closed. */
function forceCleanup(cfg: TestConfig, t: { after(fn: () => unknown): void }): void {
  t.after(async () => {
    if (gateOn()) await runCli(['unhog', '--force'], { env: { HOSTHOG_CONFIG: cfg.path } });
  });
}

test("sshd writes its PidFile (the bridge finds sshd's mount namespace through it)", () => {
  assert.equal(Number(readFileSync(join(sshd!.dir, 'sshd.pid'), 'utf8').trim()), sshd!.sshdPid);
  assert.notEqual(
    readlinkSync(`/proc/${sshd!.sshdPid}/ns/mnt`),
    readlinkSync('/proc/self/ns/mnt'),
    'sshd runs in a private mount namespace',
  );
});

const hogLocksOut =
  'real bridge, vdir calendar: a hog claim locks out all but holder, allowed and root; ' +
  'dry-run says who is let in; it ends on time';
test(hogLocksOut, async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const bridge = startBridge(cfg, t);
  await until(bridge, () => read(cfg.motd).includes('test-box'), 'first motd');
  await assertLogins(everyoneIn);
  assert.equal(gateOn(), false);

  const start = at(-60_000);
  const end = at(30_000);
  writeFileSync(join(vdir, 'hog-1.ics'), hogEvent('hog-1', start, end));
  const t0 = Date.now();
  await until(bridge, () => gateOn(), 'hog gate after one poll', 15_000);
  assert.ok(Date.now() - t0 < 5_000 + 4_000, 'within one poll (5 s) plus slack');
  assert.equal(allowList(), LET_IN);
  await assertLogins(hogHolds, bridge);
  const r = await bobTries();
  assert.match(r.stderr, /test-box is hogged by hh-alice until (?:[A-Z][a-z]{2} )?\d\d:\d\d \(benchmarks\)/);
  assert.notEqual(r.code, 0);
  const st = await runCli(['status', '--json'], { env });
  assert.equal((JSON.parse(st.stdout) as { enforced?: boolean }).enforced, true, st.stdout);

  // hosthog hog --dry-run (as the holder, through the bridge socket): who is let in.
  const dry = await runCli(['hog', '--dry-run', '--json'], {
    env,
    uid: users['hh-alice'].uid,
    gid: users['hh-alice'].gid,
  });
  assert.equal(dry.code, 0, dry.stderr);
  const j = JSON.parse(dry.stdout) as { letIn: string[]; enforceable: boolean };
  assert.deepEqual(j.letIn, ['hh-alice', 'hh-carol', 'root']);
  assert.equal(j.enforceable, true);

  // The claim ends: everyone gets in again, at the end (not a poll later).
  await until(bridge, () => !gateOn(), 'hog end', end.getTime() - Date.now() + 15_000, 200);
  assert.ok(
    Date.now() - end.getTime() < 3_000,
    `ended ${Date.now() - end.getTime()} ms after the claim's end`,
  );
  await assertLogins(everyoneIn, bridge);
  assert.equal(read(join(gateDir, 'banner')), '', 'no banner outside a hog');
  assert.match(bridge.output(), /hog holds/);
  assert.match(bridge.output(), /hog ended/);
  await stopBridge(bridge);
});

const killDuringHog =
  'real bridge: kill -9 during a hog, restart: the hog holds; unhog --force opens the gate; ' +
  'after the end all get in';
test(killDuringHog, async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const end = at(75_000);
  writeFileSync(join(vdir, 'hog-2.ics'), hogEvent('hog-2', at(-60_000), end));
  let bridge = startBridge(cfg, t);
  await until(bridge, () => gateOn(), 'hog gate', 15_000);
  await assertLogins(hogHolds, bridge);

  // 1. kill -9: the gate's files stay (sshd still refuses bob); a restarted bridge keeps them.
  await kill9(bridge);
  assert.equal(allowList(), LET_IN);
  assert.equal(await loginOk('hh-bob'), false);
  bridge = startBridge(cfg, t);
  await until(bridge, () => /hosthog bridge started/.test(bridge.output()), 'bridge restarted', 20_000);
  await sleep(6_000); // a poll later it still holds
  assert.equal(allowList(), LET_IN);
  await assertLogins(hogHolds, bridge);

  // 2. kill -9 again; root opens the gate by hand.
  await kill9(bridge);
  const force = await runCli(['unhog', '--force', '--json'], { env });
  assert.equal(force.code, 0, force.stderr);
  assert.equal(gateOn(), false);
  await assertLogins(everyoneIn);
  // A non-root user may not.
  const notRoot = await runCli(['unhog', '--force'], {
    env,
    uid: users['hh-bob'].uid,
    gid: users['hh-bob'].gid,
  });
  assert.notEqual(notRoot.code, 0);
  assert.match(notRoot.stderr, /root/);

  // 3. The calendar still says it holds: a restarted bridge closes the gate on its first refresh.
  bridge = startBridge(cfg, t);
  await until(bridge, () => gateOn(), 'hog put back', 15_000);
  await assertLogins(hogHolds, bridge);

  // 4. After its end everyone gets in.
  await until(bridge, () => !gateOn(), 'hog end', end.getTime() - Date.now() + 15_000, 200);
  assert.ok(
    Date.now() - end.getTime() < 3_000,
    `ended ${Date.now() - end.getTime()} ms after the claim's end`,
  );
  await assertLogins(everyoneIn, bridge);
  await stopBridge(bridge);
});

const radicaleStopped =
  'real bridge, Radicale stopped: a running hog ends on time; no new hog starts from a stale cache';
test(radicaleStopped, async (t) => {
  const srv = await startRadicale();
  t.after(() => srv.destroy());
  const cfg = writeTestConfig({
    calendarUrl: srv.calendarUrl,
    username: srv.username,
    password: srv.password,
    bridge: hogToml('10s'),
  });
  forceCleanup(cfg, t);
  const auth = 'Basic ' + Buffer.from(`${srv.username}:${srv.password}`).toString('base64');
  const put = async (uid: string, body: string) => {
    const r = await fetch(srv.calendarUrl + `${uid}.ics`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/calendar', 'if-none-match': '*' },
      body,
    });
    assert.equal(r.status, 201);
  };
  const end1 = at(25_000);
  const start2 = at(45_000);
  const end2 = at(80_000);
  await put('hog-3', hogEvent('hog-3', at(-60_000), end1));
  await put('hog-4', hogEvent('hog-4', start2, end2));
  const bridge = startBridge(cfg, t);
  await until(bridge, () => gateOn(), 'hog from a fresh cache', 15_000);
  await assertLogins(hogHolds, bridge);

  // The calendar server goes away: the running hog ends on time anyway (from the cache).
  await srv.stop();
  await until(
    bridge,
    () => !gateOn(),
    'hog end without the server',
    end1.getTime() - Date.now() + 15_000,
    200,
  );
  assert.ok(
    Date.now() - end1.getTime() < 3_000,
    `ended ${Date.now() - end1.getTime()} ms after the claim's end`,
  );
  await assertLogins(everyoneIn, bridge);

  // The next hog's start comes; the cache is older than max_cache_age (10 s): it does not start.
  await sleep(Math.max(0, start2.getTime() - Date.now()) + 7_000);
  assert.ok(Date.now() < end2.getTime());
  assert.equal(gateOn(), false, 'no new hog from a stale cache');
  await assertLogins(everyoneIn, bridge);
  assert.match(bridge.output(), /hog not started/);
  assert.match(bridge.output(), /not starting a hog/);
  await stopBridge(bridge);
  assert.equal(gateOn(), false);
});

const hogOnAfterGateCheck =
  'real bridge: `hosthog claim --hog --allow` says "hog on" only after checking the gate; ' +
  '`hosthog release` lets everyone in';
test(hogOnAfterGateCheck, async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const alice = { env, uid: users['hh-alice'].uid, gid: users['hh-alice'].gid };
  const bridge = startBridge(cfg, t);
  await until(bridge, () => existsSync(cfg.socket) && read(cfg.motd).includes('test-box'), 'bridge up');
  const c = await runCli(['claim', '--hog', '--allow', 'hh-carol', '--for', '1h', '-m', 'benchmarks'], alice);
  assert.equal(c.code, 0, c.stderr + c.stdout);
  assert.match(
    c.stdout,
    new RegExp(`checked: sshd \\(pid ${sshd!.sshdPid}\\) lets in only hh-alice, hh-carol, root`),
  );
  assert.ok(gateOn(), 'the gate is closed when the command returns');
  await assertLogins(hogHolds, bridge);
  const r = await bobTries();
  assert.match(r.stderr, /test-box is hogged by hh-alice until (?:[A-Z][a-z]{2} )?\d\d:\d\d \(benchmarks\)/);
  // sshd restarted mid-hog: the lock holds, and the bridge's next apply finds and checks the new sshd.
  const oldPid = sshd!.sshdPid;
  await sshd!.restart();
  assert.notEqual(sshd!.sshdPid, oldPid);
  await assertLogins(hogHolds, bridge);
  const gateJson = () =>
    JSON.parse(read(join(cfg.stateDir, 'hog-gate.json')) || '{}') as { sshdPid?: number; enforced?: boolean };
  await until(
    bridge,
    () => gateJson().sshdPid === sshd!.sshdPid && gateJson().enforced === true,
    'the bridge checked the new sshd',
    15_000,
  );
  // Longer than [hog] max_length (1 day): refused for a non-admin.
  const long = await runCli(['claim', '--hog', '--at', 'tomorrow 9:00', '--for', '30h', '-m', 'x'], alice);
  assert.equal(long.code, 77, long.stderr);
  assert.match(long.stderr, /^hosthog: a hog longer than 24 h needs an admin/);
  const rel = await runCli(['release'], alice);
  assert.equal(rel.code, 0, rel.stderr + rel.stdout);
  await until(bridge, () => !gateOn(), 'hog gone after release', 10_000);
  await assertLogins(everyoneIn, bridge);
  await stopBridge(bridge);
});

const gateHiddenExits6 =
  'real bridge: the gate hidden from sshd → `hosthog claim --hog` exits 6 with the reason; ' +
  'status, motd and doctor say it is NOT enforced';
test(gateHiddenExits6, async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const alice = { env, uid: users['hh-alice'].uid, gid: users['hh-alice'].gid };
  // sshd's namespace gets its own (empty) gate directory: the bridge's files never reach sshd.
  execFileSync('nsenter', [
    `--mount=/proc/${sshd!.anchorPid}/ns/mnt`,
    '--',
    'mount',
    '-t',
    'tmpfs',
    'none',
    gateDir,
  ]);
  t.after(() => {
    try {
      execFileSync('nsenter', [`--mount=/proc/${sshd!.anchorPid}/ns/mnt`, '--', 'umount', gateDir]);
    } catch {
      /* gone */
    }
  });
  const bridge = startBridge(cfg, t);
  await until(bridge, () => existsSync(cfg.socket) && read(cfg.motd).includes('test-box'), 'bridge up');
  // `hosthog hog` on an exclusive claim, and `claim --hog`: both exit 6 with one line.
  const ex = await runCli(['claim', '--exclusive', '--for', '1h', '-m', 'benchmarks'], alice);
  assert.equal(ex.code, 0, ex.stderr);
  const h = await runCli(['hog'], alice);
  assert.equal(h.code, 6, h.stdout + h.stderr);
  assert.match(
    h.stderr,
    /^hosthog: hog booked but NOT enforced: sshd does not see the allow file .*\(see hosthog doctor\)\n$/,
  );
  assert.equal((await runCli(['release'], alice)).code, 0);
  const c = await runCli(['claim', '--hog', '--for', '1h', '-m', 'benchmarks'], alice);
  assert.equal(c.code, 6, c.stdout + c.stderr);
  assert.equal(c.stderr.trim().split('\n').length, 1, c.stderr);
  assert.match(c.stderr, /^hosthog: hog booked but NOT enforced: sshd does not see the allow file/);
  assert.equal(await loginOk('hh-bob'), true, 'indeed bob still gets in');
  const st = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as {
    enforced?: boolean;
    why?: string;
  };
  assert.equal(st.enforced, false);
  assert.match(st.why ?? '', /sshd does not see the allow file/);
  const text = await runCli(['status'], { env });
  assert.match(text.stdout, /the hog is NOT enforced/);
  await until(bridge, () => /hog is NOT enforced/.test(read(cfg.motd)), 'motd warning');
  const doc = await runCli(['doctor'], { env });
  assert.equal(doc.code, 1);
  assert.match(doc.stdout, /FAIL {2}hog by hh-alice is NOT enforced: sshd does not see the allow file/);
  assert.match(bridge.output(), /hog NOT enforced/);
  assert.equal((await runCli(['release'], alice)).code, 0);
  await stopBridge(bridge);
});

const backDatedCreated =
  'real bridge: a back-dated CREATED does not win a conflict: the hog the bridge saw first is enforced';
test(backDatedCreated, async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const end = at(600_000);
  writeFileSync(
    join(vdir, 'bob.ics'),
    vevent('bob-hog', 'hh-bob hog: first', at(-60_000), end, 'X-HOSTHOG-KIND:claim\r\nX-HOSTHOG-USER:hh-bob'),
  );
  const bridge = startBridge(cfg, t);
  await until(bridge, () => gateOn() && allowList() === 'hh-bob\nroot\n', "bob's hog");
  // alice books later, claiming to have booked in 2001.
  writeFileSync(
    join(vdir, 'alice.ics'),
    vevent(
      'alice-hog',
      'hh-alice hog: forged',
      at(-60_000),
      end,
      'CREATED:20010101T000000Z\r\nX-HOSTHOG-KIND:claim\r\nX-HOSTHOG-USER:hh-alice',
    ),
  );
  await until(
    bridge,
    async () => /alice-hog/.test(read(join(cfg.stateDir, 'first-seen.json'))),
    "alice's event seen",
    15_000,
  );
  await sleep(1_000);
  assert.equal(allowList(), 'hh-bob\nroot\n', "bob's hog still holds");
  await assertLogins({ 'hh-bob': true, 'hh-alice': false, root: true }, bridge);
  const st = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as {
    conflicts: { claim: { user: string }; by: { user: string } }[];
  };
  assert.deepEqual(
    st.conflicts.map((x) => [x.claim.user, x.by.user]),
    [['hh-alice', 'hh-bob']],
    "alice's claim is overruled by bob's",
  );
  await stopBridge(bridge);
});

const endSessions =
  "real bridge, [hog] end_sessions = true: bob's open ssh session ends when alice's hog " +
  "starts; carol's (allowed) stays";
test(endSessions, async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() + 'end_sessions = true\n' });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const bridge = startBridge(cfg, t);
  await until(bridge, () => existsSync(cfg.socket) && read(cfg.motd).includes('test-box'), 'bridge up');
  const open = (u: string) => {
    const p = spawn(
      'ssh',
      [
        '-i',
        keys[u].keyFile,
        '-p',
        String(sshd!.port),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'LogLevel=ERROR',
        `${u}@127.0.0.1`,
        'sleep',
        '120',
      ],
      { stdio: 'ignore' },
    );
    t.after(() => p.kill('SIGKILL'));
    return p;
  };
  const bob = open('hh-bob');
  const carol = open('hh-carol');
  const ps = () => execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' });
  await until(
    bridge,
    () => /sshd: hh-bob \[priv\]/.test(ps()) && /sshd: hh-carol \[priv\]/.test(ps()),
    'both sessions open',
  );
  const c = await runCli(['claim', '--hog', '--allow', 'hh-carol', '--for', '1h', '-m', 'x'], {
    env,
    uid: users['hh-alice'].uid,
    gid: users['hh-alice'].gid,
  });
  assert.equal(c.code, 0, c.stderr);
  await until(bridge, () => bob.exitCode !== null || bob.signalCode !== null, "bob's session ended", 10_000);
  assert.equal(carol.exitCode, null, 'carol (allowed) keeps her session');
  assert.match(bridge.output(), /"user":"hh-bob".*session ended/);
  await stopBridge(bridge);
});

test('real bridge: `root hog: …` from the calendar is not enforced, and doctor names it', async (t) => {
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg = writeTestConfig({ vdir, bridge: hogToml() });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  writeFileSync(
    join(vdir, 'root-hog.ics'),
    vevent('root-hog', 'root hog: maintenance', at(-60_000), at(600_000)),
  );
  const bridge = startBridge(cfg, t);
  await until(bridge, () => /hog in the calendar NOT enforced/.test(bridge.output()), 'refusal logged');
  assert.equal(gateOn(), false);
  await assertLogins(everyoneIn, bridge);
  const doc = await runCli(['doctor'], { env });
  assert.match(
    doc.stdout,
    new RegExp(
      /FAIL {2}hog in the calendar not enforced: /.source +
        /a hog in root's name \("root"\) is never enforced \(event root-hog\)/.source,
    ),
  );
  const st = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as {
    enforced?: boolean;
    why?: string;
  };
  assert.equal(st.enforced, false);
  assert.match(st.why ?? '', /root's name/);
  await stopBridge(bridge);
});

const quietHostAcrossKill =
  'real bridge + real systemd: quiet host stops the active configured units for the hog and ' +
  'starts them again, across kill -9 and unhog --force';
test(quietHostAcrossKill, async (t) => {
  const sleeper = (d: string) => `[Unit]\nDescription=${d}\n[Service]\nExecStart=/bin/sleep infinity\n`;
  const sd = await startSystemd({
    'hh-render.service': sleeper('remote desktop'),
    'hh-idle.service': sleeper('installed, not running'),
    'hh-nightly.timer': '[Unit]\nDescription=nightly\n[Timer]\nOnCalendar=*-*-* 03:00:00\n',
    'hh-nightly.service': '[Service]\nType=oneshot\nExecStart=/bin/true\n',
  });
  t.after(() => sd.stop());
  assert.equal((await sd.ctl('start', 'hh-render.service', 'hh-nightly.timer')).code, 0);
  const units = async () => ({
    render: await sd.isActive('hh-render.service'),
    nightly: await sd.isActive('hh-nightly.timer'),
    idle: await sd.isActive('hh-idle.service'),
  });
  const quiet = { render: false, nightly: false, idle: false };
  const normal = { render: true, nightly: true, idle: false };

  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const quietToml =
    'quiet_units = ["hh-render.service", "hh-idle.service", "hh-*.timer"]\n' +
    `systemctl = ${JSON.stringify(sd.systemctl)}\n`;
  const cfg = writeTestConfig({ vdir, bridge: hogToml() + quietToml });
  forceCleanup(cfg, t);
  const env = { HOSTHOG_CONFIG: cfg.path };
  const end = at(60_000);
  // 0. alice's exclusive claim, not yet a hog: `hosthog hog --dry-run` says what a hog would stop.
  writeFileSync(join(vdir, 'hog-q.ics'), vevent('hog-q', 'hh-alice exclusive: benchmarks', at(-60_000), end));
  let bridge = startBridge(cfg, t);
  await until(bridge, () => read(cfg.motd).includes('hh-alice'), 'claim in the motd');
  const alice = { uid: users['hh-alice'].uid, gid: users['hh-alice'].gid };
  const dry = await runCli(['hog', '--dry-run', '--json'], { env, ...alice });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual((JSON.parse(dry.stdout) as { units: unknown }).units, {
    stop: ['hh-nightly.timer', 'hh-render.service'],
    refused: [],
  });
  const dryText = await runCli(['hog', '--dry-run'], { env, ...alice });
  assert.match(dryText.stdout, /^ {2}stop\thh-render\.service$/m);
  assert.deepEqual(await units(), normal, 'dry-run stopped nothing');

  // 1. It becomes a hog (as if edited in the web app): the gate AND quiet units at the next poll;
  //    the record on disk names what was stopped.
  writeFileSync(join(vdir, 'hog-q.ics'), hogEvent('hog-q', at(-60_000), end));
  await until(bridge, () => gateOn(), 'hog gate', 15_000);
  await until(
    bridge,
    async () => JSON.stringify(await units()) === JSON.stringify(quiet),
    'units stopped',
    10_000,
  );
  assert.deepEqual(
    readQuietState(cfg.stateDir)!
      .units.map((u) => u.unit)
      .sort(),
    ['hh-nightly.timer', 'hh-render.service'],
  );
  assert.match(bridge.output(), /quiet host: units stopped for the hog/);

  // 2. kill -9: the units stay down (the hog still holds); root's unhog --force brings them back.
  await kill9(bridge);
  assert.deepEqual(await units(), quiet);
  const force = await runCli(['unhog', '--force', '--json'], { env });
  assert.equal(force.code, 0, force.stderr);
  assert.deepEqual((JSON.parse(force.stdout) as { started: string[] }).started, [
    'hh-render.service',
    'hh-nightly.timer',
  ]);
  assert.deepEqual(await units(), normal);
  assert.equal(gateOn(), false);
  assert.equal(existsSync(join(cfg.stateDir, QUIET_FILE)), false);

  // 3. The calendar still says it holds: a restarted bridge quiets the host again ...
  bridge = startBridge(cfg, t);
  await until(
    bridge,
    async () => gateOn() && JSON.stringify(await units()) === JSON.stringify(quiet),
    'hog and quiet back',
    15_000,
  );

  // 4. ... and at the claim's end gives everything back (idle stays idle).
  await until(
    bridge,
    async () => !gateOn() && JSON.stringify(await units()) === JSON.stringify(normal),
    'hog end restores the units',
    end.getTime() - Date.now() + 15_000,
    250,
  );
  assert.ok(
    Date.now() - end.getTime() < 4_000,
    `restored ${Date.now() - end.getTime()} ms after the claim's end`,
  );
  assert.equal(existsSync(join(cfg.stateDir, QUIET_FILE)), false);
  assert.match(bridge.output(), /quiet host: units started again/);
  await stopBridge(bridge);
});
