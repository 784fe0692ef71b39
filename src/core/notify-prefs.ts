/**
 * A user's own notice settings (~/.config/hosthog/notify.toml, written by `hosthog notify
 * --mute`/`--channels`), parsed and applied purely. The file is the user's, read by root's
 * bridge: anything odd in it is dropped (src/host/sessions/notify-prefs-file.ts reads it safely).
 *
 *   mute_until = "2026-12-04T18:00:00Z"   # until then only urgent notices
 *   channels = ["tmux", "desktop"]        # only these (default: all the host sends)
 */
export interface NotifyPrefs {
  muteUntil: Date | null;
  channels: string[] | null;
}

export const PREFS_MAX_BYTES = 4096;
const KNOWN_CHANNELS = ['wall', 'tmux', 'desktop'];

/** From parsed TOML; unknown keys and bad values are left out and named in `problems`. */
export function parsePrefs(raw: Record<string, unknown>): { prefs: NotifyPrefs; problems: string[] } {
  const problems: string[] = [];
  let muteUntil: Date | null = null;
  let channels: string[] | null = null;
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'mute_until') {
      const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
      if (d && !Number.isNaN(d.getTime())) muteUntil = new Date(d.getTime());
      else problems.push('mute_until is not a time');
    } else if (k === 'channels') {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' && KNOWN_CHANNELS.includes(x)))
        channels = [...new Set(v as string[])];
      else problems.push(`channels must be a list of ${KNOWN_CHANNELS.join(', ')}`);
    } else {
      problems.push(`unknown key ${k.slice(0, 40)}`);
    }
  }
  return { prefs: { muteUntil, channels }, problems };
}

/** Does this user want this notice on this channel now? Urgent notices pass a mute. */
export function wants(p: NotifyPrefs | null, channel: string, urgent: boolean, now: Date): boolean {
  if (!p) return true;
  if (p.channels && !p.channels.includes(channel)) return false;
  if (p.muteUntil && p.muteUntil.getTime() > now.getTime() && !urgent) return false;
  return true;
}

/** The file's text for these settings. */
export function prefsToml(p: NotifyPrefs): string {
  const lines = ['# hosthog notice settings (hosthog notify --mute 2h, --unmute, --channels tmux,desktop)'];
  if (p.muteUntil) lines.push(`mute_until = "${p.muteUntil.toISOString()}"`);
  if (p.channels) lines.push(`channels = [${p.channels.map((c) => `"${c}"`).join(', ')}]`);
  return lines.join('\n') + '\n';
}
