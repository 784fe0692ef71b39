/**
 * hosthog unhog --force (root): remove every hosthog mount now, from the state file and from
 * mountinfo, whatever the calendar says. A running bridge puts a hog back on its next refresh
 * if the calendar still says it holds: clear the flag too (hosthog unhog) or end the claim.
 */
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { createHogEnforcer } from '../../host/hog-mounts.js';
import { sshdNamespacePid } from '../../bridge/hog-hook.js';

export async function forceUnhog(config: Config): Promise<{ action: string; summary: string; removed: string[] }> {
  const enforcer = createHogEnforcer({ stateDir: config.bridge.stateDir, overlayDir: join(config.bridge.stateDir, 'overlays'), nsPid: sshdNamespacePid(config.hog.sshdPidFile) });
  await enforcer.release();
  const r = await enforcer.reconcile(null);
  return { action: 'unhogged', summary: `removed every hog mount (${r.removed.length} found by the final scan); everyone may log in again`, removed: r.removed };
}
