/**
 * Who is on the other end of the bridge's unix socket, proven without native code.
 *
 * Node has no SO_PEERCRED, so the caller proves its uid by file ownership:
 *   1. The client connects and claims a uid: {"type":"hello","uid":U}.
 *   2. The bridge (root) checks that U has an account, then creates, in <runDir>/challenges
 *      (root-owned, mode 0711: traversable, not listable, not writable by others), a file with a
 *      random 256-bit name holding a fresh random 256-bit nonce (hex), opened O_CREAT|O_EXCL|
 *      O_NOFOLLOW, then fchown'ed to U:root and fchmod'ed to 0400. It sends the client the path.
 *   3. The client reads the file and echoes the nonce. Only U and root can read it. The bridge
 *      deletes the file, compares in constant time, and only then maps U to a user name
 *      (getent passwd) and groups (id -Gn), with execFile, never a shell.
 *
 * Threats considered, and what stops them:
 * - Another user claims U: the file is 0400 and owned by U; they cannot read it. Names are
 *   random and the directory has no read bit for others, so nobody can list or inotify it
 *   (inotify needs read permission). A guess of the nonce succeeds with probability 2^-256.
 *   One proof attempt per connection; a wrong nonce closes the connection.
 * - Claiming uid 0: the file stays root-owned 0400; only root can read it. uid 2^32-1
 *   (chown's "unchanged") and non-integers are refused before anything is created.
 * - Replay / proof from another connection: each nonce is single-use, is accepted only on the
 *   connection it was issued to, and is deleted as soon as an answer (right or wrong) arrives.
 *   An authenticated identity lives only as long as that one socket connection.
 * - Files left behind: a challenge is removed on proof, on wrong proof, on handshake timeout,
 *   on disconnect or socket error, and on server close; at start the bridge wipes and recreates
 *   the challenges directory, so a crash leaves nothing readable behind after a restart.
 * - Path tricks: runDir and all its ancestors must be root-owned and not group/other-writable
 *   (sticky world-writable ancestors such as /tmp are allowed), so no user can swap the
 *   challenges directory or plant symlinks; files are created with O_EXCL|O_NOFOLLOW.
 *   Hard links: with fs.protected_hardlinks=1 (Debian default) only U could link U's challenge
 *   elsewhere; that only keeps a copy of U's own nonce readable by U.
 * - ACLs: a default ACL on the directory could grant others read; fchmod(0400) sets the ACL mask
 *   to nothing, so named entries grant no access.
 * - A malicious server (someone else's socket) cannot exist at the bridge's path (root-owned
 *   0755 directory). Still, the client only reads a file whose name is 64 hex characters, whose
 *   directory is root-owned and not writable by others, that is a regular file owned by the
 *   client's own uid, opened O_NOFOLLOW|O_NONBLOCK, exactly 64 bytes of hex: a lying server
 *   cannot make it send back anything but such a nonce.
 * - Resource abuse: frames are capped (MAX_FRAME_BYTES), the handshake has a deadline,
 *   connections and outstanding challenges are capped, malformed frames close only their own
 *   connection (see rpc-server.ts).
 *
 * Limits (what this proof is and is not):
 * - It proves that some process able to read files as U cooperated, not that the connecting
 *   process runs as U. U can hand the nonce to someone else (delegating U's identity, like
 *   handing over an SO_PEERCRED socket). More importantly, a confused deputy running as U that
 *   reads arbitrary paths on request (a file server, a misconfigured root service that returns
 *   file contents) lets its users pass as U, and as root if the deputy runs as root. SO_PEERCRED
 *   (a small N-API addon, see the host field notes) does not have this gap; switch to it if such
 *   services run on the host.
 * - A process with CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE can read any challenge: such a
 *   process is root for our purposes.
 * - Groups come from the user database (as at login), not from the calling process, which may
 *   have dropped or gained groups since.
 */
import { constants, promises as fsp } from 'node:fs';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { execFile } from 'node:child_process';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CHALLENGE_DIR_NAME, NONCE_HEX } from './rpc-protocol.js';
import type { Caller } from './rpc-protocol.js';

export interface Challenge {
  readonly uid: number;
  readonly path: string;
  /** The nonce as its 64 hex characters (what the file holds). */
  readonly nonce: Buffer;
}

/** Thrown when a directory the proof depends on could be changed by someone other than root. */
export class UnsafeDirectoryError extends Error {}

/**
 * Throws unless every directory from `dir` up to `/` is root-owned and not writable by group or
 * others. Ancestors (not `dir` itself) may be world-writable if sticky (like /tmp).
 */
export async function assertRootOwnedChain(dir: string): Promise<void> {
  const real = await fsp.realpath(dir);
  let cur = real;
  let first = true;
  for (;;) {
    const st = await fsp.lstat(cur);
    if (!st.isDirectory()) throw new UnsafeDirectoryError(`${cur} is not a directory`);
    const sticky = (st.mode & 0o1000) !== 0;
    if (st.uid !== 0) throw new UnsafeDirectoryError(`${cur} is not owned by root (uid ${st.uid})`);
    if ((st.mode & 0o022) !== 0 && (first || !sticky)) {
      throw new UnsafeDirectoryError(
        `${cur} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`,
      );
    }
    if (cur === sep) return;
    cur = dirname(cur);
    first = false;
  }
}

/**
 * Make `<runDir>/challenges` fresh: wipe whatever a previous run left, recreate it root-owned
 * with mode 0711. Returns its path.
 */
export async function prepareChallengeDir(runDir: string): Promise<string> {
  await assertRootOwnedChain(runDir);
  const dir = join(await fsp.realpath(runDir), CHALLENGE_DIR_NAME);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { mode: 0o711 });
  await fsp.chown(dir, 0, 0);
  await fsp.chmod(dir, 0o711);
  return dir;
}

/** Create a challenge only `uid` (and root) can read. */
export async function createChallenge(dir: string, uid: number): Promise<Challenge> {
  const name = randomBytes(32).toString('hex');
  const nonce = Buffer.from(randomBytes(32).toString('hex'), 'ascii');
  const path = join(dir, name);
  const fh = await fsp.open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o400,
  );
  try {
    await fh.chmod(0o400); // the umask and default ACLs do not get a say: mask = nothing
    await fh.writeFile(nonce);
    await fh.chown(uid, 0);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await removeChallenge(path);
    throw e;
  }
  await fh.close();
  return { uid, path, nonce };
}

/** Delete a challenge file; already gone is fine. */
export async function removeChallenge(path: string): Promise<void> {
  try {
    await fsp.unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Constant-time comparison of the echoed nonce with the issued one. */
export function proofMatches(ch: Challenge, answer: string): boolean {
  const got = Buffer.from(answer, 'utf8');
  if (got.length !== ch.nonce.length) return false;
  return timingSafeEqual(got, ch.nonce);
}

/**
 * Client side: read the nonce from the path the server named, after checking that it looks like
 * a challenge (so a lying server cannot make us send back any other file's content).
 */
export async function readChallenge(path: string): Promise<string> {
  const abs = resolve(path);
  if (!NONCE_HEX.test(basename(abs)))
    throw new Error(`the bridge named an unexpected challenge file ${JSON.stringify(path).slice(0, 200)}`);
  const parent = await fsp.lstat(dirname(abs));
  if (!parent.isDirectory() || parent.uid !== 0 || (parent.mode & 0o022) !== 0) {
    throw new Error(`the challenge directory ${dirname(abs)} is not root-owned and private`);
  }
  const fh = await fsp.open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    const me = process.getuid?.();
    if (!st.isFile() || st.uid !== me || st.size !== 64)
      throw new Error('the challenge file is not a 64-byte file owned by this user');
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    const nonce = buf.subarray(0, bytesRead).toString('ascii');
    if (!NONCE_HEX.test(nonce)) throw new Error('the challenge file does not hold a nonce');
    return nonce;
  } finally {
    await fh.close();
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((res, rej) => {
    execFile(cmd, args, { timeout: 5000, maxBuffer: 1 << 20, encoding: 'utf8' }, (err, stdout) => {
      if (!err) return res({ code: 0, stdout });
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number') return res({ code, stdout });
      rej(err);
    });
  });
}

interface PasswdEntry {
  user: string;
  uid: number;
  gid: number;
}

function parsePasswdLine(line: string): PasswdEntry | undefined {
  const f = line.split(':');
  if (f.length < 7) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { user: f[0], uid, gid };
}

/** uid → account, via getent (NSS: files, LDAP, sssd …); /etc/passwd if getent is missing. */
export async function lookupUid(uid: number): Promise<PasswdEntry | undefined> {
  let lines: string[];
  try {
    const r = await run('getent', ['passwd', String(uid)]);
    if (r.code === 2) return undefined;
    if (r.code !== 0) throw new Error(`getent passwd ${uid} exited with ${r.code}`);
    lines = r.stdout.split('\n');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    lines = (await fsp.readFile('/etc/passwd', 'utf8')).split('\n');
  }
  for (const line of lines) {
    const p = parsePasswdLine(line.trim());
    if (p && p.uid === uid) return p;
  }
  return undefined;
}

/** A user's group names as at login (id -Gn); /etc/group if id is missing. */
export async function groupsOf(user: string, gid: number): Promise<string[]> {
  try {
    const r = await run('id', ['-Gn', '--', user]);
    if (r.code === 0) return r.stdout.trim().split(/\s+/).filter(Boolean);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const out: string[] = [];
  for (const line of (await fsp.readFile('/etc/group', 'utf8')).split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 4 || !f[0]) continue;
    if (Number(f[2]) === gid || f[3].split(',').includes(user)) out.push(f[0]);
  }
  return out;
}

/** The verified caller, once the proof for `uid` succeeded. */
export async function callerFor(uid: number): Promise<Caller | undefined> {
  const p = await lookupUid(uid);
  if (!p) return undefined;
  return { uid, gid: p.gid, user: p.user, groups: await groupsOf(p.user, p.gid) };
}
