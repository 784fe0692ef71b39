/**
 * When the bridge polls next: pure. Regular polls every pollMs plus jitter; after failures an
 * exponential back-off (capped at 15 minutes, never sooner than a server's Retry-After); after
 * a rejected login no polling at all until the configuration changes (Nextcloud throttles every
 * failed login for every host behind the same address).
 */
export interface PollState {
  lastAttemptAt: Date | null;
  consecutiveFailures: number;
  /** Login refused: wait for a config change. */
  authBlocked: boolean;
  retryAfterMs?: number;
  /** This cycle's random jitter, drawn by the caller (0..jitterMs). */
  jitterMs: number;
}

export const MAX_BACKOFF_MS = 15 * 60_000;

export function nextPollAt(s: PollState, pollMs: number): Date | null {
  if (s.authBlocked) return null;
  if (!s.lastAttemptAt) return new Date(0);
  let wait = pollMs;
  if (s.consecutiveFailures > 0) {
    wait = Math.min(MAX_BACKOFF_MS, pollMs * 2 ** Math.min(s.consecutiveFailures - 1, 16));
    wait = Math.max(wait, s.retryAfterMs ?? 0);
  }
  return new Date(s.lastAttemptAt.getTime() + wait + s.jitterMs);
}

export function isDue(s: PollState, pollMs: number, now: Date): boolean {
  const at = nextPollAt(s, pollMs);
  return at !== null && now.getTime() >= at.getTime();
}
