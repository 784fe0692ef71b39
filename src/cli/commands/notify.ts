/**
 * hosthog notify: a message to everyone logged in, signed by the bridge with the verified
 * sender. With --mute/--unmute/--channels: this user's own notice settings, written to
 * ~/.config/hosthog/notify.toml as the user (the bridge reads it before each delivery).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { parse } from 'smol-toml';
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { callBridge } from '../../host/rpc/rpc-client.js';
import { printResult } from '../output.js';
import { UsageError } from '../../core/errors.js';
import { parseDuration } from '../../core/duration.js';
import { parsePrefs, prefsToml, type NotifyPrefs } from '../../core/notify-prefs.js';
import { prefsPath } from '../../host/sessions/notify-prefs-file.js';

interface NotifyOptions {
  json?: boolean;
  mute?: string;
  unmute?: boolean;
  channels?: string;
  to?: string;
}

export async function notify(g: GlobalOptions, words: string[], o: NotifyOptions): Promise<void> {
  if (o.mute !== undefined || o.unmute || o.channels !== undefined) {
    if (words.length) {
      throw new UsageError('give a message or notice settings, not both', 'e.g. hosthog notify --mute 2h');
    }
    settings(o);
    return;
  }
  if (!words.length) {
    throw new UsageError(
      'notify what?',
      'e.g. hosthog notify "please stop your jobs on gpu1 by 17:00", or hosthog notify --mute 2h',
    );
  }
  const config = configFor(g);
  const to = o.to
    ? o.to
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;
  printResult(
    await callBridge(config.bridge.socket, { method: 'notify', params: { text: words.join(' '), to } }),
    o.json,
  );
}

function settings(o: NotifyOptions): void {
  const file = prefsPath(process.env.HOME || homedir());
  let prefs: NotifyPrefs = { muteUntil: null, channels: null };
  try {
    prefs = parsePrefs(parse(readFileSync(file, 'utf8')) as Record<string, unknown>).prefs;
  } catch {
    /* none yet, or unreadable: start afresh */
  }
  const now = Date.now();
  if (o.mute !== undefined) {
    const ms = parseDuration(o.mute);
    if (ms === null || ms <= 0) {
      throw new UsageError(
        `cannot read the duration "${o.mute.slice(0, 40)}"`,
        'e.g. --mute 2h or --mute 30m',
      );
    }
    prefs.muteUntil = new Date(now + ms);
  }
  if (o.unmute) prefs.muteUntil = null;
  if (o.channels !== undefined) {
    const list = o.channels
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (list.length === 1 && list[0] === 'all') prefs.channels = null;
    else {
      const bad = list.filter((x) => !['wall', 'tmux', 'desktop'].includes(x));
      if (bad.length || !list.length) {
        throw new UsageError(
          `unknown channel "${(bad[0] ?? '').slice(0, 20)}"`,
          'use any of wall, tmux, desktop, or all',
        );
      }
      prefs.channels = [...new Set(list)];
    }
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, prefsToml(prefs), { mode: 0o644 });
  renameSync(tmp, file);
  const until = prefs.muteUntil && prefs.muteUntil.getTime() > now ? prefs.muteUntil : null;
  const muted = until
    ? `muted until ${until.toISOString().slice(0, 16).replace('T', ' ')} UTC (urgent notices still reach you)`
    : 'not muted';
  const how = prefs.channels ? prefs.channels.join(', ') : 'all the host sends';
  process.stdout.write(`notices: ${muted}; channels: ${how} (${file})\n`);
}
