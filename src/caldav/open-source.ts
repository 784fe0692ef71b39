/**
 * The calendar source the configuration names: a local vdir for [calendar] path, a CalDAV
 * collection for [calendar] url (password from config.calendar.password, which the loader
 * fills from HOSTHOG_PASSWORD or password_file).
 */
import type { Config } from '../config/schema.js';
import type { CalendarSource } from './source.js';
import { CalDavSource } from './caldav-source.js';
import { VdirSource } from './vdir-source.js';

export function openSource(config: Config, opts: { fetch?: typeof fetch } = {}): CalendarSource {
  const c = config.calendar;
  if (c.kind === 'vdir') return new VdirSource(c.path);
  return new CalDavSource({
    url: c.url,
    username: c.username,
    password: c.password,
    timeoutMs: c.timeoutMs,
    fetch: opts.fetch,
    maxResponseBytes: c.maxResponseBytes,
    maxEventBytes: c.maxEventBytes,
  });
}
