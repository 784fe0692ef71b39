/** hosthog list: claims from now on (or all in the window), from snapshot.json; no network. */
import { userInfo } from 'node:os';
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { HosthogError } from '../../core/errors.js';
import type { Claim } from '../../core/types.js';
import { formatRange, isoWithOffset } from '../../core/format-time.js';
import { cleanText, truncate } from '../../core/sanitize.js';
import { rule } from '../../core/conflicts.js';

export async function list(
  g: GlobalOptions,
  o: { mine?: boolean; json?: boolean; user?: string },
): Promise<void> {
  const config = configFor(g);
  // Off the host (--calendar URL): the calendar itself, through this user's cache.
  const snap =
    g.calendar || g.host
      ? await (await import('../transport.js')).directSnapshot(g, config)
      : readSnapshotFile(config.bridge.stateDir);
  if (!snap)
    throw new HosthogError(
      `no calendar data on this host yet (${config.bridge.stateDir}/snapshot.json is missing)`,
      'start the bridge or run: hosthog sync',
    );
  const now = new Date();
  const who = o.user ?? (o.mine ? userInfo().username : undefined);
  let claims = snap.occurrences.filter(
    (x): x is Claim => x.kind === 'claim' && x.end.getTime() > now.getTime(),
  );
  if (who) claims = claims.filter((c) => c.user === who);
  const overruled = new Map(rule(claims).overruled.map((x) => [x.claim, x.by]));
  if (o.json) {
    process.stdout.write(
      JSON.stringify(
        claims.map((c) => ({
          uid: c.uid,
          recurrence_id: c.recurrenceId ?? null,
          user: c.user,
          mode: c.mode,
          hog: c.hog,
          resources: c.resources,
          note: c.note,
          start: isoWithOffset(c.start, config.timezone),
          end: isoWithOffset(c.end, config.timezone),
          overruled_by: overruled.get(c)?.uid ?? null,
        })),
        null,
        2,
      ) + '\n',
    );
    return;
  }
  if (!claims.length) {
    process.stdout.write(who ? `no claims by ${who}\n` : 'no claims from now on\n');
    return;
  }
  const rows = claims.map((c) => [
    c.uid.slice(0, 8),
    truncate(c.user, 12),
    c.hog ? 'hog' : c.mode === 'exclusive' ? 'excl' : 'shared',
    truncate(c.resources.join(',') || 'host', 12),
    formatRange(c.start, c.end, config.timezone, now),
    truncate(cleanText((overruled.has(c) ? '! overruled ' : '') + c.note, 200), 30),
  ]);
  const head = ['ID', 'USER', 'MODE', 'WHAT', 'WHEN', 'NOTE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - [...c].length)))
      .join('  ')
      .trimEnd();
  process.stdout.write([fmt(head), ...rows.map(fmt)].join('\n') + '\n');
}
