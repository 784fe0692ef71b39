/**
 * The bridge: polls the host's calendar into the mirror and, from the cache, keeps the host's
 * own view current: snapshot.json (for the CLI) and the motd file. Decisions (what the motd says,
 * when to poll) are pure functions in src/core; this file only sequences them.
 *
 * A tick every second (an interval timer) and on each minute's turn (a node-cron task); a tick
 * syncs when a poll is due (with jitter and back-off, never two at once) and otherwise
 * re-renders the motd when the minute changed, so a claim that starts or ends shows on time
 * even when the calendar is unreachable.
 */
import { statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import type { CalendarSource } from '../caldav/source.js';
import type { CalendarObject, Occurrence, Snapshot } from '../core/types.js';
import { AuthError, CalendarUnavailableError, errorLine } from '../core/errors.js';
import { isDue, type PollState } from '../core/poll-schedule.js';
import { decodeObjects, occurrenceOrder, withUniqueUids } from '../core/ics-read.js';
import { hostView, HORIZON_MS, type HostView } from '../core/view.js';
import { renderMotd, stoppedMotd } from '../core/motd.js';
import { openSource } from '../caldav/open-source.js';
import { writeFileAtomic } from '../host/store/atomic-write.js';
import type { Log } from '../host/store/log.js';
import { Mirror, type SyncOutcome } from './mirror.js';
import {
  nearPart,
  readSnapshotFile,
  writeSnapshotFile,
  writeSyncState,
  type StoredSnapshot,
} from './snapshot-file.js';

/** An event hosthog cannot read (or shows with a doubt), for doctor. */
type Problem = { href: string; message: string; shown?: boolean };
const DAY = 86_400_000;
/** A sync that brought at least this many objects (a first sync) is followed by releaseMemory(). */
const BIG_CHANGE = 500;
/** How long the refresh hooks (notices, hog) may take after a write before they are left behind. */
const HOOK_DEADLINE_MS = 30_000;
/** Heap growth since the last full GC after which a poll ends with one (see releaseMemory). */
const HEAP_SLACK = 8 * 1024 * 1024;

/**
 * A full, compacting GC that hands dead pages back to the system at once: after a big download
 * and decode, and when the polls' short-lived garbage has grown the heap by HEAP_SLACK (V8 would
 * otherwise let the heap, and the resident set, creep up between its own major GCs). A few
 * tens of ms at most once per poll. Uses --expose-gc's gc() (the systemd unit and `npm run
 * bridge` pass it), or, for a bridge started plainly, the same function obtained at run time.
 */
let heapAfterGc = 0;
let runtimeGc: (() => void) | null | undefined;
/** globalThis.gc, or (a bridge started without --expose-gc) the same function obtained at run time. */
function gcFunction(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  if (runtimeGc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      runtimeGc = runInNewContext('gc') as () => void;
    } catch {
      runtimeGc = null;
    }
  }
  return runtimeGc;
}
function releaseMemory(force: boolean): void {
  const gc = gcFunction();
  if (typeof gc !== 'function') return;
  if (!force && process.memoryUsage().heapTotal < heapAfterGc + HEAP_SLACK) return;
  gc();
  heapAfterGc = process.memoryUsage().heapTotal;
}

/** Called after every refresh with the previous and current snapshot (notifications, hog). */
export type RefreshHook = (
  prev: StoredSnapshot | null,
  next: StoredSnapshot,
  view: HostView,
  now: Date,
) => Promise<void>;

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
  /** href → the object's stamp and what it decoded to in the window (live objects only; no text kept). */
  private readonly decoded = new Map<
    string,
    { stamp: string; occurrences: Occurrence[]; problems: Problem[] }
  >();
  private decodedWindow = -1;
  private decodeCount = 0;
  private writtenDecode = -1;
  /** Objects decoded with ical.js since the bridge opened (tests count them). */
  decodes = 0;
  /** The snapshot the hooks last saw (their `prev`), and the minute they last ran in. */
  private hooked: StoredSnapshot | null = null;
  private hookedMinute = -1;
  private hookChain: Promise<void> = Promise.resolve();
  private writtenState = '';
  private lastMotd: string | null = null;
  private lastMotdAt = 0;
  private lastRenderMinute = -1;
  private poll: PollState = { lastAttemptAt: null, consecutiveFailures: 0, authBlocked: false, jitterMs: 0 };
  private busy: Promise<unknown> | null = null;
  private task: { stop(): void } | null = null;
  private seconds: NodeJS.Timeout | null = null;
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
    b.adoptSnapshot();
    // Show what we knew before the first poll: a restart never blanks the motd. Not when the
    // calendar was switched: the old calendar's claims are not this one's (nor "released").
    if ((mirror.size || mirror.meta.syncedAt) && mirror.meta.source === source.description) {
      await b.refresh(true);
    }
    return b;
  }

  get config(): Config {
    return this.cfg;
  }
  get source(): CalendarSource {
    return this.src;
  }

  /** The current decoded view (after the last refresh). */
  get current(): StoredSnapshot | null {
    return this.snapshot;
  }

  /** One sync + refresh. Throws the sync error (after recording it and refreshing the motd). */
  async syncOnce(opts: { forceFull?: boolean; deferHooks?: boolean } = {}): Promise<SyncOutcome> {
    return this.exclusive(async () => {
      const now = this.clock();
      this.poll = {
        ...this.poll,
        lastAttemptAt: now,
        jitterMs: Math.floor(Math.random() * (this.config.bridge.jitterMs + 1)),
      };
      try {
        const out = await this.mirror.sync(now, this.config.bridge.fullReconcileMs, opts);
        this.poll = { ...this.poll, consecutiveFailures: 0, retryAfterMs: undefined };
        const level = out.changed || out.deleted || out.full ? 'info' : 'debug';
        this.log[level](
          {
            changed: out.changed,
            deleted: out.deleted,
            full: out.full,
            reason: out.fullReason,
            requests: out.stats.requests,
            bytes: out.stats.bytes,
          },
          'synced',
        );
        await this.refresh(out.changed > 0 || out.deleted > 0 || out.full || !this.snapshot, {
          deferHooks: opts.deferHooks,
          polled: true,
        });
        releaseMemory(out.changed + out.deleted >= BIG_CHANGE);
        if (this.log.isLevelEnabled(level)) {
          const m = process.memoryUsage();
          this.log[level](
            {
              rssMB: mb(m.rss),
              heapMB: mb(m.heapTotal),
              heapUsedMB: mb(m.heapUsed),
              externalMB: mb(m.external),
              arrayBuffersMB: mb(m.arrayBuffers),
              objects: this.mirror.size,
            },
            'memory',
          );
        }
        return out;
      } catch (e) {
        this.poll = {
          ...this.poll,
          consecutiveFailures: this.poll.consecutiveFailures + 1,
          authBlocked: e instanceof AuthError,
          retryAfterMs: e instanceof CalendarUnavailableError ? e.retryAfterMs : undefined,
        };
        if (e instanceof AuthError)
          this.log.error(
            { err: errorLine(e) },
            'calendar login refused: polling stops until the config or password file changes',
          );
        else
          this.log.warn(
            { err: errorLine(e), failures: this.poll.consecutiveFailures },
            'sync failed; showing the cached calendar',
          );
        await this.refresh(true);
        throw e;
      }
    });
  }

  /**
   * What the last process decoded (snapshot.json with each object's stamp) becomes the decode
   * cache, so a start decodes only objects that changed since, not the whole calendar.
   */
  private adoptSnapshot(): void {
    let snap: StoredSnapshot | null = null;
    try {
      snap = readSnapshotFile(this.config.bridge.stateDir);
    } catch {
      /* unreadable: decode afresh */
    }
    if (!snap?.stamps || !(snap.from instanceof Date) || snap.tz !== this.config.timezone) return;
    const from = new Date(startOfDayUtc(this.clock()).getTime() - DAY);
    if (snap.to.getTime() - snap.from.getTime() !== (this.config.bridge.windowDays + 2) * DAY) return;
    if (snap.from.getTime() !== from.getTime()) return; // another day: the window moved
    const byHref = new Map<string, Occurrence[]>();
    for (const o of snap.occurrences) {
      if (!o.href) return; // an older snapshot without hrefs: decode afresh
      const g = byHref.get(o.href);
      if (g) g.push(o);
      else byHref.set(o.href, [o]);
    }
    const problems = new Map<string, { href: string; message: string }[]>();
    for (const p of snap.problems) {
      const g = problems.get(p.href);
      if (g) g.push(p);
      else problems.set(p.href, [p]);
    }
    // An object with a problem (unreadable, or a UID another one uses) is decoded again: what
    // the snapshot holds of it depends on the others.
    for (const [href, stamp] of Object.entries(snap.stamps)) {
      if (!problems.has(href))
        this.decoded.set(href, { stamp, occurrences: byHref.get(href) ?? [], problems: [] });
    }
    this.decodedWindow = snap.from.getTime();
    this.snapshot = snap;
  }

  /**
   * Recompute the decoded snapshot (when the objects or the window changed) and rewrite
   * snapshot.json and the motd if what they say changed. Hooks run when the snapshot changed,
   * after a poll, or in a new minute; with deferHooks they run after the caller has its answer
   * (a CLI write).
   */
  async refresh(
    redecode: boolean,
    o: { deferHooks?: boolean; polled?: boolean; restamp?: boolean } = {},
  ): Promise<HostView> {
    const now = this.clock();
    const prev = this.snapshot;
    const meta = this.mirror.meta;
    const from = new Date(startOfDayUtc(now).getTime() - DAY);
    if (redecode || !prev || prev.from.getTime() !== from.getTime()) {
      const to = new Date(from.getTime() + (this.config.bridge.windowDays + 2) * DAY);
      const r = this.decodeAll(from, to);
      const moved = !prev || prev.from.getTime() !== from.getTime() || prev.to.getTime() !== to.getTime();
      if (r.changed || moved || o.restamp) {
        // Stamped on copies: decoded occurrences are reused across refreshes, and the previous
        // snapshot must keep the booking times it was ruled with (notices compare the two).
        const occurrences = this.opts.stamp ? r.occurrences.map((x) => ({ ...x })) : r.occurrences;
        this.opts.stamp?.(occurrences, now);
        this.snapshot = {
          occurrences,
          problems: r.problems,
          from,
          to,
          syncedAt: null,
          stamps: r.stamps,
          tz: this.config.timezone,
        };
        this.decodeCount++;
      }
    }
    const snap = this.snapshot!;
    snap.syncedAt = meta.syncedAt ? new Date(meta.syncedAt) : null;
    snap.failingSince = meta.failingSince ? new Date(meta.failingSince) : null;
    snap.lastError = meta.lastError;
    // snapshot.json only when the decoded calendar changed; the small sync-state.json when
    // the sync state did (every successful poll): an idle poll writes a few hundred bytes.
    if (this.decodeCount !== this.writtenDecode) {
      if (this.decodeCount > 0 || !prev)
        writeSnapshotFile(this.config.bridge.stateDir, snap, this.nearPartOf(snap));
      this.writtenDecode = this.decodeCount;
    }
    const stateStamp = `${meta.syncedAt}|${meta.failingSince}|${meta.lastError}`;
    if (stateStamp !== this.writtenState) {
      writeSyncState(this.config.bridge.stateDir, snap);
      this.writtenState = stateStamp;
    }
    // The view from the near part (who holds there decided once per snapshot): a minute's
    // refresh costs what the next day holds, not what the whole window holds.
    const view = hostView(this.nearFor(snap, now), this.config, now);
    this.writeMotd(view);
    const minute = Math.floor(now.getTime() / 60_000);
    this.lastRenderMinute = minute;
    // Hooks run when the snapshot changed, after a poll and in a new minute (a reminder or a
    // hog start falls due at any second: a poll's cadence keeps them on time). A refresh that
    // is none of these (a second refresh in the same minute) runs none. What they cost grows
    // with the window, not the history (the planner indexes by uid).
    if (this.hooks.length && (snap !== this.hooked || minute !== this.hookedMinute || o.polled)) {
      const run = this.runHooks(snap, view, now);
      if (!o.deferHooks) await run;
    }
    return view;
  }

  /**
   * The host view at `now` from the snapshot's near part (what the next day holds): what GPU
   * samples, hooks and notices ask for between refreshes costs the day, not the window.
   */
  viewAt(now: Date): HostView | null {
    return this.snapshot ? hostView(this.nearFor(this.snapshot, now), this.config, now) : null;
  }

  private near: { of: StoredSnapshot; part: StoredSnapshot } | null = null;
  /** The snapshot's near part when it covers now and the next 24 h, else the snapshot. */
  private nearFor(snap: StoredSnapshot, now: Date): StoredSnapshot {
    const p = this.nearPartOf(snap);
    p.syncedAt = snap.syncedAt; // the sync state moves on without a new snapshot
    p.failingSince = snap.failingSince;
    p.lastError = snap.lastError;
    const t = now.getTime();
    return t >= p.from.getTime() && t + HORIZON_MS <= p.to.getTime() ? p : snap;
  }

  private nearPartOf(snap: StoredSnapshot): StoredSnapshot {
    if (this.near?.of !== snap) this.near = { of: snap, part: nearPart(snap) };
    return this.near.part;
  }

  /** Run the hooks in order (one run at a time), each within HOOK_DEADLINE_MS. */
  private runHooks(next: StoredSnapshot, view: HostView, now: Date): Promise<void> {
    const run = this.hookChain.then(async () => {
      const prev = this.hooked;
      this.hooked = next;
      this.hookedMinute = Math.floor(now.getTime() / 60_000);
      for (const hook of this.hooks) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'late'>((res) => {
          timer = setTimeout(() => res('late'), HOOK_DEADLINE_MS);
        });
        try {
          const r = await Promise.race([hook(prev, next, view, now), deadline]);
          if (r === 'late')
            this.log.warn(
              { ms: HOOK_DEADLINE_MS },
              'a refresh hook ran past its deadline; going on without it',
            );
        } catch (e) {
          this.log.error({ err: errorLine(e) }, 'refresh hook failed');
        } finally {
          clearTimeout(timer);
        }
      }
    });
    this.hookChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Decode the live objects (those that may occur from the window's start on) into
   * occurrences, reusing each object's earlier result while its stamp and the window are
   * unchanged: a one-event change decodes one event, and history is never read or decoded.
   */
  private decodeAll(
    from: Date,
    to: Date,
  ): {
    occurrences: Occurrence[];
    problems: Problem[];
    stamps: Record<string, string>;
    changed: boolean;
  } {
    let changed = false;
    if (this.decodedWindow !== from.getTime()) {
      this.decoded.clear();
      this.decodedWindow = from.getTime();
      changed = true;
    }
    const seen = new Set<string>();
    const parts: { href: string; occurrences: Occurrence[] }[] = [];
    const problems: Problem[] = [];
    const stamps: Record<string, string> = {};
    for (const href of this.mirror.liveHrefs(from.getTime())) {
      const stamp = this.mirror.stamp(href);
      if (stamp === undefined) continue;
      seen.add(href);
      let d = this.decoded.get(href);
      if (!d || d.stamp !== stamp) {
        const obj = this.mirror.get(href);
        if (!obj) continue;
        const lim = this.config.limits;
        const r = decodeObjects([obj], {
          timezone: this.config.timezone,
          from,
          to,
          maxOccurrences: lim.maxOccurrences,
          budgetMs: lim.expansionMs,
        });
        this.decodes++;
        for (const p of r.problems) this.log.debug({ href: p.href }, `unreadable event: ${p.message}`);
        d = { stamp, occurrences: r.occurrences, problems: r.problems };
        this.decoded.set(href, d);
        changed = true;
      }
      stamps[href] = stamp;
      if (d.occurrences.length) parts.push({ href, occurrences: d.occurrences });
      problems.push(...d.problems);
    }
    for (const href of this.decoded.keys())
      if (!seen.has(href)) {
        this.decoded.delete(href);
        changed = true;
      }
    const occurrences = withUniqueUids(parts, problems);
    // A problem read back from the last snapshot may be one withUniqueUids just found again.
    const seenProblem = new Set<string>();
    const unique = problems.filter((p) => {
      const k = `${p.href}\n${p.message}`;
      if (seenProblem.has(k)) return false;
      seenProblem.add(k);
      return true;
    });
    problems.length = 0;
    problems.push(...unique);
    occurrences.sort(occurrenceOrder);
    return { occurrences, problems, stamps, changed };
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
  // The hooks run before the write answers: a hog write says "hog on" only after the hog hook
  // applied and checked it (hog-hook.ts).
  async remember(obj: CalendarObject): Promise<void> {
    await this.exclusive(async () => {
      await this.mirror.remember(obj);
      await this.refresh(true);
    });
  }
  async forget(href: string): Promise<void> {
    await this.exclusive(async () => {
      await this.mirror.forget(href);
      await this.refresh(true);
    });
  }
  /** Let the hooks still running (after a write) finish. */
  async settled(): Promise<void> {
    await this.hookChain;
  }
  get(href: string): CalendarObject | undefined {
    return this.mirror.get(href);
  }

  /** A tick of the schedule: sync if due; otherwise refresh the motd when the minute turned. */
  async tick(): Promise<void> {
    if (this.busy) return;
    const now = this.clock();
    if (stampOf(this.cfg) !== this.configStamp) this.reload('the config or password file changed');
    if (isDue(this.poll, this.config.bridge.pollMs, now)) {
      await this.syncOnce().catch(() => {
        /* logged */
      });
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
    try {
      next = this.opts.reloadConfig();
    } catch (e) {
      this.log.error(
        { err: errorLine(e), why },
        'config changed but cannot be used; keeping the running one',
      );
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
        ...this.poll,
        authBlocked: false,
        consecutiveFailures: 0,
        lastAttemptAt: null,
        retryAfterMs: undefined,
      };
    }
    const fields = { why, changed, ...(restart.length ? { restart_needed: restart } : {}) };
    this.log.info(fields, changed.length ? 'config reloaded' : 'config reloaded: nothing changed');
  }

  /**
   * Start the schedule: a tick every second (a plain interval timer: is a poll due, did the
   * config change) and a node-cron task on every minute's turn (the motd shows claims starting
   * and ending on the minute). node-cron evaluating a per-second expression cost ~1.4 ms a
   * second, 0.14 % of a core: most of an idle bridge's budget. The poll interval itself is config.
   */
  start(): void {
    this.seconds = setInterval(() => {
      this.tick().catch((e) => this.log.error({ err: errorLine(e) }, 'tick failed'));
    }, 1000);
    const task = cron.schedule(
      '0 * * * * *',
      () => this.tick().catch((e) => this.log.error({ err: errorLine(e) }, 'tick failed')),
      { noOverlap: true, name: 'hosthog-bridge', logger: this.cronLog() } as Parameters<
        typeof cron.schedule
      >[2],
    );
    // A minute's tick skipped while a big sync decodes is harmless (the next second's tick
    // catches up); say so in our log at debug level, not as node-cron's own console warning.
    task.on('execution:missed', () =>
      this.log.debug('a schedule tick was skipped while the bridge was busy'),
    );
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
    if (this.seconds) clearInterval(this.seconds);
    if (this.busy) await this.busy.catch(() => undefined);
    await this.hookChain;
    this.mirror.close();
  }

  /** Decode and rule again now (booking times changed, e.g. an admin's forced claim). */
  async restamp(): Promise<void> {
    await this.exclusive(async () => {
      await this.refresh(true, { restamp: true });
    });
  }

  /** On a clean stop: the motd says the bridge stopped (it would show claims as NOW forever). */
  markStopped(now: Date = this.clock()): void {
    if (this.lastMotd === null) return;
    const text = stoppedMotd(this.lastMotd, now, this.config.timezone);
    try {
      writeFileAtomic(this.config.bridge.motd, text, 0o644);
    } catch (e) {
      this.log.error({ err: errorLine(e), path: this.config.bridge.motd }, 'cannot write the motd file');
    }
  }

  /** Run fn with no other sync/refresh running (no overlap). */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.busy) await this.busy.catch(() => undefined);
    const p = fn();
    this.busy = p;
    try {
      return await p;
    } finally {
      if (this.busy === p) this.busy = null;
    }
  }

  /** The snapshot as a plain Snapshot (for pure planners). */
  snapshotForPlanning(): Snapshot | null {
    return this.snapshot;
  }
  occurrences(): Occurrence[] {
    return this.snapshot?.occurrences ?? [];
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 104857.6) / 10;
}

function startOfDayUtc(d: Date): Date {
  return new Date(Math.floor(d.getTime() / DAY) * DAY);
}

/** Changes when the config file or password file changes (to lift an auth block). */
function stampOf(config: Config): string {
  const files = [config.source, config.calendar.kind === 'caldav' ? config.calendar.passwordFile : undefined];
  return files
    .map((f) => {
      try {
        const s = statSync(f!);
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}

/**
 * The settings that differ between two configs, as "section.key" (the password is compared, never
 * logged).
 */
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
