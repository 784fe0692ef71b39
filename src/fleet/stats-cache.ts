/**
 * The fleet's cache for `hosthog stats`: per calendar and decoded window, the claims that hold
 * (statsPieces of the decoded occurrences), packed as flat numbers. A warm `stats` over a year
 * reads these (~60 kB per calendar of 2,000 events) instead of the decoded year (~700 kB of
 * occurrences) and does not run the conflict rule again. Valid for one Mirror token, like
 * the decoded windows (fleet-decoded-*.json).
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { StatsPiece } from '../core/stats-compute.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';

const FILE = 'fleet-stats.json';

export interface PackedPieces {
  window: string;
  token: string | null;
  lastFullAt: string | null;
  users: string[];
  /** Resource lists, by JSON text. */
  res: string[][];
  /** Per piece: user index, resources index, start (ms), end (ms), flags (1 exclusive, 2 hog). */
  p: number[];
}

export function packPieces(
  pieces: StatsPiece[],
  head: Pick<PackedPieces, 'window' | 'token' | 'lastFullAt'>,
): PackedPieces {
  const users = new Map<string, number>();
  const res = new Map<string, number>();
  const resList: string[][] = [];
  const p: number[] = [];
  for (const x of pieces) {
    let u = users.get(x.user);
    if (u === undefined) users.set(x.user, (u = users.size));
    const key = JSON.stringify(x.res);
    let r = res.get(key);
    if (r === undefined) {
      res.set(key, (r = resList.length));
      resList.push(x.res);
    }
    p.push(u, r, x.start, x.end, (x.excl ? 1 : 0) | (x.hog ? 2 : 0));
  }
  return { ...head, users: [...users.keys()], res: resList, p };
}

export function unpackPieces(k: PackedPieces): StatsPiece[] {
  const out: StatsPiece[] = new Array(k.p.length / 5);
  for (let i = 0, j = 0; j < k.p.length; i++, j += 5) {
    out[i] = {
      user: k.users[k.p[j]],
      res: k.res[k.p[j + 1]],
      start: k.p[j + 2],
      end: k.p[j + 3],
      excl: (k.p[j + 4] & 1) !== 0,
      hog: (k.p[j + 4] & 2) !== 0,
    };
  }
  return out;
}

function valid(k: PackedPieces): boolean {
  return (
    typeof k?.window === 'string' &&
    Array.isArray(k.users) &&
    Array.isArray(k.res) &&
    Array.isArray(k.p) &&
    k.p.length % 5 === 0 &&
    k.p.every((v, i) =>
      i % 5 === 0
        ? v >= 0 && v < k.users.length
        : i % 5 === 1
          ? v >= 0 && v < k.res.length
          : Number.isFinite(v),
    )
  );
}

export function readPieces(dir: string, window: string): PackedPieces | null {
  try {
    const all = JSON.parse(readFileSync(join(dir, FILE), 'utf8')) as PackedPieces[];
    const k = Array.isArray(all) ? all.find((x) => x?.window === window) : undefined;
    return k && valid(k) ? k : null;
  } catch {
    return null;
  }
}

/** Keep this window's entry first, and up to one other window of the same token. */
export function writePieces(dir: string, k: PackedPieces): void {
  let others: PackedPieces[] = [];
  try {
    const all = JSON.parse(readFileSync(join(dir, FILE), 'utf8')) as PackedPieces[];
    if (Array.isArray(all)) others = all.filter((x) => x?.window !== k.window && x?.token === k.token);
  } catch {
    /* none yet */
  }
  writeFileAtomic(join(dir, FILE), JSON.stringify([k, ...others.slice(0, 1)]), 0o600);
}
