/**
 * A real sshd for hog tests, inside a PRIVATE mount namespace so bind mounts made by a test
 * never reach the host's namespace:
 *
 *   const sshd = await startSshd();        // anchor: unshare --mount --propagation private sleep infinity
 *   t.after(() => sshd.stop());            // sshd: nsenter --mount=/proc/ANCHOR/ns/mnt sshd -D -e -f CONFIG
 *   createHogEnforcer({ nsPid: sshd.anchorPid, … })
 *
 * Config: free loopback port, generated host key, PasswordAuthentication no, UsePAM no,
 * StrictModes default (yes), AuthorizedKeysFile = the two defaults plus an absolute
 * root-owned dir (DIR/keys/%u) used for root's key so the real /root/.ssh is never touched.
 * The working dir is under /run (root-owned 0755 all the way up, as StrictModes wants).
 *
 * With `pamRoot` (a directory holding etc/pam.d/sshd and etc/ssh/{sshd_config,sshd_config.d},
 * e.g. Debian's stock files wired by `hosthog gate setup --root`): those are bind-mounted over
 * /etc/pam.d/sshd and /etc/ssh/… INSIDE the private namespace only, and sshd runs Debian's stock
 * sshd_config (UsePAM yes, PasswordAuthentication yes by default) with only the port, listen
 * address, host key, pid file, AuthorizedKeysFile and LogLevel given as -o options.
 */
import { spawn, execFileSync, execFile, type ChildProcess } from 'node:child_process';
import {
  mkdtempSync,
  rmSync,
  writeFileSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  chownSync,
  chmodSync,
  existsSync,
  lstatSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './free-port.js';
import type { TestUser } from './users.js';

export interface LoginResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestSshd {
  port: number;
  dir: string;
  configFile: string;
  anchorPid: number;
  sshdPid: number;
  /** Dir of the absolute AuthorizedKeysFile pattern (DIR/keys/%u). */
  keysDir: string;
  /** ssh -i key -p port … user@127.0.0.1 echo ok */
  login(user: string, keyFile: string): Promise<LoginResult>;
  /** ssh with these extra client args and env (default LogLevel: sshd's Banner is printed). */
  ssh(user: string, args: string[], env?: NodeJS.ProcessEnv, command?: string[]): Promise<LoginResult>;
  /** Stop sshd and start a new one in the same namespace (a new pid, the same config). */
  restart(): Promise<void>;
  /** /proc/ANCHOR/mountinfo */
  mountInfo(): string;
  stderr(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hook = false;
function track(c: ChildProcess): void {
  live.add(c);
  c.once('exit', () => live.delete(c));
  if (!hook) {
    hook = true;
    process.on('exit', () => {
      for (const p of live)
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
    });
  }
}

async function killAndWait(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise<void>((r) => c.once('exit', () => r()));
  try {
    process.kill(-c.pid!, 'SIGTERM');
  } catch {
    /* gone */
  }
  const t = setTimeout(() => {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 2000);
  await done;
  clearTimeout(t);
}

function waitPort(port: number, ms: number, child: ChildProcess, errText: () => string): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`sshd exited: ${errText()}`));
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`sshd did not listen on ${port}: ${errText()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startSshd(opts: { pamRoot?: string } = {}): Promise<TestSshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync('/run/hosthog-sshd-');
  chmodSync(dir, 0o755);
  const keysDir = join(dir, 'keys');
  mkdirSync(keysDir, { mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
  const port = await freePort();
  const configFile = join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      `AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 ${keysDir}/%u`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );

  const binds: [string, string][] = opts.pamRoot
    ? [
        [join(opts.pamRoot, 'etc/pam.d/sshd'), '/etc/pam.d/sshd'],
        [join(opts.pamRoot, 'etc/ssh/sshd_config'), '/etc/ssh/sshd_config'],
        [join(opts.pamRoot, 'etc/ssh/sshd_config.d'), '/etc/ssh/sshd_config.d'],
      ]
    : [];
  // The bind mounts are made by the anchor itself, inside its new namespace, before it sleeps.
  const script = [
    ...binds.map(([a, b]) => `mount --bind -- '${a}' '${b}' || exit 1`),
    'echo ready',
    'exec sleep infinity',
  ].join('\n');
  const anchor = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  track(anchor);
  const anchorPid = anchor.pid!;
  const self = readlinkSync('/proc/self/ns/mnt');
  for (let i = 0; i < 100; i++) {
    try {
      if (readlinkSync(`/proc/${anchorPid}/ns/mnt`) !== self) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (readlinkSync(`/proc/${anchorPid}/ns/mnt`) === self)
    throw new Error('anchor did not get a private mount namespace');
  await new Promise<void>((resolve, reject) => {
    let out = '';
    anchor.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('ready')) resolve();
    });
    anchor.once('exit', (c) =>
      reject(new Error(`namespace anchor exited (${c}) before its bind mounts were made`)),
    );
  });

  let err = '';
  const sshdArgv = opts.pamRoot
    ? [
        '-f',
        '/etc/ssh/sshd_config',
        '-o',
        `Port=${port}`,
        '-o',
        'ListenAddress=127.0.0.1',
        '-o',
        `HostKey=${join(dir, 'host_ed25519')}`,
        '-o',
        `PidFile=${join(dir, 'sshd.pid')}`,
        '-o',
        `AuthorizedKeysFile=.ssh/authorized_keys .ssh/authorized_keys2 ${keysDir}/%u`,
        '-o',
        'LogLevel=VERBOSE',
      ]
    : ['-f', configFile];
  const startDaemon = () => {
    const c = spawn(
      'nsenter',
      [`--mount=/proc/${anchorPid}/ns/mnt`, '--', '/usr/sbin/sshd', '-D', '-e', ...sshdArgv],
      { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    track(c);
    c.stderr!.on('data', (d) => {
      err += String(d);
      if (err.length > 200_000) err = err.slice(-100_000);
    });
    return c;
  };
  let sshd = startDaemon();
  try {
    await waitPort(port, 10_000, sshd, () => err);
  } catch (e) {
    await killAndWait(sshd);
    await killAndWait(anchor);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const clientOpts = [
    '-p',
    String(port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=5',
  ];
  return {
    port,
    dir,
    configFile,
    anchorPid,
    get sshdPid() {
      return sshd.pid!;
    },
    keysDir,
    ssh(user, args, env, command = ['echo', 'ok']) {
      return new Promise((resolve) => {
        execFile(
          'ssh',
          [...clientOpts, ...args, '--', `${user}@127.0.0.1`, ...command],
          { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } },
          (e, stdout, stderr) => {
            const code = e
              ? typeof (e as { code?: unknown }).code === 'number'
                ? (e as { code: number }).code
                : null
              : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    async restart() {
      await killAndWait(sshd);
      sshd = startDaemon();
      await waitPort(port, 10_000, sshd, () => err);
    },
    login(user, keyFile) {
      return new Promise((resolve) => {
        execFile(
          'ssh',
          [
            '-i',
            keyFile,
            '-p',
            String(port),
            '-o',
            'BatchMode=yes',
            '-o',
            'StrictHostKeyChecking=no',
            '-o',
            'UserKnownHostsFile=/dev/null',
            '-o',
            'IdentitiesOnly=yes',
            '-o',
            'ConnectTimeout=5',
            '-o',
            'LogLevel=ERROR',
            '--',
            `${user}@127.0.0.1`,
            'echo',
            'ok',
          ],
          { encoding: 'utf8', timeout: 20_000 },
          (e, stdout, stderr) => {
            const code = e
              ? typeof (e as { code?: unknown }).code === 'number'
                ? (e as { code: number }).code
                : null
              : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    mountInfo: () => readFileSync(`/proc/${anchorPid}/mountinfo`, 'utf8'),
    stderr: () => err,
    async stop() {
      await killAndWait(sshd);
      await killAndWait(anchor); // the namespace (and every test mount in it) dies with its last process
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface UserKey {
  user: string;
  keyFile: string;
  pub: string;
}

/** A fresh ed25519 key pair for user in dir (private key owned by root, for ssh run as root). */
export function makeKey(dir: string, user: string): UserKey {
  const keyFile = join(dir, `id_${user.replace(/[^A-Za-z0-9_-]/g, '_')}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${user}@hosthog-test`, '-f', keyFile]);
  return { user, keyFile, pub: readFileSync(keyFile + '.pub', 'utf8') };
}

/**
 * Install text as user's ~/.ssh/authorized_keys (0700 dir, 0600 file, owned by the user).
 * Returns a restore function that puts back what was there before (file or nothing).
 */
export function installAuthorizedKeys(u: TestUser, text: string): () => void {
  const sshDir = join(u.home, '.ssh');
  const file = join(sshDir, 'authorized_keys');
  const hadDir = existsSync(sshDir);
  let before: Buffer | null = null;
  try {
    if (lstatSync(file).isFile()) before = readFileSync(file);
  } catch {
    /* none */
  }
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  chownSync(sshDir, u.uid, u.gid);
  chmodSync(sshDir, 0o700);
  try {
    unlinkSync(file);
  } catch {
    /* none */
  }
  // A test that failed badly may have left an authorized_keys2 (link) behind: start clean.
  try {
    if (lstatSync(file + '2').isSymbolicLink()) unlinkSync(file + '2');
  } catch {
    /* none */
  }
  writeFileSync(file, text, { mode: 0o600 });
  chownSync(file, u.uid, u.gid);
  return () => {
    try {
      unlinkSync(file);
    } catch {
      /* gone */
    }
    if (before) {
      writeFileSync(file, before, { mode: 0o600 });
      chownSync(file, u.uid, u.gid);
    } else if (!hadDir) rmSync(sshDir, { recursive: true, force: true });
  };
}

const USERS_LOCK = '/run/hosthog-test-users.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Test files that change the hh-* users' keys (hog-sshd, hog-bridge-e2e) take turns: node --test
 * runs files in parallel. A lock directory holding the owner's pid; a dead owner's lock is taken
 * over. Returns the release function (also run at process exit).
 */
export async function lockTestUsers(timeoutMs = 900_000): Promise<() => void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(USERS_LOCK, { mode: 0o700 });
      writeFileSync(join(USERS_LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = NaN;
      try {
        pid = Number(readFileSync(join(USERS_LOCK, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      let age = 0;
      try {
        age = Date.now() - lstatSync(USERS_LOCK).mtimeMs;
      } catch {
        continue;
      }
      if ((Number.isInteger(pid) && pid > 0 && !alive(pid)) || (!Number.isInteger(pid) && age > 10_000)) {
        rmSync(USERS_LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > end) throw new Error(`test users are locked by pid ${pid} (${USERS_LOCK})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    try {
      if (readFileSync(join(USERS_LOCK, 'pid'), 'utf8') === String(process.pid))
        rmSync(USERS_LOCK, { recursive: true, force: true });
    } catch {
      /* gone */
    }
  };
  process.once('exit', release);
  return release;
}

/** The users every hog test logs in as (root's key goes to sshd's own key directory). */
export const LAB_USERS = ['root', 'hh-alice', 'hh-bob', 'hh-carol', 'hh-dave'];

export interface HogLab {
  sshd: TestSshd;
  users: Record<string, TestUser>;
  keys: Record<string, UserKey>;
  tmp: string;
  close(): Promise<void>;
}

/**
 * What both hog test files need: the test users locked for this file, a real sshd in a private
 * mount namespace, and a fresh key for each lab user installed (restored by close()).
 */
export async function startHogLab(
  tmpPrefix: string,
  ensureUsers: () => Record<string, TestUser>,
  sshdOpts: { pamRoot?: string } = {},
): Promise<HogLab> {
  const unlock = await lockTestUsers(); // the other hog test file changes the same users' keys
  const restores: (() => void)[] = [];
  let sshd: TestSshd | undefined;
  let tmp = '';
  const close = async () => {
    for (const r of restores.reverse()) {
      try {
        r();
      } catch {
        /* keep cleaning */
      }
    }
    await sshd?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    unlock();
  };
  try {
    const users = ensureUsers();
    sshd = await startSshd(sshdOpts);
    tmp = mkdtempSync(tmpPrefix);
    const keys: Record<string, UserKey> = {};
    for (const name of LAB_USERS) keys[name] = makeKey(tmp, name);
    for (const name of LAB_USERS.slice(1)) restores.push(installAuthorizedKeys(users[name], keys[name].pub));
    writeFileSync(join(sshd.keysDir, 'root'), keys.root.pub, { mode: 0o600 });
    return { sshd, users, keys, tmp, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * A temp root (under /run, root-owned 0755) with Debian's stock /etc/pam.d/sshd and
 * /etc/ssh/sshd_config copied from this machine and the hog gate wired into them by gateSetup
 * (what `hosthog gate setup --root` runs), for startSshd({ pamRoot }). The host's /etc is untouched.
 */
export async function makeGateRoot(gateDir: string): Promise<string> {
  const { gateSetup } = await import('../../src/host/hog/gate.js');
  const root = mkdtempSync('/run/hosthog-pamroot-');
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'etc/pam.d'), { recursive: true, mode: 0o755 });
  mkdirSync(join(root, 'etc/ssh/sshd_config.d'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'etc/pam.d/sshd'), readFileSync('/etc/pam.d/sshd'));
  writeFileSync(join(root, 'etc/ssh/sshd_config'), readFileSync('/etc/ssh/sshd_config'));
  gateSetup(root, gateDir);
  return root;
}
