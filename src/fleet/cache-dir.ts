/** Where a calendar's per-user cache lives: ~/.cache/hosthog/<16 hex of what it caches>. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export function cacheDirFor(cacheRoot: string, description: string): string {
  return join(cacheRoot, createHash('sha256').update(description).digest('hex').slice(0, 16));
}
