/**
 * Is a sync-collection "delta" really a full listing? DAViCal answers a token it has forgotten
 * (pruned after about 7 days, or never issued) with 207 and every current item as 200, exactly
 * like an initial sync and without 404s for what was deleted meanwhile; applied as a delta,
 * those deletions would be missed until the periodic reconcile. Pure.
 *
 * Signs, when the answer names no deletion: it lists at least one cached item whose etag has
 * not changed (a real delta names changes; an unchanged etag shows up only for an item we wrote
 * ourselves, one rewritten with the same bytes, or one DAViCal lists again because it changed in
 * the same second as the token) AND it is at least half as long as the cache (our own writes
 * between two polls are a handful, a full listing is the whole calendar). A cache of one item
 * is left to the periodic reconcile. The caller then runs a real full reconcile, so a false
 * alarm costs one listing, never an event.
 */
export function deltaIsFullListing(
  known: ReadonlyMap<string, string | null>,
  listed: ReadonlyMap<string, string | null>,
  goneCount: number,
): boolean {
  if (known.size < 2 || listed.size === 0 || goneCount > 0 || listed.size * 2 < known.size) return false;
  for (const [href, etag] of listed) if (etag !== null && known.get(href) === etag) return true;
  return false;
}
