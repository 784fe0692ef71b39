/** Write a hosthog config (and password file) for a test into a fresh temp dir. */
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestConfig {
  dir: string;
  path: string;
  stateDir: string;
  motd: string;
  socket: string;
  runDir: string;
}

export function writeTestConfig(opts: {
  calendarUrl?: string;
  username?: string;
  password?: string;
  vdir?: string;
  extra?: string;
  bridge?: string;
  host?: string;
  timezone?: string;
  dir?: string;
}): TestConfig {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'hosthog-test-'));
  chmodSync(dir, 0o755);
  const stateDir = join(dir, 'state');
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const motd = join(dir, 'motd.d', 'hosthog');
  const socket = join(runDir, 'bridge.sock');
  let cal = '';
  if (opts.calendarUrl) {
    const pw = join(dir, 'password');
    writeFileSync(pw, (opts.password ?? 'secret') + '\n', { mode: 0o600 });
    cal =
      `[calendar]\nurl = "${opts.calendarUrl}"\nusername = "${opts.username ?? 'hosthog'}"\n` +
      `password_file = "${pw}"\ntimeout = "3s"\n`;
  } else if (opts.vdir) {
    cal = `[calendar]\npath = "${opts.vdir}"\n`;
  }
  const text =
    `host = "${opts.host ?? 'test-box'}"\ntimezone = "${opts.timezone ?? 'Europe/Berlin'}"\n` +
    `resources = ["gpu0", "gpu1"]\n${opts.extra ?? ''}\n${cal}\n` +
    `[bridge]\npoll = "5s"\njitter = "0s"\nmotd = "${motd}"\nstate_dir = "${stateDir}"\n` +
    `socket = "${socket}"\n${opts.bridge ?? ''}\n`;
  const path = join(dir, 'config.toml');
  writeFileSync(path, text, { mode: 0o644 });
  return { dir, path, stateDir, motd, socket, runDir };
}

/** A minimal VEVENT calendar object, as "another client" would PUT it. */
export function vevent(uid: string, summary: string, start: Date, end: Date, extra = ''): string {
  const f = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//hosthog tests//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${f(new Date())}`,
    `DTSTART:${f(start)}`,
    `DTEND:${f(end)}`,
    `SUMMARY:${summary}`,
    ...(extra ? [extra] : []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}
