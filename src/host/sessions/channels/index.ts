/**
 * Notification channels: thin adapters that carry a planned Notice to the people on the host.
 * Each cleans the text again, caps it, never uses a shell and bounds every spawn with a timeout.
 */
import { planNotices, type Notice } from '../../../core/notify-plan.js';
import type { Occurrence } from '../../../core/types.js';
import type { Config } from '../../../config/schema.js';
import { discoverSessions } from '../sessions.js';
import type { Ledger } from '../ledger.js';
import type { HostSessions } from '../../../core/who-view.js';
import { cleanText } from '../../../core/sanitize.js';
import { wallChannel } from './wall.js';
import { tmuxChannel } from './tmux.js';
import { desktopChannel } from './desktop.js';
import { wants, type NotifyPrefs } from '../../../core/notify-prefs.js';

export interface DeliveryReport {
  channel: string;
  /** Where it arrived: user and target (a tty, a tmux client, a session bus). */
  delivered: { user: string; target: string }[];
  failed: { user: string; target: string; error: string }[];
}

export interface Channel {
  readonly name: string;
  deliver(notice: Notice, sessions: HostSessions): Promise<DeliveryReport>;
}

export const TITLE_CAP = 100;
export const BODY_CAP = 300;

/** The notice's text, cleaned once more (channels never trust their input). */
export function cleanNotice(n: Notice): { title: string; body: string } {
  return { title: cleanText(n.title, TITLE_CAP), body: cleanText(n.body, BODY_CAP) };
}

/** Is `user` one of the notice's recipients? */
export function isFor(n: Notice, user: string): boolean {
  if (n.except?.includes(user)) return false;
  return n.to === 'all' || n.to.users.includes(user);
}

export function channelsByName(names: string[], opts: { host?: string } = {}): Channel[] {
  const all: Record<string, () => Channel> = {
    wall: () => wallChannel({ host: opts.host, skipTmuxClients: names.includes('tmux') }),
    tmux: () => tmuxChannel(),
    desktop: () => desktopChannel(),
  };
  return names.filter((n) => all[n]).map((n) => all[n]());
}

/**
 * Deliver through every channel; a failing channel never stops the others. A user who muted
 * notices (until a time) gets only urgent ones; one who chose channels gets only those.
 */
export async function deliverAll(
  channels: Channel[],
  notice: Notice,
  sessions: HostSessions,
  prefs?: (user: string) => NotifyPrefs | null,
  now: Date = new Date(),
): Promise<DeliveryReport[]> {
  const out: DeliveryReport[] = [];
  const people = [
    ...new Set([
      ...sessions.ttys.map((x) => x.user),
      ...sessions.tmux.map((x) => x.user),
      ...sessions.graphical.map((x) => x.user),
    ]),
  ];
  const choices = new Map(people.map((u) => [u, prefs?.(u) ?? null]));
  for (const c of channels) {
    const off = people.filter((u) => !wants(choices.get(u) ?? null, c.name, notice.urgent, now));
    const n = off.length ? { ...notice, except: [...(notice.except ?? []), ...off] } : notice;
    try {
      out.push(await c.deliver(n, sessions));
    } catch (e) {
      out.push({
        channel: c.name,
        delivered: [],
        failed: [{ user: '*', target: '*', error: cleanText((e as Error).message, 200) }],
      });
    }
  }
  return out;
}

/**
 * One notification run for the bridge: plan from (prev, next), record the notices in the ledger
 * and save it (at most once, never spam), then deliver each through the channels. Sessions
 * are discovered only when there is something to send.
 */
export async function notifyRun(args: {
  prev: Occurrence[] | null;
  next: Occurrence[];
  now: Date;
  config: Config;
  ledger: Ledger;
  channels: Channel[];
  discover?: () => Promise<HostSessions>;
  /** The verified user whose write through the bridge caused this run (never told of it). */
  author?: string;
  /** Each user's own choices (~/.config/hosthog/notify.toml): mute, channels. */
  prefs?: (user: string) => NotifyPrefs | null;
}): Promise<{ notices: Notice[]; reports: DeliveryReport[][] }> {
  const { prev, next, now, config, ledger, channels } = args;
  const notices = planNotices(prev, next, now, ledger.keys(), config, {
    lastRun: ledger.lastRun ?? undefined,
    author: args.author,
  });
  const reports: DeliveryReport[][] = [];
  // Recorded before delivery: a crash mid-run may lose a notice but never repeats one.
  for (const n of notices) ledger.markSent(n, now);
  // Written when something was sent (or never yet): a run that sends nothing moves lastRun in
  // memory only, so an idle bridge rewrites no file (a moment due since the written lastRun
  // would have been sent, and so written, when it fell due).
  if (notices.length || !ledger.lastRun) ledger.save(now);
  else ledger.lastRun = now;
  if (notices.length) {
    const sessions = await (args.discover ?? (() => discoverSessions({ sampleMs: 0 })))();
    for (const n of notices) reports.push(await deliverAll(channels, n, sessions, args.prefs, now));
  }
  return { notices, reports };
}

export { wallChannel, tmuxChannel, desktopChannel };
