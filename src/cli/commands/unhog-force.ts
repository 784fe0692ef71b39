/**
 * hosthog unhog --force (root): remove every hosthog mount now, from the state file and from
 * mountinfo, and start again every unit a hog stopped (quiet host), whatever the calendar says. A running bridge puts a hog back on its next refresh
 * if the calendar still says it holds: clear the flag too (hosthog unhog) or end the claim.
 */
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { createHogEnforcer } from '../../host/hog/hog-mounts.js';
import { sshdNamespacePid } from '../../bridge/hog-hook.js';
import { createQuietHost } from '../../host/hog/quiet-host.js';
import { HosthogError } from '../../core/errors.js';

export async function forceUnhog(config: Config): Promise<{ action: string; summary: string; removed: string[]; started: string[] }> {
  const enforcer = createHogEnforcer({ stateDir: config.bridge.stateDir, overlayDir: join(config.bridge.stateDir, 'overlays'), nsPid: sshdNamespacePid(config.hog.sshdPidFile) });
  let r: { removed: string[] };
  let q: { started: string[]; failed: string[] };
  try {
    await enforcer.release();
    r = await enforcer.reconcile(null);
  } finally {
    // Units come back even if a mount could not be taken away.
    q = await createQuietHost({ stateDir: config.bridge.stateDir, systemctl: config.hog.systemctl }).release();
  }
  if (q.failed.length) {
    throw new HosthogError(`removed every hog mount, but could not start again: ${q.failed.join(', ')}`, `see: ${config.hog.systemctl.join(' ')} status ${q.failed[0]}`);
  }
  const units = q.started.length ? `; started again: ${q.started.join(', ')}` : '';
  return { action: 'unhogged', summary: `removed every hog mount (${r.removed.length} found by the final scan); everyone may log in again${units}`, removed: r.removed, started: q.started };
}
