/**
 * `hosthog stats --html`: one self-contained page (inline SVG and CSS, no script, nothing
 * fetched): a timeline per host, claimed hours per user, a week-by-hour heat map. Pure:
 * StatsResult → HTML text. Every name from the calendar is escaped.
 */
import type { StatsResult } from './stats-compute.js';
import { cleanText } from './sanitize.js';

const esc = (s: string) =>
  cleanText(s, 80).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const STYLE =
  'body{font-family:sans-serif;margin:2em;color:#222;background:#fff}table{border-collapse:collapse}' +
  'td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}' +
  'td:first-child,th:first-child{text-align:left}svg text{fill:#222}';
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** White → dark blue for 0 … 1. */
function shade(x: number): string {
  const v = Math.max(0, Math.min(1, x));
  const c = (a: number, b: number) => Math.round(a + (b - a) * v);
  return `rgb(${c(240, 23)},${c(244, 78)},${c(250, 160)})`;
}

function timelineSvg(s: StatsResult): string {
  const label = 140;
  const w = 720;
  const rowH = 14;
  const rows = s.timeline;
  const h = rows.length * (rowH + 4) + 24;
  const parts = rows.map((r, i) => {
    const y = i * (rowH + 4);
    const cw = w / Math.max(1, r.buckets.length);
    const cells = r.buckets
      .map((b, j) =>
        b > 0
          ? `<rect class="busy" x="${(label + j * cw).toFixed(2)}" y="${y}" ` +
            `width="${Math.max(cw, 0.5).toFixed(2)}" height="${rowH}" fill="${shade(b)}"/>`
          : '',
      )
      .join('');
    return (
      `<text x="0" y="${y + rowH - 3}" font-size="11">${esc(r.host)}</text>` +
      `<rect x="${label}" y="${y}" width="${w}" height="${rowH}" fill="none" stroke="#ccc"/>${cells}`
    );
  });
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const axis =
    `<text x="${label}" y="${h - 6}" font-size="10">${day(s.from)}</text>` +
    `<text x="${label + w}" y="${h - 6}" font-size="10" text-anchor="end">${day(s.to)}</text>`;
  return (
    `<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${label + w + 10}" height="${h}" ` +
    `role="img" aria-label="timeline per host">${parts.join('')}${axis}</svg>`
  );
}

function usersSvg(s: StatsResult): string {
  const users = s.users.slice(0, 40);
  const label = 140;
  const w = 500;
  const max = Math.max(1e-9, ...users.map((u) => u.hours));
  const bars = users.map((u, i) => {
    const y = i * 18;
    const bw = (u.hours / max) * w;
    return (
      `<text x="0" y="${y + 12}" font-size="11">${esc(u.user)}</text>` +
      `<rect class="user-bar" x="${label}" y="${y}" width="${bw.toFixed(2)}" height="14" fill="#2f6db5"/>` +
      `<text x="${(label + bw + 4).toFixed(2)}" y="${y + 12}" font-size="10">${u.hours.toFixed(1)} h</text>`
    );
  });
  const height = Math.max(18, users.length * 18);
  return (
    `<svg id="users" xmlns="http://www.w3.org/2000/svg" width="${label + w + 80}" height="${height}" ` +
    `role="img" aria-label="claimed hours per user">${bars.join('')}</svg>`
  );
}

function heatSvg(s: StatsResult): string {
  const cell = 22;
  const left = 40;
  const max = Math.max(1e-9, ...s.heat.flat());
  const cells = s.heat.flatMap((row, d) =>
    row.map(
      (v, hr) =>
        `<rect class="heat" x="${left + hr * cell}" y="${16 + d * cell}" width="${cell - 2}" ` +
        `height="${cell - 2}" fill="${shade(v / max)}">` +
        `<title>${DAYS[d]} ${hr}:00 ${v.toFixed(1)} h</title></rect>`,
    ),
  );
  const rowsL = DAYS.map((d, i) => `<text x="0" y="${16 + i * cell + 15}" font-size="11">${d}</text>`);
  const cols = Array.from({ length: 24 }, (_, hr) =>
    hr % 3 === 0 ? `<text x="${left + hr * cell}" y="11" font-size="10">${hr}</text>` : '',
  );
  return (
    `<svg id="heat" xmlns="http://www.w3.org/2000/svg" ` +
    `width="${left + 24 * cell}" height="${16 + 7 * cell}" ` +
    `role="img" aria-label="claimed hours by weekday and hour">` +
    `${rowsL.join('')}${cols.join('')}${cells.join('')}</svg>`
  );
}

export function renderStatsHtml(s: StatsResult, title = 'hosthog: fleet use'): string {
  const rows = s.rows
    .map((r) => {
      const top = r.top.map((t) => `${esc(t.user)} ${t.hours.toFixed(1)} h`).join(', ');
      return (
        `<tr><td>${esc(r.key)}</td><td>${r.claimedHours.toFixed(1)}</td>` +
        `<td>${(r.share * 100).toFixed(1)}%</td><td>${r.exclusiveHours.toFixed(1)}</td>` +
        `<td>${r.hogHours.toFixed(1)}</td><td>${top}</td></tr>`
      );
    })
    .join('\n');
  const head =
    `<th>${s.by}</th><th>hours</th><th>share</th>` + '<th>exclusive h</th><th>hog h</th><th>top users</th>';
  const minute = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');
  const period =
    `${minute(s.from)} – ${minute(s.to)} UTC · ${s.totalHours.toFixed(1)} claimed hours · by ${s.by} · ` +
    `times of day in ${esc(s.timezone)}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>${STYLE}</style>
</head><body>
<h1>${esc(title)}</h1>
<p>${period}</p>
<h2>Timeline per host</h2>
${timelineSvg(s)}
<h2>Use per user</h2>
${usersSvg(s)}
<h2>Week by hour</h2>
${heatSvg(s)}
<h2>By ${s.by}</h2>
<table><thead><tr>${head}</tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
