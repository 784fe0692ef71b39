/**
 * The bridge's telling-people part: after every refresh, plan notices from (previous, current)
 * occurrences and deliver them (src/host/sessions/channels); serve `hosthog notify` (verified sender,
 * rate-limited per user) and `hosthog who` (root sees every user's tmux and session bus); keep
 * a one-line who summary for the motd.
 */
import type { Config } from '../config/schema.js';
import type { Claim } from '../core/types.js';
import { messageNotice } from '../core/notify-plan.js';
import { whoRows, whoSummaryLine } from '../core/who-view.js';
import { PermissionError, UsageError, errorLine } from '../core/errors.js';
import { cleanText } from '../core/sanitize.js';
import { Ledger } from '../host/sessions/ledger.js';
import { channelsByName, deliverAll, notifyRun } from '../host/sessions/channels/index.js';
import { discoverSessions } from '../host/sessions/sessions.js';
import type { Log } from '../host/store/log.js';
import type { RefreshHook } from './bridge.js';
import type { ExtraHandler } from './rpc-handlers.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface Telling {
  hook: RefreshHook;
  handlers: Record<string, ExtraHandler>;
  motdLines: () => string[];
}

export function telling(config: Config, log: Log, activeClaims: () => Claim[], clock: () => Date = () => new Date()): Telling {
  const ledger = Ledger.load(config.bridge.stateDir);
  const channels = channelsByName(config.notify.channels, { host: config.host });
  const sent = new Map<string, number[]>();
  let whoLine = '';
  let whoAt = 0;

  const hook: RefreshHook = async (prev, next, _view, now) => {
    // Nothing changed (a poll or a new minute): only timed notices can fall due, and only for
    // occurrences near now, so the planner sees those (not the whole window) as prev and next.
    let before = prev?.occurrences ?? null;
    let after = next.occurrences;
    if (prev === next) {
      const reach = Math.max(0, ...config.notify.remindersMs) + 2 * DAY + Math.max(2 * config.bridge.pollMs, 120_000);
      const t = now.getTime();
      before = after = after.filter((o) => o.end.getTime() > t - reach && o.start.getTime() < t + reach);
    }
    const { notices, reports } = await notifyRun({ prev: before, next: after, now, config, ledger, channels });
    notices.forEach((n, i) => {
      const delivered = (reports[i] ?? []).reduce((a, r) => a + r.delivered.length, 0);
      const failed = (reports[i] ?? []).flatMap((r) => r.failed.map((f) => `${r.channel}:${f.target}: ${f.error}`));
      log.info({ kind: n.kind, key: n.key, delivered, failed: failed.length ? failed.slice(0, 5) : undefined }, 'notified');
    });
    if (now.getTime() - whoAt >= 60_000) {
      whoAt = now.getTime();
      try {
        const s = await discoverSessions({ sampleMs: 200 });
        const { rows } = whoRows(s, activeClaims(), now);
        whoLine = rows.length ? whoSummaryLine(rows, 78) : '';
      } catch (e) {
        log.debug({ err: errorLine(e) }, 'who summary failed');
      }
    }
  };

  const handlers: Record<string, ExtraHandler> = {
    notify: async (caller, _actor, p) => {
      const text = typeof p.text === 'string' ? p.text : '';
      if (!cleanText(text)) throw new UsageError('notify what?', 'e.g. hosthog notify "please stop your jobs on gpu1 by 17:00"');
      const now = clock().getTime();
      const mine = (sent.get(caller.user) ?? []).filter((t) => now - t < HOUR);
      if (caller.uid !== 0 && mine.length >= config.notify.rateLimitPerHour) {
        throw new PermissionError(`you sent ${mine.length} messages in the last hour, the limit on this host`, 'wait a while ([notify] rate_limit_per_hour)');
      }
      mine.push(now);
      sent.set(caller.user, mine);
      const notice = messageNotice(caller.user, text, new Date(now));
      const sessions = await discoverSessions({ sampleMs: 0 });
      const reports = await deliverAll(channels, notice, sessions);
      const reached = new Set(reports.flatMap((r) => r.delivered.map((d) => d.user)));
      log.info({ from: caller.user, reached: reached.size }, 'message sent');
      return { action: 'notified', summary: `sent to ${reached.size} user${reached.size === 1 ? '' : 's'} logged in (${[...reached].join(', ') || 'nobody reached'})`, reached: [...reached] };
    },
    who: async () => {
      const s = await discoverSessions({ sampleMs: 500 });
      return whoRows(s, activeClaims(), clock());
    },
  };

  return { hook, handlers, motdLines: () => (whoLine ? [whoLine] : []) };
}
