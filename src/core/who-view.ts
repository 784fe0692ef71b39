/**
 * Who is on the host and how: pure, from the sessions data the host discovered
 * (src/host/sessions/sessions.ts) and the active claims. Rows per user, flags for heavy use by someone
 * who holds no claim while another's exclusive claim is active, a one-line motd summary and a
 * table no wider than 80 columns.
 */
import type { Claim } from './types.js';
import { cleanText, truncate } from './sanitize.js';
import { formatDuration } from './duration.js';

// ---- the sessions data (plain, produced by src/host/sessions/sessions.ts) ----

export interface TtySession {
  user: string;
  line: string;
  host: string;
  pid: number;
  loginAt: Date | null;
  idleMs: number | null;
}
export interface TmuxClient {
  name: string;
  tty: string;
}
export interface TmuxServer {
  user: string;
  uid: number;
  gid: number;
  socket: string;
  clients: TmuxClient[];
}
export interface GraphicalSession {
  user: string;
  uid: number;
  gid: number;
  bus: string;
  display?: string;
  wayland?: string;
  xrdp: boolean;
}
export interface UserUsage {
  user: string;
  uid: number;
  gid: number;
  procs: number;
  /** Percent of one core (200 = two cores busy). */
  cpuPct: number;
  rssBytes: number;
  vscode: boolean;
  gpuProcs: number;
  gpuMemMiB: number;
}
export interface HostSessions {
  at: Date;
  ttys: TtySession[];
  tmux: TmuxServer[];
  graphical: GraphicalSession[];
  users: UserUsage[];
}

// ---- the view ----

export type How = 'ssh' | 'tty' | 'tmux' | 'vscode' | 'graphical';

export interface WhoRow {
  user: string;
  how: How[];
  procs: number;
  cpuPct: number;
  rssBytes: number;
  gpuProcs: number;
  /** Least idle of the user's ttys; null when the user has none. */
  idleMs: number | null;
  /** Short description of the active claim the user holds, or null. */
  claim: string | null;
}

export interface WhoFlag {
  user: string;
  holder: string;
  text: string;
}

export interface WhoOptions {
  /** Heavy use: at least this much CPU (percent of one core). */
  heavyCpuPct?: number;
  /** Heavy use: at least this much memory. */
  heavyRssBytes?: number;
}

/**
 * Whether a utmp entry's host field names a remote peer. tmux writes its panes with a host
 * such as "tmux(3451).%0", screen "local:S.0" or ":pts/0:S.1" (or the login's own host, then
 * remote), and a local X display ":0": those are not ssh.
 */
export function isRemoteHost(host: string): boolean {
  let h = host.trim();
  if (/^tmux\(\d+\)\.%\d+$/.test(h)) return false;
  // GNU screen writes "<login host | :tty | local>:S.<window>": what precedes ":S.n" decides.
  const screen = /^(.*):S\.\d+$/.exec(h);
  if (screen) {
    h = screen[1];
    if (h === 'local' || h.startsWith(':')) return false;
  }
  return h !== '' && !/^:\d+(\.\d+)?$/.test(h);
}

export function whoRows(
  s: HostSessions,
  activeClaims: Claim[],
  now: Date,
  opts: WhoOptions = {},
): { rows: WhoRow[]; flags: WhoFlag[] } {
  const byUser = new Map<string, WhoRow>();
  const row = (user: string): WhoRow => {
    let r = byUser.get(user);
    if (!r) {
      r = { user, how: [], procs: 0, cpuPct: 0, rssBytes: 0, gpuProcs: 0, idleMs: null, claim: null };
      byUser.set(user, r);
    }
    return r;
  };
  const addHow = (r: WhoRow, h: How) => {
    if (!r.how.includes(h)) r.how.push(h);
  };
  for (const t of s.ttys) {
    const r = row(t.user);
    addHow(r, isRemoteHost(t.host) ? 'ssh' : 'tty');
    if (t.idleMs !== null) r.idleMs = r.idleMs === null ? t.idleMs : Math.min(r.idleMs, t.idleMs);
  }
  for (const t of s.tmux) addHow(row(t.user), 'tmux');
  for (const g of s.graphical) addHow(row(g.user), 'graphical');
  for (const u of s.users) {
    const active = u.vscode || byUser.has(u.user);
    // idle background daemons of system accounts are not "on"
    if (!active && u.cpuPct < 5 && u.gpuProcs === 0) continue;
    const r = row(u.user);
    if (u.vscode) addHow(r, 'vscode');
    r.procs = u.procs;
    r.cpuPct = u.cpuPct;
    r.rssBytes = u.rssBytes;
    r.gpuProcs = u.gpuProcs;
  }
  const t = now.getTime();
  const active = activeClaims.filter((c) => c.start.getTime() <= t && c.end.getTime() > t);
  for (const c of active) {
    const r = byUser.get(c.user);
    if (r && !r.claim)
      r.claim = `${c.hog ? 'hog' : c.mode}${c.resources.length ? ' ' + c.resources.join(',') : ''}`;
  }
  const rows = [...byUser.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));

  const heavyCpu = opts.heavyCpuPct ?? 100;
  const heavyRss = opts.heavyRssBytes ?? 8 * 2 ** 30;
  const flags: WhoFlag[] = [];
  const exclusive = active.filter((c) => c.mode === 'exclusive');
  for (const r of rows) {
    const heavy = r.cpuPct >= heavyCpu || r.rssBytes >= heavyRss || r.gpuProcs > 0;
    if (!heavy) continue;
    if (active.some((c) => c.user === r.user)) continue;
    for (const c of exclusive) {
      if (c.allow.includes(r.user)) continue;
      const use = [
        r.cpuPct >= heavyCpu ? `${fmtCpu(r.cpuPct)} cpu` : '',
        r.rssBytes >= heavyRss ? `${fmtBytes(r.rssBytes)} mem` : '',
        r.gpuProcs ? `${r.gpuProcs} gpu proc` : '',
      ]
        .filter(Boolean)
        .join(', ');
      flags.push({
        user: r.user,
        holder: c.user,
        text: cleanText(
          `heavy use by ${r.user} (${use}) who holds no claim while ${c.user}'s exclusive claim is active`,
          160,
        ),
      });
      break;
    }
  }
  return { rows, flags };
}

/** "3 users on: alice (tmux), bob (ssh, 2 cpu), carol (vscode)". */
export function whoSummaryLine(rows: WhoRow[], max = 160): string {
  if (!rows.length) return 'nobody on';
  const parts = rows.map((r) => {
    const bits: string[] = [...r.how];
    if (r.cpuPct >= 50) bits.push(`${fmtCpu(r.cpuPct)} cpu`);
    return bits.length ? `${r.user} (${bits.join(', ')})` : r.user;
  });
  return cleanText(`${rows.length} user${rows.length === 1 ? '' : 's'} on: ${parts.join(', ')}`, max);
}

export interface RenderOptions {
  flags?: WhoFlag[];
  width?: number;
}

/** A table of at most `width` (80) columns. */
export function renderWho(rows: WhoRow[], opts: RenderOptions = {}): string {
  const width = Math.min(opts.width ?? 80, 80);
  const head = ['USER', 'HOW', 'PROCS', 'CPU', 'MEM', 'IDLE', 'CLAIM'];
  const data = rows.map((r) =>
    [
      r.user,
      r.how.join(',') || '-',
      String(r.procs),
      fmtCpu(r.cpuPct),
      fmtBytes(r.rssBytes),
      r.idleMs === null ? '-' : formatDuration(r.idleMs),
      r.claim ?? '-',
    ].map((c) => cleanText(c, 40)),
  );
  const caps = [12, 22, 5, 5, 6, 6, 20];
  const widths = head.map((h, i) =>
    Math.min(caps[i], Math.max(h.length, ...data.map((d) => Array.from(d[i]).length))),
  );
  const line = (cells: string[]) =>
    truncate(
      cells
        .map((c, i) => pad(truncate(c, widths[i]), widths[i], i >= 2 && i <= 5))
        .join(' ')
        .trimEnd(),
      width,
    );
  const out = [line(head), ...data.map(line)];
  for (const f of opts.flags ?? []) out.push(truncate(`! ${f.text}`, width));
  return out.join('\n');
}

function pad(s: string, w: number, right: boolean): string {
  const n = w - Array.from(s).length;
  return n <= 0 ? s : right ? ' '.repeat(n) + s : s + ' '.repeat(n);
}

export function fmtCpu(pct: number): string {
  return pct >= 100
    ? `${(pct / 100).toFixed(pct >= 1000 ? 0 : 1).replace(/\.0$/, '')}`
    : `${Math.round(pct)}%`;
}

export function fmtBytes(b: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}
