/**
 * `hosthog hosts`: one row per host calendar: who holds it now (mode, resources, until), the
 * next claim, the free resources, how fresh the calendar is. Pure: snapshots, now → rows/text.
 */
import type { Claim } from './types.js';
import type { HostSnapshot } from './fleet-types.js';
import { isExclusive, rule } from './conflicts.js';
import { formatTime } from './format-time.js';
import { formatDuration } from './duration.js';
import { cleanText } from './sanitize.js';

export interface HostHolder {
  user: string;
  mode: 'shared' | 'exclusive' | 'hog';
  resources: string[];
  until: Date;
  uid: string;
}
export interface HostRow {
  host: string;
  url: string;
  holders: HostHolder[];
  next: (HostHolder & { start: Date }) | null;
  /** Resources nobody holds now; null when the host has no resources configured. */
  freeResources: string[] | null;
  /** Nobody holds the host (or any of its resources) exclusively now. */
  free: boolean;
  syncedAt: Date | null;
  error?: string;
}

const holder = (c: Claim): HostHolder => ({
  user: c.user,
  mode: c.hog ? 'hog' : c.mode,
  resources: c.resources,
  until: c.end,
  uid: c.uid,
});

export function hostRows(hosts: HostSnapshot[], now: Date): HostRow[] {
  const t = now.getTime();
  return hosts
    .map((h) => {
      const holds = rule(h.occurrences.filter((o): o is Claim => o.kind === 'claim')).holds;
      const active = holds.filter((c) => c.start.getTime() <= t && t < c.end.getTime());
      const nextClaim = holds
        .filter((c) => c.start.getTime() > t)
        .sort((a, b) => a.start.getTime() - b.start.getTime())[0];
      const wholeTaken = active.some((c) => c.resources.length === 0);
      const freeResources = h.resources.length
        ? wholeTaken
          ? []
          : h.resources.filter((r) => !active.some((c) => c.resources.includes(r)))
        : null;
      return {
        host: h.host,
        url: h.url,
        holders: active.map(holder),
        next: nextClaim ? { ...holder(nextClaim), start: nextClaim.start } : null,
        freeResources,
        free: !active.some((c) => isExclusive(c) && c.resources.length === 0),
        syncedAt: h.syncedAt,
        ...(h.error ? { error: h.error } : {}),
      };
    })
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}

function holderText(x: HostHolder, tz: string, now: Date): string {
  const what = x.resources.length ? x.resources.join(',') : 'whole host';
  return `${cleanText(x.user, 32)} ${x.mode} ${cleanText(what, 40)} until ${formatTime(x.until, tz, now)}`;
}

export function renderHosts(rows: HostRow[], tz: string, now: Date): string {
  if (!rows.length) return 'no host calendars found (check [fleet] home / [fleet.hosts] in your config)\n';
  const w = Math.max(4, ...rows.map((r) => r.host.length));
  const lines = rows.map((r) => {
    const now1 = r.holders.length ? r.holders.map((x) => holderText(x, tz, now)).join('; ') : 'free';
    const next = r.next
      ? `next: ${cleanText(r.next.user, 32)} ${formatTime(r.next.start, tz, now)}`
      : 'next: —';
    const res =
      r.freeResources === null
        ? ''
        : ` · free: ${r.freeResources.length ? r.freeResources.join(',') : 'none'}`;
    const fresh = r.error
      ? ` · STALE (${cleanText(r.error, 80)})`
      : r.syncedAt
        ? ` · synced ${formatDuration(Math.max(0, now.getTime() - r.syncedAt.getTime()))} ago`
        : ' · never synced';
    return `${cleanText(r.host, 64).padEnd(w)}  ${now1} · ${next}${res}${fresh}`;
  });
  return lines.join('\n') + '\n';
}

export function hostsJson(rows: HostRow[]): unknown {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return rows.map((r) => ({
    host: r.host,
    url: r.url,
    free: r.free,
    freeResources: r.freeResources,
    holders: r.holders.map((x) => ({ ...x, until: iso(x.until) })),
    next: r.next ? { ...r.next, until: iso(r.next.until), start: iso(r.next.start) } : null,
    syncedAt: iso(r.syncedAt),
    error: r.error ?? null,
  }));
}
