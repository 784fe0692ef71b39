/**
 * The bridge's telling-people part: after every refresh, plan notices from (previous, current)
 * occurrences and deliver them (src/host/sessions/channels); serve `hosthog notify` (verified sender,
 * rate-limited per user) and `hosthog who` (root sees every user's tmux and session bus); keep
 * a one-line who summary for the motd.
 */
import type { Config } from '../config/schema.js';
import type { Claim } from '../core/types.js';
import { messageNotice, type Notice } from '../core/notify-plan.js';
import { whoRows, whoSummaryLine } from '../core/who-view.js';
import { PermissionError, UsageError, errorLine } from '../core/errors.js';
import { cleanText } from '../core/sanitize.js';
import { Ledger } from '../host/sessions/ledger.js';
import { channelsByName, deliverAll, notifyRun } from '../host/sessions/channels/index.js';
import { discoverSessions } from '../host/sessions/sessions.js';
import { passwdEntry, prefsLookup } from '../host/sessions/notify-prefs-file.js';
import type { Log } from '../host/store/log.js';
import type { RefreshHook } from './bridge.js';
import type { ExtraHandler } from './rpc-handlers.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Notices sent after a write's answer (in the background) are left behind after this long. */
const NOTICE_DEADLINE_MS = 30_000;

export interface Telling {
  hook: RefreshHook;
  /** While a write of this verified user runs (null after): its changes are not told to them. */
  actingAs: (user: string | null) => void;
  handlers: Record<string, ExtraHandler>;
  motdLines: () => string[];
  /** Add a planner of further notices (GPU use), run after the calendar's on every refresh. */
  addPlanner: (plan: ExtraPlanner) => void;
}

/** Notices planned from something other than the calendar: (keys already sent, now) → notices. */
export type ExtraPlanner = (sent: ReadonlySet<string>, now: Date) => Notice[];

export function telling(
  config: Config,
  log: Log,
  activeClaims: () => Claim[],
  clock: () => Date = () => new Date(),
): Telling {
  const ledger = Ledger.load(config.bridge.stateDir);
  const channels = channelsByName(config.notify.channels, { host: config.host });
  const sent = new Map<string, number[]>();
  let whoLine = '';
  let acting: string | null = null;
  const prefs = prefsLookup(passwdEntry, (msg) => log.warn({ file: msg }, 'notice settings ignored'));
  let whoAt = 0;
  const planners: ExtraPlanner[] = [];

  const hook: RefreshHook = async (prev, next, _view, now) => {
    // Nothing changed (a poll or a new minute): only timed notices can fall due, and only for
    // occurrences near now, so the planner sees those (not the whole window) as prev and next.
    let before = prev?.occurrences ?? null;
    let after = next.occurrences;
    if (prev === next) {
      const reach =
        Math.max(0, ...config.notify.remindersMs) + 2 * DAY + Math.max(2 * config.bridge.pollMs, 120_000);
      const t = now.getTime();
      before = after = after.filter((o) => o.end.getTime() > t - reach && o.start.getTime() < t + reach);
    }
    // Planned and recorded in the ledger now (synchronously: the next run never repeats them);
    // during a write, delivered after the write has its answer, within NOTICE_DEADLINE_MS.
    const run = notifyRun({
      prev: before,
      next: after,
      now,
      config,
      ledger,
      channels,
      author: acting ?? undefined,
      prefs,
    });
    if (acting !== null) {
      void deliverLater(run, now);
      return;
    }
    await report(await run, now);
  };

  const deliverLater = async (run: ReturnType<typeof notifyRun>, now: Date) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((res) => {
      timer = setTimeout(() => res('late'), NOTICE_DEADLINE_MS);
      timer.unref();
    });
    try {
      const r = await Promise.race([run, late]);
      if (r === 'late')
        log.warn({ ms: NOTICE_DEADLINE_MS }, 'notices still being delivered; going on without them');
      else await report(r, now);
    } catch (e) {
      log.error({ err: errorLine(e) }, 'notices failed');
    } finally {
      clearTimeout(timer);
    }
  };

  const report = async ({ notices, reports }: Awaited<ReturnType<typeof notifyRun>>, now: Date) => {
    notices.forEach((n, i) => {
      const delivered = (reports[i] ?? []).reduce((a, r) => a + r.delivered.length, 0);
      const failed = (reports[i] ?? []).flatMap((r) =>
        r.failed.map((f) => `${r.channel}:${f.target}: ${f.error}`),
      );
      log.info(
        { kind: n.kind, key: n.key, delivered, failed: failed.length ? failed.slice(0, 5) : undefined },
        'notified',
      );
    });
    await runExtra(now);
    if (now.getTime() - whoAt >= 60_000) {
      // In the background: the motd shows the last summary, and the refresh (motd, hog) never
      // waits on session discovery, which users' tmux sockets can slow down.
      whoAt = now.getTime();
      void discoverSessions({ sampleMs: 200 }).then(
        (s) => {
          const { rows } = whoRows(s, activeClaims(), clock());
          whoLine = rows.length ? whoSummaryLine(rows, 78) : '';
        },
        (e) => log.debug({ err: errorLine(e) }, 'who summary failed'),
      );
    }
  };

  // Same ledger, same rule: recorded (and saved, with the same `now` as the run above) before delivery.
  const runExtra = async (now: Date) => {
    const extra = planners.flatMap((p) => {
      try {
        return p(ledger.keys(), now);
      } catch (e) {
        log.error({ err: errorLine(e) }, 'notice planner failed');
        return [];
      }
    });
    if (!extra.length) return;
    for (const n of extra) ledger.markSent(n, now);
    ledger.save(now);
    const sessions = await discoverSessions({ sampleMs: 0 });
    for (const n of extra) {
      const reports = await deliverAll(channels, n, sessions);
      const delivered = reports.reduce((a, r) => a + r.delivered.length, 0);
      log.info({ kind: n.kind, key: n.key, to: n.to === 'all' ? 'all' : n.to.users, delivered }, 'notified');
    }
  };

  const handlers: Record<string, ExtraHandler> = {
    notify: async (caller, _actor, p) => {
      const text = typeof p.text === 'string' ? p.text : '';
      if (!cleanText(text))
        throw new UsageError('notify what?', 'e.g. hosthog notify "please stop your jobs on gpu1 by 17:00"');
      const now = clock().getTime();
      const mine = (sent.get(caller.user) ?? []).filter((t) => now - t < HOUR);
      if (caller.uid !== 0 && mine.length >= config.notify.rateLimitPerHour) {
        throw new PermissionError(
          `you sent ${mine.length} messages in the last hour, the limit on this host`,
          'wait a while ([notify] rate_limit_per_hour)',
        );
      }
      mine.push(now);
      sent.set(caller.user, mine);
      const to = Array.isArray(p.to)
        ? p.to.filter((x): x is string => typeof x === 'string').slice(0, 50)
        : [];
      const notice = messageNotice(caller.user, text, new Date(now), to.length ? to : undefined);
      const sessions = await discoverSessions({ sampleMs: 0 });
      const reports = await deliverAll(channels, notice, sessions, prefs, new Date(now));
      const reached = new Set(reports.flatMap((r) => r.delivered.map((d) => d.user)));
      log.info({ from: caller.user, reached: reached.size }, 'message sent');
      return {
        action: 'notified',
        summary:
          `sent to ${reached.size} user${reached.size === 1 ? '' : 's'} logged in ` +
          `(${[...reached].join(', ') || 'nobody reached'})`,
        reached: [...reached],
      };
    },
    // One user only (a hand-over request for their claim, from rpc-handlers' `request`).
    tell: async (caller, _actor, p) => {
      const to = typeof p.to === 'string' ? p.to : '';
      const t = clock().getTime();
      const mine = (sent.get(caller.user) ?? []).filter((x) => t - x < HOUR);
      if (caller.uid !== 0 && mine.length >= config.notify.rateLimitPerHour)
        throw new PermissionError(
          'too many messages in the last hour',
          'wait a while ([notify] rate_limit_per_hour)',
        );
      sent.set(caller.user, [...mine, t]);
      const notice = {
        ...messageNotice(caller.user, typeof p.text === 'string' ? p.text : '', clock()),
        to: { users: [to] },
      };
      const reports = await deliverAll(channels, notice, await discoverSessions({ sampleMs: 0 }));
      return { reached: [...new Set(reports.flatMap((r) => r.delivered.map((d) => d.user)))] };
    },
    who: async () => {
      const s = await discoverSessions({ sampleMs: 500 });
      return whoRows(s, activeClaims(), clock());
    },
  };

  const addPlanner = (p: ExtraPlanner) => {
    planners.push(p);
  };
  return {
    hook,
    handlers,
    actingAs: (u) => {
      acting = u;
    },
    motdLines: () => (whoLine ? [whoLine] : []),
    addPlanner,
  };
}
