/**
 * Notification channels: thin adapters that carry a planned Notice to the people on the host.
 * Each cleans the text again, caps it, never uses a shell and bounds every spawn with a timeout.
 */
import type { Notice } from '../../core/notify-plan.js';
import type { HostSessions } from '../../core/who-view.js';
import { cleanText } from '../../core/sanitize.js';
import { wallChannel } from './wall.js';
import { tmuxChannel } from './tmux.js';
import { desktopChannel } from './desktop.js';

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
  return n.to === 'all' || n.to.users.includes(user);
}

export function channelsByName(names: string[], opts: { host?: string } = {}): Channel[] {
  const all: Record<string, () => Channel> = {
    wall: () => wallChannel({ host: opts.host }),
    tmux: () => tmuxChannel(),
    desktop: () => desktopChannel(),
  };
  return names.filter((n) => all[n]).map((n) => all[n]());
}

/** Deliver through every channel; a failing channel never stops the others. */
export async function deliverAll(channels: Channel[], notice: Notice, sessions: HostSessions): Promise<DeliveryReport[]> {
  const out: DeliveryReport[] = [];
  for (const c of channels) {
    try { out.push(await c.deliver(notice, sessions)); } catch (e) {
      out.push({ channel: c.name, delivered: [], failed: [{ user: '*', target: '*', error: cleanText((e as Error).message, 200) }] });
    }
  }
  return out;
}

export { wallChannel, tmuxChannel, desktopChannel };
