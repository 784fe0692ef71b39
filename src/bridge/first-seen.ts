/**
 * When the bridge first saw each event (by UID), kept in state_dir/first-seen.json so it
 * survives restarts. "Earlier booking holds" (src/core/conflicts.ts) reads `created`; the bridge
 * sets it to this time, never to the client-supplied CREATED (anyone who can write the calendar
 * could back-date that). Also records which hogs the bridge itself wrote for a caller (and
 * whether the caller was an admin): [hog] from_calendar and max_length read it.
 *
 * The first time the file is made, events already in the calendar keep min(CREATED, now): the
 * order people booked in before hosthog tracked it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Occurrence } from '../core/types.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';

export const FIRST_SEEN_FILE = 'first-seen.json';
const FORGET_AFTER = 400 * 86_400_000;

interface Entry {
  seen: number;
  last: number;
  bridge?: boolean;
  admin?: boolean;
}

export interface FirstSeen {
  /** Set each occurrence's `created` to when the bridge first saw its UID; persist new UIDs. */
  stamp(occurrences: Occurrence[], now: Date): void;
  /** The bridge wrote a hog for a caller (called by the hog RPC path). */
  markViaBridge(uid: string, admin: boolean, now: Date): void;
  viaBridge(uid: string): { admin: boolean } | undefined;
  /** An admin's claim --force written by the bridge: booked before every other (holds over them). */
  markForced(uid: string, now: Date): void;
}

export function firstSeen(stateDir: string): FirstSeen {
  const file = join(stateDir, FIRST_SEEN_FILE);
  let fresh = false;
  const map = new Map<string, Entry>();
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      version?: number;
      events?: Record<string, Entry>;
    };
    for (const [k, v] of Object.entries(doc.events ?? {})) {
      if (!v || !Number.isFinite(v.seen)) continue;
      map.set(k, {
        seen: v.seen,
        last: Number.isFinite(v.last) ? v.last : v.seen,
        bridge: v.bridge === true,
        admin: v.admin === true,
      });
    }
  } catch {
    fresh = true;
  }
  const save = () => {
    const events: Record<string, Entry> = {};
    for (const [k, v] of map) events[k] = v;
    writeFileAtomic(file, JSON.stringify({ version: 1, events }) + '\n', 0o644);
  };
  return {
    stamp(occurrences, now) {
      const t = now.getTime();
      let changed = false;
      for (const o of occurrences) {
        let e = map.get(o.uid);
        if (!e) {
          const c = o.created?.getTime();
          const seen = fresh && c !== undefined && Number.isFinite(c) ? Math.min(c, t) : t;
          e = { seen, last: t };
          map.set(o.uid, e);
          changed = true;
        } else if (t - e.last > 86_400_000) {
          e.last = t;
          changed = true;
        }
        o.created = new Date(e.seen);
      }
      for (const [k, v] of map)
        if (t - v.last > FORGET_AFTER) {
          map.delete(k);
          changed = true;
        }
      if (changed || fresh) {
        save();
        fresh = false;
      }
    },
    markViaBridge(uid, admin, now) {
      const e = map.get(uid) ?? { seen: now.getTime(), last: now.getTime() };
      e.bridge = true;
      e.admin = e.admin || admin;
      map.set(uid, e);
      save();
    },
    markForced(uid, now) {
      const e = map.get(uid) ?? { seen: now.getTime(), last: now.getTime() };
      e.seen = 0;
      e.bridge = true;
      e.admin = true;
      map.set(uid, e);
      save();
    },
    viaBridge(uid) {
      const e = map.get(uid);
      return e?.bridge ? { admin: e.admin === true } : undefined;
    },
  };
}
