/** Interval arithmetic for the fleet's pure parts (half-open [start, end) in ms). */

export type Span = [number, number];

/** The union of spans, sorted and merged. */
export function union(spans: Span[]): Span[] {
  const s = spans.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Span[] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function totalMs(spans: Span[]): number {
  return spans.reduce((t, [a, b]) => t + (b - a), 0);
}

/** [a, b) clipped to [from, to), or null when nothing is left. */
export function clip(a: number, b: number, from: number, to: number): Span | null {
  const s = Math.max(a, from);
  const e = Math.min(b, to);
  return e > s ? [s, e] : null;
}
