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
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);

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
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/systemd/system /run/lock
mount -t tmpfs -o mode=755 tmpfs /etc/systemd/system
cp "$UNITS"/* /etc/systemd/system/
mount -t tmpfs -o mode=755 tmpfs /usr/lib/systemd/system-generators
mkdir -p /run/hh-vendor
cp -P /usr/lib/systemd/system/*.target /usr/lib/systemd/system/*.slice /usr/lib/systemd/system/systemd-exit.service /usr/lib/systemd/system/systemd-poweroff.service /usr/lib/systemd/system/systemd-halt.service /usr/lib/systemd/system/systemd-reboot.service /run/hh-vendor/ 2>/dev/null || true
mount --bind /run/hh-vendor /usr/lib/systemd/system
mount -t cgroup2 cgroup2 /sys/fs/cgroup
if T=$(tty); then mount --bind "$T" /dev/console; fi
hostname hh-systemd-test
export container=other
exec /lib/systemd/systemd --log-target=console --log-level=info --show-status=no --default-standard-output=tty --default-standard-error=tty --unit=hh-boot.target
`;

function cgroupBase(): string {
  // Hybrid hierarchy (cgroup v1 + unified): the v2 part is /sys/fs/cgroup/unified; pure v2: the root.
  return existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
}

function childrenOf(pid: number, comm: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid && name === comm) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/** Start a systemd with these units (file name → text); hh-boot.target is added. */
export async function startSystemd(units: Record<string, string>): Promise<TestSystemd> {
  if (!existsSync('/lib/systemd/systemd')) throw new Error('systemd is not installed: test/setup.sh installs it (apt-get install systemd)');
  const dir = mkdtempSync(join(tmpdir(), 'hh-systemd-'));
  const unitDir = join(dir, 'units');
  mkdirSync(unitDir);
  writeFileSync(join(unitDir, 'hh-boot.target'), '[Unit]\nDescription=hosthog test boot target\n');
  for (const [name, text] of Object.entries(units)) writeFileSync(join(unitDir, name), text);
  const inner = join(dir, 'inner.sh');
  writeFileSync(inner, INNER);
  chmodSync(inner, 0o755);
  const consoleLog = join(dir, 'console.log');
  const cg = join(cgroupBase(), `hh-systemd-${process.pid}-${Date.now()}`);
  mkdirSync(cg);
  const unshare = `unshare --pid --fork --kill-child --mount --mount-proc --uts --cgroup --propagation private ${inner} ${unitDir}`;
  // detached: a session of its own (script needs no controlling terminal of ours); bash moves
  // itself into the fresh cgroup, then becomes `script` (a pty for systemd's console log).
  const outer: ChildProcess = spawn('bash', ['-ec', `echo $$ > ${cg}/cgroup.procs; exec script -qfec "${unshare}" ${consoleLog}`], { stdio: 'ignore', detached: true });
  const exited = new Promise<void>((res) => outer.once('exit', () => res()));
  const log = () => { try { return readFileSync(consoleLog, 'utf8'); } catch { return ''; } };

  let pid = 0;
  const prefix = () => ['nsenter', '-t', String(pid), '-m', '-p', 'systemctl'];
  const ctl = async (...args: string[]) => {
    const [cmd, ...rest] = prefix();
    try {
      const r = await run(cmd, [...rest, ...args], { timeout: 20_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? String(e) };
    }
  };
  /** Every process in the test's cgroup subtree (systemd and all it started). */
  const pidsIn = (d: string): number[] => {
    if (!existsSync(d)) return [];
    let pids: number[] = [];
    try { pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number); } catch { /* gone */ }
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) pids.push(...pidsIn(join(d, e.name)));
    return pids;
  };
  const cleanup = async () => {
    if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const p of pidsIn(cg)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    const rm = (d: string) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
      try { rmdirSync(d); } catch { /* still populated: processes are being reaped */ }
    };
    for (let i = 0; i < 20 && existsSync(cg); i++) { rm(cg); if (existsSync(cg)) await new Promise((r) => setTimeout(r, 100)); }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    const u = outer.pid ? childrenOf(outer.pid, 'unshare') : [];
    const sd = u.flatMap((x) => childrenOf(x, 'systemd'));
    if (sd.length) {
      pid = sd[0];
      const r = await ctl('is-system-running');
      if (r.code === 0) break;
    }
    if (Date.now() > deadline) {
      await cleanup();
      throw new Error(`test systemd did not come up within 15 s; its console said:\n${log().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    pid,
    systemctl: prefix(),
    ctl,
    async isActive(unit) { return (await ctl('is-active', unit)).stdout.trim() === 'active'; },
    log,
    async stop() {
      await ctl('exit', '0');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      await cleanup();
    },
  };
}
