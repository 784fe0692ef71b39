/** hosthog announce: an admins' message for everyone, shown in motd/status while it lasts. */
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { callWrite } from '../transport.js';
import { parseWhen, parseEnd } from '../../core/when.js';
import { PermissionError, UsageError } from '../../core/errors.js';
import { adminHint } from '../../core/plan-write.js';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Config } from '../../config/schema.js';

/**
 * Plainly not an admin (not root, not in admins, not in admin_group as /etc/group has it)? Say
 * so first, before asking for --until. The bridge decides for real; this only orders messages.
 */
function plainlyNotAdmin(config: Config): boolean {
  const me = userInfo(); // from the user database (passwd), as the bridge looks users up
  if (me.uid === 0 || config.admins.users.includes(me.username)) return false;
  let line: string | undefined;
  try {
    line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === config.admins.group);
  } catch { return false; }
  if (!line) return false; // groups from LDAP & co: let the bridge decide
  const [, , gid, members = ''] = line.split(':');
  return Number(gid) !== me.gid && !members.split(',').map((m) => m.trim()).includes(me.username);
}
import { printResult } from '../output.js';

export async function announce(g: GlobalOptions, words: string[], o: { from?: string; until?: string; json?: boolean }): Promise<void> {
  const config = configFor(g);
  const text = words.join(' ').trim();
  if (plainlyNotAdmin(config)) throw new PermissionError('only admins may announce', adminHint(config));
  if (!text) throw new UsageError('announce what?', 'e.g. hosthog announce --until 2026-12-01 "NixOS upgrade Saturday"');
  if (!o.until) throw new UsageError('an announcement needs an end', 'add --until "2026-12-01" (it shows until then)');
  const now = new Date();
  const start = o.from ? parseWhen(o.from, now, config.timezone) : now;
  const end = parseEnd(o.until, start, now, config.timezone);
  printResult(await callWrite(g, 'announce', { text, start: start.toISOString(), end: end.toISOString() }), o.json);
}
