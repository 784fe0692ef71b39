/** What every fleet command does first: config, discovery, sync of every host calendar, decode. */
import type { GlobalOptions } from '../cli/main.js';
import type { HostSnapshot } from '../core/fleet-types.js';
import { fleetContext, resourcesOf, type FleetContext } from './fleet-config.js';
import { confirmLastModified, discover, type HomeMode } from './discover.js';
import { syncFleet, type FleetSyncStats } from './fleet-sync.js';
import { zonedToUtc, utcToZoned } from '../core/zones.js';

const DAY = 86_400_000;

export interface FleetLoad {
  ctx: FleetContext;
  hosts: HostSnapshot[];
  stats: FleetSyncStats & {
    discovery: { requests: number; bytes: number; ms: number };
    syncMs: number;
    /** How this home tells changed calendars apart (getlastmodified or sync tokens), and why. */
    check: HomeMode | null;
  };
}

/** Local midnight of the day `d` falls on, in tz. */
export function startOfDay(d: Date, tz: string): Date {
  const p = utcToZoned(d, tz);
  return zonedToUtc({ year: p.year, month: p.month, day: p.day, hour: 0, minute: 0, second: 0 }, tz);
}

/**
 * Sync and decode the fleet over [from, to) (rounded out to whole local days so the decoded
 * cache is reused all day). `only`: just these hosts.
 */
export async function loadFleet(
  g: GlobalOptions,
  spanOf: (ctx: FleetContext, now: Date) => { from: Date; to: Date },
  opts: { now?: Date; force?: boolean; only?: string[]; refresh?: boolean; pieces?: boolean } = {},
): Promise<FleetLoad> {
  const ctx = fleetContext(g);
  const now = opts.now ?? new Date();
  const tz = ctx.config.timezone;
  const span = spanOf(ctx, now);
  const t0 = Date.now();
  // --refresh: every calendar is asked (its sync-collection), whatever discovery says.
  const force = (opts.force ?? !!process.env.HOSTHOG_FLEET_SYNC_ALL) || !!opts.refresh;
  const {
    calendars,
    mode,
    stats: discovery,
  } = await discover(ctx.fleet, ctx.password, {
    timeoutMs: ctx.fleet.timeoutMs,
    cacheRoot: ctx.cacheRoot,
    refresh: opts.refresh,
  });
  const t1 = Date.now();
  const cals = opts.only ? calendars.filter((c) => opts.only!.includes(c.host)) : calendars;
  const from = startOfDay(span.from, tz);
  const to = new Date(startOfDay(span.to, tz).getTime() + DAY);
  const { hosts, stats, lied } = await syncFleet(cals, {
    cacheRoot: ctx.cacheRoot,
    username: ctx.fleet.username,
    password: ctx.password,
    parallel: ctx.fleet.parallel,
    timeoutMs: ctx.fleet.timeoutMs,
    fullReconcileMs: ctx.config.bridge.fullReconcileMs,
    timezone: tz,
    from,
    to,
    resourcesOf: (h) => resourcesOf(ctx.fleet, h),
    now,
    force,
    pieces: opts.pieces,
  });
  let check = mode;
  if (lied.length) {
    const wrong = await confirmLastModified(
      ctx.fleet,
      ctx.password,
      cals.filter((c) => lied.includes(c.host)),
      { timeoutMs: ctx.fleet.timeoutMs, cacheRoot: ctx.cacheRoot },
    );
    if (wrong.length) {
      check = { ask: 'token', why: `getlastmodified of ${wrong[0]} stayed while it changed`, sticky: true };
      process.stderr.write(
        `hosthog: ${ctx.fleet.home}: a calendar changed without its getlastmodified moving ` +
          '(from now on this home is checked with sync tokens)\n',
      );
    }
  }
  return {
    ctx,
    hosts,
    stats: { ...stats, discovery: { ...discovery, ms: t1 - t0 }, syncMs: Date.now() - t1, check },
  };
}

/** The window hosts/free decode: yesterday to [bridge] window_days ahead. */
export function nearWindow(ctx: FleetContext, now: Date): { from: Date; to: Date } {
  return {
    from: new Date(now.getTime() - DAY),
    to: new Date(now.getTime() + ctx.config.bridge.windowDays * DAY),
  };
}
