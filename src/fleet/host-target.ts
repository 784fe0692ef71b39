/**
 * --host NAME off the host: the host's calendar (from [fleet.hosts], else discovery), with the
 * fleet's account, as if the user had typed --calendar URL. Every write command then goes
 * through the same off-host writer (src/cli/transport.ts) and the same conflict rule.
 */
import type { GlobalOptions } from '../cli/main.js';
import type { Config } from '../config/schema.js';
import { NotFoundError, UsageError } from '../core/errors.js';
import { cleanText } from '../core/sanitize.js';
import { fleetContext, resourcesOf } from './fleet-config.js';
import { discover } from './discover.js';

export async function hostTarget(g: GlobalOptions): Promise<{ g: GlobalOptions; config: Config }> {
  if (g.calendar) throw new UsageError('--host and --calendar both name a calendar', 'pick one');
  const name = g.host!;
  const ctx = fleetContext(g);
  let url = ctx.fleet.hosts[name];
  if (!url) {
    const { calendars } = await discover(ctx.fleet, ctx.password, { timeoutMs: ctx.fleet.timeoutMs });
    url = calendars.find((c) => c.host === name)?.url ?? '';
    if (!url) {
      const names = calendars
        .map((c) => c.host)
        .slice(0, 20)
        .join(', ');
      throw new NotFoundError(
        `no host calendar named "${cleanText(name, 64)}" in your fleet`,
        names ? `the hosts are ${names}` : 'see hosthog hosts',
      );
    }
  }
  const config = ctx.config;
  config.host = name;
  config.resources = resourcesOf(ctx.fleet, name);
  config.calendar = {
    kind: 'caldav',
    url,
    username: ctx.fleet.username,
    passwordFile: ctx.fleet.passwordFile,
    password: ctx.password,
    timeoutMs: ctx.fleet.timeoutMs,
  };
  process.env.HOSTHOG_USERNAME = ctx.fleet.username;
  if (!process.env.HOSTHOG_PASSWORD) process.env.HOSTHOG_PASSWORD = ctx.password;
  if (!process.env.HOSTHOG_USER) process.env.HOSTHOG_USER = ctx.me;
  return { g: { ...g, host: undefined, calendar: url }, config };
}
