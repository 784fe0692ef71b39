/**
 * Which config the running bridge uses: state_dir/bridge-config.json, written at start (and
 * when the bridge reloads its config) with a hash of the config file's content. `hosthog doctor`
 * compares it with the file now: an edited config the bridge has not read yet is named.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../host/store/atomic-write.js';

export const CONFIG_STAMP_FILE = 'bridge-config.json';

export interface ConfigStamp {
  pid: number;
  source: string;
  sha256: string;
  at: string;
}

/** Hash of a config file's content ("-" for no file: the built-in defaults). */
export function configHash(source: string): string {
  try {
    return createHash('sha256').update(readFileSync(source)).digest('hex');
  } catch {
    return '-';
  }
}

export function writeConfigStamp(stateDir: string, source: string, now: Date = new Date()): void {
  const stamp: ConfigStamp = { pid: process.pid, source, sha256: configHash(source), at: now.toISOString() };
  writeFileAtomic(join(stateDir, CONFIG_STAMP_FILE), JSON.stringify(stamp) + '\n', 0o644);
}

export function readConfigStamp(stateDir: string): ConfigStamp | null {
  try {
    const text = readFileSync(join(stateDir, CONFIG_STAMP_FILE), 'utf8').slice(0, 4096);
    const s = JSON.parse(text) as ConfigStamp;
    return typeof s.sha256 === 'string' && typeof s.source === 'string' ? s : null;
  } catch {
    return null;
  }
}
