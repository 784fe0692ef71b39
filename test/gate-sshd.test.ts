/**
 * The hog gate against a REAL sshd: Debian's stock /etc/ssh/sshd_config (UsePAM yes,
 * PasswordAuthentication yes by default) and /etc/pam.d/sshd, copied to a temp root, wired by
 * `hosthog gate setup --root`, and bind-mounted over /etc/… INSIDE a private mount namespace only
 * (test/harness/sshd.ts). The gate's files are written and verified by the same functions the
 * bridge uses (gateAllowText/gateBannerText → writeGate → verifyGate). Real users, real ssh client.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  rmSync,
  writeFileSync,
  readFileSync,
  mkdirSync,
  copyFileSync,
  chmodSync,
  chownSync,
  symlinkSync,
  unlinkSync,
  existsSync,
  renameSync,
} from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startHogLab, LAB_USERS, type HogLab, type TestSshd } from './harness/sshd.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { writeTestConfig, type TestConfig } from './harness/config.js';
import { runCli } from './harness/cli.js';
import { gateAllowText, gateBannerText } from '../src/core/hog-plan.js';
import { pamLine } from '../src/core/gate-text.js';
import type { Claim } from '../src/core/types.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import { findSshd, verifyGate, writeGate } from '../src/host/hog/gate.js';

let lab: HogLab | undefined;
let sshd: TestSshd;
let users: Record<string, TestUser> = {};
let gateDir = '';
let pamRoot = '';
let cfgFile: TestConfig | undefined;
let askpass = '';
const PASSWORD = 'gate-test-Pw-7';
const hostEtc = () =>
  createHash('sha256')
    .update(readFileSync('/etc/pam.d/sshd'))
    .update(readFileSync('/etc/ssh/sshd_config'))
    .digest('hex');
let etcBefore = '';

function config(): Config {
  const r = validateConfig(
    {
      host: 'test-box',
      timezone: 'UTC',
      hog: { gate_dir: gateDir, sshd_pid_file: join(sshd.dir, 'sshd.pid') },
    },
    { hostname: 'x', timezone: 'UTC' },
    'test',
  );
  return r.config!;
}
function hog(p: Partial<Claim> = {}): Claim {
  const now = Date.now();
  return {
    kind: 'claim',
    uid: 'hog-1',
    recurring: false,
    start: new Date(now - 3_600_000),
    end: new Date(now + 3_600_000),
    allDay: false,
    title: 'hh-alice hog: benchmarks',
    user: 'hh-alice',
    mode: 'exclusive',
    hog: true,
    resources: [],
    note: 'benchmarks',
    allow: ['hh-carol'],
    ...p,
  };
}
/** Exactly what the bridge does for an active hog: write the files, verify them as sshd sees them. */
async function hogOn(): Promise<void> {
  const c = config();
  const want = { allow: gateAllowText(hog(), c), banner: gateBannerText(hog(), c) };
  writeGate(gateDir, want.allow, want.banner);
  const v = await verifyGate(c.hog.sshdPidFile, gateDir, want);
  assert.deepEqual(v.missing, []);
  assert.equal(v.sshd?.pid, sshd.sshdPid);
}
const hogOff = () => writeGate(gateDir, null, '');

const keyArgs = (user: string) => [
  '-i',
  lab!.keys[user].keyFile,
  '-o',
  'BatchMode=yes',
  '-o',
  'IdentitiesOnly=yes',
  '-o',
  'PreferredAuthentications=publickey',
];
async function byKey(user: string, command?: string[]) {
  return sshd.ssh(user, keyArgs(user), {}, command);
}
async function byPassword(user: string) {
  return sshd.ssh(
    user,
    [
      '-o',
      'PreferredAuthentications=password,keyboard-interactive',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'NumberOfPasswordPrompts=1',
    ],
    { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
  );
}
const ok = (r: { code: number | null; stdout: string }) => r.code === 0 && r.stdout.trim() === 'ok';
async function expectLogins(want: Record<string, boolean>): Promise<void> {
  for (const [u, yes] of Object.entries(want)) {
    const r = await byKey(u);
    assert.equal(
      ok(r),
      yes,
      `${u} by key should ${yes ? '' : 'NOT '}get in: ${r.stderr}\nsshd: ${sshd.stderr().slice(-800)}`,
    );
  }
}
const everyone = Object.fromEntries(LAB_USERS.map((u) => [u, true]));
const during = { root: true, 'hh-alice': true, 'hh-carol': true, 'hh-bob': false, 'hh-dave': false };

before(async () => {
  etcBefore = hostEtc();
  gateDir = mkdtempSync('/run/hosthog-gate-');
  chmodSync(gateDir, 0o755);
  pamRoot = mkdtempSync('/run/hosthog-pamroot-');
  chmodSync(pamRoot, 0o755);
  mkdirSync(join(pamRoot, 'etc/pam.d'), { recursive: true, mode: 0o755 });
  mkdirSync(join(pamRoot, 'etc/ssh/sshd_config.d'), { recursive: true, mode: 0o755 });
  copyFileSync('/etc/pam.d/sshd', join(pamRoot, 'etc/pam.d/sshd'));
  copyFileSync('/etc/ssh/sshd_config', join(pamRoot, 'etc/ssh/sshd_config'));
  cfgFile = writeTestConfig({ bridge: `\n[hog]\ngate_dir = "${gateDir}"\n` });
  const setup = await runCli(['gate', 'setup', '--root', pamRoot], { env: { HOSTHOG_CONFIG: cfgFile.path } });
  assert.equal(setup.code, 0, setup.stderr);
  hogOff();
  lab = await startHogLab('/tmp/hosthog-gate-', ensureTestUsers, { pamRoot });
  sshd = lab.sshd;
  users = lab.users;
  askpass = join(lab.tmp, 'askpass.sh');
  writeFileSync(askpass, `#!/bin/sh\necho '${PASSWORD}'\n`, { mode: 0o700 });
  execFileSync('/usr/sbin/chpasswd', { input: `hh-bob:${PASSWORD}\nhh-alice:${PASSWORD}\n` });
});

after(async () => {
  try {
    execFileSync('/usr/sbin/usermod', ['-p', '*', 'hh-bob']);
    execFileSync('/usr/sbin/usermod', ['-p', '*', 'hh-alice']);
  } catch {
    /* users gone */
  }
  await lab?.close();
  for (const d of [gateDir, pamRoot, cfgFile?.dir]) if (d) rmSync(d, { recursive: true, force: true });
  assert.equal(hostEtc(), etcBefore, "the host's own /etc/pam.d/sshd and sshd_config were never changed");
});

const gateSetupRoot =
  'gate setup --root: the PAM line before common-account, the Banner drop-in; idempotent; ' +
  'gate check passes; host /etc untouched';
test(gateSetupRoot, async () => {
  const pam = readFileSync(join(pamRoot, 'etc/pam.d/sshd'), 'utf8').split('\n');
  const at = pam.indexOf(pamLine(gateDir));
  assert.ok(at >= 0, pam.join('\n'));
  assert.ok(
    at < pam.findIndex((l) => /^@include common-account/.test(l)) &&
      at < pam.findIndex((l, i) => i !== at && /^account\s/.test(l)),
  );
  assert.equal(
    readFileSync(join(pamRoot, 'etc/ssh/sshd_config.d/hosthog.conf'), 'utf8').split('\n')[1],
    `Banner ${gateDir}/banner`,
  );
  const again = await runCli(['gate', 'setup', '--root', pamRoot], {
    env: { HOSTHOG_CONFIG: cfgFile!.path },
  });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /gate already wired/);
  assert.equal(
    readFileSync(join(pamRoot, 'etc/pam.d/sshd'), 'utf8').split(pamLine(gateDir)).length,
    2,
    'the line once',
  );
  const check = await runCli(['gate', 'check', '--root', pamRoot], {
    env: { HOSTHOG_CONFIG: cfgFile!.path },
  });
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const bare = mkdtempSync('/tmp/hosthog-bare-');
  mkdirSync(join(bare, 'etc/pam.d'), { recursive: true });
  copyFileSync('/etc/pam.d/sshd', join(bare, 'etc/pam.d/sshd'));
  const bad = await runCli(['gate', 'check', '--root', bare], { env: { HOSTHOG_CONFIG: cfgFile!.path } });
  rmSync(bare, { recursive: true, force: true });
  assert.equal(bad.code, 6, bad.stdout);
  assert.match(bad.stderr, /^hosthog: the hog gate is not wired: .*no "account required pam_listfile/);
  assert.equal(hostEtc(), etcBefore);
});

const stockSshdConfig =
  "the namespace's sshd runs the stock config: UsePAM yes, password and publickey offered; " +
  'verifyGate finds it';
test(stockSshdConfig, async () => {
  const v = await verifyGate(join(sshd.dir, 'sshd.pid'), gateDir, null);
  assert.deepEqual(v.missing, []);
  assert.ok(v.methods.includes('publickey') && v.methods.includes('password'), v.methods.join(','));
  assert.notEqual(
    readFileSync('/etc/pam.d/sshd', 'utf8'),
    readFileSync(`/proc/${sshd.sshdPid}/root/etc/pam.d/sshd`, 'utf8'),
    'sshd sees the wired PAM file, the host does not',
  );
});

const noHogEveryoneIn =
  'no hog: everyone gets in by key, bob also by password, and no banner is shown (empty file)';
test(noHogEveryoneIn, async () => {
  await expectLogins(everyone);
  const r = await byPassword('hh-bob');
  assert.ok(ok(r), r.stderr + sshd.stderr().slice(-600));
  assert.ok(!/hogged/.test(r.stderr));
});

const duringHogBobFails =
  'during a hog: bob fails by key and by password and sees the hog message; alice, allowed ' +
  'carol and root get in; after it all get in';
test(duringHogBobFails, async () => {
  await hogOn();
  await expectLogins(during);
  const key = await byKey('hh-bob');
  assert.notEqual(key.code, 0);
  assert.match(
    key.stderr,
    /test-box is hogged by hh-alice until (?:[A-Z][a-z]{2} )?\d\d:\d\d \(benchmarks\)/,
    "the real ssh client prints sshd's Banner",
  );
  const pw = await byPassword('hh-bob');
  assert.notEqual(pw.code, 0, pw.stdout);
  assert.match(pw.stderr, /hogged by hh-alice/);
  assert.match(sshd.stderr(), /Access denied for user hh-bob by PAM account configuration/);
  const alicePw = await byPassword('hh-alice');
  assert.ok(ok(alicePw), alicePw.stderr);
  hogOff();
  await expectLogins(everyone);
  assert.ok(ok(await byPassword('hh-bob')));
});

const bashrcTrick =
  'the .bashrc trick: a command smuggled through ~/.bashrc never runs during a hog (no shell is started)';
test(bashrcTrick, async (t) => {
  const bob = users['hh-bob'];
  const rc = join(bob.home, '.bashrc');
  const saved = existsSync(rc) ? readFileSync(rc) : null;
  t.after(() => {
    if (saved) writeFileSync(rc, saved);
    else rmSync(rc, { force: true });
  });
  writeFileSync(
    rc,
    '[ -n "$SSH_ORIGINAL_COMMAND" ] && { eval "$SSH_ORIGINAL_COMMAND"; exit; }\n' +
      (saved ? saved.toString() : ''),
  );
  chownSync(rc, bob.uid, bob.gid);
  const marker = join(bob.home, 'bashrc-ran');
  rmSync(marker, { force: true });
  await hogOn();
  const r = await byKey('hh-bob', ['touch', marker]);
  assert.notEqual(r.code, 0);
  assert.equal(existsSync(marker), false, 'nothing ran as bob');
  hogOff();
  const after = await byKey('hh-bob', ['touch', marker]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(existsSync(marker), true, 'control: the same login runs it once the hog is over');
  rmSync(marker, { force: true });
});

const procRootKeyFile =
  "a key file linked through /proc/PID/root of bob's own process gives him nothing during a hog";
test(procRootKeyFile, async (t) => {
  const bob = users['hh-bob'];
  const ak = join(bob.home, '.ssh/authorized_keys');
  const hidden = join(bob.home, 'x');
  mkdirSync(hidden, { recursive: true, mode: 0o700 });
  chownSync(hidden, bob.uid, bob.gid);
  writeFileSync(join(hidden, 'keys'), lab!.keys['hh-bob'].pub, { mode: 0o600 });
  chownSync(join(hidden, 'keys'), bob.uid, bob.gid);
  const p = spawn('sleep', ['600'], { uid: bob.uid, gid: bob.gid, stdio: 'ignore' });
  t.after(() => {
    p.kill('SIGKILL');
    rmSync(hidden, { recursive: true, force: true });
  });
  renameSync(ak, ak + '.real');
  t.after(() => {
    rmSync(ak, { force: true });
    renameSync(ak + '.real', ak);
  });
  symlinkSync(`/proc/${p.pid}/root${hidden}/keys`, ak);
  execFileSync('chown', ['-h', `${bob.uid}:${bob.gid}`, ak]);
  await hogOn();
  const r = await byKey('hh-bob');
  assert.notEqual(r.code, 0, 'refused during the hog');
  hogOff();
  const control = await byKey('hh-bob');
  assert.ok(
    ok(control),
    `control: the /proc link itself works for sshd: ${control.stderr} ${sshd.stderr().slice(-600)}`,
  );
});

test('a key-file symlink swapped mid-hog (decoy → real keys) still does not let bob in', async (t) => {
  const bob = users['hh-bob'];
  const ak = join(bob.home, '.ssh/authorized_keys');
  const decoy = join(bob.home, '.ssh/decoy');
  const real = join(bob.home, '.ssh/real');
  writeFileSync(decoy, '', { mode: 0o600 });
  writeFileSync(real, lab!.keys['hh-bob'].pub, { mode: 0o600 });
  for (const f of [decoy, real]) chownSync(f, bob.uid, bob.gid);
  renameSync(ak, ak + '.real');
  t.after(() => {
    rmSync(ak, { force: true });
    renameSync(ak + '.real', ak);
    rmSync(decoy, { force: true });
    rmSync(real, { force: true });
  });
  symlinkSync('decoy', ak);
  await hogOn();
  assert.notEqual((await byKey('hh-bob')).code, 0);
  unlinkSync(ak);
  symlinkSync('real', ak); // retargeted during the hog
  assert.notEqual(
    (await byKey('hh-bob')).code,
    0,
    'the swapped link does not matter: the gate is not about key files',
  );
  hogOff();
  assert.ok(ok(await byKey('hh-bob')), 'control: the link to the real keys works once the hog is over');
});

test('sshd restarted mid-hog: the new sshd (a new pid) is found again and the lock still holds', async () => {
  await hogOn();
  const before = sshd.sshdPid;
  await sshd.restart();
  assert.notEqual(sshd.sshdPid, before);
  await hogOn(); // the next apply: verifyGate looks sshd up again (pid file) and checks it
  await expectLogins(during);
  hogOff();
  await expectLogins({ 'hh-bob': true });
});

const gateHiddenFromSshd =
  'the gate hidden from sshd (its namespace mounts over the gate dir): verifyGate says the ' +
  'hog is NOT enforced and why';
test(gateHiddenFromSshd, async (t) => {
  execFileSync('nsenter', [
    `--mount=/proc/${sshd.anchorPid}/ns/mnt`,
    '--',
    'mount',
    '-t',
    'tmpfs',
    'none',
    gateDir,
  ]);
  t.after(() => {
    try {
      execFileSync('nsenter', [`--mount=/proc/${sshd.anchorPid}/ns/mnt`, '--', 'umount', gateDir]);
    } catch {
      /* gone */
    }
  });
  const c = config();
  const want = { allow: gateAllowText(hog(), c), banner: gateBannerText(hog(), c) };
  writeGate(gateDir, want.allow, want.banner);
  const v = await verifyGate(c.hog.sshdPidFile, gateDir, want);
  assert.equal(v.enforced, false);
  assert.match(v.missing.join('; '), /sshd does not see the allow file/);
  assert.ok(ok(await byKey('hh-bob')), 'and indeed bob gets in: never report such a hog as on');
  hogOff();
  assert.ok(
    findSshd('/nonexistent/sshd.pid').some((s) => s.pid === sshd.sshdPid),
    'no pid file: the /proc scan finds the listening sshd',
  );
});
