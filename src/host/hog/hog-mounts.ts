/**
 * Carries out a hog CoverPlan: bind-mounts an overlay file over each covered authorized_keys
 * file, in the mount namespace sshd uses (nsenter --mount=/proc/NSPID/ns/mnt; NSPID 1 = the
 * host's), and takes the mounts away again. No sshd configuration is changed.
 *
 * Overlay files live in overlayDir (root-owned, 0700; must be the same path in the bridge's and
 * sshd's mount namespaces), named hosthog-ovl-<random>; every mount whose source is such a file
 * is a hosthog mount, which is how release/reconcile find them even without the state file.
 * Each overlay is root:<group of the original> mode 0640: sshd (reading it as the user) can
 * read it and StrictModes accepts it, the user cannot write it.
 *
 * Races and what is done about them:
 *  - The key file is opened O_NOFOLLOW|O_NONBLOCK through /proc/NSPID/root right before the
 *    mount and must be a regular file owned by the user (or by root for an absolute pattern
 *    outside the home). The kernel still follows symlinks in the directories of the target path
 *    at mount time, so after each mount the enforcer checks /proc/NSPID/mountinfo: a mount that
 *    landed anywhere but the intended path is taken away at once (window: milliseconds).
 *  - A user with a running session (or cron job) can rename ~/.ssh away and create new key
 *    files; apply() is idempotent and meant to run every poll, so new files are covered then.
 *  - umount also follows directory symlinks; only paths read from mountinfo are unmounted and
 *    only hosthog mounts are targeted, so the worst case is another hosthog cover.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { constants, openSync, readlinkSync, readFileSync, writeSync, ftruncateSync, fsyncSync, fstatSync, readSync, closeSync, mkdirSync, chmodSync, lstatSync, readdirSync, rmSync, chownSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, basename, dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Claim } from '../../core/types.js';
import { type CoverPlan, type Cover, overlayContent } from '../../core/hog-plan.js';
import { HosthogError } from '../../core/errors.js';
import { writeFileAtomic } from '../store/atomic-write.js';
import { type HogState, type HogMountRecord, emptyState, readHogState, writeHogState } from './hog-state.js';

const run = promisify(execFile);

export const OVERLAY_PREFIX = 'hosthog-ovl-';
const MAX_KEYS_BYTES = 1 << 20;

export class HogMountError extends HosthogError {}

export interface HogLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ReconcileResult { kept: string[]; removed: string[] }

export interface HogEnforcer {
  /** Make the mounts match the plan (idempotent; run it every poll while the hog lasts). */
  apply(plan: CoverPlan, hog: Claim): Promise<void>;
  /** Remove every hosthog mount (from the state file and from mountinfo) and the overlays. */
  release(): Promise<void>;
  /**
   * At start: compare the state file with mountinfo. With keepFor = the hog that is still
   * active, mounts recorded for that same hog that really exist are kept (adopted); every other
   * hosthog mount, recorded or not, is removed. Idempotent.
   */
  reconcile(keepFor?: Claim | null): Promise<ReconcileResult>;
  /** The commands apply would run, one line each (nothing is touched). */
  dryRun(plan: CoverPlan): string[];
  /** Targets currently covered (as this enforcer knows them). */
  active(): string[];
}

export interface EnforcerOptions {
  stateDir: string;
  overlayDir: string;
  /** Process whose mount namespace sshd uses; default 1 (the host's). */
  nsPid?: number;
  log?: HogLog;
  /** Test seam: runs between the last check of a key file and its mount (to provoke the race). */
  beforeMount?: (target: string) => void | Promise<void>;
}

export interface MountInfoEntry { id: number; root: string; mountPoint: string }

/** Mountinfo fields are octal-escaped (\040 space, \012 newline, \134 backslash). */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 10) continue;
    out.push({ id: Number(f[0]), root: unescapeMountField(f[3]), mountPoint: unescapeMountField(f[4]) });
  }
  return out;
}

/** A mount whose source is a hosthog overlay file (also after the overlay was deleted). */
export function isHosthogMount(e: MountInfoEntry): boolean {
  const root = e.root.replace(/\/\/deleted$/, '');
  return basename(root).startsWith(OVERLAY_PREFIX);
}

export function hogKey(hog: Claim): string {
  return hog.recurrenceId ? `${hog.uid}#${hog.recurrenceId}` : hog.uid;
}

/**
 * realpath of `path` as seen from `root` (e.g. /proc/PID/root: another mount namespace):
 * symlinks are resolved by hand, absolute targets relative to `root`. Null if it cannot be.
 */
export function resolveInRoot(root: string, path: string): string | null {
  let todo = path.split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const seg = todo.shift()!;
    if (seg === '.') continue;
    if (seg === '..') { done.pop(); continue; }
    const cur = '/' + [...done, seg].join('/');
    let st;
    try { st = lstatSync(root + cur); } catch { return null; }
    if (st.isSymbolicLink()) {
      if (++hops > 40) return null;
      const link = readlinkSync(root + cur);
      if (link.startsWith('/')) done.length = 0;
      todo = [...link.split('/').filter(Boolean), ...todo];
      continue;
    }
    done.push(seg);
  }
  return '/' + done.join('/');
}

/** Replace a file's content keeping its inode (a bind mount of it sees the new content). */
function rewriteInPlace(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.from(text);
    ftruncateSync(fd, 0);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
    fsyncSync(fd);
  } finally { closeSync(fd); }
}

const silent: HogLog = { info() {}, warn() {} };

export function createHogEnforcer(opts: EnforcerOptions): HogEnforcer {
  const nsPid = opts.nsPid ?? 1;
  const log = opts.log ?? silent;
  const nsRoot = `/proc/${nsPid}/root`;
  let state: HogState = emptyState(nsPid);

  const nsenter = async (cmd: string, args: string[]) =>
    run('nsenter', [`--mount=/proc/${nsPid}/ns/mnt`, '--', cmd, ...args], { encoding: 'utf8', timeout: 15_000 });

  const mountInfo = async (): Promise<MountInfoEntry[]> => {
    return parseMountInfo(await readFile(`/proc/${nsPid}/mountinfo`, 'utf8'));
  };

  const save = () => writeHogState(opts.stateDir, state);

  const ensureOverlayDir = () => {
    mkdirSync(opts.overlayDir, { recursive: true, mode: 0o700 });
    const st = lstatSync(opts.overlayDir);
    if (!st.isDirectory() || st.uid !== 0) throw new HogMountError(`overlay directory ${opts.overlayDir} is not a root-owned directory`, 'remove it or point the enforcer elsewhere');
    chmodSync(opts.overlayDir, 0o700);
  };

  const umountPoint = async (mountPoint: string) => {
    try { await nsenter('umount', ['--no-canonicalize', '--', mountPoint]); }
    catch (e) {
      log.warn({ target: mountPoint, err: String((e as Error).message).split('\n')[0] }, 'umount failed, trying lazy umount');
      await nsenter('umount', ['-l', '--no-canonicalize', '--', mountPoint]);
    }
  };

  /** Remove hosthog mounts at the given mount points (all of them when undefined), stacked ones too. */
  const removeMounts = async (only?: (mp: string) => boolean): Promise<string[]> => {
    const removed: string[] = [];
    for (let round = 0; round < 8; round++) {
      const found = (await mountInfo()).filter(isHosthogMount).filter((e) => !only || only(e.mountPoint));
      if (found.length === 0) break;
      // Newest first: a stacked mount comes off before the one beneath it.
      for (const e of found.sort((a, b) => b.id - a.id)) {
        try { await umountPoint(e.mountPoint); removed.push(e.mountPoint); }
        catch (err) { log.warn({ target: e.mountPoint, err: String((err as Error).message).split('\n')[0] }, 'could not unmount hog cover'); }
      }
    }
    const left = (await mountInfo()).filter(isHosthogMount).filter((e) => !only || only(e.mountPoint));
    if (left.length) throw new HogMountError(`${left.length} hog cover(s) could not be unmounted: ${left.map((e) => e.mountPoint).join(', ')}`, 'see the log; try hosthog unhog --force');
    return [...new Set(removed)];
  };

  const removeOverlays = (keep: Set<string>) => {
    if (!existsSync(opts.overlayDir)) return;
    for (const name of readdirSync(opts.overlayDir)) {
      const p = join(opts.overlayDir, name);
      if ((name.startsWith(OVERLAY_PREFIX) || name.startsWith(`.${OVERLAY_PREFIX}`)) && !keep.has(p)) rmSync(p, { force: true });
    }
  };

  /**
   * Read the key file right before covering it; a reason string if it must not be covered.
   * `landing` is where the mount will land: the file's directory with its symlinks resolved in
   * sshd's namespace (a user may keep ~/.ssh as a symlink to a directory of their own).
   */
  const readKeyFile = (c: Cover): { text: string; gid: number; landing: string } | string => {
    let landing: string;
    if (c.viaLink) {
      // The key file is a symlink: resolve it once (in sshd's namespace); the open below does not
      // follow any further link, and the file must be the user's own (root's is never accepted).
      const whole = resolveInRoot(nsRoot, c.file);
      if (whole === null) return 'symlink cannot be resolved';
      if (whole === '/') return 'symlink points at /';
      landing = whole;
    } else {
      const dir = resolveInRoot(nsRoot, dirname(c.file));
      if (dir === null) return 'its directory cannot be resolved';
      landing = (dir === '/' ? '' : dir) + '/' + basename(c.file);
    }
    let fd: number;
    try { fd = openSync(nsRoot + landing, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY); }
    catch (e) { return (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'became a symlink' : `cannot open (${(e as NodeJS.ErrnoException).code})`; }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return 'not a regular file';
      if (st.uid !== c.uid && !(st.uid === 0 && c.rootOwnedOk && !c.viaLink)) return `owned by uid ${st.uid}, not by ${c.user}`;
      if (st.size > MAX_KEYS_BYTES) return 'too large';
      const buf = Buffer.alloc(Math.min(st.size, MAX_KEYS_BYTES));
      let off = 0;
      while (off < buf.length) { const n = readSync(fd, buf, off, buf.length - off, off); if (n <= 0) break; off += n; }
      return { text: buf.subarray(0, off).toString('utf8'), gid: st.gid, landing };
    } finally { closeSync(fd); }
  };

  const coverOne = async (c: Cover, message: string, taken: Set<string>): Promise<void> => {
    const read = readKeyFile(c);
    if (typeof read === 'string') { log.warn({ user: c.user, target: c.file, why: read }, 'hog: key file not covered'); return; }
    const overlay = join(opts.overlayDir, OVERLAY_PREFIX + randomBytes(8).toString('hex'));
    writeFileAtomic(overlay, c.mode === 'message' ? overlayContent(read.text, message) : '', 0o640);
    chownSync(overlay, 0, read.gid);
    const target = read.landing;
    if (taken.has(target)) { rmSync(overlay, { force: true }); log.info({ user: c.user, target: c.file, landing: target }, 'hog: already covered through another path'); return; }
    if (target !== c.file) log.info({ user: c.user, target: c.file, landing: target }, c.viaLink ? 'hog: key file is a symlink to a file of the user\'s own: covered where it lands' : 'hog: key file reached through a symlinked directory');
    const rec: HogMountRecord = { target, file: c.file, overlay, user: c.user, status: 'intended', mode: c.mode };
    state.mounts.push(rec);
    save(); // BEFORE the mount: a crash now leaves a record of what may exist
    try {
      await opts.beforeMount?.(target);
      await nsenter('mount', ['--no-canonicalize', '--bind', '--', overlay, target]);
    } catch (e) {
      state.mounts = state.mounts.filter((m) => m !== rec);
      save();
      rmSync(overlay, { force: true });
      log.warn({ user: c.user, target: c.file, err: String((e as Error).message).split('\n')[0] }, 'hog: mount failed');
      return;
    }
    // Where did it land? Symlinked directories could have redirected it.
    const mine = (await mountInfo()).filter((e) => isHosthogMount(e) && basename(e.root.replace(/\/\/deleted$/, '')) === basename(overlay));
    const stray = mine.filter((e) => e.mountPoint !== target);
    if (stray.length || mine.length === 0) {
      for (const e of stray) await umountPoint(e.mountPoint).catch(() => undefined);
      state.mounts = state.mounts.filter((m) => m !== rec);
      save();
      rmSync(overlay, { force: true });
      log.warn({ user: c.user, target: c.file, landed: stray.map((e) => e.mountPoint) }, 'hog: cover landed elsewhere (path changed under us): removed');
      return;
    }
    rec.status = 'active';
    save(); // AFTER
    log.info({ user: c.user, target, mode: c.mode }, 'hog: key file covered');
  };

  const release = async (): Promise<void> => {
    await removeMounts();
    state = emptyState(nsPid);
    save();
    removeOverlays(new Set());
  };

  return {
    async apply(plan, hog) {
      ensureOverlayDir();
      const key = hogKey(hog);
      if (state.hogUid !== null && state.hogUid !== key && state.mounts.length) await release();
      state.hogUid = key;
      const wanted = new Map(plan.covers.map((c) => [c.file, c]));
      const mounted = new Set((await mountInfo()).filter(isHosthogMount).map((e) => e.mountPoint));
      const planned = (m: HogMountRecord) => m.file ?? m.target;
      // Covers no longer wanted (user now allowed, file gone from the plan) come off.
      const unwanted = state.mounts.filter((m) => !wanted.has(planned(m)));
      if (unwanted.length) {
        const targets = new Set(unwanted.map((m) => m.target));
        await removeMounts((mp) => targets.has(mp));
        for (const m of unwanted) { rmSync(m.overlay, { force: true }); mounted.delete(m.target); }
      }
      // Records whose mount vanished (someone unmounted it) are forgotten and covered again.
      const vanished = state.mounts.filter((m) => wanted.has(planned(m)) && !mounted.has(m.target));
      for (const m of vanished) rmSync(m.overlay, { force: true });
      state.mounts = state.mounts.filter((m) => !unwanted.includes(m) && !vanished.includes(m));
      // Lockout mode changed: that cover comes off and is made again below. Message changed
      // (claim extended, retitled): overlays are rewritten in place (same inode, mount stays).
      const remode = state.mounts.filter((m) => m.mode !== wanted.get(planned(m))!.mode);
      if (remode.length) {
        const targets = new Set(remode.map((m) => m.target));
        await removeMounts((mp) => targets.has(mp));
        for (const m of remode) { rmSync(m.overlay, { force: true }); mounted.delete(m.target); }
        state.mounts = state.mounts.filter((m) => !remode.includes(m));
      }
      if (state.message !== undefined && state.message !== plan.message) {
        for (const m of state.mounts) if (m.mode === 'message') rewriteInPlace(m.overlay, overlayContent(readFileSync(m.overlay, 'utf8'), plan.message));
      }
      state.message = plan.message;
      save();
      const have = new Set(state.mounts.map(planned));
      for (const c of plan.covers) {
        if (have.has(c.file)) continue;
        if (mounted.has(c.file)) continue; // a hosthog cover is already there (release/reconcile find it in mountinfo)
        // Landings already covered (two planned paths, e.g. a link and its target, one file).
        const taken = new Set([...mounted, ...state.mounts.map((m) => m.target)]);
        await coverOne(c, plan.message, taken);
      }
      save();
    },

    release,

    async reconcile(keepFor) {
      ensureOverlayDir();
      const saved = readHogState(opts.stateDir);
      const key = keepFor ? hogKey(keepFor) : null;
      const present = new Set((await mountInfo()).filter(isHosthogMount).map((e) => e.mountPoint));
      let keep: HogMountRecord[] = [];
      if (key && saved && saved.hogUid === key && saved.nsPid === nsPid) {
        keep = saved.mounts.filter((m) => present.has(m.target) && existsSync(m.overlay)).map((m) => ({ ...m, status: 'active' as const }));
      }
      const keepTargets = new Set(keep.map((m) => m.target));
      const removed = await removeMounts((mp) => !keepTargets.has(mp));
      state = { ...emptyState(nsPid), hogUid: keep.length ? key : null, message: keep.length ? saved?.message : undefined, mounts: keep };
      save();
      removeOverlays(new Set(keep.map((m) => m.overlay)));
      if (removed.length || keep.length) log.info({ removed: removed.length, kept: keep.length }, 'hog: reconciled mounts');
      return { kept: [...keepTargets], removed };
    },

    dryRun(plan) {
      return plan.covers.map((c) => {
        const landing = c.viaLink ? resolveInRoot(nsRoot, c.file) : null;
        const where = c.viaLink ? `${JSON.stringify(landing ?? '(unresolvable)')}  # ${c.user}: ${c.mode}, symlink ${JSON.stringify(c.file)}; covered only if the user owns it` : `${JSON.stringify(c.file)}  # ${c.user}: ${c.mode}`;
        return `nsenter --mount=/proc/${nsPid}/ns/mnt -- mount --bind ${join(opts.overlayDir, OVERLAY_PREFIX + '…')} ${where}`;
      });
    },

    active() { return state.mounts.filter((m) => m.status === 'active').map((m) => m.target); },
  };
}
