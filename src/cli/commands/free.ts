/**
 * hosthog free --for 4h [--at …] [--gpus N] [--exclusive] [--json] [--wait] [--claim]: the
 * hosts free for the window, best first, each with the command that claims it. --wait polls
 * the fleet until one is free for the whole window (then prints it and exits 0); --claim
 * claims the best one at once (off the host, against its calendar, like claim --host).
 */
import type { GlobalOptions } from '../main.js';
import { loadFleet } from '../../fleet/fleet-load.js';
import { findFree, type FreeOption } from '../../core/fleet-free.js';
import { parseDurationArg, parseWhen } from '../../core/when.js';
import { formatTime } from '../../core/format-time.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { HosthogError, UsageError } from '../../core/errors.js';
import { cleanText } from '../../core/sanitize.js';

export interface FreeOpts {
  for?: string;
  at?: string;
  gpus?: string;
  exclusive?: boolean;
  json?: boolean;
  wait?: boolean;
  claim?: boolean;
  poll?: string;
  timeout?: string;
  refresh?: boolean;
}

const DAY = 86_400_000;

export async function free(g: GlobalOptions, o: FreeOpts): Promise<void> {
  if (!o.for) throw new UsageError('free for how long?', 'e.g. hosthog free --for 4h');
  const dur = parseDurationArg(o.for);
  const gpus = o.gpus === undefined ? undefined : Number(o.gpus);
  if (gpus !== undefined && (!Number.isInteger(gpus) || gpus < 1))
    throw new UsageError(`--gpus ${cleanText(o.gpus, 20)} is not a whole number ≥ 1`, 'e.g. --gpus 2');
  const pollMs = o.poll ? parseDuration(o.poll) : 60_000;
  if (pollMs === null || pollMs < 1000)
    throw new UsageError('--poll must be a duration of at least 1s', 'e.g. --poll 30s');
  const giveUp = o.timeout ? parseDuration(o.timeout) : null;
  const began = Date.now();
  let looks = 0;
  for (;;) {
    const now = new Date();
    const me = process.env.HOSTHOG_USER;
    const {
      ctx,
      hosts,
      stats: fetched,
    } = await loadFleet(
      g,
      (c, n) => {
        const start = o.at ? parseWhen(o.at, n, c.config.timezone) : n;
        return {
          from: new Date(Math.min(start.getTime(), n.getTime()) - DAY),
          to: new Date(Math.max(start.getTime() + dur, n.getTime() + c.config.bridge.windowDays * DAY)),
        };
      },
      // --refresh asks every calendar on the first look (--wait's later looks trust discovery).
      { now, refresh: !!o.refresh && looks++ === 0 },
    );
    const tz = ctx.config.timezone;
    const start = o.at ? parseWhen(o.at, now, tz) : new Date(Math.ceil(now.getTime() / 60_000) * 60_000);
    const options = findFree(
      hosts,
      { start, end: new Date(start.getTime() + dur), gpus, exclusive: !!o.exclusive, me: me || ctx.me },
      now,
    );
    const best = options.find((x) => x.whole && !x.stale);
    if (process.env.HOSTHOG_FLEET_STATS) process.stderr.write(JSON.stringify(fetched) + '\n');
    if (!o.wait || best) {
      if (o.claim) {
        if (!best)
          throw new HosthogError(
            `no host is free for ${formatDuration(dur)} from ${formatTime(start, tz, now)}`,
            'try another --at, fewer --gpus, or --wait',
          );
        const { claim } = await import('./claim.js');
        await claim({ ...g, host: best.host }, best.take, {
          at: start.toISOString(),
          for: formatDuration(dur),
          exclusive: o.exclusive,
          json: o.json,
        });
        return;
      }
      print(options, o, start, dur, tz, now);
      if (!options.some((x) => x.whole)) process.exitCode = 1;
      return;
    }
    if (giveUp !== null && Date.now() - began >= giveUp)
      throw new HosthogError(
        `still no host free for ${formatDuration(dur)} after waiting ${formatDuration(giveUp)}`,
        'try again later or ask with hosthog request',
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function print(options: FreeOption[], o: FreeOpts, start: Date, dur: number, tz: string, now: Date): void {
  if (o.json) {
    process.stdout.write(
      JSON.stringify(
        options.map((x) => ({ ...x, from: x.from?.toISOString() ?? null })),
        null,
        2,
      ) + '\n',
    );
    return;
  }
  const whole = options.filter((x) => x.whole);
  const gpus = o.gpus ? ` (${o.gpus} resources)` : '';
  const exclusively = o.exclusive ? ', exclusively' : '';
  const head = `free for ${formatDuration(dur)} from ${formatTime(start, tz, now)}${gpus}${exclusively}:`;
  const lines = whole.length
    ? [head]
    : [`no host is free for ${formatDuration(dur)} from ${formatTime(start, tz, now)}`];
  for (const x of whole) {
    const others = x.others.length
      ? `shared with ${x.others.map((u) => cleanText(u, 32)).join(', ')}`
      : 'nobody else';
    const res = x.take.length ? ` ${x.take.join(',')}` : '';
    const freeRes = x.freeResources.length ? ` · free: ${x.freeResources.join(',')}` : '';
    const stale = x.stale ? ' · STALE calendar' : '';
    lines.push(`  ${cleanText(x.host, 64)}${res} · ${others}${freeRes}${stale}`);
    lines.push(`    ${x.command}`);
  }
  const later = options.filter((x) => !x.whole && x.from);
  if (later.length) {
    lines.push('later:');
    for (const x of later.slice(0, 5))
      lines.push(`  ${cleanText(x.host, 64)} from ${formatTime(x.from!, tz, now)}: ${x.command}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
