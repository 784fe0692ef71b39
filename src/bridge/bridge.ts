/**
 * The bridge: polls the host's calendar into the mirror and, from the cache, keeps the host's
 * own view current: snapshot.json (for the CLI) and the motd file. Decisions (what the motd says,
 * when to poll) are pure functions in src/core; this file only sequences them.
 *
 * One node-cron task ticks every second; a tick syncs when a poll is due (with jitter and
 * back-off, never two at once) and otherwise re-renders the motd when the minute changed, so a
 * claim that starts or ends shows on time even when the calendar is unreachable.
 */
import { statSync } from 'node:fs';
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import type { CalendarSource } from '../caldav/source.js';
import type { CalendarObject, Occurrence, Snapshot } from '../core/types.js';
import { AuthError, CalendarUnavailableError, errorLine } from '../core/errors.js';
import { isDue, type PollState } from '../core/poll-schedule.js';
import { decodeObjects, withUniqueUids } from '../core/ics-read.js';
import { hostView, type HostView } from '../core/view.js';
import { renderMotd, stoppedMotd } from '../core/motd.js';
import { openSource } from '../caldav/open-source.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';
import type { Log } from '../host/store/log.js';
import { Mirror, type SyncOutcome } from './mirror.js';
import { writeSnapshotFile, writeSyncState, type StoredSnapshot } from './snapshot-file.js';

const DAY = 86_400_000;
/** A sync that brought at least this many objects (a first sync) is followed by releaseMemory(). */
const BIG_CHANGE = 500;
/** Heap growth since the last full GC after which a poll ends with one (see releaseMemory). */
const HEAP_SLACK = 8 * 1024 * 1024;

/**
 * A full, compacting GC that hands dead pages back to the system at once: after a big download
 * and decode, and when the polls' short-lived garbage has grown the heap by HEAP_SLACK (V8 would
 * otherwise let the heap, and the resident set, creep up between its own major GCs). A few
 * tens of ms at most once per poll. Needs --expose-gc (the systemd unit and `npm run bridge`
 * pass it); a no-op without.
 */
let heapAfterGc = 0;
function releaseMemory(force: boolean): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return;
  if (!force && process.memoryUsage().heapTotal < heapAfterGc + HEAP_SLACK) return;
  gc();
  heapAfterGc = process.memoryUsage().heapTotal;
}

/** Called after every refresh with the previous and current snapshot (notifications, hog). */
export type RefreshHook = (prev: StoredSnapshot | null, next: StoredSnapshot, view: HostView, now: Date) => Promise<void>;

export interface BridgeOptions {
  source?: CalendarSource;
  clock?: () => Date;
  hooks?: RefreshHook[];
  /** Re-read the config (to pick up a new password after a refused login). */
  reloadConfig?: () => Config;
  /** Extra motd lines (e.g. who is online), computed at render time. */
  motdExtras?: (view: HostView) => string[];
  /** Sets each occurrence's booking time (`created`) before it is ruled (src/bridge/first-seen.ts). */
  stamp?: (occurrences: Occurrence[], now: Date) => void;
}

export class Bridge {
  private snapshot: StoredSnapshot | null = null;
  private readonly decoded = new Map<string, { etag: string | null; data: string; occurrences: Occurrence[]; problems: { href: string; message: string }[] }>();
  private decodedWindow = -1;
  private decodeCount = 0;
  private writtenDecode = -1;
  private writtenState = '';
  private lastMotd: string | null = null;
  private lastMotdAt = 0;
  private lastRenderMinute = -1;
  private poll: PollState = { lastAttemptAt: null, consecutiveFailures: 0, authBlocked: false, jitterMs: 0 };
  private busy: Promise<unknown> | null = null;
  private task: { stop(): void } | null = null;
  private configStamp: string;
  readonly hooks: RefreshHook[];

  private constructor(
    private cfg: Config,
    private readonly log: Log,
    private src: CalendarSource,
    readonly mirror: Mirror,
    private readonly clock: () => Date,
    private readonly opts: BridgeOptions,
  ) {
    this.configStamp = stampOf(cfg);
    this.hooks = opts.hooks ?? [];
  }

  static async open(config: Config, log: Log, opts: BridgeOptions = {}): Promise<Bridge> {
    const source = opts.source ?? openSource(config);
    const mirror = await Mirror.open(config.bridge.stateDir, source);
    const b = new Bridge(config, log, source, mirror, opts.clock ?? (() => new Date()), opts);
    // Show what we knew before the first poll: a restart never blanks the motd. Not when the
    // calendar was switched: the old calendar's claims are not this one's (nor "released").
    if ((mirror.size || mirror.meta.syncedAt) && mirror.meta.source === source.description) {
      await b.refresh(true);
    }
    return b;
  }

  get config(): Config { return this.cfg; }
  get source(): CalendarSource { return this.src; }

  /** The current decoded view (after the last refresh). */
  get current(): StoredSnapshot | null { return this.snapshot; }

  /** One sync + refresh. Throws the sync error (after recording it and refreshing the motd). */
  async syncOnce(opts: { forceFull?: boolean } = {}): Promise<SyncOutcome> {
    return this.exclusive(async () => {
      const now = this.clock();
      this.poll = { ...this.poll, lastAttemptAt: now, jitterMs: Math.floor(Math.random() * (this.config.bridge.jitterMs + 1)) };
      try {
        const out = await this.mirror.sync(now, this.config.bridge.fullReconcileMs, opts);
        this.poll = { ...this.poll, consecutiveFailures: 0, retryAfterMs: undefined };
        const level = out.changed || out.deleted || out.full ? 'info' : 'debug';
        this.log[level]({ changed: out.changed, deleted: out.deleted, full: out.full, reason: out.fullReason, requests: out.stats.requests, bytes: out.stats.bytes }, 'synced');
        await this.refresh(out.changed > 0 || out.deleted > 0 || out.full || !this.snapshot);
        releaseMemory(out.changed + out.deleted >= BIG_CHANGE);
        if (this.log.isLevelEnabled(level)) {
          const m = process.memoryUsage();
          this.log[level]({ rssMB: mb(m.rss), heapMB: mb(m.heapTotal), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers), objects: this.mirror.size }, 'memory');
        }
        return out;
      } catch (e) {
        this.poll = {
          ...this.poll,
          consecutiveFailures: this.poll.consecutiveFailures + 1,
          authBlocked: e instanceof AuthError,
          retryAfterMs: e instanceof CalendarUnavailableError ? e.retryAfterMs : undefined,
        };
        if (e instanceof AuthError) this.log.error({ err: errorLine(e) }, 'calendar login refused: polling stops until the config or password file changes');
        else this.log.warn({ err: errorLine(e), failures: this.poll.consecutiveFailures }, 'sync failed; showing the cached calendar');
        await this.refresh(true);
        throw e;
      }
    });
  }

  /**
   * Recompute the decoded snapshot (when the objects or the window changed) and rewrite
   * snapshot.json and the motd if what they say changed.
   */
  async refresh(redecode: boolean): Promise<HostView> {
    const now = this.clock();
    const prev = this.snapshot;
    const meta = this.mirror.meta;
    const from = new Date(startOfDayUtc(now).getTime() - DAY);
    if (redecode || !prev || prev.from.getTime() !== from.getTime()) {
      const to = new Date(from.getTime() + (this.config.bridge.windowDays + 2) * DAY);
      const decoded = this.decodeAll(from, to);
      // Stamped on copies: decoded occurrences are reused across refreshes, and the previous
      // snapshot must keep the booking times it was ruled with (notices compare the two).
      const occurrences = this.opts.stamp ? decoded.occurrences.map((o) => ({ ...o })) : decoded.occurrences;
      const problems = decoded.problems;
      this.opts.stamp?.(occurrences, now);
      this.snapshot = { occurrences, problems, from, to, syncedAt: null };
      this.decodeCount++;
    }
    const snap = this.snapshot!;
    snap.syncedAt = meta.syncedAt ? new Date(meta.syncedAt) : null;
    snap.failingSince = meta.failingSince ? new Date(meta.failingSince) : null;
    snap.lastError = meta.lastError;
    // snapshot.json only when the decoded calendar changed; the small sync-state.json when
    // the sync state did (every successful poll): an idle poll writes a few hundred bytes.
    if (this.decodeCount !== this.writtenDecode) {
      writeSnapshotFile(this.config.bridge.stateDir, snap);
      this.writtenDecode = this.decodeCount;
    }
    const stateStamp = `${meta.syncedAt}|${meta.failingSince}|${meta.lastError}`;
    if (stateStamp !== this.writtenState) {
      writeSyncState(this.config.bridge.stateDir, snap);
      this.writtenState = stateStamp;
    }
    const view = hostView(snap, this.config, now);
    this.writeMotd(view);
    this.lastRenderMinute = Math.floor(now.getTime() / 60_000);
    for (const hook of this.hooks) {
      try { await hook(prev, snap, view, now); } catch (e) { this.log.error({ err: errorLine(e) }, 'refresh hook failed'); }
    }
    return view;
  }

  /**
   * Decode the mirror into occurrences, reusing each object's earlier result while its etag
   * (and data) and the window are unchanged: a one-event change decodes one event, not 5,000.
   */
  private decodeAll(from: Date, to: Date): { occurrences: Occurrence[]; problems: { href: string; message: string }[] } {
    if (this.decodedWindow !== from.getTime()) { this.decoded.clear(); this.decodedWindow = from.getTime(); }
    const seen = new Set<string>();
    const parts: { href: string; occurrences: Occurrence[] }[] = [];
    const problems: { href: string; message: string }[] = [];
    for (const obj of this.mirror.objects()) {
      seen.add(obj.href);
      let d = this.decoded.get(obj.href);
      if (!d || d.etag !== obj.etag || d.data !== obj.data) {
        const lim = this.config.limits;
        const r = decodeObjects([obj], {
          timezone: this.config.timezone, from, to, maxOccurrences: lim.maxOccurrences, budgetMs: lim.expansionMs,
        });
        for (const p of r.problems) this.log.debug({ href: p.href }, `unreadable event: ${p.message}`);
        d = { etag: obj.etag, data: obj.data, occurrences: r.occurrences, problems: r.problems };
        this.decoded.set(obj.href, d);
      }
      parts.push({ href: obj.href, occurrences: d.occurrences });
      problems.push(...d.problems);
    }
    for (const href of this.decoded.keys()) if (!seen.has(href)) this.decoded.delete(href);
    const occurrences = withUniqueUids(parts, problems);
    occurrences.sort((a, b) => a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime() || cmp(a.uid, b.uid) || cmp(a.recurrenceId ?? '', b.recurrenceId ?? ''));
    return { occurrences, problems };
  }

  private writeMotd(view: HostView): void {
    const extras = this.opts.motdExtras?.(view) ?? [];
    const text = renderMotd(view) + (extras.length ? extras.join('\n') + '\n' : '');
    // Unchanged text is still rewritten every 10 minutes: the file's age says the bridge is alive.
    if (text === this.lastMotd && Date.now() - this.lastMotdAt < 600_000) return;
    try {
      writeFileAtomic(this.config.bridge.motd, text, 0o644);
      this.lastMotd = text;
      this.lastMotdAt = Date.now();
    } catch (e) {
      this.log.error({ err: errorLine(e), path: this.config.bridge.motd }, 'cannot write the motd file');
    }
  }

  /** Reflect a write made through the bridge at once (issue: the CLI's writes). */
  async remember(obj: CalendarObject): Promise<void> { await this.exclusive(async () => { await this.mirror.remember(obj); await this.refresh(true); }); }
  async forget(href: string): Promise<void> { await this.exclusive(async () => { await this.mirror.forget(href); await this.refresh(true); }); }
  get(href: string): CalendarObject | undefined { return this.mirror.get(href); }

  /** A tick of the schedule: sync if due; otherwise refresh the motd when the minute turned. */
  async tick(): Promise<void> {
    if (this.busy) return;
    const now = this.clock();
    if (stampOf(this.cfg) !== this.configStamp) this.reload('the config or password file changed');
    if (isDue(this.poll, this.config.bridge.pollMs, now)) {
      await this.syncOnce().catch(() => { /* logged */ });
    } else if (Math.floor(now.getTime() / 60_000) !== this.lastRenderMinute) {
      await this.exclusive(() => this.refresh(false));
    }
  }

  /**
   * Re-read the config (SIGHUP from `systemctl reload`, or its file or password file changed)
   * and log what changed. A changed [calendar] (a fixed password) reopens the source, which
   * writes use from then on, and lifts a refused-login block. Settings read only at start
   * (state_dir, socket, [notify], [hog]) are named as needing a restart.
   */
  reload(why: string): void {
    const before = this.cfg;
    this.configStamp = stampOf(before);
    if (!this.opts.reloadConfig) return;
    let next: Config;
    try { next = this.opts.reloadConfig(); } catch (e) {
      this.log.error({ err: errorLine(e), why }, 'config changed but cannot be used; keeping the running one');
      return;
    }
    this.configStamp = stampOf(next);
    const changed = configChanges(before, next);
    const restart = changed.filter((k) => /^(bridge\.(stateDir|socket)|notify\.|hog\.)/.test(k));
    this.cfg = next;
    if (changed.some((k) => k.startsWith('calendar.'))) {
      try {
        const previous = this.src.description;
        this.src = openSource(next);
        this.mirror.useSource(this.src);
        // Another calendar: nothing of the old one was released or cancelled (no notices for it).
        if (this.src.description !== previous) this.snapshot = null;
      } catch (e) {
        this.log.error({ err: errorLine(e) }, 'the new [calendar] settings cannot be used');
      }
      this.poll = {
        ...this.poll, authBlocked: false, consecutiveFailures: 0, lastAttemptAt: null, retryAfterMs: undefined,
      };
    }
    const fields = { why, changed, ...(restart.length ? { restart_needed: restart } : {}) };
    this.log.info(fields, changed.length ? 'config reloaded' : 'config reloaded: nothing changed');
  }

  /** Start the node-cron schedule (a tick every second; the poll interval itself is config). */
  start(): void {
    const task = cron.schedule('* * * * * *', () => this.tick().catch((e) => this.log.error({ err: errorLine(e) }, 'tick failed')), { noOverlap: true, name: 'hosthog-bridge', logger: this.cronLog() } as Parameters<typeof cron.schedule>[2]);
    // A second skipped while a big sync decodes is harmless (the next tick catches up); say so
    // in our log at debug level instead of node-cron's own coloured console warning.
    task.on('execution:missed', () => this.log.debug('a schedule tick was skipped while the bridge was busy'));
    this.task = task;
    void this.tick();
  }

  /** node-cron's own messages ("task still running …") go to our JSON log at debug level. */
  private cronLog() {
    const line = (m: unknown) => (m instanceof Error ? m.message : String(m));
    return {
      info: (m: unknown) => this.log.debug(`schedule: ${line(m)}`),
      warn: (m: unknown) => this.log.debug(`schedule: ${line(m)}`),
      error: (m: unknown, e?: unknown) => this.log.error({ err: line(e ?? m) }, 'schedule error'),
      debug: (m: unknown) => this.log.debug(`schedule: ${line(m)}`),
    };
  }

  async stop(): Promise<void> {
    this.task?.stop();
    if (this.busy) await this.busy.catch(() => undefined);
    this.mirror.close();
  }

  /** Decode and rule again now (booking times changed, e.g. an admin's forced claim). */
  async restamp(): Promise<void> { await this.exclusive(async () => { await this.refresh(true); }); }

  /** On a clean stop: the motd says the bridge stopped (it would show claims as NOW forever). */
  markStopped(now: Date = this.clock()): void {
    if (this.lastMotd === null) return;
    const text = stoppedMotd(this.lastMotd, now, this.config.timezone);
    try { writeFileAtomic(this.config.bridge.motd, text, 0o644); } catch (e) {
      this.log.error({ err: errorLine(e), path: this.config.bridge.motd }, 'cannot write the motd file');
    }
  }

  /** Run fn with no other sync/refresh running (no overlap). */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.busy) await this.busy.catch(() => undefined);
    const p = fn();
    this.busy = p;
    try { return await p; } finally { if (this.busy === p) this.busy = null; }
  }

  /** The snapshot as a plain Snapshot (for pure planners). */
  snapshotForPlanning(): Snapshot | null { return this.snapshot; }
  occurrences(): Occurrence[] { return this.snapshot?.occurrences ?? []; }
}

function mb(bytes: number): number { return Math.round(bytes / 104857.6) / 10; }

function startOfDayUtc(d: Date): Date { return new Date(Math.floor(d.getTime() / DAY) * DAY); }

/** Changes when the config file or password file changes (to lift an auth block). */
function stampOf(config: Config): string {
  const files = [config.source, config.calendar.kind === 'caldav' ? config.calendar.passwordFile : undefined];
  return files.map((f) => { try { const s = statSync(f!); return `${s.mtimeMs}:${s.size}`; } catch { return '-'; } }).join('|');
}

/** The settings that differ between two configs, as "section.key" (the password is compared, never logged). */
export function configChanges(a: Config, b: Config): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      }
    } else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(path);
  };
  walk(a, b, '');
  return out;
}

/** Plain code-unit order (localeCompare would load ICU collation data into the bridge). */
function cmp(a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0; }
