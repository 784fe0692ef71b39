/**
 * systemd/install.sh on a fresh host (a private mount namespace: /etc a copy, /usr/local,
 * /var/lib and /run empty; no systemd, as in this container), then doctor as root and as the
 * lab member hh-alice, an edited config, an upgrade under a running bridge, a stop. The steps
 * run in test/install-e2e.sh; this file checks what each printed. Real users: run under
 * flock /tmp/hosthog-e2e.lock (it reaches nobody else's sessions: /run and /tmp are private).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { REPO } from './harness/cli.js';
import { ensureTestUsers } from './harness/users.js';

const installFreshHost =
  'install.sh on a fresh host: real defaults, doctor as root and as a member, upgrade restarts the bridge';
test(installFreshHost, async () => {
  ensureTestUsers();
  // Outside /tmp: the namespace gets an empty /tmp (no other test's tmux reachable).
  const tmp = mkdtempSync('/var/tmp/hh-install-');
  try {
    const r = spawnSync('unshare', ['--mount', 'bash', join(REPO, 'test/install-e2e.sh'), REPO, tmp], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    const out = r.stdout + r.stderr;
    const step = (name: string): string => {
      const m = new RegExp(`^=== ${name}\\n([\\s\\S]*?)(?=^=== )`, 'm').exec(out);
      assert.ok(m, `step ${name} ran:\n${out.slice(-3000)}`);
      return m[1];
    };
    assert.match(out, /^=== end$/m);
    assert.match(step('install'), /rc=0/);
    assert.match(
      step('which'),
      /^\/usr\/local\/bin\/hosthog\n\/usr\/local\/lib\/hosthog\/versions\/[^/]+\/bin\/hosthog$/m,
    );
    // The generated config sets only what it found (the GPUs); the rest stays at the machine's defaults.
    assert.equal(
      step('config').trim(),
      'resources = ["gpu0", "gpu1"]       # found by nvidia-smi -L at install\n' +
        '[calendar]\n[bridge]\n[limits]\n[notify]\n[hog]\n[gpus]',
    );
    for (const s of ['doctor-root', 'doctor-member', 'doctor-root-stopped']) {
      assert.match(
        step(s),
        new RegExp(
          `config /etc/hosthog/config.toml is valid ` +
            `\\(host ${hostname()}, zone [^,]+, resources gpu0, gpu1\\)`,
        ),
        s,
      );
      assert.doesNotMatch(step(s), /gpu-box-3|Europe\/Berlin/, `${s}: no example values`);
    }
    // Stopped bridge: no false ok.
    assert.match(step('doctor-root-stopped'), /^FAIL {2}the bridge is not running/m);
    assert.match(step('doctor-root-stopped'), /rc=1/);
    // Running: all ok for root; the member gets the same checks, a note for root-only ones, no FAIL.
    // (The hog gate's own checks may FAIL: this machine's sshd is not wired, test/gate-sshd.test.ts.)
    assert.doesNotMatch(step('doctor-root'), /^(FAIL|warn) {2}(?!hog gate|GPUs unknown)/m);
    assert.match(step('doctor-root'), /^ok {4}bridge running \(pid \d+\)/m);
    assert.match(step('doctor-member'), /^note {2}running as hh-alice/m);
    assert.doesNotMatch(step('doctor-member'), /^(FAIL|warn) {2}(?!GPUs unknown)/m);
    assert.match(step('doctor-member'), /rc=0/);
    assert.match(step('status-member'), /rc=0/);
    assert.match(step('sync-member'), /^synced vdir .*\nrc=0/m);
    // A lab member's first claims: --in 0m is now, extend takes the id like edit/release, outputs say "id".
    const mc = step('member-claims');
    const range = /(?:\d\d:\d\d–\d\d:\d\d|today \d\d:\d\d – [A-Z][a-z]{2} \d\d:\d\d)/.source;
    assert.match(
      mc,
      new RegExp(
        /^claimed gpu0 shared /.source + range + / for hh-alice \(id [0-9a-f-]{36}\)\nrc=0/.source,
        'm',
      ),
    );
    assert.match(
      mc,
      new RegExp(/^extended hh-alice's claim to /.source + range + / \(id [0-9a-f-]{36}\)\nrc=0/.source, 'm'),
    );
    assert.match(mc, /did you mean "hosthog claim"\?.*\nrc=64/);
    assert.doesNotMatch(mc, /\buid\b/);
    // An edited config the bridge has not read: named.
    assert.match(step('doctor-edited'), /^FAIL {2}the running bridge uses an older config/m);
    // Upgrade: the old bridge stopped, a new one runs the new version with the runtime flags.
    const up = step('upgrade');
    const oldVer = /old pid \d+ version (\S+)/.exec(up)![1];
    const newVer = /new pid \d+ version (\S+)/.exec(up)![1];
    assert.notEqual(oldVer, newVer);
    assert.match(up, /old bridge gone/);
    assert.match(
      up,
      new RegExp(
        'new cmdline: node --max-semi-space-size=1 --optimize-for-size --expose-gc ' +
          `/usr/local/lib/hosthog/${newVer}/bin/../dist/src/cli/main.js bridge`,
      ),
    );
    assert.doesNotMatch(step('doctor-after-upgrade'), /^(FAIL|warn) {2}(?!hog gate|GPUs unknown)/m);
    // Stopped: the motd says so; doctor as a member says the bridge is not running.
    assert.match(step('stop'), /^! hosthog bridge stopped at \d\d:\d\d/);
    assert.match(step('doctor-member-stopped'), /^FAIL {2}the bridge is not running/m);
    assert.match(
      step('doctor-member-stopped'),
      /^warn {2}the motd \/run\/motd.d\/hosthog says the bridge stopped/m,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
