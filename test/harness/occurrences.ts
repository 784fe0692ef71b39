/** Shared builders for the pure-logic tests of what the host shows (motd, status). */
import assert from 'node:assert/strict';
import { validateConfig, type Config } from '../../src/config/schema.js';
import type { Announcement, Claim, Snapshot } from '../../src/core/types.js';

/** A Berlin wall time on a day when Berlin is UTC+1 (e.g. Sunday 2026-11-22). */
export const b = (local: string) => new Date(`${local}+01:00`);
export const NOW = b('2026-11-22T14:05:00');
export const TZ = 'Europe/Berlin';

export function claim(o: Partial<Claim> & { uid: string }): Claim {
  return {
    kind: 'claim',
    recurring: false,
    start: b('2026-11-22T14:00:00'),
    end: b('2026-11-22T18:00:00'),
    allDay: false,
    title: '',
    user: 'alice',
    mode: 'shared',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    ...o,
  };
}

export function ann(o: Partial<Announcement> & { uid: string }): Announcement {
  return {
    kind: 'announcement',
    recurring: false,
    start: b('2026-11-22T08:00:00'),
    end: b('2026-11-24T09:00:00'),
    allDay: false,
    title: '',
    text: 'hello',
    ...o,
  };
}

export function hostConfig(host = 'gpu-box-3', timezone = TZ): Config {
  const r = validateConfig({ host, timezone }, { hostname: 'x', timezone: 'UTC' }, 'test');
  assert.deepEqual(r.problems, []);
  return r.config!;
}

/** A snapshot synced 30 s before NOW. */
export const snap = (occurrences: (Claim | Announcement)[], o: Partial<Snapshot> = {}): Snapshot => ({
  occurrences,
  syncedAt: new Date(NOW.getTime() - 30_000),
  ...o,
});
