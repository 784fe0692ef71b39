/**
 * The hog gate on the host: writes the gate's two files (GATE/allow for pam_listfile, GATE/banner
 * for sshd's Banner), finds the running sshd AGAIN at every apply (pid file, else a /proc scan for
 * the listening sshd), and verifies the gate as sshd sees it: the files read back through
 * /proc/SSHD_PID/root and compared byte for byte, `sshd -T` (in sshd's mount namespace, with its
 * own -f/-o arguments) says usepam yes, sshd's /etc/pam.d/sshd has the gate line first.
 * Also `hosthog gate setup/check`: the PAM line and the sshd drop-in under a root directory.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HosthogError } from '../../core/errors.js';
import {
  DROP_IN,
  dropInText,
  includesDropIn,
  loginMethods,
  pamProblem,
  parseSshdT,
  withPamLine,
} from '../../core/gate-text.js';
import { writeFileAtomic } from '../store/atomic-write.js';

const run = promisify(execFile);

/** A hog that cannot be enforced (exit code 6, docs/admin.md). */
export class GateError extends HosthogError {
  override readonly exitCode = 6;
}

export const PAM_FILE = '/etc/pam.d/sshd';
export const SSHD_CONFIG = '/etc/ssh/sshd_config';

/** Write the gate's files: allow (null: removed, everyone passes) and banner (always, maybe empty). */
export function writeGate(gateDir: string, allow: string | null, banner: string): void {
  mkdirSync(gateDir, { recursive: true, mode: 0o755 });
  const st = lstatSync(gateDir);
  if (!st.isDirectory() || st.uid !== 0) {
    throw new GateError(
      `gate directory ${gateDir} is not a root-owned directory`,
      'remove it; the bridge makes it',
    );
  }
  chmodSync(gateDir, 0o755);
  for (let d = dirname(gateDir); d !== '/'; d = dirname(d)) {
    const p = lstatSync(d);
    if (p.uid !== 0 || (p.mode & 0o022) !== 0) {
      throw new GateError(
        `${d} is writable by others: the gate files could be replaced`,
        'make it root-owned, mode 0755',
      );
    }
  }
  const same = (name: string, text: string) => {
    try {
      const st = lstatSync(join(gateDir, name));
      return st.isFile() && st.uid === 0 && readFileSync(join(gateDir, name), 'utf8') === text;
    } catch {
      return false;
    }
  };
  if (!same('banner', banner)) writeFileAtomic(join(gateDir, 'banner'), banner, 0o644);
  if (allow === null) rmSync(join(gateDir, 'allow'), { force: true });
  else if (!same('allow', allow)) writeFileAtomic(join(gateDir, 'allow'), allow, 0o644);
}

export interface SshdFound {
  pid: number;
  how: string;
}

const exeOf = (pid: number) => {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
};
const commOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const ppidOf = (pid: number) => {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const isSshd = (pid: number) => /(^|\/)sshd$/.test(exeOf(pid)) || commOf(pid) === 'sshd';

/**
 * The listening sshd(s): from the pid file if that process is an sshd, else every sshd whose parent
 * is not one.
 */
export function findSshd(pidFile: string): SshdFound[] {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && isSshd(pid)) return [{ pid, how: `pid file ${pidFile}` }];
  } catch {
    /* scan below */
  }
  const found: SshdFound[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (commOf(pid) !== 'sshd' && !/(^|\/)sshd$/.test(exeOf(pid))) continue;
    // The listener: its parent is no sshd and it is no per-connection child ("sshd: bob [priv]").
    const cmd = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    })();
    if (isSshd(ppidOf(pid)) || (/^sshd: /.test(cmd) && !/\[listener\]/.test(cmd))) continue;
    found.push({ pid, how: '/proc scan' });
  }
  return found;
}

/**
 * sshd's -f and -o arguments from its command line (so `sshd -T` sees what it runs with). The
 * listener rewrites its title ("sshd: /usr/sbin/sshd -D -f X [listener] …", one string): then the
 * words are split at spaces and only `-f FILE` and `-o Key=value` pairs are kept.
 */
export function sshdArgs(pid: number): string[] {
  let raw = '';
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return [];
  }
  let argv = raw.split('\0').filter(Boolean);
  if (argv.length === 1 && /^sshd: /.test(argv[0]))
    argv = argv[0]
      .replace(/^sshd: /, '')
      .replace(/\s\[listener\].*$/, '')
      .split(/\s+/);
  const out: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-f' && i + 1 < argv.length) out.push(a, argv[++i]);
    else if (a === '-o' && i + 1 < argv.length && /^[A-Za-z]+=?\S/.test(argv[i + 1])) out.push(a, argv[++i]);
    else if (/^-f./.test(a)) out.push('-f', a.slice(2));
  }
  return out;
}

/** `sshd -T` as the running sshd sees it (its mount namespace, its arguments). */
export async function sshdEffective(pid: number): Promise<Map<string, string>> {
  const exe = exeOf(pid).replace(/ \(deleted\)$/, '') || '/usr/sbin/sshd';
  const argv = [`--mount=/proc/${pid}/ns/mnt`, '--', exe, '-T', ...sshdArgs(pid)];
  const { stdout } = await run('nsenter', argv, { encoding: 'utf8', timeout: 10_000, maxBuffer: 1 << 20 });
  return parseSshdT(stdout);
}

export interface GateCheck {
  enforced: boolean;
  missing: string[];
  sshd?: SshdFound;
  methods: string[];
}

/**
 * Is the gate in force for the running sshd? expected = the gate files' bytes (null: only the
 * wiring is checked, e.g. for a hog that starts later). Every call looks sshd up again.
 */
export async function verifyGate(
  pidFile: string,
  gateDir: string,
  expected: { allow: string; banner: string } | null,
): Promise<GateCheck> {
  const found = findSshd(pidFile);
  if (found.length === 0) {
    return {
      enforced: false,
      missing: [`no running sshd found (pid file ${pidFile}, no sshd listener in /proc)`],
      methods: [],
    };
  }
  const missing: string[] = [];
  let methods: string[] = [];
  for (const s of found) {
    const root = `/proc/${s.pid}/root`;
    const at = found.length > 1 ? ` (sshd ${s.pid})` : '';
    if (expected) {
      for (const [name, want] of [
        ['allow', expected.allow],
        ['banner', expected.banner],
      ] as const) {
        let got: string | null = null;
        try {
          got = readFileSync(root + join(gateDir, name), 'utf8');
        } catch {
          /* missing */
        }
        if (got !== want) {
          if (name === 'allow') missing.push(`sshd does not see the allow file ${gateDir}/allow${at}`);
          else if (want) missing.push(`sshd does not see the hog message in ${gateDir}/banner${at}`);
        }
      }
    }
    let pam = '';
    try {
      pam = readFileSync(root + PAM_FILE, 'utf8');
    } catch {
      missing.push(`sshd's ${PAM_FILE} cannot be read${at}`);
    }
    const p = pam ? pamProblem(pam, gateDir) : null;
    if (p) missing.push(`${PAM_FILE}: ${p} (hosthog gate setup)${at}`);
    try {
      const t = await sshdEffective(s.pid);
      methods = loginMethods(t);
      if (t.get('usepam') !== 'yes')
        missing.push(`sshd runs with UsePAM ${t.get('usepam') ?? '?'}: the PAM gate is not asked${at}`);
    } catch (e) {
      missing.push(
        `cannot ask sshd ${s.pid} for its config (sshd -T: ${String((e as Error).message)
          .split('\n')[0]
          .slice(0, 120)})`,
      );
    }
  }
  return { enforced: missing.length === 0, missing, sshd: found[0], methods };
}

export interface SetupResult {
  changed: string[];
  unchanged: string[];
}

/** `hosthog gate setup --root DIR`: the PAM line and the sshd drop-in under root (idempotent). */
export function gateSetup(root: string, gateDir: string): SetupResult {
  const out: SetupResult = { changed: [], unchanged: [] };
  const pamPath = join(root, PAM_FILE);
  let pam: string;
  try {
    pam = readFileSync(pamPath, 'utf8');
  } catch {
    throw new GateError(`${pamPath} is missing`, "install openssh-server (Debian's /etc/pam.d/sshd) first");
  }
  const next = withPamLine(pam, gateDir);
  if (next !== pam) {
    writeFileAtomic(pamPath, next, 0o644);
    out.changed.push(pamPath);
  } else out.unchanged.push(pamPath);
  const drop = join(root, DROP_IN);
  let cur: string | null = null;
  try {
    cur = readFileSync(drop, 'utf8');
  } catch {
    /* none */
  }
  if (cur !== dropInText(gateDir)) {
    mkdirSync(dirname(drop), { recursive: true, mode: 0o755 });
    writeFileAtomic(drop, dropInText(gateDir), 0o644);
    out.changed.push(drop);
  } else out.unchanged.push(drop);
  if (root === '/' || root === '') writeGateIfMissing(gateDir);
  return out;
}

function writeGateIfMissing(gateDir: string): void {
  try {
    lstatSync(join(gateDir, 'banner'));
  } catch {
    writeGate(gateDir, null, '');
  }
}

export interface CheckLine {
  ok: boolean;
  what: string;
  fix?: string;
}

/** `hosthog gate check --root DIR`: the wiring as files (and, for root /, as `sshd -T` says). */
export async function gateCheck(
  root: string,
  gateDir: string,
  sshdBinary = '/usr/sbin/sshd',
): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  const say = (ok: boolean, good: string, bad: string, fix: string) =>
    out.push(ok ? { ok, what: good } : { ok, what: bad, fix });
  const readOr = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const pamPath = join(root, PAM_FILE);
  const pam = readOr(pamPath);
  const p = pam ? pamProblem(pam, gateDir) : 'it is missing';
  say(!p, `${pamPath} asks the gate first in the account phase`, `${pamPath}: ${p}`, 'hosthog gate setup');
  const drop = join(root, DROP_IN);
  say(
    readOr(drop) === dropInText(gateDir),
    `${drop} sets Banner ${gateDir}/banner`,
    `${drop} is missing or changed`,
    'hosthog gate setup',
  );
  const cfgPath = join(root, SSHD_CONFIG);
  say(
    includesDropIn(readOr(cfgPath)),
    `${cfgPath} includes sshd_config.d/*.conf`,
    `${cfgPath} does not include ${DROP_IN}`,
    'add "Include /etc/ssh/sshd_config.d/*.conf" at its top',
  );
  if (root !== '/' && root !== '') return out;
  try {
    const { stdout } = await run(sshdBinary, ['-T'], {
      encoding: 'utf8',
      timeout: 10_000,
      maxBuffer: 1 << 20,
    });
    const t = parseSshdT(stdout);
    say(
      t.get('usepam') === 'yes',
      'sshd -T: usepam yes',
      `sshd -T: usepam ${t.get('usepam') ?? '?'}: the gate is never asked`,
      'set UsePAM yes in /etc/ssh/sshd_config',
    );
    const banner = t.get('banner') ?? 'none';
    say(
      banner === `${gateDir}/banner`,
      `sshd -T: banner ${banner}`,
      `sshd -T: banner ${banner}: blocked users are not told why`,
      'hosthog gate setup (an earlier Banner line wins: remove it)',
    );
  } catch (e) {
    say(
      false,
      '',
      `sshd -T failed: ${String((e as Error).message)
        .split('\n')[0]
        .slice(0, 120)}`,
      'install openssh-server',
    );
  }
  return out;
}

/** For `unhog --force` and tests: remove the allow file and empty the banner. */
export function clearGate(gateDir: string): void {
  try {
    writeGate(gateDir, null, '');
  } catch {
    rmSync(join(gateDir, 'allow'), { force: true });
  }
}
