/**
 * A streaming reader for WebDAV multistatus answers (RFC 4918 §13, RFC 6578 sync-collection,
 * RFC 4791 calendar-multiget / calendar-query), on saxes (a namespace-aware, conformant,
 * pure-JS SAX parser).
 *
 * Why not tsdav's parser: tsdav turns the whole answer into an xml-js object tree. For a
 * 5,000-event calendar that took 1.4 s for the 1 MB etag listing alone and built tens of MB of
 * short-lived objects (the bridge's resident set follows its peak). Here the answer is fed in
 * chunks as it arrives and only what hosthog uses is kept: per response the href(s), its
 * status, and from 2xx propstats getetag and calendar-data; the multistatus sync-token.
 * Elements are matched by namespace URI + local name, so any prefix (d:, D:, default) works.
 */
import { SaxesParser } from 'saxes';
import { CalendarUnavailableError } from '../core/errors.js';

const DAV = 'DAV:';
const CALDAV = 'urn:ietf:params:xml:ns:caldav';

export interface MsResponse {
  /** Raw hrefs as the server wrote them (a response may list several). */
  hrefs: string[];
  /** Response-level status (e.g. 404 in a sync-collection); null when it has propstats. */
  status: number | null;
  /** From 2xx propstats only. */
  etag: string | null;
  calendarData: string | null;
  /** Set (to its size in UTF-16 units, at least) when calendar-data was over the limit and dropped. */
  dataTooLarge?: number;
  /** True when a propstat carried a 2xx status (the properties above are from it). */
  hasOkProps: boolean;
}

export interface Multistatus {
  responses: MsResponse[];
  /** The <sync-token> child of <multistatus> (RFC 6578), if any. */
  syncToken: string | null;
}

type Field = 'href' | 'status' | 'pstatus' | 'etag' | 'data' | 'token' | null;

/** Parse a multistatus answer fed with write(); finish with end(). */
export class MultistatusReader {
  private readonly parser = new SaxesParser({ xmlns: true, position: false });
  private readonly responses: MsResponse[] = [];
  private syncToken: string | null = null;
  private depth = 0;
  private sawRoot = false;
  /** Element path as ns|local, to know where text belongs. */
  private readonly path: string[] = [];
  private cur: MsResponse | null = null;
  private ps: { status: number | null; etag: string | null; data: string | null } | null = null;
  private field: Field = null;
  private text = '';
  private error: Error | null = null;

  /** calendar-data longer than this (UTF-16 units) is dropped while it streams in, never held. */
  private readonly maxData: number;
  private dropped = 0;

  /** Responses handed to opts.take as they closed (not kept). */
  private taken = 0;
  private readonly take?: (r: MsResponse) => boolean;

  /**
   * opts.take: called with each response as soon as it is complete; returning true hands it
   * over (it is not kept in the result), so a big answer can be stored while it streams.
   */
  constructor(opts: { maxData?: number; take?: (r: MsResponse) => boolean } = {}) {
    this.maxData = opts.maxData ?? Infinity;
    this.take = opts.take;
    const p = this.parser;
    p.on('opentag', (t) => {
      const key = `${t.uri}|${t.local}`;
      this.path.push(key);
      this.depth++;
      if (this.depth === 1) {
        if (key !== `${DAV}|multistatus`) throw new Error(`answer is <${t.name}>, not a multistatus`);
        this.sawRoot = true;
        return;
      }
      const parent = this.path[this.path.length - 2];
      if (this.depth === 2 && key === `${DAV}|response`) {
        this.cur = { hrefs: [], status: null, etag: null, calendarData: null, hasOkProps: false };
      } else if (this.depth === 2 && key === `${DAV}|sync-token`) {
        this.begin('token');
      } else if (this.cur && parent === `${DAV}|response`) {
        if (key === `${DAV}|href`) this.begin('href');
        else if (key === `${DAV}|status`) this.begin('status');
        else if (key === `${DAV}|propstat`) this.ps = { status: null, etag: null, data: null };
      } else if (this.ps && parent === `${DAV}|propstat` && key === `${DAV}|status`) {
        this.begin('pstatus');
      } else if (this.ps && parent === `${DAV}|prop`) {
        if (key === `${DAV}|getetag`) this.begin('etag');
        else if (key === `${CALDAV}|calendar-data`) this.begin('data');
      }
    });
    const add = (s: string) => {
      if (!this.field) return;
      if (this.field === 'data' && (this.dropped || this.text.length + s.length > this.maxData)) {
        this.dropped = (this.dropped || this.text.length) + s.length;
        this.text = '';
        return;
      }
      this.text += s;
    };
    p.on('text', add);
    p.on('cdata', add);
    p.on('closetag', () => {
      const key = this.path.pop();
      this.depth--;
      if (this.field && this.depth === this.fieldDepth) this.finish();
      if (key === `${DAV}|propstat` && this.ps && this.cur) {
        if (this.ps.status !== null && this.ps.status >= 200 && this.ps.status < 300) {
          this.cur.hasOkProps = true;
          if (this.ps.etag !== null) this.cur.etag = this.ps.etag;
          if (this.ps.data !== null) this.cur.calendarData = this.ps.data;
        }
        this.ps = null;
      } else if (key === `${DAV}|response` && this.depth === 1 && this.cur) {
        if (this.take?.(this.cur)) this.taken++;
        else this.responses.push(this.cur);
        this.cur = null;
      }
    });
    p.on('error', (e) => {
      this.error ??= e;
    });
  }

  private fieldDepth = 0;

  private begin(f: Field): void {
    this.field = f;
    this.fieldDepth = this.depth - 1;
    this.text = '';
  }

  private finish(): void {
    // A copy, not a slice: V8 keeps substrings as views into the parser's input chunk, so one
    // kept etag would pin a whole 64 kB chunk of the answer in memory.
    const v = own(this.text);
    switch (this.field) {
      case 'href':
        this.cur?.hrefs.push(own(v.trim()));
        break;
      case 'status':
        if (this.cur) this.cur.status = statusCode(v);
        break;
      case 'pstatus':
        if (this.ps) this.ps.status = statusCode(v);
        break;
      case 'etag':
        if (this.ps) this.ps.etag = own(v.trim()) || null;
        break;
      // XML parsers turn CRLF into LF (XML 1.0 §2.11); iCalendar lines end in CRLF.
      case 'data':
        if (this.dropped) {
          if (this.cur) this.cur.dataTooLarge = this.dropped;
          this.dropped = 0;
          break;
        }
        if (this.ps) this.ps.data = v.replace(/\r?\n/g, '\r\n');
        break;
      case 'token':
        this.syncToken = own(v.trim()) || null;
        break;
    }
    this.field = null;
    this.text = '';
  }

  /** A possibly cut character reference ("&#1", "&#x") held back from the previous chunk. */
  private tail = '';

  write(chunk: string): void {
    if (this.error) return;
    let text = this.tail + chunk;
    this.tail = '';
    const amp = text.lastIndexOf('&');
    if (amp >= 0 && amp > text.length - 12 && !text.includes(';', amp)) {
      this.tail = text.slice(amp);
      text = text.slice(0, amp);
    }
    try {
      this.parser.write(tolerant(text));
    } catch (e) {
      this.error ??= e as Error;
    }
  }

  /** Responses read so far (the caller caps them: each costs memory however short it is). */
  get count(): number {
    return this.responses.length + this.taken;
  }

  /** The parsed answer; throws CalendarUnavailableError when it was not a readable multistatus. */
  end(what: string): Multistatus {
    if (this.tail && !this.error) {
      const t = this.tail;
      this.tail = '';
      try {
        this.parser.write(tolerant(t));
      } catch (e) {
        this.error = e as Error;
      }
    }
    if (!this.error) {
      try {
        this.parser.close();
      } catch (e) {
        this.error = e as Error;
      }
    }
    if (this.error || !this.sawRoot) {
      const why = this.error ? this.error.message.split('\n')[0].slice(0, 120) : 'empty answer';
      throw new CalendarUnavailableError(
        `${what}: the calendar server's answer is not readable WebDAV XML (${why})`,
        'check that [calendar] url points at a CalDAV calendar',
      );
    }
    return { responses: this.responses, syncToken: this.syncToken };
  }
}

/** Parse a whole multistatus text at once (small answers, tests). */
export function parseMultistatus(xml: string, what = 'reading the answer'): Multistatus {
  const r = new MultistatusReader();
  r.write(xml);
  return r.end(what);
}

/**
 * Characters XML 1.0 forbids (C0 controls other than tab/LF/CR, U+FFFE/U+FFFF, surrogates),
 * raw or as character references, become U+FFFD. Servers send them as they were stored: a
 * DESCRIPTION pasted from a spreadsheet with a vertical tab is enough. A strict parser would
 * refuse the whole answer, and one such event would stop every sync.
 */
const BAD_RAW = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
const CHAR_REF = /&#(x[0-9A-Fa-f]+|[0-9]+);/g;
function tolerant(s: string): string {
  let out = s.replace(BAD_RAW, '\uFFFD');
  if (out.includes('&#')) {
    out = out.replace(CHAR_REF, (ref, n: string) => {
      const cp = n[0] === 'x' || n[0] === 'X' ? parseInt(n.slice(1), 16) : parseInt(n, 10);
      const ok =
        cp === 0x9 ||
        cp === 0xa ||
        cp === 0xd ||
        (cp >= 0x20 && cp <= 0xd7ff) ||
        (cp >= 0xe000 && cp <= 0xfffd) ||
        (cp >= 0x10000 && cp <= 0x10ffff);
      return ok ? ref : '&#xFFFD;';
    });
  }
  return out;
}

/** A flat copy of s that shares no storage with the string it came from. */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

function statusCode(line: string): number | null {
  const m = /^\s*HTTP\/\d(?:\.\d)?\s+(\d{3})/i.exec(line);
  return m ? Number(m[1]) : null;
}
