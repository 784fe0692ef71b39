/**
 * A durable, pure-JS keyv store: the whole map lives in memory and is persisted as one JSON file
 * with writeFileAtomic (temp + fsync + rename), so a crash mid-write leaves the previous complete
 * file, never a torn one. Writes are batched: set/delete mark the store dirty and flush() persists
 * once (the mirror flushes once per sync, so 5,000 new objects cost one write, not 5,000).
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write.js';

/**
 * 2: values are stored as given (keyv without a serializer). Format 1 held keyv's JSON strings;
 * such files are read and converted, so an upgrade does not re-download the calendar.
 */
const FORMAT = 2;

export class FileStore extends EventEmitter {
  /** keyv reads opts.url/opts.dialect to decide how to iterate; we iterate with keys(). */
  readonly opts: { path: string; url: string; dialect: string };
  namespace?: string;
  private map = new Map<string, unknown>();
  private dirty = false;

  /** durable: false leaves out the fsyncs (see writeFileAtomic), for state rewritten every poll. */
  constructor(
    readonly path: string,
    private readonly mode = 0o600,
    private readonly durable = true,
  ) {
    super();
    this.opts = { path, url: `file://${path}`, dialect: 'hosthog-file' };
    this.load();
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      const doc = JSON.parse(text) as { format: number; entries: [string, unknown][] };
      if ((doc.format !== FORMAT && doc.format !== 1) || !Array.isArray(doc.entries))
        throw new Error('unknown format');
      if (doc.format === 1) {
        doc.entries = doc.entries.map(([k, v]) => [k, typeof v === 'string' ? JSON.parse(v) : v]);
        this.dirty = true;
      }
      this.map = new Map(doc.entries);
    } catch {
      // A file we cannot read is treated as no cache: the next sync rebuilds it from the calendar.
      this.emit('error', new Error(`cache ${this.path} is unreadable; starting from an empty cache`));
      this.map = new Map();
      this.dirty = true;
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.map.get(key) as T | undefined;
  }
  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return keys.map((k) => this.map.get(k) as T | undefined);
  }
  async has(key: string): Promise<boolean> {
    return this.map.has(key);
  }
  async set(key: string, value: unknown): Promise<boolean> {
    this.map.set(key, value);
    this.dirty = true;
    return true;
  }
  async setMany(values: { key: string; value: unknown }[]): Promise<void> {
    for (const { key, value } of values) this.map.set(key, value);
    this.dirty = true;
  }
  async delete(key: string): Promise<boolean> {
    const had = this.map.delete(key);
    if (had) this.dirty = true;
    return had;
  }
  async deleteMany(keys: string[]): Promise<boolean> {
    let any = false;
    for (const k of keys) any = this.map.delete(k) || any;
    if (any) this.dirty = true;
    return any;
  }
  async clear(): Promise<void> {
    this.map.clear();
    this.dirty = true;
  }
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    const prefix = namespace ? `${namespace}:` : '';
    for (const [k, v] of this.map) if (k.startsWith(prefix)) yield [k, v];
  }
  async disconnect(): Promise<void> {
    this.flush();
  }
  /** Stored keys (as keyv wrote them, namespace included) that start with prefix. */
  keys(prefix = ''): string[] {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix));
  }

  /** Persist if anything changed since the last flush. */
  flush(): boolean {
    if (!this.dirty) return false;
    writeFileAtomic(this.path, JSON.stringify({ format: FORMAT, entries: [...this.map] }), this.mode, {
      durable: this.durable,
    });
    this.dirty = false;
    return true;
  }
}
