/**
 * Issue 10's headline, against the REAL bridge with a real sshd in a private mount namespace
 * (test/harness/sshd.ts) and real users: hh-bob plants 30 tmux sockets under /tmp/tmux-UID/
 * that accept and never answer (case 3) and sends the never-occurring FREQ rule straight to
 * the socket (case 1), also writing it into the calendar; hh-alice's hog still ends within
 * 5 s of its end, the motd turns with the minute, and the bridge's log stays JSON (no
 * node-cron "task still running" lines).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chownSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { startHogLab, makeGateRoot, type HogLab } from './harness/sshd.js';
import { ensureTestUsers } from './harness/users.js';
import { writeTestConfig, vevent, type TestConfig } from './harness/config.js';
import { startCli, runCli, waitFor, REPO } from './harness/cli.js';
import { rawCall } from './harness/raw-client.js';

let lab: HogLab | undefined;
let gateDir = '';
let pamRoot = '';
before(async () => {
  gateDir = mkdtempSync('/run/hosthog-gate-');
  chmodSync(gateDir, 0o755);
  pamRoot = await makeGateRoot(gateDir);
  lab = await startHogLab('/tmp/hosthog-robust-hog-', ensureTestUsers, { pamRoot });
});
after(async () => {
  await lab?.close();
  for (const d of [gateDir, pamRoot]) if (d) rmSync(d, { recursive: true, force: true });
});

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The gate is closed: the bridge wrote the allow list (sshd's PAM account phase reads it). */
const gateOn = () => existsSync(join(gateDir, 'allow'));

function hogToml(): string {
  const pidFile = join(lab!.sshd.dir, 'sshd.pid');
  return (
    `\n[hog]\nsshd_pid_file = "${pidFile}"\ngate_dir = "${gateDir}"\n` +
    'max_cache_age = "1m"\nlockout = "message"\n'
  );
}

/** `n` sockets in hh-bob's tmux directory that accept a connection and never say a word. */
async function plantSilentTmux(uid: number, gid: number, n: number): Promise<() => void> {
  const dir = `/tmp/tmux-${uid}`;
  if (!existsSync(dir)) {
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, gid);
  }
  assert.equal(lstatSync(dir).uid, uid);
  const servers: Server[] = [];
  const held: Socket[] = [];
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const path = join(dir, `silent-${i}`);
    rmSync(path, { force: true });
    const s = createServer((c) => {
      held.push(c);
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => s.listen(path, r));
    chownSync(path, uid, gid);
    chmodSync(path, 0o700);
    servers.push(s);
    paths.push(path);
  }
  return () => {
    for (const c of held) c.destroy();
    for (const s of servers) s.close();
    for (const p of paths) rmSync(p, { force: true });
  };
}

const headline =
  'headline: 30 never-answering tmux sockets of hh-bob and the FREQ rule of case 1 sent to ' +
  'the socket: the hog still ends within 5 s of its end, the motd turns with the minute, ' +
  'the log stays JSON';
test(headline, async (t) => {
  const { users, tmp } = lab!;
  const vdir = mkdtempSync(join(tmp, 'vdir-'));
  const cfg: TestConfig = writeTestConfig({ vdir, bridge: hogToml() });
  const env = { HOSTHOG_CONFIG: cfg.path };
  t.after(async () => {
    if (gateOn()) await runCli(['unhog', '--force'], { env });
  });
  const bob = users['hh-bob'];
  const unplant = await plantSilentTmux(bob.uid, bob.gid, 30);
  t.after(unplant);

  const bridge = startCli(['bridge'], {
    cwd: REPO,
    env: { HOSTHOG_CONFIG: cfg.path, HOSTHOG_LOG_LEVEL: 'info' },
  });
  t.after(() => {
    if (bridge.exitCode === null && bridge.signalCode === null) bridge.kill('SIGKILL');
  });
  const until = async <T>(fn: () => T | Promise<T>, what: string, ms = 20_000) => {
    try {
      return await waitFor(fn, what, ms, 50);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nbridge output:\n${bridge.output().slice(-3000)}`);
    }
  };
  await until(() => read(cfg.motd).includes('test-box'), 'first motd');

  // The hog: hh-alice, ending on a whole minute at least 25 s from now.
  const end = new Date(Math.ceil((Date.now() + 25_000) / 60_000) * 60_000);
  const start = new Date(Math.floor((Date.now() - 60_000) / 1000) * 1000);
  writeFileSync(
    join(vdir, 'hog.ics'),
    vevent('hog', 'hh-alice hog: benchmarks', start, end, 'X-HOSTHOG-KIND:claim\r\nX-HOSTHOG-USER:hh-alice'),
  );
  await until(() => gateOn(), 'hog gate closed', 15_000);
  assert.equal(
    await lab!.sshd.login('hh-bob', lab!.keys['hh-bob'].keyFile).then((x) => x.code === 0),
    false,
    'hh-bob is kept out',
  );

  // The attack, while the hog holds: the FREQ rule straight to the socket, and in the calendar.
  const never = 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=2';
  const inTen = new Date(Math.ceil((Date.now() + 600_000) / 60_000) * 60_000);
  const r = await rawCall(cfg.socket, bob.uid, 'claim', {
    resources: [],
    mode: 'exclusive',
    hog: false,
    note: '',
    allow: [],
    start: inTen.toISOString(),
    end: new Date(inTen.getTime() + 1_800_000).toISOString(),
    rrule: never,
  });
  assert.equal(r.ok, false);
  writeFileSync(
    join(vdir, 'never.ics'),
    vevent('never', 'hh-bob exclusive', inTen, new Date(inTen.getTime() + 1_800_000), `RRULE:${never}`),
  );
  // A notice to everyone (tmux channel included: it probes hh-bob's silent sockets).
  writeFileSync(
    join(vdir, 'soon.ics'),
    vevent(
      'soon',
      'hh-carol gpu0: training',
      new Date(end.getTime() + 120_000),
      new Date(end.getTime() + 3_720_000),
    ),
  );

  assert.ok(Date.now() < end.getTime() - 2000, 'the hog is still on when the attack is in place');
  assert.equal(gateOn(), true);
  assert.match(read(cfg.motd), /hh-alice/);
  await sleep(Math.max(0, end.getTime() - Date.now()));
  await until(() => !gateOn(), 'hog ends', 30_000);
  const gateLateMs = Date.now() - end.getTime();
  await until(() => !/hh-alice/.test(read(cfg.motd)), 'the motd drops the ended hog', 30_000);
  const motdLateMs = Date.now() - end.getTime();
  t.diagnostic(`hog gate open ${gateLateMs} ms after the end; motd current ${motdLateMs} ms after`);
  assert.ok(gateLateMs <= 5000, `hog ended ${gateLateMs} ms late`);
  assert.ok(motdLateMs <= 5000, `motd turned ${motdLateMs} ms late`);
  assert.ok(
    await lab!.sshd.login('hh-bob', lab!.keys['hh-bob'].keyFile).then((x) => x.code === 0),
    'hh-bob logs in again',
  );
  assert.match(read(join(cfg.stateDir, 'snapshot.json')), /never.*too costly to expand|too costly to expand/);

  for (const line of bridge.output().split('\n').filter(Boolean))
    assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
  assert.doesNotMatch(bridge.output(), /task still running/);
  const done = new Promise((res) => bridge.once('exit', res));
  bridge.kill('SIGTERM');
  await done;
});
