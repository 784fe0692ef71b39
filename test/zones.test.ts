/**
 * zones.ts reads offsets from the system's TZif files (fast start-up) and falls back to Intl.
 * These tests hold the two sources to the same answers, so the fast path can never drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseTzif } from '../src/core/tzif.js';
import { offsetAt, utcToZoned, isValidZone, transitions } from '../src/core/zones.js';

const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Asia/Kolkata',
  'America/Sao_Paulo',
  'Europe/Dublin',
  'Asia/Tehran',
  'America/St_Johns',
  'Africa/Casablanca',
  'Pacific/Apia',
  'UTC',
  'Etc/GMT+5',
];

const fmts = new Map<string, Intl.DateTimeFormat>();
function intlOffset(t: number, tz: string): number {
  const f =
    fmts.get(tz) ??
    new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  fmts.set(tz, f);
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(t))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  const ms = Math.floor(t / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second) - ms;
}

test('tzif: Debian zone files parse, and their transitions are the ones Intl reports (2000–2036)', () => {
  for (const tz of ZONES) {
    const z = parseTzif(readFileSync(`/usr/share/zoneinfo/${tz}`));
    assert.ok(z, `${tz} parses`);
    for (let i = 0; i < z.at.length; i++) {
      const t: number = z.at[i];
      if (t < Date.UTC(2000, 0, 1) || t > Date.UTC(2036, 0, 1)) continue;
      assert.equal(intlOffset(t, tz), z.offset[i], `${tz} at ${new Date(t).toISOString()}`);
      assert.equal(
        intlOffset(t - 1000, tz),
        i ? z.offset[i - 1] : z.initial,
        `${tz} just before ${new Date(t).toISOString()}`,
      );
    }
  }
});

test('zones: offsetAt and utcToZoned (zone files) agree with Intl every 5 h 7 min from 2020 to 2040', () => {
  for (const tz of ZONES) {
    for (let t = Date.UTC(2020, 0, 1); t < Date.UTC(2040, 0, 1); t += 5 * 3600_000 + 7 * 60_000 + 13_000) {
      assert.equal(offsetAt(t, tz), intlOffset(t, tz), `${tz} ${new Date(t).toISOString()}`);
    }
    const d = new Date('2031-07-04T12:34:56.789Z');
    const w = new Date(Math.floor(d.getTime() / 1000) * 1000 + intlOffset(d.getTime(), tz));
    assert.deepEqual(utcToZoned(d, tz), {
      year: w.getUTCFullYear(),
      month: w.getUTCMonth() + 1,
      day: w.getUTCDate(),
      hour: w.getUTCHours(),
      minute: w.getUTCMinutes(),
      second: w.getUTCSeconds(),
      weekday: w.getUTCDay(),
    });
  }
  // Berlin 2026: exactly the two EU changes, to the second
  assert.deepEqual(
    transitions('Europe/Berlin', new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z')).map(
      (x) => [new Date(x.at).toISOString(), x.toOffset / 3600_000],
    ),
    [
      ['2026-03-29T01:00:00.000Z', 2],
      ['2026-10-25T01:00:00.000Z', 1],
    ],
  );
});

test('zones: names are checked before any file is read; garbage is not a zone', () => {
  assert.equal(isValidZone('Europe/Berlin'), true);
  assert.equal(isValidZone('../../etc/passwd'), false);
  assert.equal(isValidZone('/etc/passwd'), false);
  assert.equal(isValidZone('Mars/Olympus'), false);
  assert.equal(isValidZone(''), false);
  assert.equal(isValidZone('posix/Europe/Berlin'), false, 'posix/ and right/ copies are not zone names');
  assert.equal(isValidZone('right/UTC'), false);
  assert.equal(parseTzif(new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\n')), null);
  const berlin = readFileSync('/usr/share/zoneinfo/Europe/Berlin');
  assert.equal(parseTzif(berlin.subarray(0, 60)), null, 'a truncated file is refused');
});
