/**
 * Crash-safe file replacement: write a temp file beside the target, fsync, rename, fsync dir.
 * With durable: false the fsyncs are left out: still never a torn file (rename), but a power
 * loss may bring back the previous version (for state rewritten every poll that nothing relies
 * on surviving, e.g. the last sync time).
 */
import {
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  unlinkSync,
  mkdirSync,
  chmodSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function writeFileAtomic(
  path: string,
  data: string | Buffer,
  mode = 0o644,
  o: { durable?: boolean } = {},
): void {
  const durable = o.durable ?? true;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (durable) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode); // umask must not widen or narrow what we chose
  renameSync(tmp, path);
  if (!durable) return;
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems refuse fsync on directories */
  }
}
