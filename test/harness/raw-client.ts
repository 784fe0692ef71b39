/**
 * A raw client of the bridge's socket, as an attacker would write one: it speaks the frames
 * itself (no CLI checks) and, running as root in the tests, answers the challenge for any uid
 * by reading the root-readable challenge file. Used to send requests "straight to the socket".
 */
import { createConnection, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import {
  encodeFrame,
  FrameReader,
  parseServerFrame,
  PROTOCOL_VERSION,
  type ServerFrame,
} from '../../src/host/rpc/rpc-protocol.js';

export interface RawConn {
  socket: Socket;
  /** The welcome (proven), or the error that ended the handshake. */
  state: 'welcome' | 'error';
  error?: { type: string; message: string; hint?: string };
  call(
    method: string,
    params?: Record<string, unknown>,
  ): Promise<
    { ok: true; result: unknown } | { ok: false; error: { type: string; message: string; hint?: string } }
  >;
  close(): void;
}

/** Connect as `uid` and prove it; resolves once welcomed or refused. */
export function connectAs(socketPath: string, uid: number, timeoutMs = 15_000): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const reader = new FrameReader(32 << 20);
    let waiting: ((f: ServerFrame) => void) | null = null;
    let done = false;
    const timer = setTimeout(() => {
      if (!done) {
        done = true;
        socket.destroy();
        reject(new Error('raw client: no welcome in time'));
      }
    }, timeoutMs);
    const conn: RawConn = {
      socket,
      state: 'error',
      call(method, params = {}) {
        return new Promise((res, rej) => {
          waiting = (f) => {
            if (f.type === 'response')
              res(f.ok ? { ok: true, result: f.result } : { ok: false, error: f.error });
          };
          socket.once('close', () => rej(new Error(`connection closed during ${method}`)));
          socket.write(encodeFrame({ type: 'request', method, params }));
        });
      },
      close() {
        socket.destroy();
      },
    };
    const finish = () => {
      done = true;
      clearTimeout(timer);
      resolve(conn);
    };
    socket.on('error', (e) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    socket.on('close', () => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        conn.state = 'error';
        conn.error ??= { type: 'closed', message: 'closed' };
        resolve(conn);
      }
    });
    socket.once('connect', () => socket.write(encodeFrame({ type: 'hello', v: PROTOCOL_VERSION, uid })));
    socket.on('data', (chunk: Buffer) => {
      const lines = reader.push(chunk);
      if (lines === 'too-large') return;
      for (const line of lines) {
        const f = parseServerFrame(line);
        if (!f) continue;
        if (done) {
          waiting?.(f);
          continue;
        }
        if (f.type === 'challenge')
          socket.write(encodeFrame({ type: 'proof', nonce: readFileSync(f.path, 'ascii') }));
        else if (f.type === 'welcome') {
          conn.state = 'welcome';
          finish();
        } else if (f.type === 'response' && !f.ok) {
          conn.error = f.error;
          finish();
        }
      }
    });
  });
}

/** One request as `uid`, straight to the socket. */
export async function rawCall(
  socketPath: string,
  uid: number,
  method: string,
  params: Record<string, unknown> = {},
) {
  const c = await connectAs(socketPath, uid);
  if (c.state !== 'welcome') {
    c.close();
    return { ok: false as const, error: c.error! };
  }
  try {
    return await c.call(method, params);
  } finally {
    c.close();
  }
}
