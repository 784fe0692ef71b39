/**
 * The CLI's side of the bridge socket: connect, prove our uid (peer-identity.ts), send one
 * request, return its result. Error answers come back as the matching HosthogError subclass,
 * so the CLI prints one line and exits with that class's code.
 */
import { createConnection } from 'node:net';
import * as errors from '../../core/errors.js';
import { BridgeUnavailableError, HosthogError } from '../../core/errors.js';
import { cleanText } from '../../core/sanitize.js';
import { readChallenge } from './peer-identity.js';
import {
  encodeFrame,
  FrameReader,
  parseServerFrame,
  PROTOCOL_VERSION,
  type RpcErrorBody,
  type RpcRequest,
  type ServerFrame,
} from './rpc-protocol.js';

export interface CallOptions {
  timeoutMs?: number;
  /**
   * The uid to claim (default: our own). Only for tests showing that a claim we cannot prove
   * is refused: the server never trusts this number, it checks the proof.
   */
  claimUid?: number;
}

const START_HINT =
  'start it: systemctl start hosthog-bridge, or use --calendar URL to talk to the calendar directly';

/** An error type this CLI does not know (a newer bridge): keep its message and exit code. */
class RemoteBridgeError extends HosthogError {
  override readonly exitCode: number;
  constructor(type: string, message: string, hint: string | undefined, exitCode: number) {
    super(message, hint);
    this.exitCode = exitCode;
    this.name = /^[A-Za-z]{1,60}$/.test(type) ? type : 'RemoteBridgeError';
  }
}

function clean(s: string): string {
  return s
    .split('\n')
    .map((l) => cleanText(l, 500))
    .filter(Boolean)
    .join('\n  ');
}

/** Rebuild the server's error as the class of the same name. */
export function errorFromBody(body: RpcErrorBody): HosthogError {
  const message = clean(body.message) || 'the bridge refused the request';
  const hint = body.hint === undefined ? undefined : clean(body.hint) || undefined;
  const cls = (errors as Record<string, unknown>)[body.type];
  if (cls === errors.ConfigError)
    return new errors.ConfigError(
      message.split('\n  ').filter((l) => !/^\d+ configuration problems:$/.test(l)),
      hint,
    );
  if (typeof cls === 'function' && (cls === HosthogError || cls.prototype instanceof HosthogError)) {
    const e = new (cls as new (m: string, h?: string) => HosthogError)(message, hint);
    if (e.exitCode === body.exitCode) return e;
  }
  return new RemoteBridgeError(body.type, message, hint, body.exitCode);
}

export async function callBridge(
  socketPath: string,
  req: RpcRequest,
  opts: CallOptions = {},
): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const uid = opts.claimUid ?? process.getuid?.();
  if (uid === undefined)
    throw new BridgeUnavailableError('the hosthog bridge is only reachable on a unix host', START_HINT);

  return new Promise<unknown>((resolve, reject) => {
    const socket = createConnection(socketPath);
    const reader = new FrameReader(32 * 1024 * 1024); // answers may be long listings
    let step: 'challenge' | 'welcome' | 'response' | 'done' = 'challenge';
    const finish = (err: unknown, value?: unknown) => {
      if (step === 'done') return;
      step = 'done';
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () =>
        finish(
          new BridgeUnavailableError(
            `the hosthog bridge did not answer within ${Math.round(timeoutMs / 1000)} s ` +
              `(socket ${socketPath})`,
            'check it: systemctl status hosthog-bridge; journalctl -u hosthog-bridge',
          ),
        ),
      timeoutMs,
    );
    const send = (f: Parameters<typeof encodeFrame>[0]) => socket.write(encodeFrame(f));

    socket.once('connect', () => send({ type: 'hello', v: PROTOCOL_VERSION, uid }));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        finish(
          new BridgeUnavailableError(
            `no hosthog bridge is running on this host (socket ${socketPath})`,
            START_HINT,
          ),
        );
      } else if (e.code === 'EACCES' || e.code === 'EPERM') {
        finish(
          new BridgeUnavailableError(
            `cannot connect to the hosthog bridge: permission denied on ${socketPath}`,
            'ask an admin to check the socket (mode 0666, directory 0755)',
          ),
        );
      } else {
        finish(
          new BridgeUnavailableError(
            `lost the connection to the hosthog bridge: ${e.code ?? e.message} (socket ${socketPath})`,
            'check it: systemctl status hosthog-bridge',
          ),
        );
      }
    });
    socket.on('close', () =>
      finish(
        new BridgeUnavailableError(
          `the hosthog bridge closed the connection without answering (socket ${socketPath})`,
          'check it: journalctl -u hosthog-bridge',
        ),
      ),
    );

    const onFrame = async (f: ServerFrame) => {
      if (f.type === 'response' && !f.ok) return finish(errorFromBody(f.error));
      if (step === 'challenge' && f.type === 'challenge') {
        let nonce: string;
        try {
          nonce = await readChallenge(f.path);
        } catch (e) {
          return finish(
            new errors.PermissionError(
              `could not prove to the bridge that you are uid ${uid}: ${(e as Error).message}`,
            ),
          );
        }
        if (step !== 'challenge') return;
        step = 'welcome';
        send({ type: 'proof', nonce });
        return;
      }
      if (step === 'welcome' && f.type === 'welcome') {
        step = 'response';
        send({ type: 'request', method: req.method, params: req.params ?? {} });
        return;
      }
      if (step === 'response' && f.type === 'response' && f.ok) return finish(undefined, f.result);
      finish(
        new BridgeUnavailableError(
          `the hosthog bridge sent an unexpected "${f.type}" message`,
          'update the hosthog CLI and bridge to the same version',
        ),
      );
    };

    socket.on('data', (chunk: Buffer) => {
      const lines = reader.push(chunk);
      if (lines === 'too-large')
        return finish(
          new BridgeUnavailableError('the hosthog bridge sent an oversized answer', 'check the bridge log'),
        );
      for (const line of lines) {
        const f = parseServerFrame(line);
        if (!f)
          return finish(
            new BridgeUnavailableError(
              'the hosthog bridge sent an unreadable answer',
              'update the hosthog CLI and bridge to the same version',
            ),
          );
        void onFrame(f);
      }
    });
  });
}
