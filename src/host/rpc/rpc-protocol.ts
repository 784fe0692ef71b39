/**
 * The bridge's unix-socket protocol: newline-delimited JSON frames, one JSON object per line.
 *
 *   client → server  {"type":"hello","v":1,"uid":1001}
 *   server → client  {"type":"challenge","path":"<runDir>/challenges/<64 hex>"}
 *   client → server  {"type":"proof","nonce":"<64 hex read from that file>"}
 *   server → client  {"type":"welcome","user":"alice","uid":1001}
 *   client → server  {"type":"request","method":"claim","params":{…}}      (any number, one at a time)
 *   server → client  {"type":"response","ok":true,"result":…}
 *                  | {"type":"response","ok":false,"error":{…}}
 *
 * A failed handshake is answered with an error response and the connection is closed.
 * Why this proves who the caller is: see src/host/rpc/peer-identity.ts.
 */

export interface RpcRequest {
  method: string;
  params: Record<string, unknown>;
}
export interface Caller {
  uid: number;
  gid: number;
  user: string;
  groups: string[];
}
export interface RpcErrorBody {
  type: string;
  message: string;
  hint?: string;
  exitCode: number;
}
export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: RpcErrorBody };

export const PROTOCOL_VERSION = 1;
/** Largest frame either side accepts (bytes, without the newline). */
export const MAX_FRAME_BYTES = 256 * 1024;
/** The challenge file's name and its content: 32 random bytes as lowercase hex. */
export const NONCE_HEX = /^[0-9a-f]{64}$/;
export const CHALLENGE_DIR_NAME = 'challenges';

export type ClientFrame =
  | { type: 'hello'; v: number; uid: number }
  | { type: 'proof'; nonce: string }
  | { type: 'request'; method: string; params: Record<string, unknown> };

export type ServerFrame =
  | { type: 'challenge'; path: string }
  | { type: 'welcome'; user: string; uid: number }
  | ({ type: 'response' } & RpcResponse);

export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame) + '\n';
}

/** A uid the kernel can own a file with: 0 … 2^32-2 (2^32-1 is chown's "leave unchanged"). */
export function isValidUid(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < 0xffffffff;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parse and shape-check one client frame; undefined when it is not a valid frame. */
export function parseClientFrame(line: string): ClientFrame | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isPlainObject(v)) return undefined;
  switch (v.type) {
    case 'hello':
      return typeof v.v === 'number' && isValidUid(v.uid) ? { type: 'hello', v: v.v, uid: v.uid } : undefined;
    case 'proof':
      return typeof v.nonce === 'string' ? { type: 'proof', nonce: v.nonce } : undefined;
    case 'request': {
      if (typeof v.method !== 'string' || v.method.length === 0 || v.method.length > 100) return undefined;
      const params = v.params === undefined ? {} : v.params;
      if (!isPlainObject(params)) return undefined;
      return { type: 'request', method: v.method, params };
    }
    default:
      return undefined;
  }
}

/** Parse and shape-check one server frame; undefined when it is not a valid frame. */
export function parseServerFrame(line: string): ServerFrame | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isPlainObject(v)) return undefined;
  switch (v.type) {
    case 'challenge':
      return typeof v.path === 'string' ? { type: 'challenge', path: v.path } : undefined;
    case 'welcome':
      return typeof v.user === 'string' && isValidUid(v.uid)
        ? { type: 'welcome', user: v.user, uid: v.uid }
        : undefined;
    case 'response':
      if (v.ok === true) return { type: 'response', ok: true, result: v.result };
      if (
        v.ok === false &&
        isPlainObject(v.error) &&
        typeof v.error.type === 'string' &&
        typeof v.error.message === 'string'
      ) {
        const e = v.error;
        return {
          type: 'response',
          ok: false,
          error: {
            type: e.type as string,
            message: e.message as string,
            hint: typeof e.hint === 'string' ? e.hint : undefined,
            exitCode:
              typeof e.exitCode === 'number' &&
              Number.isInteger(e.exitCode) &&
              e.exitCode > 0 &&
              e.exitCode < 256
                ? e.exitCode
                : 70,
          },
        };
      }
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Splits a byte stream into lines. Refuses (returns 'too-large') once a line grows past the
 * limit, so a client that never sends a newline cannot make the other side buffer without end.
 */
export class FrameReader {
  private buf: Buffer[] = [];
  private size = 0;
  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): string[] | 'too-large' {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const part = chunk.subarray(start, nl);
      if (this.size + part.length > this.maxBytes) return 'too-large';
      this.buf.push(part);
      lines.push(Buffer.concat(this.buf).toString('utf8'));
      this.buf = [];
      this.size = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length) {
      if (this.size + rest.length > this.maxBytes) return 'too-large';
      this.buf.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return lines;
  }
}
