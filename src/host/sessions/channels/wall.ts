/**
 * Terminal channel: writes a short banner straight to each recipient's logged-in ttys (from
 * utmp). Opened O_WRONLY|O_NOCTTY|O_NONBLOCK, only if the tty is a character device owned by
 * that user, so a full or stuck terminal never blocks the bridge.
 */
import { open, fstat, write, close, constants } from 'node:fs';
import { promisify } from 'node:util';
import type { Notice } from '../../../core/notify-plan.js';
import type { HostSessions } from '../../../core/who-view.js';
import { cleanText } from '../../../core/sanitize.js';
import { safeLine } from '../sessions.js';
import { cleanNotice, isFor, type Channel, type DeliveryReport } from './index.js';

const openP = promisify(open);
const fstatP = promisify(fstat);
const writeP = promisify(write);
const closeP = promisify(close);

/** The exact bytes written to a terminal: CR LF line ends, nothing but cleaned text. */
export function wallText(n: Notice, host?: string): string {
  const { title, body } = cleanNotice(n);
  const h = cleanText(host ?? '', 40);
  const banner = `*** hosthog${h ? ' ' + h : ''}${n.urgent ? ' (urgent)' : ''} ***`;
  return `\r\n${banner}\r\n${title}\r\n${body ? body + '\r\n' : ''}`;
}

export interface WallOptions {
  host?: string;
  uidOf?: (user: string) => number | undefined;
  /**
   * Leave alone ttys where a tmux client runs (the tmux channel reaches them without garbling the
   * screen).
   */
  skipTmuxClients?: boolean;
}

export function wallChannel(opts: WallOptions = {}): Channel {
  return {
    name: 'wall',
    async deliver(notice: Notice, sessions: HostSessions): Promise<DeliveryReport> {
      const report: DeliveryReport = { channel: 'wall', delivered: [], failed: [] };
      const text = Buffer.from(wallText(notice, opts.host), 'utf8');
      const uids = new Map(sessions.users.map((u) => [u.user, u.uid]));
      const done = new Set<string>();
      // With the tmux channel on, a tmux client's terminal and the panes inside it (utmp host
      // "tmux(PID).%N") get the notice once, on tmux's status line: no wall drawn over them.
      const inTmux = new Set<string>();
      if (opts.skipTmuxClients) {
        for (const srv of sessions.tmux)
          for (const c of srv.clients) {
            done.add(c.tty.replace(/^\/dev\//, ''));
            inTmux.add(srv.user);
          }
      }
      for (const t of sessions.ttys) {
        if (!isFor(notice, t.user) || !safeLine(t.line) || done.has(t.line)) continue;
        if (inTmux.has(t.user) && /^tmux\(\d+\)\.%\d+$/.test(t.host.trim())) continue;
        done.add(t.line);
        const target = `/dev/${t.line}`;
        const uid = opts.uidOf?.(t.user) ?? uids.get(t.user);
        try {
          await writeTty(target, text, uid);
          report.delivered.push({ user: t.user, target });
        } catch (e) {
          report.failed.push({ user: t.user, target, error: cleanText((e as Error).message, 200) });
        }
      }
      return report;
    },
  };
}

/** Write to a tty without blocking; refuse anything that is not a char device owned by `uid`. */
export async function writeTty(path: string, data: Buffer, uid?: number): Promise<void> {
  const fd = await openP(path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    const st = await fstatP(fd);
    if (!st.isCharacterDevice()) throw new Error(`${path} is not a terminal`);
    if (uid !== undefined && st.uid !== uid) throw new Error(`${path} is not owned by the session's user`);
    let off = 0;
    for (let tries = 0; off < data.length && tries < 20; tries++) {
      try {
        const { bytesWritten } = await writeP(fd, data, off, data.length - off);
        off += bytesWritten;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    if (off < data.length) throw new Error(`${path}: terminal not reading, message cut`);
  } finally {
    await closeP(fd);
  }
}
