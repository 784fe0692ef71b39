/**
 * The HTTP layer under tsdav: a `fetch` to inject into tsdav's request functions that
 *  - adds Basic auth,
 *  - gives every request a timeout on silence (no bytes for [calendar] timeout; tsdav has none),
 *  - counts requests and bytes (request + response: start line, headers we see, bodies) into
 *    a stats object the source reads and resets per sync step,
 *  - turns failures into hosthog errors: network errors and timeouts, 429, 502/503/504 always
 *    (CalendarUnavailableError, Retry-After honoured), 401 always (AuthError); the rest by
 *    `errorForStatus` where the caller decides (a 500 to sync-collection means "token refused"
 *    on Xandikos, a 403 means "token refused" on Radicale, a 412 on a PUT means "changed").
 */
import {
  AuthError,
  CalendarUnavailableError,
  HosthogError,
  NotFoundError,
  PermissionError,
  PreconditionFailedError,
  ResponseTooLargeError,
} from '../core/errors.js';
import { cleanText } from '../core/sanitize.js';
import { MultistatusReader, type Multistatus, type MsResponse } from './multistatus.js';

export interface HttpStats {
  requests: number;
  bytes: number;
}

export interface HttpOptions {
  /** The calendar collection URL (for messages). */
  url: string;
  username: string;
  password?: string;
  timeoutMs: number;
  /** The fetch to use underneath (tests inject one); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Largest answer read (bytes, body as received); past it the request is cut off. Default 128 MiB. */
  maxResponseBytes?: number;
  /** Largest calendar-data of one event kept from a report (bytes); default 1 MiB. */
  maxEventBytes?: number;
}

/** Defaults that fit 50,000 events of a few kB each in one answer (docs/admin.md). */
export const DEFAULT_MAX_RESPONSE = 128 * 1024 * 1024;
export const DEFAULT_MAX_EVENT = 1024 * 1024;
/**
 * Responses (items) in one multistatus, however small: each costs ~0.7 kB once parsed, so this
 * bounds memory (~175 MB) whatever max_response is. 4× a 50,000-event calendar.
 */
export const MAX_ITEMS = 200_000;

export interface FetcherOptions {
  /** Also throw CalendarUnavailableError for 500 and other 5xx (default true). */
  throw5xx?: boolean;
  /** Called with every response's status and headers (after the body was read). */
  onResponse?: (status: number, headers: Headers) => void;
}

const NULL_BODY = new Set([101, 204, 205, 304]);

export class CalDavHttp {
  readonly stats: HttpStats = { requests: 0, bytes: 0 };
  readonly maxResponse: number;
  readonly maxEvent: number;
  private readonly base: typeof fetch;
  private readonly auth: string | undefined;

  constructor(readonly opts: HttpOptions) {
    this.base = opts.fetch ?? globalThis.fetch;
    this.maxResponse = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE;
    this.maxEvent = opts.maxEventBytes ?? DEFAULT_MAX_EVENT;
    this.auth =
      opts.password !== undefined
        ? 'Basic ' + Buffer.from(`${opts.username}:${opts.password}`, 'utf8').toString('base64')
        : undefined;
  }

  /** Return the counts so far and start again from zero. */
  takeStats(): HttpStats {
    const s = { ...this.stats };
    this.stats.requests = 0;
    this.stats.bytes = 0;
    return s;
  }

  /** A fetch for tsdav (or direct use). The response body is already read (and re-wrapped). */
  fetcher(fo: FetcherOptions = {}): typeof fetch {
    const throw5xx = fo.throw5xx ?? true;
    return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
      const headers = new Headers(init.headers);
      if (this.auth && !headers.has('authorization')) headers.set('authorization', this.auth);
      const method = (init.method ?? 'GET').toUpperCase();
      const silence = new Silence(this.opts.timeoutMs);
      const timeout = silence.signal;
      const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;

      this.stats.requests++;
      this.stats.bytes += method.length + url.length + 12 + headerBytes(headers) + bodyBytes(init.body);

      let res: Response;
      let buf: ArrayBuffer;
      try {
        res = await this.base(url, { ...init, method, headers, signal, redirect: init.redirect ?? 'follow' });
        silence.kick();
        buf = await this.readAll(res, method, silence);
      } catch (e) {
        if (e instanceof HosthogError) throw e;
        throw this.networkError(e, timeout.aborted);
      } finally {
        silence.done();
      }
      this.stats.bytes += 15 + (res.statusText?.length ?? 0) + headerBytes(res.headers) + buf.byteLength;
      fo.onResponse?.(res.status, res.headers);

      this.checkStatus(res, throw5xx);
      return new Response(NULL_BODY.has(res.status) ? null : buf, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    }) as typeof fetch;
  }

  /**
   * A WebDAV request (REPORT, PROPFIND) whose 207 answer streams into a MultistatusReader as it
   * arrives: the answer is never held whole, as text or as an object tree. Same auth, timeout,
   * counting and error rules as fetcher(). Other statuses come back with the body as text.
   */
  async davXml(
    url: string,
    init: { method: string; depth: '0' | '1'; body: string },
    fo: FetcherOptions & {
      what: string;
      /** Responses handed over as they arrive (MultistatusReader's take). */
      take?: (r: MsResponse) => boolean;
      /** Awaited after each chunk (e.g. to store what take collected). */
      drain?: () => Promise<void>;
    },
  ): Promise<{ status: number; headers: Headers; ms: Multistatus | null; text: string }> {
    const throw5xx = fo.throw5xx ?? true;
    const headers = new Headers({ 'content-type': 'application/xml; charset=utf-8', depth: init.depth });
    if (this.auth) headers.set('authorization', this.auth);
    const silence = new Silence(this.opts.timeoutMs);
    const timeout = silence.signal;
    this.stats.requests++;
    this.stats.bytes += init.method.length + url.length + 12 + headerBytes(headers) + bodyBytes(init.body);
    let res: Response;
    let received = 0;
    let ms: Multistatus | null = null;
    let text = '';
    try {
      res = await this.base(url, {
        method: init.method,
        headers,
        body: init.body,
        signal: timeout,
        redirect: 'follow',
      });
      silence.kick();
      if (res.status === 207 && res.body) {
        const reader = new MultistatusReader({ maxData: this.maxEvent, take: fo.take });
        const decoder = new TextDecoder('utf-8');
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          silence.kick();
          received += chunk.byteLength;
          // Leaving the loop cancels the body: the rest of an endless answer is never read.
          if (received > this.maxResponse) throw this.tooLarge(init.method);
          reader.write(decoder.decode(chunk, { stream: true }));
          if (reader.count > MAX_ITEMS) throw this.tooLarge(init.method, `${MAX_ITEMS} items`);
          if (fo.drain) await fo.drain();
        }
        reader.write(decoder.decode());
        ms = reader.end(fo.what);
      } else {
        const buf = await this.readAll(res, init.method, silence);
        received = buf.byteLength;
        text = new TextDecoder().decode(buf);
      }
    } catch (e) {
      if (e instanceof HosthogError) throw e;
      throw this.networkError(e, timeout.aborted);
    } finally {
      silence.done();
    }
    this.stats.bytes += 15 + (res.statusText?.length ?? 0) + headerBytes(res.headers) + received;
    fo.onResponse?.(res.status, res.headers);
    this.checkStatus(res, throw5xx);
    return { status: res.status, headers: res.headers, ms, text };
  }

  /** 401: refused login; 429, 502–504 (and any 5xx when asked): the server is unavailable. */
  private checkStatus(res: Response, throw5xx: boolean): void {
    const st = res.status;
    if (st === 401) throw this.authError();
    if (st === 429 || st === 502 || st === 503 || st === 504 || (throw5xx && st >= 500)) {
      throw this.unavailable(st, res.statusText, res.headers);
    }
  }

  /** The whole body, but never more than maxResponse bytes (ResponseTooLargeError past it). */
  private async readAll(res: Response, method: string, silence: Silence): Promise<ArrayBuffer> {
    if (!res.body) return new ArrayBuffer(0);
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      silence.kick();
      n += chunk.byteLength;
      if (n > this.maxResponse) throw this.tooLarge(method);
      parts.push(chunk);
    }
    const out = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.byteLength;
    }
    return out.buffer;
  }

  tooLarge(method: string, what = mib(this.maxResponse)): ResponseTooLargeError {
    return new ResponseTooLargeError(
      `calendar server at ${origin(this.opts.url)} sent more than ${what} for one ${method}: ` +
        'cut off, the cache is kept',
      'raise [calendar] max_response if the calendar is really that large, else check the server',
    );
  }

  authError(status = 401): AuthError {
    return new AuthError(
      `calendar login failed for ${this.opts.username} at ${this.opts.url} (HTTP ${status})`,
      status === 403
        ? 'this account may not read that calendar: check [calendar] url and username'
        : 'fix the password in [calendar] password_file (for Nextcloud use an app password) ' +
            'or [calendar] username',
    );
  }

  unavailable(status: number, statusText: string, headers: Headers): CalendarUnavailableError {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), Date.now());
    return new CalendarUnavailableError(
      (
        `calendar server at ${origin(this.opts.url)} ` +
        `answered HTTP ${status} ${cleanText(statusText, 60)}`
      ).trim(),
      retryAfterMs !== undefined
        ? `it asked to retry in ${Math.ceil(retryAfterMs / 1000)}s`
        : 'will retry at the next poll',
      retryAfterMs,
    );
  }

  networkError(e: unknown, timedOut: boolean): HosthogError {
    if (e instanceof HosthogError) return e;
    const name = (e as { name?: string })?.name;
    if (timedOut || name === 'TimeoutError') {
      const seconds = Math.round(this.opts.timeoutMs / 100) / 10;
      return new CalendarUnavailableError(
        `calendar server at ${origin(this.opts.url)} did not answer within ${seconds}s ` +
          '(nothing arrived for that long)',
        'raise [calendar] timeout if the server is just slow',
      );
    }
    const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
    const code = cause?.code ?? (e as { code?: string })?.code;
    const detail = code ?? cleanText(cause?.message ?? (e as Error)?.message ?? String(e), 80);
    return new CalendarUnavailableError(
      `cannot reach calendar server at ${origin(this.opts.url)} (${detail})`,
      code === 'ENOTFOUND'
        ? 'check the host name in [calendar] url'
        : 'check that the server is up and the URL is right',
    );
  }

  /**
   * The error for a non-success status of a request, given what it was for. Returns null for
   * 2xx. `what` is a short description ("saving event x.ics").
   */
  errorForStatus(
    status: number,
    statusText: string,
    headers: Headers,
    what: string,
    body = '',
  ): HosthogError | null {
    if (status >= 200 && status < 300) return null;
    const snippet = body ? `: ${cleanText(body.replace(/<[^>]*>/g, ' '), 120)}` : '';
    switch (status) {
      case 401:
        return this.authError(401);
      case 412:
        return new PreconditionFailedError(
          `${what} failed: the event changed on the server (HTTP 412), nothing was overwritten`,
          'read it again and retry',
        );
      case 404:
      case 410:
        return new NotFoundError(`${what} failed: not found on the calendar server (HTTP ${status})`);
      case 403:
        return new PermissionError(
          `${what} failed: the calendar server refused it (HTTP 403)${snippet}`,
          'the calendar may be read-only for this account, or the event too large',
        );
      case 429:
      case 502:
      case 503:
      case 504:
        return this.unavailable(status, statusText, headers);
      default:
        if (status >= 500) return this.unavailable(status, statusText, headers);
        return new HosthogError(
          (
            `${what} failed: calendar server answered HTTP ${status} ` +
            `${cleanText(statusText, 60)}${snippet}`
          ).trim(),
        );
    }
  }
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - nowMs);
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MiB` : `${Math.round(n / 1024)} kB`;
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function headerBytes(h: Headers): number {
  let n = 0;
  h.forEach((v, k) => {
    n += k.length + v.length + 4;
  });
  return n + 2;
}

function bodyBytes(body: unknown): number {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body, 'utf8');
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof URLSearchParams) return Buffer.byteLength(body.toString(), 'utf8');
  return 0;
}

/**
 * The request timeout: it fires after ms of SILENCE (no headers, no body bytes), not after ms
 * in all, so a big calendar that keeps streaming from a slow server is never cut off, while a
 * server that stops sending is. kick() on every chunk restarts the count.
 */
class Silence {
  private readonly ctl = new AbortController();
  private readonly timer: NodeJS.Timeout;
  constructor(ms: number) {
    this.timer = setTimeout(
      () => this.ctl.abort(new DOMException(`no bytes for ${ms} ms`, 'TimeoutError')),
      ms,
    );
  }
  get signal(): AbortSignal {
    return this.ctl.signal;
  }
  kick(): void {
    this.timer.refresh();
  }
  done(): void {
    clearTimeout(this.timer);
  }
}
