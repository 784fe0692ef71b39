/** hosthog announce: an admins' message for everyone, shown in motd/status while it lasts. */
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { callWrite } from '../transport.js';
import { parseWhen, parseEnd } from '../../core/when.js';
import { PermissionError, UsageError } from '../../core/errors.js';
import { adminHint } from '../../core/plan-write.js';
import { callerFor } from '../../host/rpc/peer-identity.js';
import { actorOf } from '../../bridge/rpc-handlers.js';
import type { Config } from '../../config/schema.js';

/**
 * Plainly not an admin? Say so first, before asking for --until. The same rule and group lookup
 * as the bridge's (actorOf, callerFor); the bridge still decides for real.
 */
async function plainlyNotAdmin(config: Config): Promise<boolean> {
  const me = await callerFor(process.getuid?.() ?? 0).catch(() => undefined);
  return !!me && !actorOf(me, config).isAdmin;
}
import { printResult } from '../output.js';

export async function announce(
  g: GlobalOptions,
  words: string[],
  o: { from?: string; until?: string; json?: boolean },
): Promise<void> {
  const config = configFor(g);
  const text = words.join(' ').trim();
  if (await plainlyNotAdmin(config)) throw new PermissionError('only admins may announce', adminHint(config));
  if (!text)
    throw new UsageError(
      'announce what?',
      'e.g. hosthog announce --until "next friday" "NixOS upgrade Saturday"',
    );
  if (!o.until)
    throw new UsageError(
      'an announcement needs an end',
      'add --until "next friday" (it shows until then; --from sets when it starts showing)',
    );
  const now = new Date();
  const start = o.from ? parseWhen(o.from, now, config.timezone) : now;
  const end = parseEnd(o.until, start, now, config.timezone);
  printResult(
    await callWrite(g, 'announce', { text, start: start.toISOString(), end: end.toISOString() }),
    o.json,
  );
}
