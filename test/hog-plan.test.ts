/** Pure hog decisions: decideHog, planCovers, hogMessage, overlayContent (+ passwd, sshd -T, mountinfo parsing). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideHog, planCovers, hogMessage, overlayContent, expandPattern, shellSafe, messageCommand, type UserEntry, type PathKind } from '../src/core/hog-plan.js';
import type { Claim } from '../src/core/types.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import { parsePasswd } from '../src/host/rpc/users-db.js';
import { parseAuthorizedKeysFiles } from '../src/host/hog/sshd-config.js';
import { parseMountInfo, isHosthogMount, resolveInRoot } from '../src/host/hog/hog-mounts.js';
import { mkdtempSync, mkdirSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function cfg(hog: Record<string, unknown> = {}): Config {
  const r = validateConfig({ host: 'gpu-box-3', timezone: 'Europe/Berlin', hog }, { hostname: 'x', timezone: 'UTC' }, 'test');
  assert.ok(r.config, r.problems.join('; '));
  return r.config!;
}

const T = (hhmm: string) => new Date(`2026-11-22T${hhmm}:00Z`); // Berlin = UTC+1 in November
function claim(p: Partial<Claim> = {}): Claim {
  return {
    kind: 'claim', uid: 'c1', recurring: false, start: T('08:00'), end: T('16:00'), allDay: false, title: 'benchmarks',
    user: 'alice', mode: 'exclusive', hog: true, resources: [], note: '', allow: [], created: T('07:00'), ...p,
  };
}

test('decideHog: active hog while start <= now < end, fresh cache', () => {
  const c = cfg();
  const h = claim();
  assert.equal(decideHog([h], T('08:00'), 0, c, false).active, h);
  assert.equal(decideHog([h], T('12:00'), 1000, c, false).active, h);
  assert.equal(decideHog([h], T('16:00'), 0, c, true).active, null); // exclusive end
  assert.equal(decideHog([h], T('07:59'), 0, c, false).active, null);
  assert.equal(decideHog([], T('12:00'), 0, c, false).active, null);
});

test('decideHog: exclusive claim without hog, and shared claims, do not hog', () => {
  const c = cfg();
  assert.equal(decideHog([claim({ hog: false })], T('12:00'), 0, c, false).active, null);
  assert.equal(decideHog([claim({ hog: false, mode: 'shared' })], T('12:00'), 0, c, false).active, null);
});

test('decideHog: stale cache never STARTS a hog', () => {
  const c = cfg({ max_cache_age: '5m' });
  const d = decideHog([claim()], T('12:00'), 5 * 60_000 + 1, c, false);
  assert.equal(d.active, null);
  assert.match(d.reason!, /not starting/);
  assert.equal(decideHog([claim()], T('12:00'), 5 * 60_000, c, false).active?.uid, 'c1'); // exactly max: fine
  assert.equal(decideHog([claim()], T('12:00'), Infinity, c, false).active, null);
  assert.equal(decideHog([claim()], T('12:00'), NaN, c, false).active, null);
});

test('decideHog: a running hog continues on a stale cache, and ends at the cached end without network', () => {
  const c = cfg({ max_cache_age: '5m' });
  const h = claim();
  const d = decideHog([h], T('15:59'), 3_600_000, c, true);
  assert.equal(d.active, h);
  assert.match(d.reason!, /stale/);
  assert.equal(decideHog([h], T('16:00'), 3_600_000, c, true).active, null);
  assert.equal(decideHog([h], T('23:00'), 86_400_000, c, true).active, null);
});

test('decideHog: deleted or shortened claim ends the hog', () => {
  const c = cfg();
  assert.equal(decideHog([], T('12:00'), 0, c, true).active, null);
  assert.equal(decideHog([claim({ end: T('11:00') })], T('12:00'), 0, c, true).active, null);
  assert.equal(decideHog([claim({ hog: false })], T('12:00'), 0, c, true).active, null); // hog flag removed
});

test('decideHog: an overruled hog is not enforced; the holding one is', () => {
  const c = cfg();
  const first = claim({ uid: 'a', user: 'alice', created: T('01:00') });
  const later = claim({ uid: 'b', user: 'bob', created: T('02:00') });
  assert.equal(decideHog([later, first], T('12:00'), 0, c, false).active?.uid, 'a');
  const bobExclusiveFirst = claim({ uid: 'x', user: 'bob', hog: false, created: T('00:30') });
  assert.equal(decideHog([first, bobExclusiveFirst], T('12:00'), 0, c, false).active, null);
});

test('decideHog: two hogs on disjoint resources: first enforced, other holder let in', () => {
  const c = cfg();
  const a = claim({ uid: 'a', user: 'alice', resources: ['gpu0'], created: T('01:00'), allow: ['carol'] });
  const b = claim({ uid: 'b', user: 'bob', resources: ['gpu1'], created: T('02:00'), allow: ['erin'] });
  const d = decideHog([b, a], T('12:00'), 0, c, false);
  assert.equal(d.active?.uid, 'a');
  assert.deepEqual(d.active?.allow, ['carol', 'bob', 'erin']);
  assert.equal(a.allow.length, 1, 'input not mutated');
});

test('expandPattern: %h %u %U %%, relative under home, .. refused, unknown token refused', () => {
  const u: UserEntry = { name: 'bob', uid: 1001, home: '/home/bob' };
  assert.equal(expandPattern('.ssh/authorized_keys', u), '/home/bob/.ssh/authorized_keys');
  assert.equal(expandPattern('%h/.ssh/keys', u), '/home/bob/.ssh/keys');
  assert.equal(expandPattern('/etc/ssh/keys/%u', u), '/etc/ssh/keys/bob');
  assert.equal(expandPattern('/etc/ssh/keys/%U.pub', u), '/etc/ssh/keys/1001.pub');
  assert.equal(expandPattern('/etc/ssh/100%%/%u', u), '/etc/ssh/100%/bob');
  assert.equal(expandPattern('.ssh/../../alice/.ssh/authorized_keys', u), null);
  assert.equal(expandPattern('/etc/%x', u), null);
  assert.equal(expandPattern('%h//./.ssh//ak', { ...u, home: '/home/bob/' }), '/home/bob/.ssh/ak');
});

const USERS: UserEntry[] = [
  { name: 'root', uid: 0, home: '/root' },
  { name: 'alice', uid: 1000, home: '/home/alice' },
  { name: 'bob', uid: 1001, home: '/home/bob' },
  { name: 'carol', uid: 1002, home: '/home/carol' },
  { name: 'dave', uid: 1003, home: '/home/dave' },
  { name: 'ops', uid: 1004, home: '/home/ops' },
  { name: 'ghost', uid: 1005, home: '/home/ghost' },
  { name: 'toor', uid: 0, home: '/root2' },
  { name: 'o.d_d-x', uid: 1006, home: '/home/o.d_d-x' },
  { name: 'bad name', uid: 1007, home: '/home/bad' },
  { name: 'evil;rm', uid: 1008, home: '/home/evil' },
  { name: 'nohome', uid: 1009, home: '' },
];

function fsFake(entries: Record<string, PathKind>): (p: string) => PathKind {
  return (p) => entries[p] ?? 'missing';
}

test('planCovers: covers every non-exempt user with existing key files; exempts root, holder, allow, breakGlass', () => {
  const c = cfg({ break_glass: ['root', 'ops'] });
  const fs = fsFake({
    '/home/alice': 'other', '/home/bob': 'other', '/home/carol': 'other', '/home/dave': 'other', '/home/ops': 'other', '/root2': 'other',
    '/home/o.d_d-x': 'other', '/home/bad': 'other', '/home/evil': 'other',
    '/home/alice/.ssh/authorized_keys': 'file', '/home/bob/.ssh/authorized_keys': 'file', '/home/bob/.ssh/authorized_keys2': 'file',
    '/home/carol/.ssh/authorized_keys': 'file', '/home/dave/.ssh/authorized_keys': 'symlink', '/home/dave/.ssh/authorized_keys2': 'other',
    '/home/ops/.ssh/authorized_keys': 'file', '/home/o.d_d-x/.ssh/authorized_keys': 'file', '/root2/.ssh/authorized_keys': 'file',
    '/etc/ssh/keys/bob': 'file',
  });
  const plan = planCovers(claim({ allow: ['carol'] }), USERS, ['.ssh/authorized_keys', '%h/.ssh/authorized_keys2', '/etc/ssh/keys/%u'], fs, c);
  const covered = plan.covers.map((x) => `${x.user} ${x.file} ${x.mode} ${x.rootOwnedOk}${x.viaLink ? ' via-link' : ''}`);
  assert.deepEqual(covered, [
    'bob /home/bob/.ssh/authorized_keys message false',
    'bob /home/bob/.ssh/authorized_keys2 message false',
    'bob /etc/ssh/keys/bob message true',
    // A symlinked key file is planned as a link: the enforcer covers its landing only if dave owns it.
    'dave /home/dave/.ssh/authorized_keys message false via-link',
    'o.d_d-x /home/o.d_d-x/.ssh/authorized_keys message false',
  ]);
  const why = Object.fromEntries(plan.skipped.map((s) => [`${s.user} ${s.file ?? ''}`.trim(), s.why]));
  assert.match(why['dave /home/dave/.ssh/authorized_keys2'], /not a regular file/);
  assert.match(why['ghost'], /home is missing/);
  assert.match(why['bad name'], /odd user name/);
  assert.match(why['evil;rm'], /odd user name/);
  assert.match(why['nohome'], /unusable home/);
  assert.ok(!plan.covers.some((x) => ['root', 'toor', 'alice', 'carol', 'ops'].includes(x.user)));
  assert.equal(plan.message, 'gpu-box-3 is hogged by alice until 17:00 (benchmarks)');
});

test('planCovers: empty lockout mode, AuthorizedKeysFile none, shared file covered once', () => {
  const c = cfg({ lockout: 'empty' });
  const fs = fsFake({ '/home/bob': 'other', '/home/dave': 'other', '/srv/keys': 'file', '/home/bob/.ssh/authorized_keys': 'file' });
  const users = USERS.filter((u) => ['bob', 'dave'].includes(u.name));
  const plan = planCovers(claim(), users, ['none', '.ssh/authorized_keys', '/srv/keys'], fs, c);
  assert.deepEqual(plan.covers.map((x) => [x.user, x.file, x.mode]), [['bob', '/home/bob/.ssh/authorized_keys', 'empty'], ['bob', '/srv/keys', 'empty']]);
  assert.match(plan.skipped.find((s) => s.user === 'dave')!.why, /already covered/);
  assert.deepEqual(planCovers(claim(), users, [], fs, c).covers, []);
});

test('planCovers: a symlinked key file is a via-link cover, never root-owned-ok, even for an absolute pattern', () => {
  const c = cfg();
  const fs = fsFake({ '/home/bob': 'other', '/home/bob/.ssh/authorized_keys': 'symlink', '/etc/ssh/keys/bob': 'symlink' });
  const users = USERS.filter((u) => u.name === 'bob');
  const plan = planCovers(claim(), users, ['.ssh/authorized_keys', '/etc/ssh/keys/%u'], fs, c);
  assert.deepEqual(plan.covers.map((x) => [x.file, x.uid, x.rootOwnedOk, x.viaLink]), [
    ['/home/bob/.ssh/authorized_keys', 1001, false, true],
    ['/etc/ssh/keys/bob', 1001, false, true],
  ]);
  assert.deepEqual(plan.skipped, []);
});

test('hogMessage: host, holder, local end time, title; shell- and quote-safe', () => {
  const c = cfg();
  assert.equal(hogMessage(claim(), c), 'gpu-box-3 is hogged by alice until 17:00 (benchmarks)');
  assert.equal(hogMessage(claim({ title: '' }), c), 'gpu-box-3 is hogged by alice until 17:00');
  assert.equal(hogMessage(claim({ title: '', note: 'training run' }), c), 'gpu-box-3 is hogged by alice until 17:00 (training run)');
  assert.equal(hogMessage(claim({ end: new Date('2026-11-24T08:00:00Z') }), c), 'gpu-box-3 is hogged by alice until Tue 09:00 (benchmarks)');
  const evil = hogMessage(claim({ title: `x"; rm -rf / #'$(id)\`id\`\\ \u001b[31mred\u202e!\nnew` }), c);
  assert.ok(!/["'`$\\;!\u001b\u202e\n]/.test(evil), evil);
  assert.equal(evil, 'gpu-box-3 is hogged by alice until 17:00 (x rm -rf / #(id)id red new)');
  assert.equal(shellSafe('ünïcode 日本 ok'), 'ünïcode 日本 ok');
  assert.equal(messageCommand('a b'), "/bin/echo 'a b'; exit 1");
  assert.equal(messageCommand("a'b"), "/bin/echo 'ab'; exit 1");
});

test('overlayContent: keys kept with restrict+command, options dropped, junk and CA lines dropped', () => {
  const msg = 'gpu-box-3 is hogged by alice until 17:00 (benchmarks)';
  const keys = [
    '# my keys', '',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0 bob@laptop',
    'from="10.0.0.1",command="/usr/bin/backup \\"x y\\"",no-pty ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== backup key',
    'no-port-forwarding ecdsa-sha2-nistp256 AAAAE2VjZHNh',
    'cert-authority,principals="bob" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4 ca',
    'garbage line here', 'ssh-ed25519 not*base64', 'ssh-ed25519',
    '  sk-ssh-ed25519@openssh.com AAAAGnNr comment "with quotes" \\ back\r',
  ].join('\n');
  const out = overlayContent(keys, msg).split('\n');
  const pre = `restrict,command="/bin/echo '${msg}'; exit 1"`;
  assert.deepEqual(out, [
    `${pre} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0 bob@laptop`,
    `${pre} ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== backup key`,
    `${pre} ecdsa-sha2-nistp256 AAAAE2VjZHNh`,
    `${pre} sk-ssh-ed25519@openssh.com AAAAGnNr comment with quotes back`,
    '',
  ]);
  assert.equal(overlayContent('', msg), '');
  assert.equal(overlayContent('# nothing\n\n', msg), '');
});

test('parsePasswd: uid >= 1000 or listed, odd lines tolerated, nobody left out', () => {
  const text = [
    'root:x:0:0:root:/root:/bin/bash', 'daemon:x:1:1::/usr/sbin:/usr/sbin/nologin', 'alice:x:1000:1000:A,,,:/home/alice:/bin/bash',
    'broken line', 'x:y:notanumber:1::/h:/bin/sh', 'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin',
    'o.d_d:x:1001:1001::/home/o.d_d:/bin/bash', 'alice:x:1000:1000::/other:/bin/bash', 'svc:x:999:999::/var/svc:/bin/sh', '',
  ].join('\n');
  assert.deepEqual(parsePasswd(text), [{ name: 'alice', uid: 1000, home: '/home/alice' }, { name: 'o.d_d', uid: 1001, home: '/home/o.d_d' }]);
  assert.deepEqual(parsePasswd(text, { include: ['svc', 'root'] }).map((u) => u.name), ['root', 'alice', 'o.d_d', 'svc']);
});

test('parseAuthorizedKeysFiles: sshd -T line, none, missing', () => {
  assert.deepEqual(parseAuthorizedKeysFiles('port 22\nauthorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u\n'), ['.ssh/authorized_keys', '/etc/ssh/keys/%u']);
  assert.deepEqual(parseAuthorizedKeysFiles('authorizedkeysfile none\n'), []);
  assert.equal(parseAuthorizedKeysFiles('port 22\n'), null);
});

test('parseMountInfo / isHosthogMount: escapes decoded, deleted overlays still recognised', () => {
  const text = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '501 22 8:1 /var/lib/hosthog/overlays/hosthog-ovl-0123abcd /home/bob/.ssh/authorized_keys rw,relatime - ext4 /dev/sda1 rw',
    '502 22 8:1 /var/lib/hosthog/overlays/hosthog-ovl-99//deleted /home/o\\040d/.ssh/authorized_keys rw - ext4 /dev/sda1 rw',
    '503 22 0:5 /tmp/other /mnt rw - tmpfs tmpfs rw',
  ].join('\n');
  const m = parseMountInfo(text);
  assert.equal(m.length, 4);
  assert.deepEqual(m.filter(isHosthogMount).map((e) => e.mountPoint), ['/home/bob/.ssh/authorized_keys', '/home/o d/.ssh/authorized_keys']);
});

test('resolveInRoot: symlinks resolved relative to the given root, loops and missing parts give null', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hh-root-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'home/bob/real'), { recursive: true });
  symlinkSync('real', join(root, 'home/bob/.ssh'));
  symlinkSync('/home/bob', join(root, 'abs'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  assert.equal(resolveInRoot(root, '/home/bob/.ssh'), '/home/bob/real');
  assert.equal(resolveInRoot(root, '/abs/.ssh'), '/home/bob/real');
  assert.equal(resolveInRoot(root, '/home/bob/./real/../.ssh'), '/home/bob/real');
  assert.equal(resolveInRoot(root, '/loop1'), null);
  assert.equal(resolveInRoot(root, '/home/nobody'), null);
  assert.equal(resolveInRoot(root, '/'), '/');
});
