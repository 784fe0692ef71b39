/**
 * tmux channel: a status-line message on every attached client of each recipient's tmux
 * servers, via `tmux display-message`, run as that user (tmux interprets '#', so it is
 * escaped). Never display-popup: it blocks until closed.
 */
import type { Notice } from '../../../core/notify-plan.js';
import type { HostSessions } from '../../../core/who-view.js';
import { cleanText } from '../../../core/sanitize.js';
import { run } from '../sessions.js';
import { cleanNotice, isFor, type Channel, type DeliveryReport } from './index.js';

export const TMUX_CAP = 200;

/** The one line shown in tmux, with '#' escaped for tmux's format expansion. */
export function tmuxText(n: Notice): string {
  const { title, body } = cleanNotice(n);
  return tmuxEscape(cleanText(`hosthog: ${title}${body ? ' — ' + body : ''}`, TMUX_CAP));
}

/**
 * Make text show literally in a tmux 3.3 message. Two stages read it: format expansion
 * ('##' → '#', '#{…}', '#S', '#,' …), then drawing, which shows a run of n '#' as ceil(n/2)
 * of them unless the run is followed by '[' (then it is literal; styles are not applied).
 * Measured with tmux 3.3a (test/channels.test.ts checks what a real client shows).
 */
export function tmuxEscape(s: string): string {
  return s.replace(/#+(\[)?/g, (m: string, br?: string) =>
    br ? '#'.repeat(2 * (m.length - 1)) + '[' : '#'.repeat(4 * m.length),
  );
}

export function tmuxChannel(opts: { displayMs?: number; timeoutMs?: number } = {}): Channel {
  return {
    name: 'tmux',
    async deliver(notice: Notice, sessions: HostSessions): Promise<DeliveryReport> {
      const report: DeliveryReport = { channel: 'tmux', delivered: [], failed: [] };
      const text = tmuxText(notice);
      const ms = String(opts.displayMs ?? (notice.urgent ? 15_000 : 8_000));
      for (const srv of sessions.tmux) {
        if (!isFor(notice, srv.user)) continue;
        for (const c of srv.clients) {
          const target = `${srv.socket} ${c.name}`;
          const r = await run('tmux', ['-S', srv.socket, 'display-message', '-c', c.name, '-d', ms, text], {
            uid: srv.uid,
            gid: srv.gid,
            timeoutMs: opts.timeoutMs ?? 3000,
            env: {
              PATH: '/usr/local/bin:/usr/bin:/bin',
              USER: srv.user,
              LOGNAME: srv.user,
              LC_ALL: 'C.UTF-8',
            },
          });
          if (r.code === 0) report.delivered.push({ user: srv.user, target });
          else
            report.failed.push({
              user: srv.user,
              target,
              error: cleanText(r.stderr || r.error || `exit ${r.code}`, 200),
            });
        }
      }
      return report;
    },
  };
}
