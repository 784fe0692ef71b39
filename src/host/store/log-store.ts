/**
 * A durable keyv store whose writes grow with the change, not with what it holds: an
 * append-only log of JSON lines (state_dir/cache/objects-<gen>.log) plus an index checkpoint
 * (state_dir/cache/index.json: key → offset, length and a small summary of the value).
 *
 *  - set/delete append one line each to a pending buffer; flush() appends it in one write and
 *    fsyncs: a one-event change writes about one event's bytes.
 *  - Only the index lives in memory; a value is read from the log (pread) when asked for, so
 *    the text of events nobody looks at stays on disk.
 *  - Opening reads index.json and replays the log past the offset it covers. The index is
 *    rewritten only after CHECKPOINT_BYTES of new log, and at least half the log's size at the
 *    last checkpoint (amortised), or on checkpoint(); the log is compacted
 *    (live records into objects-<gen+1>.log, then index.json names the new generation: the
 *    commit point) when less than half of it is live.
 *  - Crash safety: a SIGKILL mid-append leaves a torn last line, which the next open ignores
 *    and truncates; index.json is replaced atomically (temp + fsync + rename) and never points
 *    past what the log holds.
 */
import { EventEmitter } from 'node:events';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';

const FORMAT = 1;
/** New log bytes after which the index is checkpointed. */
const CHECKPOINT_BYTES = 256 * 1024;
/** Dead bytes in the log (beyond this slack) that trigger a compaction once they outweigh the live ones. */
const COMPACT_SLACK = 4 * 1024 * 1024;

interface Entry<S> {
  off: number;
  len: number;
  sum: S;
}
interface IndexFile<S> {
  format: number;
  gen: number;
  end: number;
  entries: [string, number, number, S][];
}

export interface LogStoreOptions<S> {
  /** File mode of the log and the index. */
  mode?: number;
  /** What to keep in memory of each value (e.g. an etag): read with summary() without a disk read. */
  summarize?: (value: unknown) => S;
}

export class LogStore<S = null> extends EventEmitter {
  /** keyv reads opts.url/opts.dialect to decide how to iterate; we iterate with keys(). */
  readonly opts: { path: string; url: string; dialect: string };
  namespace?: string;
  private readonly index = new Map<string, Entry<S>>();
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Values set since the last flush (read before the log). */
  private readonly unflushed = new Map<string, unknown>();
  /** Entries set since the last flush and their offsets in the pending buffer. */
  private readonly placed: [Entry<S>, number][] = [];
  private gen = 1;
  private fd = -1;
  /** Bytes of the log on disk (all complete lines). */
  private size = 0;
  /** Log offset the last index checkpoint covers. */
  private checkpointed = 0;
  private live = 0;
  private readonly mode: number;
  private readonly summarize: (value: unknown) => S;
  /**
   * True when opening found an index it could not use (unreadable, or naming a missing log): the store
   * started empty.
   */
  wasReset = false;
  /** Bytes this store wrote to disk (log appends, index and compactions): for tests and the bench. */
  bytesWritten = 0;

  constructor(
    readonly dir: string,
    o: LogStoreOptions<S> = {},
  ) {
    super();
    this.mode = o.mode ?? 0o600;
    this.summarize = o.summarize ?? (() => null as S);
    this.opts = { path: dir, url: `file://${dir}`, dialect: 'hosthog-log' };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.load();
  }

  private logPath(gen = this.gen): string {
    return join(this.dir, `objects-${gen}.log`);
  }
  private get indexPath(): string {
    return join(this.dir, 'index.json');
  }

  private load(): void {
    let idx: IndexFile<S> | null = null;
    try {
      idx = JSON.parse(readFileSync(this.indexPath, 'utf8')) as IndexFile<S>;
      if (idx.format !== FORMAT || !Number.isInteger(idx.gen) || !Array.isArray(idx.entries))
        throw new Error('unknown format');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.wasReset = true;
        this.emit(
          'error',
          new Error(`cache index ${this.indexPath} is unreadable; starting from an empty cache`),
        );
      }
      idx = null;
    }
    if (idx) {
      this.gen = idx.gen;
      for (const [k, off, len, sum] of idx.entries) {
        this.index.set(k, { off, len, sum });
        this.live += len;
      }
      this.checkpointed = idx.end;
    }
    this.fd = openSync(this.logPath(), 'a+', this.mode);
    const st = fstatSync(this.fd);
    if (!idx || st.size < this.checkpointed) {
      // No index, or a log shorter than the index says (not ours): start empty at a new generation.
      if (idx) {
        this.wasReset = true;
        this.emit(
          'error',
          new Error(`cache log ${this.logPath()} is shorter than its index; starting from an empty cache`),
        );
      }
      this.index.clear();
      this.live = 0;
      ftruncateSync(this.fd, 0);
      this.checkpointed = 0;
      this.size = 0;
      this.writeIndex();
    } else {
      this.size = st.size;
      this.replay();
    }
    this.removeOtherGenerations();
  }

  /** Apply the log's lines past the checkpoint; a torn or unreadable tail is cut off. */
  private replay(): void {
    const off = this.checkpointed;
    if (off >= this.size) return;
    const tail = Buffer.alloc(this.size - off);
    readSync(this.fd, tail, 0, tail.length, off);
    let pos = 0;
    while (pos < tail.length) {
      const nl = tail.indexOf(10, pos);
      if (nl < 0) break;
      let rec: { k?: unknown; v?: unknown; x?: unknown };
      try {
        rec = JSON.parse(tail.toString('utf8', pos, nl)) as typeof rec;
      } catch {
        break;
      }
      if (typeof rec.k !== 'string') break;
      const len = nl + 1 - pos;
      this.drop(rec.k);
      if (!rec.x) {
        this.index.set(rec.k, { off: off + pos, len, sum: this.summarize(rec.v) });
        this.live += len;
      }
      pos = nl + 1;
    }
    if (off + pos < this.size) {
      ftruncateSync(this.fd, off + pos);
      this.size = off + pos;
    }
  }

  private removeOtherGenerations(): void {
    for (const f of readdirSync(this.dir)) {
      const m = /^objects-(\d+)\.log$/.exec(f);
      if ((m && Number(m[1]) !== this.gen) || /^\.objects-.*\.tmp$/.test(f)) {
        try {
          unlinkSync(join(this.dir, f));
        } catch {
          /* gone already */
        }
      }
    }
  }

  private drop(key: string): void {
    const e = this.index.get(key);
    if (e) {
      this.live -= e.len;
      this.index.delete(key);
    }
  }

  private append(line: string): number {
    const buf = Buffer.from(line + '\n');
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    return buf.length;
  }

  private readAt(e: Entry<S>): unknown {
    const buf = Buffer.alloc(e.len);
    readSync(this.fd, buf, 0, e.len, e.off);
    try {
      return (JSON.parse(buf.toString('utf8')) as { v: unknown }).v;
    } catch {
      return undefined; // not the record we wrote (another process appended): as if not cached
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.getSync(key) as T | undefined;
  }
  /** The value without a promise (for callers that read one object from disk). */
  getSync(key: string): unknown {
    if (this.unflushed.has(key)) return this.unflushed.get(key);
    const e = this.index.get(key);
    return e ? this.readAt(e) : undefined;
  }
  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return keys.map((k) => this.getSync(k) as T | undefined);
  }
  async has(key: string): Promise<boolean> {
    return this.index.has(key);
  }
  /** The in-memory summary of a value (no disk read). */
  summary(key: string): S | undefined {
    return this.index.get(key)?.sum;
  }

  async set(key: string, value: unknown): Promise<boolean> {
    this.setSync(key, value);
    return true;
  }
  private setSync(key: string, value: unknown): void {
    const rel = this.pendingBytes;
    const len = this.append(JSON.stringify({ k: key, v: value }));
    this.drop(key);
    const e = { off: -1, len, sum: this.summarize(value) };
    this.index.set(key, e);
    this.placed.push([e, rel]);
    this.live += len;
    this.unflushed.set(key, value);
  }
  async setMany(values: { key: string; value: unknown }[]): Promise<void> {
    for (const { key, value } of values) this.setSync(key, value);
  }
  async delete(key: string): Promise<boolean> {
    return this.deleteSync(key);
  }
  private deleteSync(key: string): boolean {
    if (!this.index.has(key)) return false;
    this.append(JSON.stringify({ k: key, x: 1 }));
    this.drop(key);
    this.unflushed.delete(key);
    return true;
  }
  async deleteMany(keys: string[]): Promise<boolean> {
    let any = false;
    for (const k of keys) any = this.deleteSync(k) || any;
    return any;
  }

  /** Empty the store: a new, empty generation (the old log is removed). */
  async clear(): Promise<void> {
    this.placed.length = 0;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.unflushed.clear();
    this.index.clear();
    this.live = 0;
    this.switchTo(this.gen + 1, Buffer.alloc(0));
  }

  async *iterator(namespace?: string): AsyncGenerator<[string, unknown], void> {
    const prefix = namespace ? `${namespace}:` : '';
    for (const k of [...this.index.keys()]) if (k.startsWith(prefix)) yield [k, this.getSync(k)];
  }
  async disconnect(): Promise<void> {
    this.flush();
  }
  /** Stored keys (as keyv wrote them, namespace included) that start with prefix. */
  keys(prefix = ''): string[] {
    return [...this.index.keys()].filter((k) => k.startsWith(prefix));
  }
  /** Stored keys that start with prefix, without copying them into an array. */
  *keysWith(prefix: string): Generator<string, void, undefined> {
    for (const k of this.index.keys()) if (k.startsWith(prefix)) yield k;
  }
  get count(): number {
    return this.index.size;
  }

  /** Append what changed since the last flush (one write, one fsync); checkpoint or compact when due. */
  flush(): boolean {
    if (!this.pendingBytes) return false;
    const buf = Buffer.concat(this.pending, this.pendingBytes);
    // Where the append lands: the file's real end (a `hosthog sync` run beside the bridge may
    // have appended too; the fd is O_APPEND, so writes always go to the end).
    this.size = fstatSync(this.fd).size;
    for (const [e, rel] of this.placed) e.off = this.size + rel;
    this.placed.length = 0;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    fsyncSync(this.fd);
    this.bytesWritten += buf.length;
    this.size += buf.length;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.unflushed.clear();
    if (this.size - this.live > Math.max(this.live, COMPACT_SLACK)) this.compact();
    // Amortised: the index (which grows with the store) is rewritten once the log has grown by
    // half of what it held at the last checkpoint, so a first download of 50,000 objects in
    // batches writes it a few times, not once per batch; checkpoint() after a big change.
    else if (this.size - this.checkpointed >= Math.max(CHECKPOINT_BYTES, this.checkpointed / 2))
      this.writeIndex();
    return true;
  }

  /** Write the index now if more than CHECKPOINT_BYTES of the log are past it (after a big change). */
  checkpoint(): void {
    this.flush();
    if (this.size - this.checkpointed >= CHECKPOINT_BYTES) this.writeIndex();
  }

  /** Rewrite the live records into a new generation; index.json naming it is the commit point. */
  private compact(): void {
    const parts: Buffer[] = [];
    let off = 0;
    const moved: [string, Entry<S>][] = [];
    for (const [k, e] of this.index) {
      const b = Buffer.alloc(e.len);
      readSync(this.fd, b, 0, e.len, e.off);
      parts.push(b);
      moved.push([k, { off, len: e.len, sum: e.sum }]);
      off += e.len;
    }
    this.switchTo(this.gen + 1, Buffer.concat(parts, off), () => {
      for (const [k, e] of moved) this.index.set(k, e);
      this.live = off;
    });
  }

  /** Write content as generation gen, then (after setIndex) the index naming it, then drop the old log. */
  private switchTo(gen: number, content: Buffer, setIndex: () => void = () => undefined): void {
    const fd = openSync(this.logPath(gen), 'w+', this.mode);
    let off = 0;
    while (off < content.length) off += writeSync(fd, content, off, content.length - off, off);
    fsyncSync(fd);
    this.bytesWritten += content.length;
    const old = this.gen;
    closeSync(this.fd);
    this.fd = fd;
    this.gen = gen;
    this.size = content.length;
    setIndex();
    this.writeIndex();
    try {
      unlinkSync(this.logPath(old));
    } catch {
      /* gone already */
    }
  }

  private writeIndex(): void {
    const entries: [string, number, number, S][] = [];
    for (const [k, e] of this.index)
      if (e.off >= 0 && e.off + e.len <= this.size) entries.push([k, e.off, e.len, e.sum]);
    const text = JSON.stringify({
      format: FORMAT,
      gen: this.gen,
      end: this.size,
      entries,
    } satisfies IndexFile<S>);
    writeFileAtomic(this.indexPath, text, this.mode);
    this.bytesWritten += Buffer.byteLength(text);
    this.checkpointed = this.size;
  }

  close(): void {
    this.flush();
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
