/**
 * Pure hog decisions: decideHog, refuseHog, the gate's files and lines, hogMessage, booking order
 * by first-seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideHog,
  refuseHog,
  hogMessage,
  shellSafe,
  gateAllowText,
  gateBannerText,
  type HogFacts,
} from '../src/core/hog-plan.js';
import {
  withPamLine,
  withoutPamLine,
  pamLine,
  pamProblem,
  includesDropIn,
  loginMethods,
  parseSshdT,
} from '../src/core/gate-text.js';
import { rule } from '../src/core/conflicts.js';
import { firstSeen } from '../src/bridge/first-seen.js';
import type { Claim } from '../src/core/types.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import { parsePasswd } from '../src/host/rpc/users-db.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function cfg(hog: Record<string, unknown> = {}): Config {
  const r = validateConfig(
    { host: 'gpu-box-3', timezone: 'Europe/Berlin', hog },
    { hostname: 'x', timezone: 'UTC' },
    'test',
  );
  assert.ok(r.config, r.problems.join('; '));
  return r.config!;
}

const T = (hhmm: string) => new Date(`2026-11-22T${hhmm}:00Z`); // Berlin = UTC+1 in November
function claim(p: Partial<Claim> = {}): Claim {
  return {
    kind: 'claim',
    uid: 'c1',
    recurring: false,
    start: T('08:00'),
    end: T('16:00'),
    allDay: false,
    title: 'benchmarks',
    user: 'alice',
    mode: 'exclusive',
    hog: true,
    resources: [],
    note: '',
    allow: [],
    created: T('07:00'),
    ...p,
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

const runningHogOnStaleCache =
  'decideHog: a running hog continues on a stale cache, and ends at the cached end without network';
test(runningHogOnStaleCache, () => {
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

test('hogMessage: host, holder, local end time, title; shell- and quote-safe', () => {
  const c = cfg();
  assert.equal(hogMessage(claim(), c), 'gpu-box-3 is hogged by alice until 17:00 (benchmarks)');
  assert.equal(hogMessage(claim({ title: '' }), c), 'gpu-box-3 is hogged by alice until 17:00');
  assert.equal(
    hogMessage(claim({ title: '', note: 'training run' }), c),
    'gpu-box-3 is hogged by alice until 17:00 (training run)',
  );
  assert.equal(
    hogMessage(claim({ end: new Date('2026-11-24T08:00:00Z') }), c),
    'gpu-box-3 is hogged by alice until Tue 09:00 (benchmarks)',
  );
  const evil = hogMessage(claim({ title: `x"; rm -rf / #'$(id)\`id\`\\ \u001b[31mred\u202e!\nnew` }), c);
  assert.ok(!/["'`$\\;!\u001b\u202e\n]/.test(evil), evil);
  assert.equal(evil, 'gpu-box-3 is hogged by alice until 17:00 (x rm -rf / #(id)id red new)');
  assert.equal(shellSafe('ünïcode 日本 ok'), 'ünïcode 日本 ok');
});

const facts = (uids: Record<string, number>, via: Record<string, { admin: boolean }> = {}): HogFacts => ({
  uidOf: (n) => uids[n],
  viaBridge: (u) => via[u],
});
const LAB = { alice: 1000, bob: 1001, root: 0, toor: 0, daemon: 1 };

test('refuseHog / decideHog: root, uid 0, system and unknown users never hog; refused hogs are named', () => {
  const c = cfg();
  const f = facts(LAB);
  assert.equal(refuseHog(claim(), c, f), null);
  assert.match(refuseHog(claim({ user: 'root' }), c, f)!, /root's name/);
  assert.match(refuseHog(claim({ user: 'toor' }), c, f)!, /root's name/);
  assert.match(refuseHog(claim({ user: 'daemon' }), c, f)!, /system account \(uid 1 < min_uid 1000\)/);
  assert.match(refuseHog(claim({ user: 'mallory' }), c, f)!, /not a user of this host/);
  const d = decideHog([claim({ user: 'root', uid: 'r1' })], T('09:00'), 0, c, false, f);
  assert.equal(d.active, null);
  assert.equal(d.refused?.[0].claim.uid, 'r1');
  assert.match(d.reason!, /not enforced: a hog in root's name/);
  // A refused hog does not shadow a real one that also holds (disjoint resources).
  const two = decideHog(
    [claim({ user: 'root', uid: 'r1', resources: ['gpu0'] }), claim({ uid: 'a1', resources: ['gpu1'] })],
    T('09:00'),
    0,
    c,
    false,
    f,
  );
  assert.equal(two.active?.uid, 'a1');
  assert.equal(two.refused?.length, 1);
});

const refuseHogRules =
  'refuseHog: [hog] from_calendar off enforces only hogs the bridge wrote; max_length needs an admin';
test(refuseHogRules, () => {
  const off = cfg({ from_calendar: false });
  assert.match(refuseHog(claim(), off, facts(LAB))!, /calendar app and \[hog\] from_calendar is off/);
  assert.equal(refuseHog(claim(), off, facts(LAB, { c1: { admin: false } })), null);
  const short = cfg({ max_length: '4h' });
  assert.match(
    refuseHog(claim(), short, facts(LAB, { c1: { admin: false } }))!,
    /longer than \[hog\] max_length \(4 h\): it needs an admin/,
  );
  assert.equal(refuseHog(claim(), short, facts(LAB, { c1: { admin: true } })), null);
  assert.equal(refuseHog(claim({ end: T('10:00') }), short, facts(LAB)), null);
  assert.equal(cfg().hog.maxLengthMs, 86_400_000);
  assert.equal(cfg().hog.fromCalendar, true);
  assert.equal(cfg().hog.endSessions, false);
  assert.deepEqual(
    validateConfig({ hog: { from_calendar: 'yes' } }, { hostname: 'x', timezone: 'UTC' }, 't').problems,
    ['[hog] from_calendar must be true or false, e.g. from_calendar = true'],
  );
});

const gateFiles =
  'gate files: allow list = root, holder, allowed, break_glass (sorted, safe names only); ' +
  'banner per lockout mode';
test(gateFiles, () => {
  const c = cfg({ break_glass: ['root', 'ops'] });
  assert.equal(
    gateAllowText(claim({ allow: ['carol', 'bad name', 'evil\nroot2'] }), c),
    'alice\ncarol\nops\nroot\n',
  );
  assert.equal(gateBannerText(claim(), c), 'gpu-box-3 is hogged by alice until 17:00 (benchmarks)\n');
  assert.equal(gateBannerText(claim(), cfg({ lockout: 'empty' })), '');
  assert.equal(gateBannerText(null, c), '');
});

const DEBIAN_PAM =
  '# PAM configuration for the Secure Shell service\n@include common-auth\n' +
  'account    required     pam_nologin.so\n@include common-account\n' +
  'session    required     pam_loginuid.so\n';

const gatePamText =
  'gate text: the PAM line goes before the first account line, once (idempotent), and comes out again';
test(gatePamText, () => {
  const g = '/run/hosthog/gate';
  const once = withPamLine(DEBIAN_PAM, g);
  assert.equal(withPamLine(once, g), once);
  const lines = once.split('\n');
  const at = lines.indexOf(pamLine(g));
  assert.ok(
    at > 0 && at < lines.findIndex((l) => l.startsWith('account    required     pam_nologin.so')),
    once,
  );
  assert.equal(
    pamLine(g),
    'account required pam_listfile.so item=user sense=allow file=/run/hosthog/gate/allow onerr=succeed',
  );
  assert.equal(pamProblem(once, g), null);
  assert.match(pamProblem(DEBIAN_PAM, g)!, /no "account required pam_listfile/);
  assert.match(
    pamProblem(
      DEBIAN_PAM.replace('@include common-account\n', `@include common-account\n${pamLine(g)}\n`),
      g,
    )!,
    /after another account line/,
  );
  assert.equal(withoutPamLine(once, g), DEBIAN_PAM);
  assert.ok(includesDropIn('Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n'));
  assert.ok(!includesDropIn('#Include /etc/ssh/sshd_config.d/*.conf\n'));
  assert.deepEqual(
    loginMethods(
      parseSshdT(
        'pubkeyauthentication yes\npasswordauthentication yes\nkbdinteractiveauthentication no\n' +
          'trustedusercakeys none\nauthorizedkeyscommand /usr/bin/sss_ssh_authorizedkeys\n' +
          'gssapiauthentication no\n',
      ),
    ),
    ['publickey', 'password', 'AuthorizedKeysCommand'],
  );
});

const bookingOrderFirstSeen =
  "booking order: the bridge's first-seen time, not a back-dated CREATED, decides who " +
  'booked first (and survives a restart)';
test(bookingOrderFirstSeen, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-seen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const honest = claim({ uid: 'bob-1', user: 'bob', created: T('07:00') });
  let seen = firstSeen(dir);
  seen.stamp([honest], T('07:05'));
  // Alice books later but writes CREATED years back.
  const forged = claim({ uid: 'alice-1', user: 'alice', created: new Date('2001-01-01T00:00:00Z') });
  seen = firstSeen(dir); // a bridge restart in between
  seen.stamp([honest, forged], T('07:30'));
  assert.equal(forged.created?.toISOString(), T('07:30').toISOString());
  assert.equal(
    honest.created?.toISOString(),
    T('07:00').toISOString(),
    'seeded from CREATED only when the file was first made',
  );
  const r = rule([forged, honest]);
  assert.deepEqual(
    r.holds.map((c) => c.uid),
    ['bob-1'],
  );
  assert.equal(r.overruled[0].claim.uid, 'alice-1');
  assert.equal(decideHog([forged, honest], T('09:00'), 0, cfg(), false, facts(LAB)).active?.uid, 'bob-1');
  // The same events re-decoded (fresh CREATED from the text) get the stored time again.
  const again = claim({ uid: 'alice-1', user: 'alice', created: new Date('2001-01-01T00:00:00Z') });
  firstSeen(dir).stamp([again], T('08:00'));
  assert.equal(again.created?.toISOString(), T('07:30').toISOString());
  firstSeen(dir).markViaBridge('bob-1', false, T('08:00'));
  assert.deepEqual(firstSeen(dir).viaBridge('bob-1'), { admin: false });
  assert.equal(firstSeen(dir).viaBridge('alice-1'), undefined);
});

test('parsePasswd: uid >= 1000 or listed, odd lines tolerated, nobody left out', () => {
  const text = [
    'root:x:0:0:root:/root:/bin/bash',
    'daemon:x:1:1::/usr/sbin:/usr/sbin/nologin',
    'alice:x:1000:1000:A,,,:/home/alice:/bin/bash',
    'broken line',
    'x:y:notanumber:1::/h:/bin/sh',
    'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin',
    'o.d_d:x:1001:1001::/home/o.d_d:/bin/bash',
    'alice:x:1000:1000::/other:/bin/bash',
    'svc:x:999:999::/var/svc:/bin/sh',
    '',
  ].join('\n');
  assert.deepEqual(parsePasswd(text), [
    { name: 'alice', uid: 1000, home: '/home/alice' },
    { name: 'o.d_d', uid: 1001, home: '/home/o.d_d' },
  ]);
  assert.deepEqual(
    parsePasswd(text, { include: ['svc', 'root'] }).map((u) => u.name),
    ['root', 'alice', 'o.d_d', 'svc'],
  );
});
