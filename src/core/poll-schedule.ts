/**
 * When the bridge polls next: pure. Regular polls every pollMs plus jitter, also after failures
 * (never sooner than a server's Retry-After, capped at 15 minutes); after
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
  // A server that is down is asked again every poll interval (one small request), not after
  // an exponential back-off: once it is back, the motd is current within one interval. Only a
  // server's own Retry-After (capped at 15 minutes) makes the bridge wait longer.
  if (s.consecutiveFailures > 0) wait = Math.max(wait, Math.min(MAX_BACKOFF_MS, s.retryAfterMs ?? 0));
  return new Date(s.lastAttemptAt.getTime() + wait + s.jitterMs);
}

export function isDue(s: PollState, pollMs: number, now: Date): boolean {
  const at = nextPollAt(s, pollMs);
  return at !== null && now.getTime() >= at.getTime();
}
