/**
 * [bridge] publish_ics: after every refresh, the host's calendar as a read-only .ics file
 * (src/core/ics-publish.ts) that an existing web server serves for phones' webcal
 * subscriptions. Written atomically (temp file + rename, mode 0644) and only when it changed.
 */
import type { Config } from '../config/schema.js';
import type { Log } from '../host/store/log.js';
import { publishedIcs } from '../core/ics-publish.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';
import { errorLine } from '../core/errors.js';
import type { RefreshHook } from './bridge.js';

export function publishing(config: Config, log: Log): RefreshHook | null {
  const path = config.bridge.publishIcs;
  if (!path) return null;
  let last = '';
  return async (_prev, next, _view, now) => {
    // DTSTAMP follows the last sync, so an unchanged calendar gives an unchanged file.
    const text = publishedIcs(next.occurrences, config, next.syncedAt ?? now);
    if (text === last) return;
    try {
      writeFileAtomic(path, text, 0o644);
      last = text;
    } catch (e) {
      log.error({ err: errorLine(e), path }, 'cannot write the published calendar ([bridge] publish_ics)');
    }
  };
}
