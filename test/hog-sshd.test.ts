/**
 * Hog enforcement against a REAL sshd (in a private mount namespace, see test/harness/sshd.ts)
 * with REAL unix users (test/harness/users.ts) and real ssh key logins.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, lstatSync, symlinkSync, unlinkSync, renameSync, chownSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startHogLab, makeKey, installAuthorizedKeys, LAB_USERS, type HogLab, type TestSshd, type UserKey } from './harness/sshd.js';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { planCovers, hogMessage, type CoverPlan, type PathKind, type UserEntry } from '../src/core/hog-plan.js';
import type { Claim } from '../src/core/types.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import { authorizedKeysFiles } from '../src/host/hog/sshd-config.js';
import { listUsers } from '../src/host/rpc/users-db.js';
import { createHogEnforcer, parseMountInfo, isHosthogMount, type HogEnforcer } from '../src/host/hog/hog-mounts.js';
import { readHogState, STATE_FILE } from '../src/host/hog/hog-state.js';

let sshd: TestSshd | undefined;
let users: Record<string, TestUser> = {};
const keys: Record<string, UserKey> = {};
let tmp = '';
let akf: string[] = [];

function cfg(lockout: 'message' | 'empty' = 'message'): Config {
  const r = validateConfig({ host: 'test-box', timezone: 'UTC', hog: { lockout, break_glass: ['root'] } }, { hostname: 'x', timezone: 'UTC' }, 'test');
  return r.config!;
}

function hogClaim(p: Partial<Claim> = {}): Claim {
  const now = Date.now();
  return {
    kind: 'claim', uid: 'hog-1', recurring: false, start: new Date(now - 3_600_000), end: new Date(now + 3_600_000), allDay: false,
    title: 'benchmarks', user: 'hh-alice', mode: 'exclusive', hog: true, resources: [], note: '', allow: ['hh-carol'], ...p,
  };
}

function kind(p: string): PathKind {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  } catch { return 'missing'; }
}

/** Only root and the hh-* test users: real users of this machine are never part of a test plan. */
async function testUsers(extra: UserEntry[] = []): Promise<UserEntry[]> {
  const all = await listUsers({ include: ['root'] });
  return [...all.filter((u) => u.name === 'root' || u.name.startsWith('hh-')), ...extra];
}

async function plan(hog: Claim, config: Config, extra: UserEntry[] = []): Promise<CoverPlan> {
  return planCovers(hog, await testUsers(extra), akf, kind, config);
}

function hogMounts(text: string): string[] {
  return parseMountInfo(text).filter(isHosthogMount).map((e) => e.mountPoint).sort();
}

function enforcer(stateDir: string, overlayDir: string): HogEnforcer {
  return createHogEnforcer({ stateDir, overlayDir, nsPid: sshd!.anchorPid });
}

async function loginOk(user: string): Promise<boolean> {
  const r = await sshd!.login(user, keys[user].keyFile);
  return r.code === 0 && r.stdout.trim() === 'ok';
}

async function assertAllLogIn(names: string[]): Promise<void> {
  for (const n of names) assert.ok(await loginOk(n), `${n} should log in; sshd: ${sshd!.stderr().slice(-600)}`);
}

const ALL = LAB_USERS;

let lab: HogLab | undefined;

before(async () => {
  lab = await startHogLab('/tmp/hosthog-hog-', ensureTestUsers);
  ({ sshd, users, tmp } = lab);
  Object.assign(keys, lab.keys);
  akf = await authorizedKeysFiles('/usr/sbin/sshd', sshd.configFile);
});

after(async () => { await lab?.close(); });

test('sshd -T gives the AuthorizedKeysFile patterns of the running config', () => {
  assert.deepEqual(akf, ['.ssh/authorized_keys', '.ssh/authorized_keys2', `${sshd!.keysDir}/%u`]);
});

test('before a hog everyone logs in', async () => {
  await assertAllLogIn(ALL);
});

test('message mode: holder, allowed user and root get in; others see the hog message; release restores everyone', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  t.after(() => enf.release().catch(() => undefined));
  const hog = hogClaim();
  const config = cfg('message');
  const p = await plan(hog, config);
  assert.deepEqual(p.covers.map((c) => c.user).sort(), ['hh-bob', 'hh-dave']);
  assert.equal(enf.dryRun(p).length, 2);
  await enf.apply(p, hog);

  assert.deepEqual(hogMounts(sshd!.mountInfo()), ['/home/hh-bob/.ssh/authorized_keys', '/home/hh-dave/.ssh/authorized_keys']);
  assert.deepEqual(hogMounts(readFileSync('/proc/self/mountinfo', 'utf8')), [], 'nothing mounted in the host namespace');
  await assertAllLogIn(['root', 'hh-alice', 'hh-carol']);
  const msg = hogMessage(hog, config);
  assert.match(msg, /^test-box is hogged by hh-alice until \d\d:\d\d \(benchmarks\)$/);
  for (const u of ['hh-bob', 'hh-dave']) {
    const r = await sshd!.login(u, keys[u].keyFile);
    assert.equal(r.stdout.trim(), msg, `${u} sees the hog message`);
    assert.notEqual(r.code, 0);
  }
  // The user's own file is untouched underneath; the state file says what is mounted.
  const st = readHogState(join(dir, 'state'))!;
  assert.equal(st.hogUid, 'hog-1');
  assert.deepEqual(st.mounts.map((m) => [m.user, m.status]).sort(), [['hh-bob', 'active'], ['hh-dave', 'active']]);

  // Idempotent: a second apply adds nothing.
  await enf.apply(p, hog);
  assert.equal(hogMounts(sshd!.mountInfo()).length, 2);

  await enf.release();
  assert.deepEqual(hogMounts(sshd!.mountInfo()), []);
  await assertAllLogIn(ALL);
  assert.equal(readHogState(join(dir, 'state'))!.mounts.length, 0);
});

test('empty mode: others get Permission denied', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  t.after(() => enf.release().catch(() => undefined));
  const hog = hogClaim({ allow: [] });
  await enf.apply(await plan(hog, cfg('empty')), hog);
  const r = await sshd!.login('hh-bob', keys['hh-bob'].keyFile);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Permission denied/);
  assert.equal(r.stdout, '');
  assert.equal(await loginOk('hh-carol'), false, 'carol is not allowed this time');
  await assertAllLogIn(['root', 'hh-alice']);
  await enf.release();
  await assertAllLogIn(ALL);
});

test('allow list change: a newly allowed user is uncovered on the next apply', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  t.after(() => enf.release().catch(() => undefined));
  const hog = hogClaim({ allow: [] });
  await enf.apply(await plan(hog, cfg()), hog);
  assert.equal(await loginOk('hh-bob'), false);
  const hog2 = { ...hog, allow: ['hh-bob'] };
  await enf.apply(await plan(hog2, cfg()), hog2);
  assert.ok(await loginOk('hh-bob'));
  assert.equal(await loginOk('hh-dave'), false);
  assert.deepEqual(hogMounts(sshd!.mountInfo()), ['/home/hh-carol/.ssh/authorized_keys', '/home/hh-dave/.ssh/authorized_keys']);
  await enf.release();
});

test('crash: a new enforcer reconciles: removes stale mounts, keeps those of a still active hog, unhog --force without state', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const stateDir = join(dir, 'state');
  const overlayDir = join(dir, 'overlays');
  t.after(() => enforcer(stateDir, overlayDir).release().catch(() => undefined));
  const hog = hogClaim();
  const p = await plan(hog, cfg());

  // 1. Crash, hog over by the time we restart: everything comes off.
  await enforcer(stateDir, overlayDir).apply(p, hog); // the object is dropped without release
  assert.equal(hogMounts(sshd!.mountInfo()).length, 2);
  const r1 = await enforcer(stateDir, overlayDir).reconcile(null);
  assert.equal(r1.removed.length, 2);
  assert.deepEqual(hogMounts(sshd!.mountInfo()), []);
  await assertAllLogIn(ALL);

  // 2. Crash, hog still active: its mounts are kept and adopted; another hog's are not.
  await enforcer(stateDir, overlayDir).apply(p, hog);
  const e2 = enforcer(stateDir, overlayDir);
  const r2 = await e2.reconcile(hog);
  assert.deepEqual(r2.kept.sort(), ['/home/hh-bob/.ssh/authorized_keys', '/home/hh-dave/.ssh/authorized_keys']);
  assert.deepEqual(r2.removed, []);
  assert.equal(await loginOk('hh-bob'), false);
  assert.deepEqual(e2.active().sort(), r2.kept.sort());
  await e2.apply(p, hog); // adopted mounts are not mounted twice
  assert.equal(hogMounts(sshd!.mountInfo()).length, 2);
  const r3 = await enforcer(stateDir, overlayDir).reconcile(hogClaim({ uid: 'other-hog' }));
  assert.equal(r3.kept.length, 0);
  assert.deepEqual(hogMounts(sshd!.mountInfo()), []);

  // 3. Crash between "intended" and "active" + lost state file: mountinfo scan still finds them.
  await enforcer(stateDir, overlayDir).apply(p, hog);
  rmSync(join(stateDir, STATE_FILE));
  const e4 = enforcer(stateDir, overlayDir);
  await e4.release(); // hosthog unhog --force
  await e4.reconcile(null);
  assert.deepEqual(hogMounts(sshd!.mountInfo()), []);
  await assertAllLogIn(ALL);
});

test('edge cases: key files symlinked to /etc/shadow or to another user\'s file are not covered, missing home skipped, nothing else harmed', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const warnings: string[] = [];
  const enf = createHogEnforcer({ stateDir: join(dir, 'state'), overlayDir: join(dir, 'overlays'), nsPid: sshd!.anchorPid,
    log: { info() {}, warn(o: object, m?: string) { warnings.push(`${m} ${JSON.stringify(o)}`); } } });
  const bob = users['hh-bob'];
  const dave = users['hh-dave'];
  const daveKeys = join(dave.home, '.ssh', 'authorized_keys');
  const bobKeys2 = join(bob.home, '.ssh', 'authorized_keys2');
  const aliceKeys = join(users['hh-alice'].home, '.ssh', 'authorized_keys');
  const daveSaved = readFileSync(daveKeys);
  unlinkSync(daveKeys);
  symlinkSync('/etc/shadow', daveKeys);
  symlinkSync(aliceKeys, bobKeys2);
  t.after(async () => {
    await enf.release().catch(() => undefined);
    try { unlinkSync(bobKeys2); } catch { /* gone */ }
    try { unlinkSync(daveKeys); } catch { /* gone */ }
    writeFileSync(daveKeys, daveSaved, { mode: 0o600 });
    chownSync(daveKeys, dave.uid, dave.gid);
  });
  const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
  const shadowBefore = sha('/etc/shadow');
  const aliceBefore = sha(aliceKeys);

  const hog = hogClaim({ user: 'hh-carol', allow: ['hh-alice'] });
  const ghost: UserEntry = { name: 'hh-ghost', uid: 64999, home: '/home/hh-ghost-does-not-exist' };
  const p = await plan(hog, cfg(), [ghost]);
  // The links are planned (sshd follows them), the enforcer refuses where they land.
  assert.deepEqual(p.covers.map((c) => `${c.file}${c.viaLink ? ' via-link' : ''}`), [
    '/home/hh-bob/.ssh/authorized_keys', '/home/hh-bob/.ssh/authorized_keys2 via-link', '/home/hh-dave/.ssh/authorized_keys via-link']);
  const why = p.skipped.map((s) => `${s.user}: ${s.why}`);
  assert.ok(why.includes('hh-ghost: home is missing'), why.join('\n'));
  await enf.apply(p, hog);
  assert.ok(warnings.some((w) => w.includes('not covered') && w.includes(bobKeys2) && w.includes(`owned by uid ${users['hh-alice'].uid}`)), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes('not covered') && w.includes(daveKeys) && w.includes('owned by uid 0')), warnings.join('\n'));
  assert.equal(readHogState(join(dir, 'state'))!.mounts.length, 1);

  assert.deepEqual(hogMounts(sshd!.mountInfo()), ['/home/hh-bob/.ssh/authorized_keys']);
  assert.equal(sha('/etc/shadow'), shadowBefore);
  assert.equal(sha(aliceKeys), aliceBefore);
  assert.ok(!parseMountInfo(sshd!.mountInfo()).some((e) => ['/etc/shadow', aliceKeys].includes(e.mountPoint)));
  assert.ok(await loginOk('hh-alice'), 'alice (allowed) still gets in through her own, uncovered file');
  assert.equal(await loginOk('hh-bob'), false);
  await enf.release();
  assert.deepEqual(hogMounts(sshd!.mountInfo()), []);
});

test('race: a key dir swapped for a symlink to another user after planning is not covered', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const warnings: string[] = [];
  const enf = createHogEnforcer({ stateDir: join(dir, 'state'), overlayDir: join(dir, 'overlays'), nsPid: sshd!.anchorPid,
    log: { info() {}, warn(o: object, m?: string) { warnings.push(`${m} ${JSON.stringify(o)}`); } } });
  const bobSsh = join(users['hh-bob'].home, '.ssh');
  const aliceKeys = join(users['hh-alice'].home, '.ssh', 'authorized_keys');
  const hog = hogClaim({ user: 'hh-carol', allow: ['hh-alice'] });
  const p = await plan(hog, cfg());
  assert.ok(p.covers.some((c) => c.file === join(bobSsh, 'authorized_keys')));
  renameSync(bobSsh, bobSsh + '.moved');
  symlinkSync(join(users['hh-alice'].home, '.ssh'), bobSsh); // bob now points his .ssh at alice's
  t.after(async () => {
    await enf.release().catch(() => undefined);
    try { unlinkSync(bobSsh); } catch { /* gone */ }
    if (existsSync(bobSsh + '.moved')) renameSync(bobSsh + '.moved', bobSsh);
  });
  await enf.apply(p, hog);
  const mounted = hogMounts(sshd!.mountInfo());
  assert.ok(!mounted.includes(aliceKeys), `alice's file must not be covered: ${mounted.join(', ')}`);
  assert.ok(await loginOk('hh-alice'));
  assert.equal(await loginOk('hh-dave'), false, 'the others are still covered');
  assert.ok(warnings.some((w) => w.includes('not covered') && w.includes(`owned by uid ${users['hh-alice'].uid}`)), warnings.join('\n'));
  await enf.release();
});

test('a user name with odd characters (hh-o.d_d) is locked out and let back in', async (t) => {
  const name = 'hh-o.d_d';
  try { execFileSync('getent', ['passwd', name]); } catch {
    execFileSync('/usr/sbin/useradd', ['--create-home', '--shell', '/bin/bash', name]);
    execFileSync('/usr/sbin/usermod', ['-p', '*', name]);
  }
  const [, , uid, gid, , home] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  const u: TestUser = { name, uid: Number(uid), gid: Number(gid), home };
  keys[name] = makeKey(tmp, name);
  const restore = installAuthorizedKeys(u, keys[name].pub);
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  t.after(async () => {
    await enf.release().catch(() => undefined);
    restore();
    try { execFileSync('/usr/sbin/userdel', ['--remove', name], { stdio: 'ignore' }); } catch { /* best effort */ }
  });
  assert.ok(await loginOk(name));
  const hog = hogClaim();
  const p = await plan(hog, cfg());
  assert.ok(p.covers.some((c) => c.user === name && c.file === join(home, '.ssh', 'authorized_keys')));
  await enf.apply(p, hog);
  const r = await sshd!.login(name, keys[name].keyFile);
  assert.equal(r.stdout.trim(), hogMessage(hog, cfg()));
  await enf.release();
  assert.ok(await loginOk(name));
});

test('overlay files are root-owned, not writable by the covered user, and removed on release', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const overlayDir = join(dir, 'overlays');
  const enf = enforcer(join(dir, 'state'), overlayDir);
  t.after(() => enf.release().catch(() => undefined));
  const hog = hogClaim();
  await enf.apply(await plan(hog, cfg()), hog);
  const st = readHogState(join(dir, 'state'))!;
  assert.equal(lstatSync(overlayDir).mode & 0o777, 0o700);
  for (const m of st.mounts) {
    const o = lstatSync(m.overlay);
    assert.equal(o.uid, 0);
    assert.equal(o.mode & 0o777, 0o640);
    assert.equal(o.gid, users[m.user].gid);
    assert.match(readFileSync(m.overlay, 'utf8'), /^restrict,command="\/bin\/echo '.*'; exit 1" ssh-ed25519 /);
  }
  // bob cannot write through the mount (runs as bob, inside the namespace); the same command
  // on a file of his own works (so the failure is the overlay's permissions, nothing else).
  const asBob = (file: string) => execFileSync('nsenter', [`--mount=/proc/${sshd!.anchorPid}/ns/mnt`, '--', 'setpriv', `--reuid=${users['hh-bob'].uid}`,
    `--regid=${users['hh-bob'].gid}`, '--init-groups', 'sh', '-c', 'echo x >> "$1"', 'sh', file], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const probe = join(users['hh-bob'].home, '.ssh', 'probe');
  t.after(() => rmSync(probe, { force: true }));
  asBob(probe);
  assert.equal(readFileSync(probe, 'utf8'), 'x\n');
  assert.throws(() => asBob(join(users['hh-bob'].home, '.ssh', 'authorized_keys')), /Permission denied/);
  await enf.release();
  assert.deepEqual(st.mounts.filter((m) => existsSync(m.overlay)), []);
});

test('claim extended / lockout mode changed during a hog: message rewritten in place, mode switched', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  t.after(() => enf.release().catch(() => undefined));
  const hog = hogClaim({ end: new Date(Date.now() + 3_600_000) });
  await enf.apply(await plan(hog, cfg()), hog);
  const before = (await sshd!.login('hh-bob', keys['hh-bob'].keyFile)).stdout.trim();
  assert.equal(before, hogMessage(hog, cfg()));
  const mountsBefore = hogMounts(sshd!.mountInfo());
  const longer = { ...hog, end: new Date(hog.end.getTime() + 7_200_000), title: 'longer benchmarks' };
  await enf.apply(await plan(longer, cfg()), longer);
  assert.deepEqual(hogMounts(sshd!.mountInfo()), mountsBefore);
  const after1 = (await sshd!.login('hh-bob', keys['hh-bob'].keyFile)).stdout.trim();
  assert.equal(after1, hogMessage(longer, cfg()));
  assert.notEqual(after1, before);
  await enf.apply(await plan(longer, cfg('empty')), longer);
  const r = await sshd!.login('hh-bob', keys['hh-bob'].keyFile);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Permission denied/);
  assert.equal(hogMounts(sshd!.mountInfo()).length, 2, 'no stacked mounts');
  await enf.release();
  await assertAllLogIn(ALL);
});

test('a ~/.ssh that is a symlink to a directory of the user\'s own is covered where it lands', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  const bob = users['hh-bob'];
  const bobSsh = join(bob.home, '.ssh');
  const real = join(bob.home, 'real-ssh');
  renameSync(bobSsh, real);
  symlinkSync('real-ssh', bobSsh);
  t.after(async () => {
    await enf.release().catch(() => undefined);
    try { unlinkSync(bobSsh); } catch { /* gone */ }
    if (existsSync(real)) renameSync(real, bobSsh);
  });
  assert.ok(await loginOk('hh-bob'), 'sshd accepts the symlinked dir before the hog');
  const hog = hogClaim({ allow: [] });
  const p = await plan(hog, cfg());
  assert.ok(p.covers.some((c) => c.file === join(bobSsh, 'authorized_keys')));
  await enf.apply(p, hog);
  assert.ok(hogMounts(sshd!.mountInfo()).includes(join(real, 'authorized_keys')));
  assert.equal(await loginOk('hh-bob'), false);
  await enf.apply(p, hog); // idempotent with a resolved landing too
  assert.equal(hogMounts(sshd!.mountInfo()).filter((m) => m === join(real, 'authorized_keys')).length, 1);
  await enf.release();
  assert.ok(await loginOk('hh-bob'));
});

test('race at the last moment: a cover that lands on another user\'s file is taken off at once', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const bobSsh = join(users['hh-bob'].home, '.ssh');
  const aliceKeys = join(users['hh-alice'].home, '.ssh', 'authorized_keys');
  const warnings: string[] = [];
  let swapped = false;
  const enf = createHogEnforcer({
    stateDir: join(dir, 'state'), overlayDir: join(dir, 'overlays'), nsPid: sshd!.anchorPid,
    log: { info() {}, warn(o: object, m?: string) { warnings.push(`${m} ${JSON.stringify(o)}`); } },
    beforeMount(target) {
      if (target !== join(bobSsh, 'authorized_keys') || swapped) return;
      swapped = true; // checks passed; now bob swaps his .ssh for a symlink to alice's
      renameSync(bobSsh, bobSsh + '.moved');
      symlinkSync(join(users['hh-alice'].home, '.ssh'), bobSsh);
    },
  });
  t.after(async () => {
    await enf.release().catch(() => undefined);
    if (swapped) { try { unlinkSync(bobSsh); } catch { /* gone */ } renameSync(bobSsh + '.moved', bobSsh); }
  });
  const aliceBefore = readFileSync(aliceKeys, 'utf8');
  const hog = hogClaim({ user: 'hh-carol', allow: ['hh-alice'] });
  await enf.apply(await plan(hog, cfg()), hog);
  assert.ok(swapped);
  assert.ok(warnings.some((w) => w.includes('landed elsewhere') && w.includes(aliceKeys)), warnings.join('\n'));
  assert.deepEqual(hogMounts(sshd!.mountInfo()), ['/home/hh-dave/.ssh/authorized_keys']);
  assert.equal(readFileSync(aliceKeys, 'utf8'), aliceBefore);
  assert.ok(await loginOk('hh-alice'));
  assert.equal(readHogState(join(dir, 'state'))!.mounts.length, 1);
  await enf.release();
});

test('a key file that is a symlink to a file of the user\'s own elsewhere is covered where it lands', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  const bob = users['hh-bob'];
  const bobKeys = join(bob.home, '.ssh', 'authorized_keys');
  const elsewhere = join(bob.home, 'keys-elsewhere');
  const saved = readFileSync(bobKeys);
  renameSync(bobKeys, elsewhere); // bob's own file, 0600, owned by bob
  symlinkSync(elsewhere, bobKeys);
  t.after(async () => {
    await enf.release().catch(() => undefined);
    try { unlinkSync(bobKeys); } catch { /* gone */ }
    rmSync(elsewhere, { force: true });
    writeFileSync(bobKeys, saved, { mode: 0o600 });
    chownSync(bobKeys, bob.uid, bob.gid);
  });
  assert.equal(lstatSync(elsewhere).uid, bob.uid);
  assert.ok(await loginOk('hh-bob'), 'sshd follows the link before the hog');
  const hog = hogClaim({ allow: [] });
  const p = await plan(hog, cfg());
  assert.ok(p.covers.some((c) => c.file === bobKeys && c.viaLink));
  assert.ok(enf.dryRun(p).some((l) => l.includes(JSON.stringify(elsewhere)) && l.includes('symlink')), enf.dryRun(p).join('\n'));
  await enf.apply(p, hog);
  assert.ok(hogMounts(sshd!.mountInfo()).includes(elsewhere), hogMounts(sshd!.mountInfo()).join(', '));
  assert.ok(!hogMounts(sshd!.mountInfo()).includes(bobKeys), 'the link itself is not a mount point');
  const r = await sshd!.login('hh-bob', keys['hh-bob'].keyFile);
  assert.equal(r.stdout.trim(), hogMessage(hog, cfg()), 'bob is locked out during the hog');
  assert.notEqual(r.code, 0);
  assert.ok(lstatSync(bobKeys).isSymbolicLink(), 'the link is left alone');
  await enf.apply(p, hog); // idempotent: one mount at the landing
  assert.equal(hogMounts(sshd!.mountInfo()).filter((m) => m === elsewhere).length, 1);
  await enf.release();
  assert.deepEqual(hogMounts(sshd!.mountInfo()), []);
  assert.ok(await loginOk('hh-bob'));
});

test('a link and its target (both the user\'s) are covered once, not stacked', async (t) => {
  const dir = mkdtempSync(join(tmp, 'st-'));
  const enf = enforcer(join(dir, 'state'), join(dir, 'overlays'));
  const bob = users['hh-bob'];
  const keys2 = join(bob.home, '.ssh', 'authorized_keys2');
  symlinkSync('authorized_keys', keys2);
  t.after(async () => { await enf.release().catch(() => undefined); try { unlinkSync(keys2); } catch { /* gone */ } });
  const hog = hogClaim({ allow: [] });
  await enf.apply(await plan(hog, cfg()), hog);
  assert.equal(hogMounts(sshd!.mountInfo()).filter((m) => m === join(bob.home, '.ssh', 'authorized_keys')).length, 1);
  assert.equal(await loginOk('hh-bob'), false);
  await enf.release();
  assert.ok(await loginOk('hh-bob'));
});
