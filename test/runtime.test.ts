/** The bridge's runtime knobs are written in three places; they must say the same thing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './harness/cli.js';
import { BRIDGE_ENV, BRIDGE_NODE_FLAGS } from '../src/bridge/runtime.js';

const envText = Object.entries(BRIDGE_ENV).map(([k, v]) => `${k}=${v}`).join(' ');
const flagsText = BRIDGE_NODE_FLAGS.join(' ');

test('systemd unit and `npm run bridge` start the bridge with the flags and malloc settings of src/bridge/runtime.ts', () => {
  const unit = readFileSync(join(REPO, 'systemd/hosthog-bridge.service'), 'utf8');
  assert.match(unit, new RegExp(`^Environment=${envText}$`, 'm'));
  assert.match(unit, new RegExp(`^ExecStart=/usr/bin/env node ${flagsText} \\S+/dist/src/cli/main\\.js bridge$`, 'm'));
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.bridge, `npm run build && ${envText} node ${flagsText} dist/src/cli/main.js bridge`);
});
