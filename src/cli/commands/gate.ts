/**
 * hosthog gate setup|check [--root DIR]: the hog gate's wiring in sshd (docs/admin.md):
 * the pam_listfile line in /etc/pam.d/sshd and the Banner drop-in. Also the gate checks doctor runs.
 */
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import type { Config } from '../../config/schema.js';
import { UsageError } from '../../core/errors.js';
import { cleanText } from '../../core/sanitize.js';
import { gateCheck, gateSetup, GateError, verifyGate } from '../../host/hog/gate.js';
import { readGateStatus } from '../../bridge/hog-hook.js';
import { printResult } from '../output.js';

const rootOf = (o: { root?: string }) => {
  const r = o.root ?? '/';
  if (!r.startsWith('/'))
    throw new UsageError(`--root ${cleanText(r, 80)} is not an absolute path`, 'e.g. --root /mnt/image');
  return r;
};

export async function setup(g: GlobalOptions, o: { root?: string; json?: boolean }): Promise<void> {
  if (process.getuid?.() !== 0 && (o.root ?? '/') === '/') {
    throw new UsageError('gate setup changes /etc/pam.d/sshd and needs root', 'run it with sudo');
  }
  const config = configFor(g);
  const r = gateSetup(rootOf(o), config.hog.gateDir);
  const rest = r.unchanged.length ? `; unchanged ${r.unchanged.join(', ')}` : '';
  const reload =
    r.changed.length && rootOf(o) === '/'
      ? '; sshd reads the drop-in at its next reload: systemctl reload ssh'
      : '';
  const summary = r.changed.length
    ? `gate wired: wrote ${r.changed.join(', ')}${rest}${reload}`
    : `gate already wired (${r.unchanged.join(', ')})`;
  printResult({ action: 'gate-setup', summary, ...r }, o.json);
}

export async function check(g: GlobalOptions, o: { root?: string; json?: boolean }): Promise<void> {
  const config = configFor(g);
  const lines = await gateCheck(rootOf(o), config.hog.gateDir);
  if (o.json)
    process.stdout.write(JSON.stringify({ ok: lines.every((l) => l.ok), checks: lines }, null, 2) + '\n');
  else
    for (const l of lines)
      process.stdout.write(`${l.ok ? 'ok  ' : 'FAIL'}  ${l.what}${l.fix ? `\n      fix: ${l.fix}` : ''}\n`);
  const bad = lines.find((l) => !l.ok);
  if (bad) throw new GateError(`the hog gate is not wired: ${bad.what}`, bad.fix ?? 'hosthog gate setup');
}

export interface DoctorLine {
  ok: boolean;
  what: string;
  fix?: string;
  warn?: boolean;
}

/** doctor: the whole door. The wiring, sshd as it runs, and any hog the bridge could not enforce. */
export async function gateDoctor(config: Config): Promise<DoctorLine[]> {
  const out: DoctorLine[] = [];
  if (process.getuid?.() !== 0)
    return [{ ok: true, warn: true, what: 'hog gate: run hosthog doctor as root to check it' }];
  const wiring = await gateCheck('/', config.hog.gateDir);
  const live = await verifyGate(config.hog.sshdPidFile, config.hog.gateDir, null);
  const open = live.methods.length ? live.methods.join(', ') : 'every method sshd offers';
  for (const l of wiring)
    out.push(
      l.ok
        ? { ok: true, what: `hog gate: ${l.what}` }
        : { ok: false, what: `hog gate: ${l.what}`, fix: l.fix },
    );
  if (live.enforced) {
    out.push({
      ok: true,
      what: `hog gate: the running sshd (pid ${live.sshd?.pid}, ${live.sshd?.how}) asks it for ${open}`,
    });
  } else {
    out.push({
      ok: false,
      what: `hog gate: a hog now would NOT hold: ${live.missing.join('; ')}; open during a hog: ${open}`,
      fix: 'hosthog gate setup; UsePAM yes; systemctl reload ssh',
    });
  }
  const s = readGateStatus(config.bridge.stateDir);
  if (s?.holder && !s.enforced) {
    out.push({
      ok: false,
      what: `hog by ${cleanText(s.holder, 40)} is NOT enforced: ${cleanText(s.why ?? '', 300)}`,
      fix: 'see the bridge log',
    });
  }
  for (const r of s?.refused ?? []) {
    out.push({
      ok: false,
      what: `hog in the calendar not enforced: ${cleanText(r.why, 200)} (event ${cleanText(r.uid, 60)})`,
      fix: 'delete the event or book it as a real lab member',
    });
  }
  return out;
}
