/**
 * The bridge's unix-socket RPC server. Runs as root. Anyone may connect (socket mode 0666);
 * who the caller is comes only from the file-ownership proof in peer-identity.ts, never from
 * the request. Every connection: hello → challenge → proof → welcome → requests, one at a time.
 * A misbehaving client only ever loses its own connection.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HosthogError, PermissionError, UsageError } from '../../core/errors.js';
import {
  encodeFrame,
  FrameReader,
  MAX_FRAME_BYTES,
  parseClientFrame,
  PROTOCOL_VERSION,
  type Caller,
  type RpcErrorBody,
  type RpcRequest,
  type ServerFrame,
} from './rpc-protocol.js';
import {
  assertRootOwnedChain,
  callerFor,
  createChallenge,
  lookupUid,
  prepareChallengeDir,
  proofMatches,
  removeChallenge,
  type Challenge,
} from './peer-identity.js';

export interface RpcLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface RpcServerOptions {
  socketPath: string;
  /** Root-owned directory (it and its ancestors not writable by others); holds challenges/. */
  runDir: string;
  handler: (caller: Caller, req: RpcRequest) => Promise<unknown>;
  log?: RpcLog;
  /** From connect to a proven identity (default 5 s). */
  handshakeTimeoutMs?: number;
  /** A proven connection with no request in flight is closed after this (default 120 s). */
  idleTimeoutMs?: number;
  /**
   * Connections not yet proven (default 64; outstanding challenges are capped at the same).
   * One more arriving closes the OLDEST unproven one, so nobody keeps a slot by stalling.
   */
  maxConnections?: number;
  /** Proven connections of one uid (default 16); root and admins are not capped. */
  maxPerUid?: number;
  /**
   * Proven connections in all (default 128), of which `reserved` (default 16) only root and admins
   * may use.
   */
  maxProven?: number;
  reserved?: number;
  /** Root and admins (default: uid 0): not capped per uid, may use the reserved capacity. */
  privileged?: (caller: Caller) => boolean;
  maxFrameBytes?: number;
}

export interface RpcServer {
  close(): Promise<void>;
}

const SILENT: RpcLog = { info() {}, warn() {} };
const VERSION_HINT = 'update the hosthog CLI and bridge to the same version';

function errorBody(err: unknown): RpcErrorBody | undefined {
  if (err instanceof HosthogError) {
    return {
      type: err.name,
      message: err.message,
      ...(err.hint ? { hint: err.hint } : {}),
      exitCode: err.exitCode,
    };
  }
  return undefined;
}

/** Is a bridge answering on this socket? true / false (refused or gone) / throws on other trouble. */
function probe(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((res, rej) => {
    const s = createConnection(socketPath);
    const t = setTimeout(() => {
      s.destroy();
      rej(new Error('timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      res(true);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') res(false);
      else rej(e);
    });
  });
}

async function ensureSocketDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: 0o755 });
    await fsp.chown(dir, 0, 0);
    await fsp.chmod(dir, 0o755);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      await fsp.mkdir(dirname(dir), { recursive: true, mode: 0o755 });
      return ensureSocketDir(dir);
    }
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

async function removeStaleSocket(socketPath: string, log: RpcLog): Promise<void> {
  let st;
  try {
    st = await fsp.lstat(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) {
    throw new HosthogError(
      `cannot start the bridge: ${socketPath} exists and is not a socket`,
      'remove it or set [bridge] socket to another path',
    );
  }
  let live: boolean;
  try {
    live = await probe(socketPath);
  } catch (e) {
    throw new HosthogError(
      `cannot start the bridge: something holds ${socketPath} but does not answer (${(e as Error).message})`,
      'stop the other hosthog bridge first: systemctl stop hosthog-bridge',
    );
  }
  if (live) {
    throw new HosthogError(
      `another hosthog bridge is already running on this host (socket ${socketPath})`,
      'stop it first: systemctl stop hosthog-bridge',
    );
  }
  await fsp.unlink(socketPath);
  log.info({ socket: socketPath }, 'removed a stale bridge socket');
}

export async function startRpcServer(opts: RpcServerOptions): Promise<RpcServer> {
  const log = opts.log ?? SILENT;
  const handshakeMs = opts.handshakeTimeoutMs ?? 5_000;
  const maxPerUid = opts.maxPerUid ?? 16;
  const maxProven = opts.maxProven ?? 128;
  const reserved = Math.min(opts.reserved ?? 16, maxProven);
  const privileged = opts.privileged ?? ((c: Caller) => c.uid === 0);
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  const maxConn = opts.maxConnections ?? 64;
  const maxFrame = opts.maxFrameBytes ?? MAX_FRAME_BYTES;
  const socketPath = resolve(opts.socketPath);

  if (process.getuid?.() !== 0) {
    throw new PermissionError(
      'the bridge must run as root to verify who calls it',
      'run it as root: systemctl start hosthog-bridge',
    );
  }
  const socketDir = dirname(socketPath);
  await ensureSocketDir(socketDir);
  await assertRootOwnedChain(socketDir).catch((e) => {
    throw new HosthogError(
      `cannot start the bridge: the socket directory is not safe: ${(e as Error).message}`,
      'make it root-owned and not writable by others (mode 0755)',
    );
  });
  await removeStaleSocket(socketPath, log);
  const challengeDir = await prepareChallengeDir(opts.runDir).catch((e) => {
    throw new HosthogError(
      `cannot start the bridge: the run directory ${opts.runDir} is not safe: ${(e as Error).message}`,
      'make it and its parents root-owned and not writable by others',
    );
  });

  const sockets = new Set<Socket>();
  const pending = new Set<Promise<void>>();
  const challenges = new Set<string>();
  /** Connections not yet proven, oldest first; and proven ones per uid (unprivileged only). */
  const unproven = new Set<Socket>();
  const evictors = new Map<Socket, () => void>();
  const provenByUid = new Map<number, number>();
  let provenPlain = 0;
  const track = (p: Promise<void>) => {
    pending.add(p);
    p.finally(() => pending.delete(p)).catch(() => undefined);
  };

  const server: Server = createServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket);
    unproven.add(socket);
    if (unproven.size > maxConn) {
      const oldest = unproven.values().next().value as Socket;
      log.warn(
        { unproven: unproven.size },
        'too many bridge clients not proving who they are: closing the oldest',
      );
      evictors.get(oldest)?.();
    }
    let counted: number | undefined;
    let state: 'hello' | 'challenging' | 'proof' | 'verifying' | 'ready' | 'busy' | 'closed' = 'hello';
    let challenge: Challenge | undefined;
    let caller: Caller | undefined;
    let claimed: number | undefined;
    const reader = new FrameReader(maxFrame);

    const dropChallenge = async (): Promise<void> => {
      const ch = challenge;
      challenge = undefined;
      if (!ch) return;
      try {
        await removeChallenge(ch.path);
      } catch (e) {
        log.warn({ err: (e as Error).message, path: ch.path }, 'could not remove a challenge file');
      }
      challenges.delete(ch.path);
    };
    const send = (f: ServerFrame) => {
      if (state !== 'closed' && socket.writable) socket.write(encodeFrame(f));
    };
    /** Answer with an error and hang up. The challenge (if any) is gone before the client sees the close. */
    const fail = (body: RpcErrorBody) => {
      if (state === 'closed') return;
      state = 'closed';
      track(
        dropChallenge().then(() => {
          if (socket.writable) socket.write(encodeFrame({ type: 'response', ok: false, error: body }));
          socket.end();
          setTimeout(() => socket.destroy(), 1000).unref();
        }),
      );
    };
    const failWith = (err: HosthogError) => fail(errorBody(err)!);

    let timer = setTimeout(() => {
      log.warn({ uid: claimed }, 'bridge client did not prove who it is in time');
      failWith(
        new PermissionError(
          `timed out proving who you are to the bridge (${Math.round(handshakeMs / 1000)} s)`,
          'try again; if it persists, check the bridge log',
        ),
      );
    }, handshakeMs);
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state = 'closed';
        socket.destroy();
      }, idleMs);
    };

    socket.on('error', () => {
      /* reset by peer and the like: 'close' follows */
    });
    const busy = () =>
      new PermissionError('the bridge is busy with other callers', 'try again in a few seconds');
    evictors.set(socket, () => failWith(busy()));
    socket.on('close', () => {
      state = 'closed';
      clearTimeout(timer);
      sockets.delete(socket);
      unproven.delete(socket);
      evictors.delete(socket);
      if (counted !== undefined) {
        const n = (provenByUid.get(counted) ?? 1) - 1;
        if (n > 0) provenByUid.set(counted, n);
        else provenByUid.delete(counted);
        provenPlain--;
        counted = undefined;
      }
      track(dropChallenge());
    });

    const onHello = async (uid: number, v: number) => {
      if (v !== PROTOCOL_VERSION)
        return failWith(
          new UsageError(`the bridge speaks protocol ${PROTOCOL_VERSION}, the client ${v}`, VERSION_HINT),
        );
      claimed = uid;
      state = 'challenging';
      const account = await lookupUid(uid);
      if (state !== 'challenging') return;
      if (!account) return failWith(new PermissionError(`uid ${uid} has no account on this host`));
      if (challenges.size >= maxConn)
        return failWith(
          new PermissionError('the bridge is busy proving other callers', 'try again in a few seconds'),
        );
      const ch = await createChallenge(challengeDir, uid);
      challenges.add(ch.path);
      challenge = ch;
      if (state !== 'challenging') {
        track(dropChallenge());
        return;
      }
      state = 'proof';
      send({ type: 'challenge', path: ch.path });
    };

    const onProof = async (nonce: string) => {
      const ch = challenge!;
      state = 'verifying';
      await dropChallenge(); // single use, right or wrong
      if (!proofMatches(ch, nonce)) {
        log.warn({ uid: ch.uid }, 'bridge client failed to prove its uid');
        return failWith(
          new PermissionError(
            `could not prove that you are uid ${ch.uid}: wrong answer to the bridge's challenge`,
          ),
        );
      }
      const c = await callerFor(ch.uid);
      if (state !== 'verifying') return;
      if (!c) return failWith(new PermissionError(`uid ${ch.uid} has no account on this host`));
      unproven.delete(socket);
      evictors.delete(socket);
      // One user's idle connections never take the slots others (and root) need.
      if (!privileged(c)) {
        const mine = provenByUid.get(c.uid) ?? 0;
        if (mine >= maxPerUid) {
          log.warn({ uid: c.uid, connections: mine }, 'a user holds too many bridge connections');
          return failWith(
            new PermissionError(
              `you already have ${mine} connections open to the bridge, the most one user may`,
              'close the other hosthog commands first',
            ),
          );
        }
        if (provenPlain >= maxProven - reserved) {
          return failWith(busy());
        }
        provenByUid.set(c.uid, mine + 1);
        provenPlain++;
        counted = c.uid;
      }
      caller = c;
      state = 'ready';
      idle();
      send({ type: 'welcome', user: c.user, uid: c.uid });
    };

    const onRequest = async (req: RpcRequest) => {
      state = 'busy';
      clearTimeout(timer);
      let frame: ServerFrame;
      try {
        frame = { type: 'response', ok: true, result: await opts.handler(caller!, req) };
      } catch (err) {
        const body = errorBody(err);
        if (!body)
          log.warn(
            { err: err instanceof Error ? err.stack : String(err), method: req.method, user: caller!.user },
            'bridge request failed',
          );
        frame = {
          type: 'response',
          ok: false,
          error: body ?? {
            type: 'InternalError',
            message: `the bridge failed on "${req.method.slice(0, 40)}": internal error`,
            hint: 'see the bridge log: journalctl -u hosthog-bridge',
            exitCode: 70,
          },
        };
      }
      if (state !== 'busy') return;
      state = 'ready';
      try {
        send(frame);
      } catch (e) {
        send({
          type: 'response',
          ok: false,
          error: {
            type: 'InternalError',
            message: `the bridge could not send its answer: ${(e as Error).message}`,
            exitCode: 70,
          },
        });
      }
      idle();
    };

    const onFrame = (line: string) => {
      const f = parseClientFrame(line);
      const bad = (what: string) =>
        failWith(new UsageError(`the bridge could not read the request: ${what}`, VERSION_HINT));
      if (!f) return bad('not a valid frame');
      const guard = (p: Promise<void>) =>
        track(
          p.catch((e) => {
            log.warn({ err: e instanceof Error ? e.stack : String(e) }, 'bridge handshake failed');
            fail({
              type: 'InternalError',
              message: 'the bridge could not check who you are',
              hint: 'see the bridge log: journalctl -u hosthog-bridge',
              exitCode: 70,
            });
          }),
        );
      if (state === 'hello' && f.type === 'hello') return guard(onHello(f.uid, f.v));
      if (state === 'proof' && f.type === 'proof') return guard(onProof(f.nonce));
      if (state === 'ready' && f.type === 'request')
        return guard(onRequest({ method: f.method, params: f.params }));
      return bad(`unexpected "${f.type}" frame`);
    };

    socket.on('data', (chunk: Buffer) => {
      if (state === 'closed') return;
      const lines = reader.push(chunk);
      if (lines === 'too-large')
        return failWith(
          new UsageError(`the bridge could not read the request: a frame is larger than ${maxFrame} bytes`),
        );
      for (const line of lines) {
        if ((state as string) === 'closed') return; // onFrame may have closed it
        onFrame(line);
      }
    });
  });
  // A hard ceiling on descriptors only; who gets in is decided above (unproven eviction,
  // per-uid and reserved capacity), so a full server answers instead of resetting.
  server.maxConnections = maxConn + maxProven + 16;

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(socketPath, () => {
      server.off('error', rej);
      res();
    });
  });
  server.on('error', (e) => log.warn({ err: e.message }, 'bridge socket error'));
  await fsp.chmod(socketPath, 0o666);
  const ours = await fsp.lstat(socketPath);
  log.info({ socket: socketPath, challenges: challengeDir }, 'bridge RPC listening');

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((res) => server.close(() => res()));
        for (const s of sockets) s.destroy();
        await closed;
        while (pending.size) await Promise.allSettled([...pending]);
        for (const p of challenges) await removeChallenge(p).catch(() => undefined);
        challenges.clear();
        // Unlink the socket only if it is still ours (not a newer bridge's).
        try {
          const st = await fsp.lstat(socketPath);
          if (st.ino === ours.ino && st.dev === ours.dev) await fsp.unlink(socketPath);
        } catch {
          /* already gone */
        }
      })();
      return closing;
    },
  };
}
