/**
 * One error hierarchy. Every error a user can cause or fix is a HosthogError: it carries one
 * clear line (message) and, where it helps, how to fix it (hint). The CLI prints exactly that,
 * never a stack trace, and exits with the class's code (documented in docs/admin.md).
 */
export class HosthogError extends Error {
  readonly exitCode: number = 1;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
  /** The one line shown to a person. */
  line(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** Bad command-line use or unparsable input typed by the user. */
export class UsageError extends HosthogError {
  override readonly exitCode = 64;
}
/** Bad or unreadable configuration. */
export class ConfigError extends HosthogError {
  override readonly exitCode = 78;
  constructor(
    readonly problems: string[],
    hint?: string,
  ) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} configuration problems:\n  ${problems.join('\n  ')}`,
      hint,
    );
  }
}
/** The caller may not do this (not their claim, not an admin, not the holder). */
export class PermissionError extends HosthogError {
  override readonly exitCode = 77;
}
/** Calendar credentials rejected (HTTP 401/403 on login). Polling stops until config changes. */
export class AuthError extends HosthogError {
  override readonly exitCode = 77;
}
/** A claim overlaps another claim that holds. */
export class ConflictError extends HosthogError {
  override readonly exitCode = 3;
}
/** The event changed on the server since it was read (HTTP 412). Nothing was overwritten. */
export class PreconditionFailedError extends HosthogError {
  override readonly exitCode = 4;
}
/** No such claim / event. */
export class NotFoundError extends HosthogError {
  override readonly exitCode = 5;
}
/** The calendar server could not be reached or failed (timeouts, 5xx, 429). */
export class CalendarUnavailableError extends HosthogError {
  override readonly exitCode = 69;
  constructor(
    message: string,
    hint?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message, hint);
  }
}
/** The server refused the sync token: drop it and reconcile with a full etag listing. */
export class InvalidSyncTokenError extends HosthogError {
  override readonly exitCode = 69;
}
/** The CLI could not talk to the host's bridge. */
export class BridgeUnavailableError extends HosthogError {
  override readonly exitCode = 69;
}

/** Turn anything thrown into the one line a person sees. */
export function errorLine(err: unknown): string {
  if (err instanceof HosthogError) return err.line();
  if (err instanceof Error) return err.message.split('\n')[0] || err.name;
  return String(err);
}

export function exitCodeOf(err: unknown): number {
  return err instanceof HosthogError ? err.exitCode : 70;
}

/** [calendar] url (or --calendar) names something that is not a calendar collection. */
export class NotACalendarError extends NotFoundError {}

/** A calendar server's answer (or one event in it) grew past a [calendar] size limit. */
export class ResponseTooLargeError extends CalendarUnavailableError {}
