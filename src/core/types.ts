/** Plain data shared by the pure core, the calendar sources and the host adapters. */

export type Mode = 'shared' | 'exclusive';

/** One stored calendar object (one .ics resource), exactly as the calendar holds it. */
export interface CalendarObject {
  /** Canonical href: absolute path, percent-encoding normalised (see src/caldav/href.ts). */
  href: string;
  /** Server etag (quoted as the server sent it) or null when unknown. */
  etag: string | null;
  /** The iCalendar text. */
  data: string;
}

interface OccurrenceBase {
  /** The event's UID. */
  uid: string;
  /** For an occurrence of a recurring event: its RECURRENCE-ID as an ISO instant. */
  recurrenceId?: string;
  /** Canonical href of the calendar object the occurrence comes from. */
  href?: string;
  /** Whether the event repeats. */
  recurring: boolean;
  start: Date;
  /** Exclusive end. */
  end: Date;
  /** Whole-day event (DATE values). */
  allDay: boolean;
  /** The event's SUMMARY, sanitised for terminal output. */
  title: string;
  /**
   * When it was booked; decides conflicts. On the host: when the bridge first saw it
   * (src/bridge/first-seen.ts); else CREATED, else DTSTAMP of the master.
   */
  created?: Date;
}

/** One occurrence of a claim on the host (or some of its resources). */
export interface Claim extends OccurrenceBase {
  kind: 'claim';
  user: string;
  mode: Mode;
  /** Enforce the exclusive claim at the door (implies mode exclusive). */
  hog: boolean;
  /** Claimed resources; empty = the whole host. */
  resources: string[];
  note: string;
  /** Users the holder lets in during a hog. */
  allow: string[];
  /** Open hand-over requests on the claim (X-HOSTHOG-REQUEST, src/core/fleet-request.ts). */
  requests?: HandoverRequest[];
}

/** Someone asking the holder for a claim ("could I have gpu1 from 15:00?"). */
export interface HandoverRequest {
  from: string;
  at: string;
  text: string;
}

/** An admins' message shown while it lasts. */
export interface Announcement extends OccurrenceBase {
  kind: 'announcement';
  text: string;
}

export type Occurrence = Claim | Announcement;

/** What the host knows of its calendar at one moment: input of every pure decision. */
export interface Snapshot {
  /** Occurrences that intersect the expansion window, sorted by start. */
  occurrences: Occurrence[];
  /** Last successful sync, or null if never. */
  syncedAt: Date | null;
  /** Last sync error (one line), if the last attempt failed. */
  lastError?: string;
  /** Since when syncs have been failing, if they are. */
  failingSince?: Date | null;
}
