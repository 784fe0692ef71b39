/** The AuthorizedKeysFile patterns the running sshd uses, from `sshd -T` (its effective config). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEFAULT_AUTHORIZED_KEYS_FILES = ['.ssh/authorized_keys', '.ssh/authorized_keys2'];

/** Parse `sshd -T` output; null when it has no authorizedkeysfile line. */
export function parseAuthorizedKeysFiles(sshdT: string): string[] | null {
  for (const line of sshdT.split('\n')) {
    const m = /^authorizedkeysfile\s+(.*)$/i.exec(line.trim());
    if (!m) continue;
    const files = m[1].trim().split(/\s+/).filter(Boolean);
    return files.length === 1 && files[0].toLowerCase() === 'none' ? [] : files;
  }
  return null;
}

/**
 * Patterns from `sshd -T` (run with an arg list, never a shell); sshd's compiled-in default when
 * sshd cannot be run (e.g. no host keys yet). Match blocks that change AuthorizedKeysFile per
 * user are not resolved (sshd -T without -C shows the global value).
 */
export async function authorizedKeysFiles(sshdBinary = '/usr/sbin/sshd', configFile?: string): Promise<string[]> {
  const args = ['-T', ...(configFile ? ['-f', configFile] : [])];
  try {
    const { stdout } = await run(sshdBinary, args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 1 << 20 });
    return parseAuthorizedKeysFiles(stdout) ?? [...DEFAULT_AUTHORIZED_KEYS_FILES];
  } catch {
    return [...DEFAULT_AUTHORIZED_KEYS_FILES];
  }
}
