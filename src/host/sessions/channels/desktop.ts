/**
 * Desktop channel: notify-send through each recipient's own session bus, run as that user
 * (root cannot use another user's bus). Text goes as arguments after "--", never via a shell;
 * urgent notices are critical.
 */
import type { Notice } from '../../../core/notify-plan.js';
import type { HostSessions } from '../../../core/who-view.js';
import { cleanText } from '../../../core/sanitize.js';
import { run } from '../sessions.js';
import { cleanNotice, isFor, type Channel, type DeliveryReport } from './index.js';

/** notify-send's argv for a notice. */
export function notifySendArgs(n: Notice): string[] {
  const { title, body } = cleanNotice(n);
  // notify-send reads markup in the body on some servers: keep it literal.
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '--app-name=hosthog',
    `--urgency=${n.urgent ? 'critical' : 'normal'}`,
    '--',
    title || 'hosthog',
    esc(body),
  ];
}

export function desktopChannel(opts: { timeoutMs?: number } = {}): Channel {
  return {
    name: 'desktop',
    async deliver(notice: Notice, sessions: HostSessions): Promise<DeliveryReport> {
      const report: DeliveryReport = { channel: 'desktop', delivered: [], failed: [] };
      const args = notifySendArgs(notice);
      const done = new Set<string>();
      for (const g of sessions.graphical) {
        if (!isFor(notice, g.user) || done.has(g.bus)) continue;
        done.add(g.bus);
        if (!/^unix:path=\/[^;,]+$/.test(g.bus)) {
          report.failed.push({ user: g.user, target: g.bus, error: 'not a unix socket bus address' });
          continue;
        }
        const env: NodeJS.ProcessEnv = {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          USER: g.user,
          LOGNAME: g.user,
          LC_ALL: 'C.UTF-8',
          DBUS_SESSION_BUS_ADDRESS: g.bus,
          XDG_RUNTIME_DIR: `/run/user/${g.uid}`,
        };
        if (g.display) env.DISPLAY = g.display;
        if (g.wayland) env.WAYLAND_DISPLAY = g.wayland;
        const r = await run('notify-send', args, {
          uid: g.uid,
          gid: g.gid,
          env,
          timeoutMs: opts.timeoutMs ?? 5000,
        });
        if (r.code === 0) report.delivered.push({ user: g.user, target: g.bus });
        else
          report.failed.push({
            user: g.user,
            target: g.bus,
            error: cleanText(r.stderr || r.error || `exit ${r.code}`, 200),
          });
      }
      return report;
    },
  };
}
