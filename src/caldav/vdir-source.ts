/**
 * A local calendar directory (vdir, as vdirsyncer and khal use it) as a CalendarSource: one
 * calendar object per file named "<something>.ics". Files are written atomically (temp file in
 * the same directory + rename; create uses link(), which fails if the name exists). The
 * directory is created (mode 0755) only by a sync with an empty cache, i.e. on first use. Once
 * the cache holds events, a missing directory (an unmounted share, a tool that replaced it) is
 * CalendarUnavailableError: the bridge keeps what it last knew and marks it stale instead of
 * taking every event for deleted.
 *
 * - href: the file's absolute path in canonical form (src/caldav/href.ts), e.g.
 *   "/var/lib/hosthog/calendar/abc.ics". Methods taking an href use only its last segment
 *   (the file name), so "/abc.ics" works too.
 * - etag: "\"<mtime ns>-<size>-<inode>\"" from one fstat/stat. Every atomic write makes a new
 *   inode, so a replaced file always gets a new etag.
 * - sync token: "vdir:" + sha256 of the sorted (name, etag) listing. An idle sync is one
 *   readdir plus a stat per file and returns nothing. A well-formed token that is not the
 *   current one yields the difference against `known`; a malformed token is refused
 *   (InvalidSyncTokenError), like a server would.
 * - stats: requests = 1 per directory listing + 1 per file read; bytes = bytes read.
 * The etag check in update/remove and the write are not one atomic step (no lock between two
 * writers on the same host within microseconds); the CLI/bridge serialise their own writes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, constants as FS } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import type { CalendarObject } from '../core/types.js';
import {
  CalendarUnavailableError,
  HosthogError,
  InvalidSyncTokenError,
  NotFoundError,
  PreconditionFailedError,
  UsageError,
} from '../core/errors.js';
import type { CalendarSource, SourceInfo, SyncDelta } from './source.js';
import { canonicalHref, hrefName } from './href.js';

const TOKEN = /^vdir:[0-9a-f]{64}$/;

interface Entry {
  name: string;
  etag: string;
}

export class VdirSource implements CalendarSource {
  readonly description: string;
  readonly dir: string;
  private stats = { requests: 0, bytes: 0 };

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.description = `vdir ${this.dir}`;
  }

  /** Canonical href of a file name in this directory. */
  hrefOf(name: string): string {
    return canonicalHref(join(this.dir, name).split('/').map(encodeURIComponent).join('/'), 'file:///');
  }

  async info(): Promise<SourceInfo> {
    await this.mustExist();
    try {
      await fsp.access(this.dir, FS.W_OK);
      return { displayName: basename(this.dir), readOnly: false };
    } catch {
      return {
        displayName: basename(this.dir),
        readOnly: true,
        readOnlyReason: `${this.dir} is not writable by this user`,
      };
    }
  }

  async sync(token: string | null, known: ReadonlyMap<string, string | null>): Promise<SyncDelta> {
    if (token === null || token === '') return this.reconcile(known);
    if (!TOKEN.test(token))
      throw new InvalidSyncTokenError(
        `sync token "${token.slice(0, 40)}" is not one of ${this.description}`,
        'the cache is rebuilt from the directory',
      );
    this.takeStats();
    const entries = await this.list(known.size === 0);
    const now = fingerprint(entries);
    if (now === token) return { full: false, changed: [], deleted: [], token: now, stats: this.takeStats() };
    const { changed, deleted } = await this.diff(entries, known);
    return {
      full: false,
      changed,
      deleted,
      token: fingerprint(await this.listIfChanged(entries, changed)),
      stats: this.takeStats(),
    };
  }

  async reconcile(known: ReadonlyMap<string, string | null>): Promise<SyncDelta> {
    this.takeStats();
    const entries = await this.list(known.size === 0);
    const { changed, deleted } = await this.diff(entries, known);
    return {
      full: true,
      changed,
      deleted,
      token: fingerprint(await this.listIfChanged(entries, changed)),
      stats: this.takeStats(),
    };
  }

  async get(href: string): Promise<CalendarObject | null> {
    const name = this.nameOf(href);
    return this.read(name);
  }

  async create(name: string, data: string): Promise<CalendarObject> {
    this.checkName(name);
    await this.mustExist();
    const tmp = await this.writeTemp(name, data);
    try {
      await fsp.link(tmp, join(this.dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new PreconditionFailedError(
          `an event named ${name} already exists in ${this.dir}, nothing was overwritten`,
          'pick another name',
        );
      }
      throw fsError(e, `saving ${name}`);
    } finally {
      await fsp.unlink(tmp).catch(() => undefined);
    }
    return this.mustRead(name);
  }

  async update(href: string, data: string, etag: string): Promise<CalendarObject> {
    const name = this.nameOf(href);
    if (!etag)
      throw new PreconditionFailedError(
        `refusing to overwrite ${name} without knowing its etag`,
        'read the event again first',
      );
    await this.checkEtag(name, etag, 'updating');
    const tmp = await this.writeTemp(name, data);
    try {
      await fsp.rename(tmp, join(this.dir, name));
    } catch (e) {
      await fsp.unlink(tmp).catch(() => undefined);
      throw fsError(e, `updating ${name}`);
    }
    return this.mustRead(name);
  }

  async remove(href: string, etag: string): Promise<void> {
    const name = this.nameOf(href);
    if (!etag)
      throw new PreconditionFailedError(
        `refusing to delete ${name} without knowing its etag`,
        'read the event again first',
      );
    await this.checkEtag(name, etag, 'deleting');
    try {
      await fsp.unlink(join(this.dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw changedError(name, 'deleting');
      throw fsError(e, `deleting ${name}`);
    }
  }

  // ---- internals ----

  private takeStats(): { requests: number; bytes: number } {
    const s = this.stats;
    this.stats = { requests: 0, bytes: 0 };
    return s;
  }

  /** First use (nothing cached yet): create the directory if it is missing. */
  private async ensureDir(): Promise<void> {
    try {
      const created = await fsp.mkdir(this.dir, { recursive: true, mode: 0o755 });
      if (created !== undefined) await fsp.chmod(this.dir, 0o755); // whatever the umask
    } catch (e) {
      throw fsError(e, `creating the calendar directory ${this.dir}`);
    }
  }

  /** The directory must be there: a missing one is unavailable, never an empty calendar. */
  private async mustExist(): Promise<void> {
    let isDir = false;
    try {
      isDir = (await fsp.stat(this.dir)).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR')
        throw fsError(e, `reading the calendar directory ${this.dir}`);
    }
    if (!isDir) {
      throw new CalendarUnavailableError(
        `the calendar directory ${this.dir} is missing`,
        'restore or mount it; until then hosthog shows what it last knew. ' +
          'Removed on purpose? mkdir it again: its events then count as deleted',
      );
    }
  }

  /** Every "*.ics" regular file with its etag (readdir + stat each). */
  private async list(firstUse = false): Promise<Entry[]> {
    if (firstUse) await this.ensureDir();
    else await this.mustExist();
    this.stats.requests++;
    let names: string[];
    try {
      names = (await fsp.readdir(this.dir, { withFileTypes: true }))
        .filter((d) => (d.isFile() || d.isSymbolicLink()) && isEventFile(d.name))
        .map((d) => d.name);
    } catch (e) {
      throw fsError(e, `listing ${this.dir}`);
    }
    const out: Entry[] = [];
    for (const name of names) {
      try {
        const st = await fsp.stat(join(this.dir, name), { bigint: true });
        if (st.isFile()) out.push({ name, etag: etagOf(st) });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, `reading ${name}`);
      }
    }
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  }

  /** Objects whose etag differs from `known`, and known hrefs without a file. */
  private async diff(
    entries: Entry[],
    known: ReadonlyMap<string, string | null>,
  ): Promise<{ changed: CalendarObject[]; deleted: string[] }> {
    const present = new Set<string>();
    const changed: CalendarObject[] = [];
    for (const e of entries) {
      const href = this.hrefOf(e.name);
      present.add(href);
      if (known.has(href) && known.get(href) === e.etag) continue;
      const obj = await this.read(e.name);
      if (obj) changed.push(obj);
      else present.delete(href);
    }
    const deleted = [...known.keys()].filter((h) => !present.has(h));
    return { changed, deleted };
  }

  /** The listing with etags as actually read (a file can change between stat and read). */
  private async listIfChanged(entries: Entry[], read: CalendarObject[]): Promise<Entry[]> {
    const byHref = new Map(read.map((o) => [o.href, o.etag]));
    return entries.map((e) => ({ name: e.name, etag: byHref.get(this.hrefOf(e.name)) ?? e.etag }));
  }

  private async read(name: string): Promise<CalendarObject | null> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(join(this.dir, name), FS.O_RDONLY | FS.O_NOFOLLOW);
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) return null;
      const buf = await fh.readFile();
      this.stats.requests++;
      this.stats.bytes += buf.length;
      return { href: this.hrefOf(name), etag: etagOf(st), data: buf.toString('utf8') };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') return null;
      throw fsError(e, `reading ${name}`);
    } finally {
      await fh?.close();
    }
  }

  private async mustRead(name: string): Promise<CalendarObject> {
    const obj = await this.read(name);
    if (!obj) throw new NotFoundError(`${name} vanished from ${this.dir} right after it was saved`);
    return obj;
  }

  private async checkEtag(name: string, etag: string, what: string): Promise<void> {
    let current: string | null = null;
    try {
      const st = await fsp.lstat(join(this.dir, name), { bigint: true });
      if (st.isFile()) current = etagOf(st);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, `${what} ${name}`);
    }
    if (current !== etag) throw changedError(name, what);
  }

  private async writeTemp(name: string, data: string): Promise<string> {
    const tmp = join(this.dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, 0o644);
      await fh.chmod(0o644);
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } catch (e) {
      await fh?.close().catch(() => undefined);
      fh = undefined;
      await fsp.unlink(tmp).catch(() => undefined);
      throw fsError(e, `saving ${name}`);
    } finally {
      await fh?.close();
    }
    return tmp;
  }

  private checkName(name: string): void {
    if (!isEventFile(name) || name.includes('/') || name.includes('\0')) {
      throw new UsageError(
        `"${name}" is not a valid event file name`,
        'use something like "<uid>.ics" (no "/", not starting with ".")',
      );
    }
  }

  private nameOf(href: string): string {
    const name = hrefName(href);
    this.checkName(name);
    return name;
  }
}

function isEventFile(name: string): boolean {
  return name.endsWith('.ics') && !name.startsWith('.') && name.length > 4;
}

function etagOf(st: { mtimeNs: bigint; size: bigint; ino: bigint }): string {
  return `"${st.mtimeNs}-${st.size}-${st.ino}"`;
}

function fingerprint(entries: Entry[]): string {
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.name}\0${e.etag}\n`);
  return 'vdir:' + h.digest('hex');
}

function changedError(name: string, what: string): PreconditionFailedError {
  return new PreconditionFailedError(
    `${what} ${name} failed: the event changed or vanished since it was read, nothing was overwritten`,
    'read it again and retry',
  );
}

function fsError(e: unknown, what: string): HosthogError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') {
    return new HosthogError(
      `${what} failed: permission denied (${err.code})`,
      'check the owner and mode of [calendar] path',
    );
  }
  return new HosthogError(`${what} failed: ${err.code ?? err.message ?? String(e)}`);
}
