/**
 * A reader for the system's compiled time zone files (TZif, RFC 8536; /usr/share/zoneinfo on
 * Debian). Pure: bytes in, transitions out; zones.ts reads the file.
 *
 * Why: the first Intl.DateTimeFormat with a timeZone costs about 20 ms (ICU loads its zone and
 * locale data), a large share of a CLI command's start-up. A 2 kB TZif file parses in well under
 * a millisecond. Debian ships "fat" files with explicit transitions up to 2037; past the last
 * transition zones.ts falls back to Intl unless the zone has no daylight-saving rule at all.
 */

export interface Tzif {
  /** Transition instants (ms since the epoch, ascending). */
  at: number[];
  /** UTC offset in force from at[i] on (ms, east positive). */
  offset: number[];
  /** Offset before the first transition. */
  initial: number;
  /** True when the footer (POSIX TZ string) has a DST rule, so times past the table move. */
  ruleAfterTable: boolean;
}

/** Parse a TZif v1/v2/v3/v4 file; null when the bytes are not one. */
export function parseTzif(buf: Uint8Array): Tzif | null {
  if (buf.length < 44 || buf[0] !== 0x54 || buf[1] !== 0x5a || buf[2] !== 0x69 || buf[3] !== 0x66)
    return null; // "TZif"
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = buf[4];
  const head = (off: number) => ({
    isutcnt: view.getUint32(off + 20),
    isstdcnt: view.getUint32(off + 24),
    leapcnt: view.getUint32(off + 28),
    timecnt: view.getUint32(off + 32),
    typecnt: view.getUint32(off + 36),
    charcnt: view.getUint32(off + 40),
  });
  let h = head(0);
  let off = 44;
  let timeSize = 4;
  if (version >= 0x32) {
    // '2' or later: skip the 32-bit block, read the 64-bit one
    off += h.timecnt * 4 + h.timecnt + h.typecnt * 6 + h.charcnt + h.leapcnt * 8 + h.isstdcnt + h.isutcnt;
    if (buf.length < off + 44) return null;
    h = head(off);
    off += 44;
    timeSize = 8;
  }
  const need =
    h.timecnt * timeSize +
    h.timecnt +
    h.typecnt * 6 +
    h.charcnt +
    h.leapcnt * (timeSize + 4) +
    h.isstdcnt +
    h.isutcnt;
  if (h.typecnt === 0 || buf.length < off + need) return null;
  const times: number[] = [];
  for (let i = 0; i < h.timecnt; i++) {
    times.push(timeSize === 8 ? Number(view.getBigInt64(off + i * 8)) : view.getInt32(off + i * 4));
  }
  off += h.timecnt * timeSize;
  const idx: number[] = [];
  for (let i = 0; i < h.timecnt; i++) idx.push(buf[off + i]);
  off += h.timecnt;
  const typeOffset: number[] = [];
  for (let i = 0; i < h.typecnt; i++) typeOffset.push(view.getInt32(off + i * 6) * 1000);
  off += h.typecnt * 6 + h.charcnt + h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt;
  if (h.leapcnt > 0) return null; // "right/" zones count leap seconds; leave those to Intl
  let footer = '';
  if (timeSize === 8 && buf[off] === 0x0a) {
    const endNl = buf.indexOf(0x0a, off + 1);
    if (endNl > off) footer = new TextDecoder().decode(buf.subarray(off + 1, endNl));
  }
  const at: number[] = [];
  const offset: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const o = typeOffset[idx[i]];
    if (o === undefined) return null;
    at.push(times[i] * 1000);
    offset.push(o);
  }
  // RFC 8536 §3.2: local time before the first transition uses type 0.
  return { at, offset, initial: typeOffset[0], ruleAfterTable: version < 0x32 ? true : footer.includes(',') };
}
