/**
 * An event larger than [calendar] max_event is not kept: the cache stores this small stand-in
 * under the event's href and etag instead (so it is not downloaded again until it changes),
 * and decoding names it as a problem (doctor lists it) instead of showing it. Pure.
 */
const MARK = 'X-HOSTHOG-OVERSIZE:';

/** The stand-in for an event of `bytes` (at least) over a limit of `limit` bytes. */
export function oversizeStub(bytes: number, limit: number): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hosthog//oversize//EN',
    `${MARK}${bytes};${limit}`,
    'END:VCALENDAR',
  ];
  return lines.join('\r\n') + '\r\n';
}

/** The problem line for a stand-in, or null for real calendar data. */
export function oversizeProblem(data: string): string | null {
  if (data.length > 400 || !data.includes(MARK)) return null;
  const m = new RegExp(`${MARK}(\\d+);(\\d+)`).exec(data);
  if (!m) return null;
  const kb = (n: string) => `${Math.ceil(Number(n) / 1024)} kB`;
  return `event larger than [calendar] max_event (${kb(m[1])} > ${kb(m[2])}): left out`;
}
