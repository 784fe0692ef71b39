/**
 * Logging with pino: JSON lines for journald when stdout is not a terminal; a short readable
 * line ("12:00:01 INFO synced changed=1") on a terminal. No worker threads, no transports.
 */
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';

export type Log = Logger;

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function readable(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      try {
        const { level, time, msg, pid: _p, hostname: _h, ...rest } = JSON.parse(String(chunk));
        const t = new Date(time).toTimeString().slice(0, 8);
        const extra = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        out.write(`${t} ${LEVELS[level] ?? level} ${msg ?? ''}${extra ? ' ' + extra : ''}\n`);
      } catch {
        out.write(chunk);
      }
      done();
    },
  });
}

export function createLog(
  opts: { level?: string; pretty?: boolean; stream?: NodeJS.WritableStream } = {},
): Log {
  const out = opts.stream ?? process.stdout;
  const pretty = opts.pretty ?? Boolean((out as NodeJS.WriteStream).isTTY);
  return pino(
    { level: opts.level ?? process.env.HOSTHOG_LOG_LEVEL ?? 'info', base: undefined },
    pretty ? readable(out) : (out as Writable),
  );
}

/** A logger that drops everything (tests, one-shot commands). */
export function silentLog(): Log {
  return pino({ level: 'silent' });
}
