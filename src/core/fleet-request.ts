/**
 * Hand-over requests ("could I have gpu1 from 15:00?"), stored in the claim's own event as
 * X-HOSTHOG-REQUEST properties (docs/events.md):
 *
 *   X-HOSTHOG-REQUEST;X-HOSTHOG-FROM=bob;X-HOSTHOG-AT=20261204T150000Z:could I have gpu1?
 *
 * Adding one is a conditional update (If-Match) of the event: a concurrent change makes it
 * fail (412), never overwrites. The holder closes them (`hosthog request ID --close`); they
 * stop showing when the claim ends. Pure: text in, text out.
 */
import ICAL from 'ical.js';
import type { Claim, HandoverRequest } from './types.js';
import { NotFoundError, UsageError } from './errors.js';
import { cleanText } from './sanitize.js';

export const REQUEST_PROP = 'x-hosthog-request';
export const REQUEST_MAX = 200;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/;

/** The claim a request is for: uid or its first characters; a claim that has not ended. */
export function requestTarget(claims: Claim[], id: string, now: Date): Claim {
  const t = now.getTime();
  const live = claims.filter(
    (c) => c.end.getTime() > t && (c.uid === id || (id.length >= 4 && c.uid.startsWith(id))),
  );
  const uids = [...new Set(live.map((c) => c.uid))];
  if (uids.length === 0)
    throw new NotFoundError(
      `no current or coming claim with uid ${cleanText(id, 40)}`,
      'see hosthog list (or hosthog hosts) for the uids',
    );
  if (uids.length > 1)
    throw new UsageError(
      `"${cleanText(id, 40)}" names ${uids.length} claims`,
      'give more characters of the uid',
    );
  return live.sort((a, b) => a.start.getTime() - b.start.getTime())[0];
}

function icsStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function masterOf(root: InstanceType<typeof ICAL.Component>, uid: string) {
  const vevents = root
    .getAllSubcomponents('vevent')
    .filter((v) => String(v.getFirstPropertyValue('uid')) === uid);
  const master = vevents.find((v) => !v.hasProperty('recurrence-id')) ?? vevents[0];
  if (!master)
    throw new NotFoundError(
      `event ${cleanText(uid, 40)} is not in its calendar object`,
      'run hosthog sync and try again',
    );
  return master;
}

/** The event text with one more request (or, with close, with none left). */
export function editRequests(
  ics: string,
  uid: string,
  change: { add?: { from: string; at: Date; text: string }; close?: boolean },
): string {
  const root = new ICAL.Component(ICAL.parse(ics));
  const master = masterOf(root, uid);
  if (change.close) for (const p of master.getAllProperties(REQUEST_PROP)) master.removeProperty(p);
  if (change.add) {
    const text = cleanText(change.add.text, REQUEST_MAX);
    if (!text)
      throw new UsageError('request what?', 'e.g. hosthog request 6f1c -m "could I have gpu1 from 15:00?"');
    if (master.getAllProperties(REQUEST_PROP).length >= 20)
      throw new UsageError('this claim already has 20 open requests', 'ask its holder directly');
    const p = new ICAL.Property(REQUEST_PROP, master);
    p.resetType('text');
    p.setParameter('x-hosthog-from', change.add.from);
    p.setParameter('x-hosthog-at', icsStamp(change.add.at));
    p.setValue(text);
    master.addProperty(p);
  }
  return root.toString().replace(/\r?\n/g, '\r\n') + (root.toString().endsWith('\n') ? '' : '\r\n');
}

/** The open requests an event carries (for ics-read). */
export function readRequests(comp: InstanceType<typeof ICAL.Component>): HandoverRequest[] {
  const out: HandoverRequest[] = [];
  for (const p of comp.getAllProperties(REQUEST_PROP)) {
    const from = cleanText(String(p.getParameter('x-hosthog-from') ?? ''), 32).toLowerCase();
    const at = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(
      String(p.getParameter('x-hosthog-at') ?? ''),
    );
    const text = cleanText(String(p.getFirstValue() ?? ''), REQUEST_MAX);
    if (!USER.test(from) || !text) continue;
    out.push({ from, at: at ? `${at[1]}-${at[2]}-${at[3]}T${at[4]}:${at[5]}:${at[6]}Z` : '', text });
  }
  return out.slice(0, 20);
}
