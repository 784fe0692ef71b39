/** `hosthog stats` in the terminal: a table with unicode-block bars, and the JSON form. Pure. */
import type { StatsResult } from './stats-compute.js';
import { cleanText } from './sanitize.js';

const BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A bar of `width` cells for value/max, in eighths of a cell. */
export function bar(value: number, max: number, width: number): string {
  if (!(max > 0) || !(value > 0)) return '';
  const eighths = Math.max(1, Math.round((Math.min(value, max) / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + BLOCKS[eighths % 8];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const num = (x: number) => x.toFixed(1);

export function renderStats(s: StatsResult, opts: { width?: number } = {}): string {
  const width = opts.width ?? 24;
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const lines = [`claimed hours by ${s.by}, ${day(s.from)} – ${day(s.to)} (${num(s.totalHours)} h in all)`];
  if (!s.rows.length) return lines.concat('no claims in this period').join('\n') + '\n';
  const keyW = Math.max(s.by.length, ...s.rows.map((r) => cleanText(r.key, 40).length));
  const shareHead = s.by === 'user' ? 'of all' : 'claimed';
  const topHead = s.by === 'user' ? '' : 'top users';
  lines.push(
    (
      `${s.by.padEnd(keyW)}  ${'hours'.padStart(8)}  ${shareHead.padStart(7)}  ` +
      `${'excl h'.padStart(7)}  ${'hog h'.padStart(6)}  ${''.padEnd(width)}  ${topHead}`
    ).trimEnd(),
  );
  const max = Math.max(...s.rows.map((r) => r.claimedHours));
  for (const r of s.rows) {
    const top = r.top.map((t) => `${cleanText(t.user, 32)} ${num(t.hours)}h`).join(', ');
    lines.push(
      (
        `${cleanText(r.key, 40).padEnd(keyW)}  ${num(r.claimedHours).padStart(8)}  ` +
        `${pct(r.share).padStart(7)}  ${num(r.exclusiveHours).padStart(7)}  ` +
        `${num(r.hogHours).padStart(6)}  ${bar(r.claimedHours, max, width).padEnd(width)}  ${top}`
      ).trimEnd(),
    );
  }
  return lines.join('\n') + '\n';
}

export function statsJson(s: StatsResult): unknown {
  return {
    from: s.from.toISOString(),
    to: s.to.toISOString(),
    by: s.by,
    timezone: s.timezone,
    totalHours: s.totalHours,
    rows: s.rows,
    users: s.users,
    heat: s.heat,
    timeline: s.timeline,
  };
}
