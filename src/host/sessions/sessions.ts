/**
 * Discover who is on the host and how: logged-in ttys (utmp), tmux servers per user,
 * graphical sessions (a session bus plus a DISPLAY/WAYLAND process or xrdp), vscode-server
 * processes, per-user process count, CPU and memory from /proc, GPU processes via nvidia-smi
 * when present, idle time from tty atime. Returns plain data (types in src/core/who-view.ts).
 */
import { readFileSync, readdirSync, statSync, lstatSync, existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type {
  HostSessions,
  TtySession,
  TmuxServer,
  GraphicalSession,
  UserUsage,
} from '../../core/who-view.js';

export const UTMP_PATH = '/var/run/utmp';
const UTMP_RECORD = 384;
const USER_PROCESS = 7;
const CLK_TCK = 100;
const PAGE = 4096;

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** uid → passwd entry, from /etc/passwd (plus getent for uids it lacks, on demand). */
export function readPasswd(path = '/etc/passwd'): Map<number, PasswdEntry> {
  const m = new Map<number, PasswdEntry>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return m;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    if (Number.isInteger(uid) && !m.has(uid)) m.set(uid, { name: f[0], uid, gid: Number(f[3]), home: f[5] });
  }
  return m;
}

export interface UtmpEntry {
  type: number;
  pid: number;
  line: string;
  user: string;
  host: string;
  loginAt: Date;
}

/** Parse utmp binary records (glibc x86_64/aarch64 layout, 384 bytes each). */
export function parseUtmp(buf: Buffer): UtmpEntry[] {
  const out: UtmpEntry[] = [];
  const str = (off: number, len: number) => {
    const b = buf.subarray(off, off + len);
    const z = b.indexOf(0);
    return (z < 0 ? b : b.subarray(0, z)).toString('utf8');
  };
  for (let off = 0; off + UTMP_RECORD <= buf.length; off += UTMP_RECORD) {
    out.push({
      type: buf.readInt16LE(off),
      pid: buf.readInt32LE(off + 4),
      line: str(off + 8, 32),
      user: str(off + 44, 32),
      host: str(off + 76, 256),
      loginAt: new Date(buf.readInt32LE(off + 340) * 1000),
    });
  }
  return out;
}

/** Logged-in ttys: USER_PROCESS records whose process still lives and whose tty exists. */
export function readTtys(utmpPath = UTMP_PATH, now = new Date()): TtySession[] {
  let buf: Buffer;
  try {
    buf = readFileSync(utmpPath);
  } catch {
    return [];
  }
  const out: TtySession[] = [];
  for (const e of parseUtmp(buf)) {
    if (e.type !== USER_PROCESS || !e.user || !safeLine(e.line)) continue;
    if (e.pid > 0 && !existsSync(`/proc/${e.pid}`)) continue;
    let idleMs: number | null = null;
    try {
      idleMs = Math.max(0, now.getTime() - statSync(`/dev/${e.line}`).atimeMs);
    } catch {
      continue;
    }
    out.push({ user: e.user, line: e.line, host: e.host, pid: e.pid, loginAt: e.loginAt, idleMs });
  }
  return out;
}

/** A tty line from utmp we are willing to open: "pts/N" or "ttyN"-like, no path tricks. */
export function safeLine(line: string): boolean {
  return /^(pts\/\d+|tty[A-Za-z0-9]+)$/.test(line);
}

export function run(
  cmd: string,
  args: string[],
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 5000,
        killSignal: 'SIGKILL',
        maxBuffer: 4 * 2 ** 20,
        uid: opts.uid,
        gid: opts.gid,
        env: opts.env ?? { PATH: '/usr/local/bin:/usr/bin:/bin' },
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr),
          error: err ? String((err as Error).message).split('\n')[0] : undefined,
        });
      },
    );
    child.stdin?.on('error', () => {
      /* the child may exit before reading */
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

export interface TmuxProbeOptions {
  /** One deadline for all probes together (default 1500 ms): a socket that never answers costs no more. */
  deadlineMs?: number;
  /** Sockets probed per user (default 8); a user's others are left out. */
  perUser?: number;
  /** Probes in all (default 64), shared out among users in turn. */
  total?: number;
}

/**
 * tmux servers: sockets in /tmp/tmux-UID/ owned by UID, with their attached clients. Every user
 * controls their own sockets (one may accept and never answer), so the probes run in parallel
 * under ONE deadline, at most `perUser` per user: whatever a user plants, discovery ends in
 * about deadlineMs and only that user's tmux sessions go unseen.
 */
export async function readTmux(
  passwd: Map<number, PasswdEntry>,
  tmpDir = '/tmp',
  opts: TmuxProbeOptions = {},
): Promise<TmuxServer[]> {
  const deadline = Date.now() + (opts.deadlineMs ?? 1500);
  const perUser = opts.perUser ?? 8;
  let dirs: string[] = [];
  try {
    dirs = readdirSync(tmpDir).filter((d) => /^tmux-\d+$/.test(d));
  } catch {
    return [];
  }
  const byUser: { pw: PasswdEntry; socks: string[] }[] = [];
  for (const d of dirs) {
    const uid = Number(d.slice(5));
    const dir = join(tmpDir, d);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory() || st.uid !== uid) continue; // someone else's planted directory
    const pw = passwd.get(uid);
    if (!pw) continue;
    let names: string[] = [];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    const socks: string[] = [];
    for (const n of names) {
      if (socks.length >= perUser) break;
      const sock = join(dir, n);
      try {
        const s = lstatSync(sock);
        if (!s.isSocket() || s.uid !== uid) continue;
      } catch {
        continue;
      }
      socks.push(sock);
    }
    if (socks.length) byUser.push({ pw, socks });
  }
  // Users in turn (first sockets of everyone, then seconds …) up to the total.
  const probes: { pw: PasswdEntry; sock: string }[] = [];
  for (let i = 0; i < perUser; i++)
    for (const u of byUser) if (u.socks[i]) probes.push({ pw: u.pw, sock: u.socks[i] });
  const results = await Promise.all(
    probes.slice(0, opts.total ?? 64).map(async ({ pw, sock }) => {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      const r = await run('tmux', ['-S', sock, 'list-clients', '-F', '#{client_name} #{client_tty}'], {
        uid: pw.uid,
        gid: pw.gid,
        env: userEnv(pw),
        timeoutMs: left,
      });
      if (r.code !== 0) return null; // stale socket, no server, or no answer in time
      const clients = r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const i = l.lastIndexOf(' ');
          return { name: l.slice(0, i), tty: l.slice(i + 1) };
        });
      return { user: pw.name, uid: pw.uid, gid: pw.gid, socket: sock, clients } satisfies TmuxServer;
    }),
  );
  return results.filter((x): x is TmuxServer => x !== null);
}

export function userEnv(pw: PasswdEntry, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: pw.home,
    USER: pw.name,
    LOGNAME: pw.name,
    LC_ALL: 'C.UTF-8',
    ...extra,
  };
}

interface ProcInfo {
  pid: number;
  uid: number;
  ticks: number;
  rssBytes: number;
  cmdline: string;
  comm: string;
}

function readProcs(procRoot: string): Map<number, ProcInfo> {
  const m = new Map<number, ProcInfo>();
  let pids: string[] = [];
  try {
    pids = readdirSync(procRoot).filter((p) => /^\d+$/.test(p));
  } catch {
    return m;
  }
  for (const p of pids) {
    try {
      const stat = readFileSync(join(procRoot, p, 'stat'), 'utf8');
      const rp = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, rp);
      const f = stat.slice(rp + 2).split(' '); // f[0] = state (field 3)
      const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
      const rssBytes = Number(f[21]) * PAGE; // rss (field 24)
      const uid = statSync(join(procRoot, p)).uid;
      let cmdline = '';
      try {
        cmdline = readFileSync(join(procRoot, p, 'cmdline'), 'utf8')
          .replace(/\0+$/, '')
          .replace(/\0/g, ' ');
      } catch {
        /* gone */
      }
      m.set(Number(p), { pid: Number(p), uid, ticks, rssBytes, cmdline, comm });
    } catch {
      /* process exited meanwhile */
    }
  }
  return m;
}

function readEnvVar(procRoot: string, pid: number, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const kv of readFileSync(join(procRoot, String(pid), 'environ'), 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0 && names.includes(kv.slice(0, i))) out[kv.slice(0, i)] = kv.slice(i + 1);
    }
  } catch {
    /* not ours to read, or gone */
  }
  return out;
}

export const VSCODE = /\/\.(vscode-server|vscode-server-insiders|vscodium-server|cursor-server)\//;

/** GPU compute processes (pid → MiB); empty when nvidia-smi is absent or fails. */
export async function readGpu(): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  const r = await run(
    'nvidia-smi',
    ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
    { timeoutMs: 5000 },
  );
  if (r.code !== 0) return m;
  for (const line of r.stdout.split('\n')) {
    const [pid, mem] = line.split(',').map((x) => x.trim());
    if (/^\d+$/.test(pid ?? '')) m.set(Number(pid), Number(mem) || 0);
  }
  return m;
}

export interface DiscoverOptions {
  utmpPath?: string;
  procRoot?: string;
  tmpDir?: string;
  runUserRoot?: string;
  /** Interval between the two CPU samples (default 500 ms). */
  sampleMs?: number;
  /** Users with a uid below this are left out of per-user usage unless they have a session (default 1000). */
  minUid?: number;
  /** Limits on the tmux probes (readTmux). */
  tmux?: TmuxProbeOptions;
  now?: () => Date;
}

export async function discoverSessions(opts: DiscoverOptions = {}): Promise<HostSessions> {
  const procRoot = opts.procRoot ?? '/proc';
  const runUser = opts.runUserRoot ?? '/run/user';
  const now = opts.now ?? (() => new Date());
  const minUid = opts.minUid ?? 1000;
  const passwd = readPasswd();

  const first = readProcs(procRoot);
  const t1 = process.hrtime.bigint();
  const [tmux, gpu] = await Promise.all([readTmux(passwd, opts.tmpDir, opts.tmux), readGpu()]);
  const elapsed = Number(process.hrtime.bigint() - t1) / 1e6;
  if (elapsed < (opts.sampleMs ?? 500))
    await new Promise((r) => setTimeout(r, (opts.sampleMs ?? 500) - elapsed));
  const secs = Number(process.hrtime.bigint() - t1) / 1e9;
  const second = readProcs(procRoot);
  const at = now();
  const ttys = readTtys(opts.utmpPath, at);

  const usage = new Map<number, UserUsage>();
  const displayUsers = new Set<number>();
  const xrdpUsers = new Set<number>();
  for (const p of second.values()) {
    const pw = passwd.get(p.uid);
    if (p.uid < minUid && !ttys.some((t) => t.user === pw?.name)) continue;
    if (p.uid === 65534) continue;
    let u = usage.get(p.uid);
    if (!u) {
      u = {
        user: pw?.name ?? String(p.uid),
        uid: p.uid,
        gid: pw?.gid ?? p.uid,
        procs: 0,
        cpuPct: 0,
        rssBytes: 0,
        vscode: false,
        gpuProcs: 0,
        gpuMemMiB: 0,
      };
      usage.set(p.uid, u);
    }
    u.procs++;
    const before = first.get(p.pid);
    const dt = before ? p.ticks - before.ticks : 0;
    if (dt > 0 && secs > 0) u.cpuPct += (dt / CLK_TCK / secs) * 100;
    u.rssBytes += p.rssBytes;
    if (VSCODE.test(p.cmdline)) u.vscode = true;
    if (gpu.has(p.pid)) {
      u.gpuProcs++;
      u.gpuMemMiB += gpu.get(p.pid)!;
    }
    if (/^(xrdp|Xorg|Xvnc|Xwayland|gnome-shell|kwin|xfce4-session|startplasma|sway)/.test(p.comm))
      displayUsers.add(p.uid);
    if (/xrdp/.test(p.comm) || /xrdp/.test(p.cmdline)) xrdpUsers.add(p.uid);
  }
  for (const u of usage.values()) u.cpuPct = Math.round(u.cpuPct * 10) / 10;

  // Graphical: the user's session bus exists and some process of theirs has DISPLAY/WAYLAND_DISPLAY.
  const graphical: GraphicalSession[] = [];
  for (const u of usage.values()) {
    const bus = join(runUser, String(u.uid), 'bus');
    try {
      const s = lstatSync(bus);
      if (!s.isSocket() || s.uid !== u.uid) continue;
    } catch {
      continue;
    }
    let env: Record<string, string> = {};
    for (const p of second.values()) {
      if (p.uid !== u.uid) continue;
      env = readEnvVar(procRoot, p.pid, ['DISPLAY', 'WAYLAND_DISPLAY']);
      if (env.DISPLAY || env.WAYLAND_DISPLAY) break;
    }
    const xrdp = xrdpUsers.has(u.uid);
    if (!env.DISPLAY && !env.WAYLAND_DISPLAY && !xrdp && !displayUsers.has(u.uid)) continue;
    graphical.push({
      user: u.user,
      uid: u.uid,
      gid: u.gid,
      bus: `unix:path=${bus}`,
      display: env.DISPLAY,
      wayland: env.WAYLAND_DISPLAY,
      xrdp,
    });
  }

  return {
    at,
    ttys,
    tmux,
    graphical,
    users: [...usage.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)),
  };
}
