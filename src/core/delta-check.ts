/**
 * Is a sync-collection "delta" really a full listing? DAViCal answers a token it has forgotten
 * (pruned after about 7 days, or never issued) with 207 and every current item as 200, exactly
 * like an initial sync and without 404s for what was deleted meanwhile; applied as a delta,
 * those deletions would be missed until the periodic reconcile. Pure.
 *
 * Signs, when the answer names no deletion: it lists every cached href, or it lists at least
 * two cached items whose etag has not changed and they are most of it (a real delta names
 * changes; an unchanged etag shows up only for an item rewritten with the same bytes). The
 * caller then runs a real full reconcile, so a false alarm costs a listing, never an event.
 */
export function deltaIsFullListing(
  known: ReadonlyMap<string, string | null>,
  listed: ReadonlyMap<string, string | null>,
  goneCount: number,
): boolean {
  if (known.size === 0 || listed.size === 0 || goneCount > 0) return false;
  let unchanged = 0;
  let everyKnown = true;
  for (const [href, etag] of known) {
    if (!listed.has(href)) { everyKnown = false; continue; }
    if (etag !== null && listed.get(href) === etag) unchanged++;
  }
  return everyKnown || (unchanged >= 2 && unchanged * 2 > listed.size);
}
