/**
 * The bridge's runtime knobs (src/bridge/runtime.ts) are in place however the bridge starts:
 * bin/hosthog (the unit's ExecStart, `npm run bridge`, `hosthog bridge` on PATH) execs node
 * with them, and a plain `node dist/src/cli/main.js bridge` re-runs itself once with them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, waitFor } from './harness/cli.js';
import { BRIDGE_ENV, BRIDGE_NODE_FLAGS } from '../src/bridge/runtime.js';

const envText = Object.entries(BRIDGE_ENV)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');
const flagsText = BRIDGE_NODE_FLAGS.join(' ');

const sameStartEverywhere =
  "bin/hosthog, the systemd unit and `npm run bridge` start the bridge the same way, with runtime.ts's knobs";
test(sameStartEverywhere, () => {
  const unit = readFileSync(join(REPO, 'systemd/hosthog-bridge.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/local\/lib\/hosthog\/current\/bin\/hosthog bridge$/m);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    bin: Record<string, string>;
  };
  assert.equal(pkg.scripts.bridge, 'npm run build && bin/hosthog bridge');
  assert.equal(pkg.bin.hosthog, 'bin/hosthog');
  const wrapper = readFileSync(join(REPO, 'bin/hosthog'), 'utf8');
  assert.ok(
    wrapper.includes(`HOSTHOG_BRIDGE_RUNTIME=1 ${envText}\n`),
    "bin/hosthog sets runtime.ts's malloc env",
  );
  assert.ok(
    wrapper.includes(`exec node ${flagsText} "$main" "$@"`),
    "bin/hosthog execs node with runtime.ts's flags",
  );
});

/** The running bridge's node argv and environment, read from /proc. */
async function bridgeProcess(
  argv: string[],
  dir: string,
): Promise<{ pid: number; args: string[]; env: Record<string, string>; parent: ReturnType<typeof spawn> }> {
  const cfg = join(dir, 'config.toml');
  writeFileSync(
    cfg,
    `[bridge]\nstate_dir = "${dir}/state"\nmotd = "${dir}/motd"\nsocket = "${dir}/run/bridge.sock"\n`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, HOSTHOG_CONFIG: cfg, HOSTHOG_LOG_LEVEL: 'warn' };
  delete env.HOSTHOG_BRIDGE_RUNTIME;
  for (const k of Object.keys(BRIDGE_ENV)) delete env[k];
  const parent = spawn(argv[0], argv.slice(1), { env, stdio: 'ignore', cwd: REPO });
  const pid = await waitFor(() => {
    try {
      return Number(readFileSync(join(dir, 'state/bridge.pid'), 'utf8').trim()) || 0;
    } catch {
      return 0;
    }
  }, 'bridge.pid');
  await waitFor(() => {
    try {
      return readFileSync(join(dir, 'motd'), 'utf8').length > 0;
    } catch {
      return false;
    }
  }, 'motd');
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env2 = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { pid, args, env: env2, parent };
}

for (const [name, argv] of [
  ['bin/hosthog bridge', [join(REPO, 'bin/hosthog'), 'bridge']],
  [
    'plain node dist/src/cli/main.js bridge (re-exec once)',
    [process.execPath, join(REPO, 'dist/src/cli/main.js'), 'bridge'],
  ],
] as const) {
  test(`${name}: the bridge process runs with the flags and malloc env, and stops on SIGTERM`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hh-rt-'));
    const b = await bridgeProcess([...argv], dir);
    try {
      for (const f of BRIDGE_NODE_FLAGS) assert.ok(b.args.includes(f), `${f} in ${b.args.join(' ')}`);
      assert.equal(
        b.args.filter((a) => a === '--expose-gc').length,
        1,
        'flags given once (no second re-exec)',
      );
      for (const [k, v] of Object.entries(BRIDGE_ENV)) assert.equal(b.env[k], v, k);
      assert.equal(b.env.HOSTHOG_BRIDGE_RUNTIME, '1');
    } finally {
      const done = new Promise((r) => b.parent.once('exit', r));
      b.parent.kill('SIGTERM');
      await done;
    }
    assert.throws(() => process.kill(b.pid, 0), 'the bridge itself stopped with its parent');
    rmSync(dir, { recursive: true, force: true });
  });
}
