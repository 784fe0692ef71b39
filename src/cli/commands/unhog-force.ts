/**
 * hosthog unhog --force (root): open the gate now (the allow file removed, the banner emptied)
 * and start again every unit a hog stopped (quiet host), whatever the calendar says. A running
 * bridge puts a hog back on its next refresh if the calendar still says it holds: clear the flag
 * too (hosthog unhog) or end the claim.
 */
import type { Config } from '../../config/schema.js';
import { clearGate } from '../../host/hog/gate.js';
import { createQuietHost } from '../../host/hog/quiet-host.js';
import { HosthogError } from '../../core/errors.js';

export async function forceUnhog(
  config: Config,
): Promise<{ action: string; summary: string; started: string[] }> {
  let q: { started: string[]; failed: string[] };
  try {
    clearGate(config.hog.gateDir);
  } finally {
    // Units come back even if the gate could not be cleared.
    q = await createQuietHost({
      stateDir: config.bridge.stateDir,
      systemctl: config.hog.systemctl,
    }).release();
  }
  if (q.failed.length) {
    throw new HosthogError(
      `opened the gate, but could not start again: ${q.failed.join(', ')}`,
      `see: ${config.hog.systemctl.join(' ')} status ${q.failed[0]}`,
    );
  }
  const units = q.started.length ? `; started again: ${q.started.join(', ')}` : '';
  const opened = `opened the hog gate (${config.hog.gateDir}/allow removed)`;
  const summary = `${opened}; everyone may log in again${units}`;
  return { action: 'unhogged', summary, started: q.started };
}
