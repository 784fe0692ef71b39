/**
 * The state-directory lock (one bridge per state_dir), in-process: stale files are taken over, the
 * release removes ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { lockStateDir, LOCK_FILE } from '../src/host/store/state-lock.js';

const stateLockLifecycle =
  "state lock: created with our pid, a dead bridge's or a garbled file taken over, released " +
  'on stop, nothing left aside';
test(stateLockLifecycle, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, LOCK_FILE);
  let release = lockStateDir(dir);
  assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
  release();
  assert.equal(existsSync(file), false);
  // A pid that no longer runs (a child that has exited), then garbage: both taken over.
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
    encoding: 'utf8',
  }).stdout.trim();
  for (const stale of [`${dead}\n`, 'not a pid\n', '']) {
    writeFileSync(file, stale);
    release = lockStateDir(dir);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`, JSON.stringify(stale));
    release();
  }
  // A live process that is not a bridge (pid reuse): taken over too.
  writeFileSync(file, `${process.ppid}\n`);
  release = lockStateDir(dir);
  release();
  assert.deepEqual(readdirSync(dir), [], 'no temp or moved-aside files left');
});
