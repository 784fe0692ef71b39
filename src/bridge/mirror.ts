/**
 * The mirror: the calendar's objects cached in keyv (FileStore in state_dir), kept in step with
 * a CalendarSource. One sync step = an incremental RFC 6578 delta when we hold a token, a full
 * etag reconcile when we do not, when the token is refused, when the source changed, or when
 * the periodic full reconcile is due (Nextcloud prunes token history and can then answer an
 * incomplete delta without saying so). Nothing unchanged is ever downloaded twice, also across
 * restarts: the cache holds every object's etag and the token.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Keyv from 'keyv';
import type { CalendarObject } from '../core/types.js';
import type { CalendarSource, SyncDelta } from '../caldav/source.js';
import { InvalidSyncTokenError, errorLine } from '../core/errors.js';
import { FileStore } from '../host/store/file-store.js';

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

const NS = 'hosthog';
const META = 'meta';
const OBJ = 'obj:';

export class Mirror {
  private constructor(
    private readonly kv: Keyv,
    private readonly store: FileStore,
    private readonly kvMeta: Keyv,
    private readonly metaStore: FileStore,
    private source: CalendarSource,
    private readonly objectsByHref: Map<string, CalendarObject>,
    private metaValue: MirrorMeta,
  ) {
    for (const [h, o] of objectsByHref) this.etags.set(h, o.etag);
  }

  /** href → etag of every cached object (what a sync compares against). */
  private readonly etags = new Map<string, string | null>();

  static async open(stateDir: string, source: CalendarSource): Promise<Mirror> {
    mkdirSync(stateDir, { recursive: true, mode: 0o755 });
    const store = new FileStore(join(stateDir, 'cache.json'), 0o600);
    store.on('error', () => { /* reported through meta.lastError on the next sync */ });
    // No serializer: the store keeps keyv's { value, expires } records as objects, so an
    // event's text is held once (shared with the map below), not a second time as JSON.
    // FileStore writes the whole map as one JSON file anyway.
    const kv = new Keyv({ store, namespace: NS, serialize: undefined, deserialize: undefined });
    const objects = new Map<string, CalendarObject>();
    const keys = store.keys(`${NS}:${OBJ}`).map((k) => k.slice(NS.length + 1));
    const values = await kv.getMany<{ etag: string | null; data: string }>(keys);
    keys.forEach((key, i) => {
      const v = values[i];
      if (v) objects.set(key.slice(OBJ.length), { href: key.slice(OBJ.length), etag: v.etag, data: v.data });
    });
    // The sync state lives in its own small file: it changes every poll, and rewriting the
    // whole cache (megabytes) for it would cost a full write per poll. The objects file is
    // always flushed first, so the token on disk is never ahead of the objects it vouches for.
    const metaStore = new FileStore(join(stateDir, 'mirror-meta.json'), 0o600);
    metaStore.on('error', () => { /* an unreadable state file: a full reconcile rebuilds it */ });
    const kvMeta = new Keyv({ store: metaStore, namespace: NS, serialize: undefined, deserialize: undefined });
    const empty: MirrorMeta = { source: source.description, token: null, syncedAt: null, lastFullAt: null, failingSince: null };
    let meta = await kvMeta.get<MirrorMeta>(META);
    const legacy = await kv.get<MirrorMeta>(META); // where versions before 0.2 kept it
    if (legacy) {
      meta ??= legacy;
      await kvMeta.set(META, meta);
      metaStore.flush();
      await kv.delete(META);
      store.flush();
    }
    return new Mirror(kv, store, kvMeta, metaStore, source, objects, meta ?? empty);
  }

  get meta(): Readonly<MirrorMeta> { return this.metaValue; }
  /** Switch to a re-opened source (new credentials); a different calendar resets the cache at the next sync. */
  useSource(source: CalendarSource): void { this.source = source; }
  objects(): CalendarObject[] { return [...this.objectsByHref.values()]; }
  get size(): number { return this.objectsByHref.size; }

  /** One sync step. Throws on failure (after recording it); the cache keeps what it knew. */
  async sync(now: Date, fullReconcileMs: number, opts: { forceFull?: boolean } = {}): Promise<SyncOutcome> {
    // The etags the source compares against: kept up to date in apply(), not rebuilt per poll.
    const known: ReadonlyMap<string, string | null> = this.etags;
    let reason: SyncOutcome['fullReason'];
    if (this.metaValue.source !== this.source.description) reason = 'source-changed';
    else if (!this.metaValue.token) reason = 'no-token';
    else if (opts.forceFull || !this.metaValue.lastFullAt || now.getTime() - Date.parse(this.metaValue.lastFullAt) >= fullReconcileMs) reason = 'periodic';
    let delta: SyncDelta;
    let extra = { requests: 0, bytes: 0 };
    try {
      if (reason === 'source-changed') {
        await this.resetFor(this.source.description); // empties `known` too
      }
      if (reason) {
        delta = await this.source.reconcile(known);
      } else {
        try {
          delta = await this.source.sync(this.metaValue.token, known);
        } catch (e) {
          if (!(e instanceof InvalidSyncTokenError)) throw e;
          reason = 'token-refused';
          this.metaValue = { ...this.metaValue, token: null };
          extra = { requests: 1, bytes: 0 };
          delta = await this.source.reconcile(known);
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
    this.store.flush();
    await this.kvMeta.set(META, this.metaValue);
    this.metaStore.flush();
    return {
      full: delta.full,
      fullReason: reason,
      changed: delta.changed.length,
      deleted: delta.deleted.length,
      stats: { requests: delta.stats.requests + extra.requests, bytes: delta.stats.bytes + extra.bytes },
    };
  }

  /** Remember that syncing failed (and since when), without touching the cached objects. */
  async recordFailure(now: Date, err: unknown): Promise<void> {
    this.metaValue = { ...this.metaValue, failingSince: this.metaValue.failingSince ?? now.toISOString(), lastError: errorLine(err) };
    this.store.flush();
    await this.kvMeta.set(META, this.metaValue);
    this.metaStore.flush();
  }

  /** After a write through the bridge: reflect it at once, not at the next poll. */
  async remember(obj: CalendarObject): Promise<void> { await this.apply([obj], []); this.store.flush(); }
  async forget(href: string): Promise<void> { await this.apply([], [href]); this.store.flush(); }
  get(href: string): CalendarObject | undefined { return this.objectsByHref.get(href); }

  private async apply(changed: CalendarObject[], deleted: string[]): Promise<void> {
    if (changed.length) {
      await this.kv.setMany(changed.map((o) => ({ key: OBJ + o.href, value: { etag: o.etag, data: o.data } })));
      for (const o of changed) { this.objectsByHref.set(o.href, o); this.etags.set(o.href, o.etag); }
    }
    if (deleted.length) {
      await this.kv.delete(deleted.map((h) => OBJ + h));
      for (const h of deleted) { this.objectsByHref.delete(h); this.etags.delete(h); }
    }
  }

  private async resetFor(source: string): Promise<void> {
    await this.kv.clear();
    this.objectsByHref.clear();
    this.etags.clear();
    this.metaValue = { source, token: null, syncedAt: null, lastFullAt: null, failingSince: null };
  }

  close(): void { this.store.flush(); this.metaStore.flush(); }
}
