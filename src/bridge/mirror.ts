/**
 * The mirror: the calendar's objects cached in keyv (a LogStore in state_dir/cache), kept in step with
 * a CalendarSource. One sync step = an incremental RFC 6578 delta when we hold a token, a full
 * etag reconcile when we do not, when the token is refused, when the source changed, or when
 * the periodic full reconcile is due (Nextcloud prunes token history and can then answer an
 * incomplete delta without saying so). Nothing unchanged is ever downloaded twice, also across
 * restarts: the cache holds every object's etag and the token.
 *
 * Memory holds only an index (href → etag stamp and the last moment the object can occur,
 * from core/ics-span.ts); an object's text is read from disk when asked for. So history (past
 * one-off events, ended series) costs disk, not memory, and a one-event change appends about
 * one event's bytes (see LogStore).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Keyv from 'keyv';
import type { CalendarObject } from '../core/types.js';
import type { CalendarSource, SyncDelta } from '../caldav/source.js';
import { InvalidSyncTokenError, errorLine } from '../core/errors.js';
import { FileStore } from '../host/store/file-store.js';
import { LogStore } from '../host/store/log-store.js';
import { lastPossibleEnd } from '../core/ics-span.js';

export interface MirrorMeta {
  /** The source the cache belongs to; a different one starts a fresh reconcile. */
  source: string;
  token: string | null;
  syncedAt: string | null;
  lastFullAt: string | null;
  failingSince: string | null;
  lastError?: string;
}

export interface SyncOutcome {
  full: boolean;
  /** Why a full reconcile ran, if one did. */
  fullReason?: 'no-token' | 'token-refused' | 'periodic' | 'source-changed';
  changed: number;
  deleted: number;
  stats: { requests: number; bytes: number };
}

/**
 * What memory keeps of each object: its stamp (etag, or a hash of the text) and its last possible end
 * (null: any time).
 */
export interface ObjectSummary {
  s: string;
  l: number | null;
}

/** The etag when the server gave one, else a hash of the text: "changed" means the stamp changed. */
export function stampOf(etag: string | null, data: string): string {
  return etag ?? `sha1:${createHash('sha1').update(data).digest('base64')}`;
}

export function summarize(raw: unknown): ObjectSummary {
  const v = (raw as { value?: { etag?: string | null; data?: string; last?: number | null } })?.value;
  if (!v || typeof v.data !== 'string') return { s: '', l: null };
  const last = v.last !== undefined ? v.last : finiteOrNull(lastPossibleEnd(v.data));
  return { s: stampOf(v.etag ?? null, v.data), l: last };
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

const NS = 'hosthog';
const META = 'meta';
const OBJ = 'obj:';

export class Mirror {
  private constructor(
    private readonly kv: Keyv,
    private readonly store: LogStore<ObjectSummary>,
    private readonly kvMeta: Keyv,
    private readonly metaStore: FileStore,
    private source: CalendarSource,
    private metaValue: MirrorMeta,
  ) {
    this.etags = new StoreEtags(store);
  }

  /** href → etag of every cached object (what a sync compares against): a view of the index. */
  private readonly etags: StoreEtags;

  static async open(stateDir: string, source: CalendarSource): Promise<Mirror> {
    mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    const store = new LogStore<ObjectSummary>(join(stateDir, 'cache'), { mode: 0o600, summarize });
    store.on('error', () => {
      /* reported through meta.lastError on the next sync */
    });
    // No serializer: the store writes keyv's { value, expires } records as JSON lines itself.
    const kv = new Keyv({ store, namespace: NS, serialize: undefined, deserialize: undefined });
    // The sync state lives in its own small file: it changes every poll. The objects are
    // always flushed first, so the token on disk is never ahead of the objects it vouches for.
    // Not fsynced (it changes every poll): a power loss brings back an older token, which only
    // repeats a delta; the objects it vouches for are fsynced before it is written.
    const metaStore = new FileStore(join(stateDir, 'mirror-meta.json'), 0o600, false);
    metaStore.on('error', () => {
      /* an unreadable state file: a full reconcile rebuilds it */
    });
    const kvMeta = new Keyv({
      store: metaStore,
      namespace: NS,
      serialize: undefined,
      deserialize: undefined,
    });
    const empty: MirrorMeta = {
      source: source.description,
      token: null,
      syncedAt: null,
      lastFullAt: null,
      failingSince: null,
    };
    let meta = await kvMeta.get<MirrorMeta>(META);
    // Versions before 0.3 kept every object in one JSON file (cache.json): moved over once.
    const legacyPath = join(stateDir, 'cache.json');
    if (existsSync(legacyPath)) {
      const legacyStore = new FileStore(legacyPath, 0o600);
      legacyStore.on('error', () => {
        /* unreadable: the next sync rebuilds the cache */
      });
      const legacy = new Keyv({
        store: legacyStore,
        namespace: NS,
        serialize: undefined,
        deserialize: undefined,
      });
      const legacyMeta = await legacy.get<MirrorMeta>(META); // where versions before 0.2 kept it
      const keys = legacyStore.keys(`${NS}:${OBJ}`).map((k) => k.slice(NS.length + 1));
      const values = await legacy.getMany<{ etag: string | null; data: string }>(keys);
      await kv.setMany(keys.flatMap((key, i) => (values[i] ? [{ key, value: values[i] }] : [])));
      store.flush();
      if (legacyMeta) meta ??= legacyMeta;
      if (meta) {
        await kvMeta.set(META, meta);
        metaStore.flush();
      }
      unlinkSync(legacyPath);
    }
    // A store that had to start empty cannot trust the token: the next sync is a full reconcile.
    if (store.wasReset && meta) meta = { ...meta, token: null, lastFullAt: null };
    return new Mirror(kv, store, kvMeta, metaStore, source, meta ?? empty);
  }

  get meta(): Readonly<MirrorMeta> {
    return this.metaValue;
  }
  /**
   * Switch to a re-opened source (new credentials); a different calendar resets the cache at the next
   * sync.
   */
  useSource(source: CalendarSource): void {
    this.source = source;
  }
  get size(): number {
    return this.store.count;
  }
  /** Every cached href (no text read). */
  hrefs(): string[] {
    return [...this.etags.keys()];
  }
  /** The stamp of a cached object (etag, or a hash of its text), from memory. */
  stamp(href: string): string | undefined {
    return this.store.summary(`${NS}:${OBJ}${href}`)?.s;
  }
  /**
   * Hrefs of the objects that may occur at or after `from` (ms): the rest is history, left on
   * disk and never decoded.
   */
  liveHrefs(from: number): string[] {
    const out: string[] = [];
    for (const href of this.etags.keys()) {
      const l = this.store.summary(`${NS}:${OBJ}${href}`)?.l;
      if (l === null || l === undefined || l >= from) out.push(href);
    }
    return out;
  }
  /** The objects that may occur at or after `from`, read from disk. */
  liveObjects(from: number): CalendarObject[] {
    return this.liveHrefs(from).flatMap((h) => {
      const o = this.get(h);
      return o ? [o] : [];
    });
  }
  /** Every cached object, history too, read from disk (tests and full listings; not the bridge). */
  objects(): CalendarObject[] {
    return this.liveObjects(-Infinity);
  }
  /** Bytes the object store wrote since it was opened. */
  get bytesWritten(): number {
    return this.store.bytesWritten;
  }

  /** One sync step. Throws on failure (after recording it); the cache keeps what it knew. */
  async sync(now: Date, fullReconcileMs: number, opts: { forceFull?: boolean } = {}): Promise<SyncOutcome> {
    // The etags the source compares against: kept up to date in apply(), not rebuilt per poll.
    const known = this.known();
    let reason: SyncOutcome['fullReason'];
    if (this.metaValue.source !== this.source.description) reason = 'source-changed';
    else if (!this.metaValue.token) reason = 'no-token';
    else if (
      opts.forceFull ||
      !this.metaValue.lastFullAt ||
      now.getTime() - Date.parse(this.metaValue.lastFullAt) >= fullReconcileMs
    )
      reason = 'periodic';
    let delta: SyncDelta;
    let extra = { requests: 0, bytes: 0 };
    // A first download is stored while it arrives (batches), never held whole; the token that
    // vouches for it is written only after the whole sync, so a stop midway reconciles again.
    const store = (objects: CalendarObject[]) => this.apply(objects, []);
    try {
      if (reason === 'source-changed') {
        await this.resetFor(this.source.description); // empties `known` too (a view of the store)
      }
      if (reason) {
        delta = await this.source.reconcile(known, store);
      } else {
        try {
          delta = await this.source.sync(this.metaValue.token, known);
        } catch (e) {
          if (!(e instanceof InvalidSyncTokenError)) throw e;
          reason = 'token-refused';
          this.metaValue = { ...this.metaValue, token: null };
          extra = { requests: 1, bytes: 0 };
          delta = await this.source.reconcile(known, store);
        }
      }
    } catch (e) {
      await this.recordFailure(now, e);
      throw e;
    }
    await this.apply(delta.changed, delta.deleted);
    this.metaValue = {
      ...this.metaValue,
      source: this.source.description,
      token: delta.token,
      syncedAt: now.toISOString(),
      lastFullAt: delta.full ? now.toISOString() : this.metaValue.lastFullAt,
      failingSince: null,
      lastError: undefined,
    };
    this.store.checkpoint();
    await this.kvMeta.set(META, this.metaValue);
    this.metaStore.flush();
    return {
      full: delta.full,
      fullReason: reason,
      changed: delta.changed.length + (delta.streamed ?? 0),
      deleted: delta.deleted.length,
      stats: { requests: delta.stats.requests + extra.requests, bytes: delta.stats.bytes + extra.bytes },
    };
  }

  /** Remember that syncing failed (and since when), without touching the cached objects. */
  async recordFailure(now: Date, err: unknown): Promise<void> {
    this.metaValue = {
      ...this.metaValue,
      failingSince: this.metaValue.failingSince ?? now.toISOString(),
      lastError: errorLine(err),
    };
    this.store.flush();
    await this.kvMeta.set(META, this.metaValue);
    this.metaStore.flush();
  }

  /** After a write through the bridge: reflect it at once, not at the next poll. */
  async remember(obj: CalendarObject): Promise<void> {
    await this.apply([obj], []);
    this.store.flush();
  }
  async forget(href: string): Promise<void> {
    await this.apply([], [href]);
    this.store.flush();
  }
  /** One cached object, read from disk. */
  get(href: string): CalendarObject | undefined {
    const raw = this.store.getSync(`${NS}:${OBJ}${href}`) as
      { value?: { etag: string | null; data: string } } | undefined;
    return raw?.value ? { href, etag: raw.value.etag, data: raw.value.data } : undefined;
  }

  /** Every object's etag, for a sync to compare against (a view of the index: always current). */
  private known(): ReadonlyMap<string, string | null> {
    return this.etags;
  }

  private async apply(changed: CalendarObject[], deleted: string[]): Promise<void> {
    // Written in slices: a first sync of 50,000 objects never holds all their JSON at once.
    for (let i = 0; i < changed.length; i += 2000) {
      const slice = changed.slice(i, i + 2000);
      await this.kv.setMany(
        slice.map((o) => ({
          key: OBJ + o.href,
          value: { etag: o.etag, data: o.data, last: finiteOrNull(lastPossibleEnd(o.data)) },
        })),
      );
      this.store.flush();
    }
    if (deleted.length) {
      await this.kv.delete(deleted.map((h) => OBJ + h));
    }
  }

  private async resetFor(source: string): Promise<void> {
    await this.kv.clear();
    this.metaValue = { source, token: null, syncedAt: null, lastFullAt: null, failingSince: null };
  }

  close(): void {
    this.store.close();
    this.metaStore.flush();
  }
}

const PREFIX = `${NS}:${OBJ}`;

/**
 * The cached objects' etags as a read-only Map over the store's index (its in-memory summaries):
 * 50,000 objects cost no second map of hrefs. A stamp that is a hash of the text means "no etag".
 */
class StoreEtags implements ReadonlyMap<string, string | null> {
  constructor(private readonly store: LogStore<ObjectSummary>) {}
  get size(): number {
    return this.store.count;
  }
  get(href: string): string | null | undefined {
    const s = this.store.summary(PREFIX + href)?.s;
    return s === undefined ? undefined : s && !s.startsWith('sha1:') ? s : null;
  }
  has(href: string): boolean {
    return this.store.summary(PREFIX + href) !== undefined;
  }
  *keys(): MapIterator<string> {
    for (const k of this.store.keysWith(PREFIX)) yield k.slice(PREFIX.length);
  }
  *entries(): MapIterator<[string, string | null]> {
    for (const h of this.keys()) yield [h, this.get(h) ?? null];
  }
  *values(): MapIterator<string | null> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator](): MapIterator<[string, string | null]> {
    return this.entries();
  }
  forEach(fn: (value: string | null, key: string, map: ReadonlyMap<string, string | null>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
