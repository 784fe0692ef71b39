/**
 * `hosthog status`: the same view as the motd, richer (no line cap, times as ranges, allow
 * lists, last sync error), or brief (one line, two with a warning) for shells and tmux status
 * lines; and the JSON form. Pure: HostView → text / plain object.
 */
import type { Announcement, Claim } from './types.js';
import type { HostView } from './view.js';
import { formatSpan, formatTime, isoWithOffset } from './format-time.js';
import {
  COLS,
  announcementLine,
  clean,
  conflictLine,
  fitColumns,
  wrapColumns,
  freeLine,
  headerLine,
  modeText,
  staleLine,
  who,
  whereText,
} from './motd.js';
import type { GpuPlan } from './gpu-plan.js';
import { gpuMotdLines } from './gpu-render.js';

/** The GPU plan as the bridge publishes it (state_dir/gpus.json). */
export type GpuSection = Omit<GpuPlan, 'idle'> | null | undefined;

function claimLines(c: Claim, v: HostView, indent: string): string[] {
  const range = formatSpan(c, v.timezone, v.now);
  const out = [`${indent}${who(c)} · ${modeText(c)} · ${whereText(c, 60)} · ${range}`];
  const note = clean(c.note);
  if (note)
    out.push(...wrapColumns(`note: ${note}`, COLS - indent.length - 2, 3).map((l) => `${indent}  ${l}`));
  if (c.hog && c.allow.length) out.push(`${indent}  lets in: ${c.allow.map((u) => clean(u, 32)).join(', ')}`);
  // Open hand-over requests (hosthog request), shown until the holder closes them or the claim ends.
  for (const r of c.requests ?? [])
    out.push(`${indent}  REQUEST from ${clean(r.from, 32)} to ${who(c)}: ${clean(r.text, 120)}`);
  return out;
}

/** Upcoming claims listed by `hosthog status` before "… and N more". */
export const UPCOMING_MAX = 30;

export function renderStatus(view: HostView, opts: { brief?: boolean; gpus?: GpuSection } = {}): string {
  if (opts.brief) return renderBrief(view);
  const lines: string[] = [headerLine(view)];
  const stale = staleLine(view);
  if (view.syncedAt && !stale) lines.push(`synced ${formatTime(view.syncedAt, view.timezone, view.now)}`);
  if (stale) lines.push(stale);
  if (view.stale?.lastError) lines.push(`  last error: ${clean(view.stale.lastError)}`);
  if (!view.active.length && !view.upcoming.length && !(view.stale && !view.syncedAt))
    lines.push(freeLine(view));
  if (view.active.length) {
    lines.push('NOW:');
    for (const c of view.active) lines.push(...claimLines(c, view, '  '));
  }
  if (view.upcoming.length) {
    // A runaway rule (FREQ=MINUTELY) must not print a thousand lines: the rest is one line.
    lines.push('NEXT 24H:');
    for (const c of view.upcoming.slice(0, UPCOMING_MAX)) lines.push(...claimLines(c, view, '  '));
    if (view.upcoming.length > UPCOMING_MAX)
      lines.push(`  … and ${view.upcoming.length - UPCOMING_MAX} more (hosthog list shows all)`);
  }
  for (const a of view.announcements) lines.push(announcementLine(a, view));
  for (const x of view.conflicts) lines.push(conflictLine(x, view));
  if (opts.gpus) lines.push(...gpuMotdLines(opts.gpus, view.timezone, view.now));
  return lines.map((l) => fitColumns(l, COLS)).join('\n') + '\n';
}

function renderBrief(v: HostView): string {
  const host = clean(v.host, 64);
  let first: string;
  const holder = v.exclusiveHolder;
  if (holder) {
    first = `${host}: ${who(holder)} ${modeText(holder)} until ${formatTime(holder.end, v.timezone, v.now)}`;
  } else if (v.active.length) {
    const users = [...new Set(v.active.map(who))];
    first = `${host}: in use by ${users.join(', ')}`;
  } else if (v.stale && !v.syncedAt) {
    first = `${host}: claims unknown`;
  } else {
    first = `${host}: free`;
  }
  const next = v.upcoming[0];
  if (next) first += `; next ${who(next)} ${formatTime(next.start, v.timezone, v.now)}`;
  else if (!v.active.length && !(v.stale && !v.syncedAt)) first += ' for 24 h';
  const warnings: string[] = [];
  if (v.stale)
    warnings.push(
      v.syncedAt
        ? `calendar stale (last sync ${formatTime(v.syncedAt, v.timezone, v.now)})`
        : 'calendar never synced',
    );
  if (v.conflicts.length)
    warnings.push(`${v.conflicts.length} conflict${v.conflicts.length > 1 ? 's' : ''}: hosthog status`);
  const lines = [first];
  if (warnings.length) lines.push(`! ${warnings.join('; ')}`);
  return lines.map((l) => fitColumns(l, COLS)).join('\n') + '\n';
}

// ---- JSON ------------------------------------------------------------------------------------

export interface ClaimJson {
  uid: string;
  user: string;
  mode: 'shared' | 'exclusive';
  hog: boolean;
  resources: string[];
  note: string;
  start: string;
  end: string;
  requests?: { from: string; at: string; text: string }[];
}
export interface AnnouncementJson {
  uid: string;
  text: string;
  start: string;
  end: string;
}

function claimJson(c: Claim, tz: string): ClaimJson {
  return {
    uid: c.uid,
    user: clean(c.user, 200),
    mode: c.hog || c.mode === 'exclusive' ? 'exclusive' : 'shared',
    hog: c.hog,
    resources: c.resources.map((r) => clean(r, 200)),
    note: clean(c.note, 10_000),
    start: isoWithOffset(c.start, tz),
    end: isoWithOffset(c.end, tz),
    ...(c.requests?.length
      ? { requests: c.requests.map((r) => ({ from: clean(r.from, 32), at: r.at, text: clean(r.text, 200) })) }
      : {}),
  };
}

function announcementJson(a: Announcement, tz: string): AnnouncementJson {
  return {
    uid: a.uid,
    text: clean(a.text, 10_000),
    start: isoWithOffset(a.start, tz),
    end: isoWithOffset(a.end, tz),
  };
}

/**
 * {"active","upcoming","announcements","synced_at"} plus "conflicts", "stale", "exclusive_holder",
 * "host", "timezone", "now". Times are ISO 8601 with the host zone's offset.
 */
export function statusJson(
  view: HostView,
  gpus?: GpuSection,
): {
  active: ClaimJson[];
  upcoming: ClaimJson[];
  announcements: AnnouncementJson[];
  synced_at: string | null;
  conflicts: { claim: ClaimJson; by: ClaimJson }[];
  stale: { since: string | null; last_error: string | null } | null;
  exclusive_holder: ClaimJson | null;
  host: string;
  timezone: string;
  now: string;
  /** The same object as `hosthog gpus --json` (when the host watches GPUs). */
  gpus?: NonNullable<GpuSection>;
} {
  const tz = view.timezone;
  return {
    active: view.active.map((c) => claimJson(c, tz)),
    upcoming: view.upcoming.map((c) => claimJson(c, tz)),
    announcements: view.announcements.map((a) => announcementJson(a, tz)),
    synced_at: view.syncedAt ? isoWithOffset(view.syncedAt, tz) : null,
    conflicts: view.conflicts.map((x) => ({ claim: claimJson(x.claim, tz), by: claimJson(x.by, tz) })),
    stale: view.stale
      ? {
          since: view.stale.since ? isoWithOffset(view.stale.since, tz) : null,
          last_error: view.stale.lastError ? clean(view.stale.lastError) : null,
        }
      : null,
    exclusive_holder: view.exclusiveHolder ? claimJson(view.exclusiveHolder, tz) : null,
    host: view.host,
    timezone: tz,
    now: isoWithOffset(view.now, tz),
    ...(gpus ? { gpus } : {}),
  };
}
