/**
 * The write path: pure planners (src/core/plan-write.ts) decide; this applies their plan to the
 * calendar with If-None-Match / If-Match and keeps the mirror in step. Used by the bridge for
 * verified callers on the host, and by the CLI directly when it talks to CalDAV itself.
 *
 * A 412 (someone changed the event since we read it) never overwrites: the event is re-read,
 * the cache updated, and the caller told what it says now.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { CalendarSource } from '../caldav/source.js';
import type { CalendarObject, Claim, Occurrence } from '../core/types.js';
import { NotFoundError, PermissionError, PreconditionFailedError, UsageError } from '../core/errors.js';
import { editRequests, requestTarget } from '../core/fleet-request.js';
import { decodeObjects } from '../core/ics-read.js';
import { encodeEvent, patchEvent, type EventPatch } from '../core/ics-write.js';
import { formatRange, isoWithOffset } from '../core/format-time.js';
import { cleanText } from '../core/sanitize.js';
import {
  planAnnounce,
  planClaim,
  planEdit,
  planExtend,
  planRelease,
  findMyClaim,
  checkHoggable,
  type Actor,
  type ClaimRequest,
} from '../core/plan-write.js';

/** What the writer needs from the cache it keeps in step. */
export interface WriteCache {
  occurrences(): Occurrence[];
  get(href: string): CalendarObject | undefined;
  remember(obj: CalendarObject): Promise<void>;
  forget(href: string): Promise<void>;
}

export interface WriteResult {
  action: string;
  uid: string;
  /** A one-line summary for people. */
  summary: string;
  claim?: {
    user: string;
    mode: string;
    hog: boolean;
    resources: string[];
    note: string;
    start: string;
    end: string;
    rrule?: string;
  };
}

export class CalendarWriter {
  private readonly currentSource: () => CalendarSource;
  private readonly currentConfig: () => Config;

  /**
   * `source` and `config` may be functions: the bridge passes its current ones, so a source
   * reopened after a config reload (a fixed password) is the one the next write uses.
   */
  constructor(
    source: CalendarSource | (() => CalendarSource),
    private readonly cache: WriteCache,
    config: Config | (() => Config),
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.currentSource = typeof source === 'function' ? source : () => source;
    this.currentConfig = typeof config === 'function' ? config : () => config;
  }

  private get source(): CalendarSource {
    return this.currentSource();
  }
  private get config(): Config {
    return this.currentConfig();
  }

  private claims(): Claim[] {
    return this.cache.occurrences().filter((o): o is Claim => o.kind === 'claim');
  }

  async claim(actor: Actor, req: ClaimRequest): Promise<WriteResult> {
    const now = this.clock();
    const uid = randomUUID();
    this.checkActiveClaims(actor, req.user ?? actor.user, now);
    const { spec, overrules } = planClaim(req, actor, this.claims(), this.config, now, uid);
    const obj = await this.source.create(`${uid}.ics`, encodeEvent(spec, now));
    await this.cache.remember(obj);
    const range = formatRange(spec.start, spec.end, this.config.timezone, now);
    const what = spec.resources.length ? spec.resources.join(',') : this.config.host;
    const how = spec.hog ? 'exclusively (hog)' : spec.mode === 'exclusive' ? 'exclusively' : 'shared';
    return {
      action: 'claimed',
      uid,
      summary:
        `claimed ${what} ${how} ${range}${spec.rrule ? ' (repeating)' : ''} for ${spec.user} (id ${uid})` +
        (overrules?.length
          ? `; overrules ${overrules.map((c) => `${c.user}'s claim (id ${c.uid})`).join(', ')}: they are told`
          : ''),
      claim: {
        user: spec.user,
        mode: spec.mode,
        hog: spec.hog,
        resources: spec.resources,
        note: spec.note,
        start: isoWithOffset(spec.start, this.config.timezone),
        end: isoWithOffset(spec.end, this.config.timezone),
        rrule: spec.rrule,
      },
    };
  }

  async extend(actor: Actor, sel: { uid?: string; by?: number; until?: Date }): Promise<WriteResult> {
    const now = this.clock();
    const claim = findMyClaim(this.claims(), actor.user, now, sel.uid, this.config.timezone);
    const by = sel.until ?? sel.by;
    if (by === undefined)
      throw new UsageError(
        'extend needs a duration or --until',
        'e.g. hosthog extend 2h, or hosthog extend --until 18:00',
      );
    const { patch, recurrenceId } = planExtend(claim, by, actor, this.claims(), this.config, now);
    await this.patch(claim, patch, recurrenceId);
    const range = formatRange(patch.start ?? claim.start, patch.end ?? claim.end, this.config.timezone, now);
    return {
      action: 'extended',
      uid: claim.uid,
      summary: `extended ${claim.user}'s claim to ${range} (id ${claim.uid})`,
    };
  }

  async edit(actor: Actor, uid: string, changes: Parameters<typeof planEdit>[1]): Promise<WriteResult> {
    const now = this.clock();
    const claim = findMyClaim(this.claims(), actor.user, now, uid, this.config.timezone);
    const { patch, recurrenceId } = planEdit(claim, changes, actor, this.claims(), this.config, now);
    await this.patch(claim, patch, recurrenceId);
    const range = formatRange(patch.start ?? claim.start, patch.end ?? claim.end, this.config.timezone, now);
    return {
      action: 'edited',
      uid: claim.uid,
      summary: `edited ${claim.user}'s claim ${range} (id ${claim.uid})`,
    };
  }

  async release(actor: Actor, uid?: string, opts: { cancelOnly?: boolean } = {}): Promise<WriteResult> {
    const now = this.clock();
    const claim = findMyClaim(this.claims(), actor.user, now, uid, this.config.timezone);
    const plan = planRelease(claim, actor, now);
    if (opts.cancelOnly && plan.action === 'end-now') {
      throw new UsageError(`claim ${claim.uid} is already running`, 'use hosthog release to end it now');
    }
    if (plan.action === 'delete') {
      const obj = this.objectOf(claim);
      await this.guard(claim, () => this.source.remove(obj.href, this.etagOf(obj)));
      await this.cache.forget(obj.href);
      return {
        action: 'deleted',
        uid: claim.uid,
        summary: `deleted ${claim.user}'s claim (id ${claim.uid})`,
      };
    }
    await this.patch(claim, plan.patch, claim.recurring ? claim.recurrenceId : undefined);
    // A repeating claim: this occurrence only, and the message says so.
    const once = claim.recurring ? '; this occurrence only, the series goes on' : '';
    return plan.action === 'end-now'
      ? {
          action: 'released',
          uid: claim.uid,
          summary: `released: ${claim.user}'s claim ended now (id ${claim.uid}${once})`,
        }
      : {
          action: 'cancelled',
          uid: claim.uid,
          summary:
            `cancelled ${claim.user}'s claim ` +
            `${formatRange(claim.start, claim.end, this.config.timezone, now)} (id ${claim.uid}${once})`,
        };
  }

  async announce(actor: Actor, text: string, start: Date, end: Date): Promise<WriteResult> {
    const now = this.clock();
    const uid = randomUUID();
    const { spec } = planAnnounce(text, start, end, actor, this.config, now, uid);
    const obj = await this.source.create(`${uid}.ics`, encodeEvent(spec, now));
    await this.cache.remember(obj);
    const range = formatRange(spec.start, spec.end, this.config.timezone, now);
    return {
      action: 'announced',
      uid,
      summary: `announced ${range}: ${cleanText(spec.text, 100)} (id ${uid})`,
    };
  }

  /** Set the hog flag (and allow list) on a claim: only its holder, and only when exclusive. */
  async setHog(actor: Actor, uid: string | undefined, hog: boolean, allow?: string[]): Promise<WriteResult> {
    const now = this.clock();
    const claim = findMyClaim(this.claims(), actor.user, now, uid, this.config.timezone);
    if (hog) checkHoggable(claim);
    const { patch, recurrenceId } = planEdit(claim, { hog, allow }, actor, this.claims(), this.config, now);
    await this.patch(claim, patch, recurrenceId);
    const range = formatRange(claim.start, claim.end, this.config.timezone, now);
    return {
      action: hog ? 'hogged' : 'unhogged',
      uid: claim.uid,
      summary: `${hog ? 'hog on' : 'hog off'} for ${claim.user}'s claim ${range} (id ${claim.uid})`,
    };
  }

  /** [limits] max_active_claims: current and upcoming claims (series count once) per user; admins exempt. */
  private checkActiveClaims(actor: Actor, user: string, now: Date): void {
    if (actor.isAdmin) return;
    const max = this.config.limits.maxActiveClaims;
    const t = now.getTime();
    const held = new Set(
      this.claims()
        .filter((c) => c.user === user && c.end.getTime() > t)
        .map((c) => c.uid),
    );
    if (held.size >= max) {
      throw new PermissionError(
        `you hold ${held.size} current or upcoming claims, the most this host allows`,
        'release or cancel some first (hosthog list shows them)',
      );
    }
  }

  private objectOf(claim: Claim): CalendarObject {
    const obj = claim.href ? this.cache.get(claim.href) : undefined;
    if (!obj)
      throw new NotFoundError(
        `the event of claim ${claim.uid} is not in the cache`,
        'run hosthog sync and try again',
      );
    return obj;
  }

  private etagOf(obj: CalendarObject): string {
    if (!obj.etag)
      throw new PreconditionFailedError(
        `the calendar gave no etag for ${obj.href}, so it cannot be changed safely`,
        'run hosthog sync and try again',
      );
    return obj.etag;
  }

  /**
   * A hand-over request on someone's claim (or, by its holder or an admin, closing them): the
   * event gains an X-HOSTHOG-REQUEST (src/core/fleet-request.ts), written with If-Match.
   */
  async request(
    actor: Actor,
    id: string,
    change: { text?: string; close?: boolean },
  ): Promise<WriteResult & { holder: string }> {
    const now = this.clock();
    const claim = requestTarget(this.claims(), id, now);
    if (change.close && claim.user !== actor.user && !actor.isAdmin) {
      throw new PermissionError(
        `only ${claim.user} (the holder) may close the requests on claim ${claim.uid}`,
        'ask them, or an admin',
      );
    }
    if (!change.close && claim.user === actor.user)
      throw new UsageError(
        'this is your own claim',
        'see hosthog status for requests to you; close them with --close',
      );
    const obj = this.objectOf(claim);
    const add = change.text !== undefined ? { from: actor.user, at: now, text: change.text } : undefined;
    const data = editRequests(obj.data, claim.uid, { add, close: change.close });
    const updated = await this.guard(claim, () => this.source.update(obj.href, data, this.etagOf(obj)));
    await this.cache.remember(updated);
    const summary = change.close
      ? `closed the requests on ${claim.user}'s claim (uid ${claim.uid})`
      : `asked ${claim.user} for their claim ` +
        `${formatRange(claim.start, claim.end, this.config.timezone, now)} (uid ${claim.uid})`;
    return {
      action: change.close ? 'request-closed' : 'requested',
      uid: claim.uid,
      holder: claim.user,
      summary,
    };
  }

  private async patch(claim: Claim, patch: EventPatch, recurrenceId?: string): Promise<void> {
    const obj = this.objectOf(claim);
    const data = patchEvent(obj.data, patch, this.clock(), { timezone: this.config.timezone, recurrenceId });
    const updated = await this.guard(claim, () => this.source.update(obj.href, data, this.etagOf(obj)));
    await this.cache.remember(updated);
  }

  /** Run a conditional write; on 412 re-read the event, refresh the cache, and say what it is now. */
  private async guard<T>(claim: Claim, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if (!(e instanceof PreconditionFailedError) || !claim.href) throw e;
      const now = this.clock();
      const fresh = await this.source.get(claim.href);
      if (!fresh) {
        await this.cache.forget(claim.href);
        throw new PreconditionFailedError(
          `claim ${claim.uid} was deleted by someone else meanwhile; nothing was changed`,
          'see hosthog list',
        );
      }
      await this.cache.remember(fresh);
      const day = 86_400_000;
      const occ = decodeObjects([fresh], {
        timezone: this.config.timezone,
        from: new Date(now.getTime() - day),
        to: new Date(now.getTime() + this.config.bridge.windowDays * day),
      }).occurrences[0];
      const label = (o: NonNullable<typeof occ>): string =>
        o.kind === 'claim' ? `${o.user} ${o.mode}${o.note ? ': ' + o.note : ''}` : o.text;
      const what = occ
        ? `${label(occ)} ${formatRange(occ.start, occ.end, this.config.timezone, now)}`
        : 'no longer in the window';
      throw new PreconditionFailedError(
        `claim ${claim.uid} was changed by someone else meanwhile (now: ${cleanText(what, 120)}); ` +
          'nothing was overwritten',
        'look at it with hosthog list, then run your command again',
      );
    }
  }
}
