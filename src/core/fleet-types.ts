/** Plain data of the fleet view: one snapshot per host calendar (input of fleet-* and stats-*). */
import type { Occurrence } from './types.js';
import type { StatsPiece } from './stats-compute.js';

export interface HostSnapshot {
  /** The host's name (the calendar's display name, or the [fleet.hosts] key). */
  host: string;
  /** The calendar's URL. */
  url: string;
  /** The host's resources (GPUs …) as the per-user config names them; may be empty. */
  resources: string[];
  /** Decoded occurrences in the window asked for. */
  occurrences: Occurrence[];
  /**
   * statsPieces(occurrences), when the caller kept it (the fleet's cache for `stats`): then
   * computeStats counts these and `occurrences` may be left empty.
   */
  statsPieces?: StatsPiece[];
  /** When the calendar was last known to be current, or null if never. */
  syncedAt: Date | null;
  /** The last sync's error (one line) when it failed; the occurrences are then the cached ones. */
  error?: string;
}
