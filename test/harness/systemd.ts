/**
 * A real systemd (Debian's /lib/systemd/systemd) for tests, on a machine where systemd is not
 * PID 1: it runs as PID 1 of its own pid, mount, uts and cgroup namespaces, with a private
 * /run, only the test's units in /etc/systemd/system, no generators, and only targets/slices
 * from the vendor unit directory (so nothing of the host's starts, and no tmpfiles run).
 * Inside the cgroup namespace it mounts its own cgroup2 view rooted at a fresh leaf, so it
 * never touches the host's cgroups. `systemctl` reaches it through
 * `nsenter -t PID -m -p systemctl …`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
  chmodSync,
  openSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);
const readText = (f: string) => {
  try {
    return readFileSync(f, 'utf8').trim();
  } catch {
    return '';
  }
};

export interface TestSystemd {
  /** systemd's pid as seen from here. */
  pid: number;
  /** The command that reaches this systemd's systemctl (for hosthog's [hog] systemctl). */
  systemctl: string[];
  /** Run systemctl with args; resolves with stdout, exit code and stderr (never rejects). */
  ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** True when `systemctl is-active unit` says active. */
  isActive(unit: string): Promise<boolean>;
  log(): string;
  stop(): Promise<void>;
}

const INNER = `#!/bin/bash
# PID 1 of fresh namespaces: a private /run, only the test's units, then systemd.
set -e
UNITS="$1"
# The units first: the temp dir holding them may be under /run, which is covered next.
mount -t tmpfs -o mode=755 tmpfs /etc/systemd/system
cp "$UNITS"/* /etc/systemd/system/
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/systemd/system /run/lock
[ -d /usr/lib/systemd/system-generators ] && \
mount -t tmpfs -o mode=755 tmpfs /usr/lib/systemd/system-generators
mkdir -p /run/hh-vendor
cp -P /usr/lib/systemd/system/*.target /usr/lib/systemd/system/*.slice \
/usr/lib/systemd/system/systemd-exit.service /usr/lib/systemd/system/systemd-poweroff.service \
/usr/lib/systemd/system/systemd-halt.service /usr/lib/systemd/system/systemd-reboot.service \
/run/hh-vendor/ 2>/dev/null || true
mount --bind /run/hh-vendor /usr/lib/systemd/system
mount -t cgroup2 cgroup2 /sys/fs/cgroup
if T=$(tty) && [ -e /dev/console ]; then \
mount --bind "$T" /dev/console || echo "no console bind: systemd logs where /dev/console goes"; fi
hostname hh-systemd-test 2>/dev/null || true
export container=other
exec /lib/systemd/systemd --log-target=console --log-level=info --show-status=no \
--default-standard-output=tty --default-standard-error=tty --unit=hh-boot.target
`;

/**
 * Where the unified (v2) cgroup hierarchy is mounted here, from /proc/self/mountinfo:
 * /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one. On a host with
 * only v1 controllers mounted, the harness mounts a cgroup2 view of its own (`mounted`).
 */
function cgroup2Mount(): string | undefined {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of info.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fstype = line.slice(dash + 3).split(' ')[0];
    const [, , , root, mountPoint] = line.split(' ');
    if (fstype === 'cgroup2' && root === '/' && mountPoint && existsSync(join(mountPoint, 'cgroup.procs')))
      return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** What the machine looks like, for an error message when systemd does not come up. */
function environmentFacts(): string {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch (e) {
      return String(e);
    }
  };
  const cgroupMounts = read('/proc/self/mountinfo')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' - ')[0].split(' ')[4] + ' ' + l.split(' - ')[1].split(' ')[0]);
  return [
    `/proc/self/cgroup: ${read('/proc/self/cgroup').replace(/\n/g, ' ')}`,
    `cgroup mounts: ${cgroupMounts.join(', ') || 'none'}`,
    `kernel: ${read('/proc/sys/kernel/osrelease')}`,
    `SHELL: ${process.env.SHELL ?? '(unset)'}, TMPDIR: ${process.env.TMPDIR ?? '(unset)'}`,
  ].join('\n');
}

/** systemd as PID 1 of its own pid namespace (NSpid ends in 1), whatever launched it. */
function isNamespaceInit(pid: number): boolean {
  return (
    readText(`/proc/${pid}/comm`) === 'systemd' && /^NSpid:.*\s1$/m.test(readText(`/proc/${pid}/status`))
  );
}

/** Start a systemd with these units (file name → text); hh-boot.target is added. */
export async function startSystemd(units: Record<string, string>): Promise<TestSystemd> {
  if (!existsSync('/lib/systemd/systemd'))
    throw new Error('systemd is not installed: test/setup.sh installs it (apt-get install systemd)');
  const dir = mkdtempSync(join(tmpdir(), 'hh-systemd-'));
  const unitDir = join(dir, 'units');
  mkdirSync(unitDir);
  writeFileSync(join(unitDir, 'hh-boot.target'), '[Unit]\nDescription=hosthog test boot target\n');
  for (const [name, text] of Object.entries(units)) writeFileSync(join(unitDir, name), text);
  const inner = join(dir, 'inner.sh');
  writeFileSync(inner, INNER);
  chmodSync(inner, 0o755);
  const consoleLog = join(dir, 'console.log');
  const outerErr = join(dir, 'outer.err');
  // The v2 hierarchy: the host's, or (a host with only v1 mounted) a view mounted here.
  let ownMount = '';
  let base = cgroup2Mount();
  if (!base) {
    ownMount = join(dir, 'cgroup2');
    mkdirSync(ownMount);
    await run('mount', ['-t', 'cgroup2', 'cgroup2', ownMount]);
    base = ownMount;
  }
  // bash waits for a line on stdin; meanwhile this process moves it into a fresh leaf cgroup
  // (under the cgroup this test runs in if that can be done, else under the hierarchy's root);
  // then it goes on to `script` (a pty for systemd's console log) and unshare, whose cgroup
  // namespace is rooted at that leaf. detached: a session of its own (script needs no terminal
  // of ours). Paths travel in the environment, never pasted into a command line; `bash
  // inner.sh`, not the file itself, so a temp dir mounted noexec does not matter. script runs
  // its command with $SHELL, which is set to bash here (CI may have none).
  const env = { ...process.env, SHELL: '/bin/bash', HH_INNER: inner, HH_UNITS: unitDir, HH_LOG: consoleLog };
  const unshare =
    'unshare --pid --fork --kill-child --mount --mount-proc --uts --cgroup --propagation private ' +
    'bash "$HH_INNER" "$HH_UNITS"';
  const errFd = openSync(outerErr, 'w');
  const outer: ChildProcess = spawn(
    'bash',
    ['-ec', `read -r _; exec script -qfec '${unshare}' "$HH_LOG" < /dev/null`],
    { stdio: ['pipe', errFd, errFd], detached: true, env },
  );
  closeSync(errFd);
  const leafName = `hh-systemd-${process.pid}-${Date.now()}`;
  const own = /^0::(\/.*)$/m.exec(readText('/proc/self/cgroup'))?.[1] ?? '/';
  const candidates = [...new Set([join(base, own, leafName), join(base, leafName)])];
  let cg = '';
  const refused: string[] = [];
  for (const c of candidates) {
    try {
      mkdirSync(c);
    } catch (e) {
      refused.push(`mkdir ${c}: ${(e as Error).message}`);
      continue;
    }
    try {
      writeFileSync(join(c, 'cgroup.procs'), String(outer.pid));
      cg = c;
      break;
    } catch (e) {
      refused.push(`move into ${c}: ${(e as Error).message}`);
      try {
        rmdirSync(c);
      } catch {
        /* leave it */
      }
    }
  }
  if (!cg) {
    try {
      process.kill(outer.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    if (ownMount) await run('umount', [ownMount]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`test systemd: no cgroup to run it in (${refused.join('; ')})\n${environmentFacts()}`);
  }
  outer.stdin!.end('go\n');
  let outerExit: string | undefined;
  const exited = new Promise<void>((res) =>
    outer.once('exit', (code, signal) => {
      outerExit = signal ?? String(code);
      res();
    }),
  );
  const log = () => {
    try {
      return readFileSync(consoleLog, 'utf8');
    } catch {
      return '';
    }
  };

  let pid = 0;
  const prefix = () => ['nsenter', '-t', String(pid), '-m', '-p', 'systemctl'];
  const ctl = async (...args: string[]) => {
    const [cmd, ...rest] = prefix();
    try {
      const r = await run(cmd, [...rest, ...args], { timeout: 20_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof x.code === 'number' ? x.code : 1,
        stdout: x.stdout ?? '',
        stderr: x.stderr ?? String(e),
      };
    }
  };
  /** Every process in the test's cgroup subtree (systemd and all it started). */
  const pidsIn = (d: string): number[] => {
    if (!existsSync(d)) return [];
    let pids: number[] = [];
    try {
      pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      /* gone */
    }
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) pids.push(...pidsIn(join(d, e.name)));
    return pids;
  };
  const cleanup = async () => {
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const p of pidsIn(cg)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    const rm = (d: string) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
      try {
        rmdirSync(d);
      } catch {
        /* still populated: processes are being reaped */
      }
    };
    for (let i = 0; i < 20 && existsSync(cg); i++) {
      rm(cg);
      if (existsSync(cg)) await new Promise((r) => setTimeout(r, 100));
    }
    if (ownMount) await run('umount', [ownMount]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };

  // Up means boot finished: `running`, or `degraded` (a unit failed; the tests look at units
  // themselves). A slow CI machine gets 60 s; the error says what was seen, read before cleanup.
  const WAIT_MS = 60_000;
  const deadline = Date.now() + WAIT_MS;
  let state = 'no systemd process yet';
  for (;;) {
    const sd = pidsIn(cg).filter(isNamespaceInit);
    if (sd.length) {
      pid = sd[0];
      const r = await ctl('is-system-running');
      state = `is-system-running: ${(r.stdout.trim() || r.stderr.trim()).slice(0, 300)}`;
      if (/^(running|degraded)$/.test(r.stdout.trim())) break;
    }
    if (outerExit !== undefined || Date.now() > deadline) {
      const failed = pid ? (await ctl('list-units', '--failed', '--no-legend', '--plain')).stdout.trim() : '';
      const why = [
        outerExit !== undefined ? `its launcher exited (${outerExit})` : `not up within ${WAIT_MS / 1000} s`,
        state,
        failed && `failed units: ${failed}`,
        `launcher stderr: ${readText(outerErr) || '(empty)'}`,
        `console: ${log().slice(-2000) || '(empty)'}`,
        `processes in its cgroup: ${
          pidsIn(cg)
            .map((p) => `${p} ${readText(`/proc/${p}/comm`)}`)
            .join(', ') || 'none'
        }`,
        environmentFacts(),
      ]
        .filter(Boolean)
        .join('\n');
      await cleanup();
      throw new Error(`test systemd did not come up: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    pid,
    systemctl: prefix(),
    ctl,
    async isActive(unit) {
      return (await ctl('is-active', unit)).stdout.trim() === 'active';
    },
    log,
    async stop() {
      await ctl('exit', '0');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      await cleanup();
    },
  };
}
