/**
 * A small fault-injecting HTTP proxy for tests, in front of a real CalDAV server on loopback.
 * Each request is forwarded as is unless a fault is armed:
 *  - forgetTokens: a sync-collection REPORT is sent on with an EMPTY token and the 404 entries
 *    are taken out of the answer, so it holds every current item as 200 and nothing else: what
 *    DAViCal answers for a token it pruned (shared/notes/davical-notes.md);
 *  - fail: the next n requests get `status` (e.g. 503) without reaching the server;
 *  - truncate: the next n answers are cut off after `bytes` bytes of body (the socket is destroyed);
 *  - stall: the next n requests are never answered (the client's timeout fires).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A multistatus <response> that carries a 404 (any namespace prefix). */
const NOT_FOUND_RESPONSE =
  /<((?:\w+:)?)response>(?:(?!<\/(?:\w+:)?response>)[\s\S])*?404 Not Found[\s\S]*?<\/\1response>/g;

export interface FaultProxy {
  url(targetUrl: string): string;
  forgetTokens: boolean;
  /** The sync-collection token is replaced by one the server never issued (it refuses it). */
  garbleTokens: boolean;
  fail(n: number, status: number): void;
  truncate(n: number, bytes: number): void;
  stall(n: number): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  let fail = { n: 0, status: 503 };
  let trunc = { n: 0, bytes: 0 };
  let stall = 0;
  const sockets = new Set<Socket>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (stall > 0) {
        stall--;
        return;
      }
      if (fail.n > 0) {
        fail.n--;
        res.writeHead(fail.status, { 'content-type': 'text/plain' });
        res.end('injected');
        return;
      }
      const forget = p.forgetTokens && req.method === 'REPORT' && body.includes('sync-collection');
      if (forget) {
        body = Buffer.from(
          body
            .toString('utf8')
            .replace(/<d:sync-token>[^<]*<\/d:sync-token>/, '<d:sync-token></d:sync-token>'),
        );
      } else if (p.garbleTokens && req.method === 'REPORT' && body.includes('sync-collection')) {
        body = Buffer.from(
          body
            .toString('utf8')
            .replace(/<d:sync-token>([^<]+)<\/d:sync-token>/, '<d:sync-token>$1expired</d:sync-token>'),
        );
      }
      const headers = { ...req.headers, host: t.host, 'content-length': String(body.length) };
      delete headers['accept-encoding']; // plain bodies, so answers can be cut or edited
      const up = request(
        { host: t.hostname, port: t.port, method: req.method, path: req.url, headers },
        (ur) => {
          const cut = trunc.n > 0 ? (trunc.n--, trunc.bytes) : -1;
          const h = { ...ur.headers };
          if (forget) {
            // Radicale's initial listing still names deleted items (404); DAViCal's has none.
            const parts: Buffer[] = [];
            ur.on('data', (c: Buffer) => parts.push(c));
            ur.on('end', () => {
              const text = Buffer.concat(parts).toString('utf8').replace(NOT_FOUND_RESPONSE, '');
              delete h['content-length'];
              delete h['transfer-encoding'];
              res.writeHead(ur.statusCode ?? 502, {
                ...h,
                'content-length': String(Buffer.byteLength(text)),
              });
              res.end(text);
            });
            return;
          }
          res.writeHead(ur.statusCode ?? 502, h);
          if (cut < 0) {
            ur.pipe(res);
            return;
          }
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent >= cut) return;
            const part = c.subarray(0, cut - sent);
            sent += part.length;
            res.write(part);
            if (sent >= cut) res.socket?.destroy();
          });
          ur.on('end', () => {
            if (!res.destroyed) res.socket?.destroy();
          });
        },
      );
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  };
  const server: Server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const p: FaultProxy = {
    forgetTokens: false,
    garbleTokens: false,
    url(targetUrl) {
      const u = new URL(targetUrl);
      u.host = `127.0.0.1:${port}`;
      return u.toString();
    },
    fail(n, status) {
      fail = { n, status };
    },
    truncate(n, bytes) {
      trunc = { n, bytes };
    },
    stall(n) {
      stall = n;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
  return p;
}
