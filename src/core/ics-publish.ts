/**
 * The host's calendar as a read-only .ics file for phones ([bridge] publish_ics): a pure
 * function of (occurrences, config, now). Only what `hosthog status` shows of each claim and
 * announcement (who, mode, resources, note, times), rebuilt from the decoded fields and
 * sanitized: no description, attendee, organizer, alarm or other property of the source
 * events, and UIDs that do not reveal the source's. Times in UTC.
 */
import type { Occurrence } from './types.js';
import type { Config } from '../config/schema.js';
import { cleanText } from './sanitize.js';
import { escapeText, foldLine, utcStamp as utc } from './ics-text.js';
import { hash } from './notify-plan.js';

/** Published: from a week back to the bridge's window, at most this many events. */
export const PUBLISH_BACK_MS = 7 * 86_400_000;
export const PUBLISH_MAX = 2000;

export function publishedIcs(occurrences: Occurrence[], config: Config, now: Date): string {
  const host = cleanText(config.host, 60) || 'host';
  const from = now.getTime() - PUBLISH_BACK_MS;
  const stamp = utc(now);
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hosthog//published calendar//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-CALNAME:${text(`hosthog ${host} (read-only)`)}`,
    'REFRESH-INTERVAL;VALUE=DURATION:PT15M',
    'X-PUBLISHED-TTL:PT15M',
  ];
  const shown = occurrences.filter((o) => o.end.getTime() > from).slice(0, PUBLISH_MAX);
  for (const o of shown) {
    const summary =
      o.kind === 'claim'
        ? `${cleanText(o.user, 32)} ${o.hog ? 'hog' : o.mode}` +
          (o.resources.length ? ' ' + o.resources.map((r) => cleanText(r, 32)).join(',') : '') +
          (o.note ? ': ' + cleanText(o.note, 200) : '')
        : `ANNOUNCEMENT: ${cleanText(o.text, 200) || cleanText(o.title, 200)}`;
    lines.push(
      'BEGIN:VEVENT',
      `UID:${hash(`${o.uid}|${o.recurrenceId ?? o.start.toISOString()}`)}-${hash(o.uid)}@hosthog.${host}`,
      `DTSTAMP:${stamp}`,
      o.allDay ? `DTSTART;VALUE=DATE:${day(o.start, config.timezone)}` : `DTSTART:${utc(o.start)}`,
      o.allDay ? `DTEND;VALUE=DATE:${day(o.end, config.timezone)}` : `DTEND:${utc(o.end)}`,
      `SUMMARY:${text(summary)}`,
      'TRANSP:OPAQUE',
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR');
  return lines.map(foldLine).join('\r\n') + '\r\n';
}

/** The local date of an all-day bound in the host's zone (all-day events start at local midnight). */
function day(d: Date, zone: string): string {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  return f.format(d).replace(/-/g, '');
}
/** RFC 5545 TEXT: cleaned (no control bytes), escaped. */
function text(s: string): string {
  return escapeText(cleanText(s, 300));
}
