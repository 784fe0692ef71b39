/**
 * One calendar-source interface for every backend (CalDAV server, local vdir). The mirror,
 * the CLI and the contract suite (test/contract.test.ts) speak only this.
 */
import type { CalendarObject } from '../core/types.js';

/** Result of one sync step. */
export interface SyncDelta {
  /**
   * true: `changed` plus the unchanged `known` entries listed in `unchanged` are the whole
   * calendar; any known href not in either is gone (a reconcile). false: a plain delta.
   */
  full: boolean;
  /** New or modified objects, with data. */
  changed: CalendarObject[];
  /** Hrefs (canonical) that no longer exist. */
  deleted: string[];
  /** Objects already handed to reconcile's `store` while they arrived (not in `changed`). */
  streamed?: number;
  /** The new sync token (null if the source has none). */
  token: string | null;
  /** Requests made and bytes received for this step (for benchmarks and logs). */
  stats: { requests: number; bytes: number };
}

export interface SourceInfo {
  /** The calendar's display name, if it has one. */
  displayName?: string;
  /** Writes will be refused (read-only share, subscription, trash, birthdays). */
  readOnly: boolean;
  /** Why it is read-only, for messages. */
  readOnlyReason?: string;
}

export interface CalendarSource {
  /** Human description for logs, e.g. "caldav https://…/gpu-box-3/" or "vdir /var/lib/…". */
  readonly description: string;

  /** Check the calendar exists and is usable; learn whether it is writable. */
  info(): Promise<SourceInfo>;

  /**
   * Incremental sync from `token`. Throws InvalidSyncTokenError when the token is refused
   * (the caller then calls reconcile). With token null, behaves like reconcile.
   * `known` maps every cached href to its etag, so unchanged objects are never downloaded.
   */
  sync(token: string | null, known: ReadonlyMap<string, string | null>): Promise<SyncDelta>;

  /**
   * Full reconcile: list every href+etag, download only what differs from `known`. A source may
   * hand objects to `store` while a big answer still arrives (a first download), so they are
   * never all held at once; those count in the delta's `streamed`, not in `changed`.
   */
  reconcile(
    known: ReadonlyMap<string, string | null>,
    store?: (objects: CalendarObject[]) => Promise<void>,
  ): Promise<SyncDelta>;

  /** Read one object (null if absent). */
  get(href: string): Promise<CalendarObject | null>;

  /**
   * Create a new object named `name` (e.g. "<uid>.ics") with If-None-Match: *.
   * Throws PreconditionFailedError if something already exists there.
   * Returns the object with its etag (read back if the server sent none).
   */
  create(name: string, data: string): Promise<CalendarObject>;

  /** Replace an object only if it still has `etag` (If-Match). Throws PreconditionFailedError. */
  update(href: string, data: string, etag: string): Promise<CalendarObject>;

  /** Delete an object only if it still has `etag` (If-Match). Throws PreconditionFailedError. */
  remove(href: string, etag: string): Promise<void>;
}
