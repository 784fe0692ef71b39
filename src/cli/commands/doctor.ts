/**
 * hosthog doctor: checks an admin would otherwise do by hand, each "ok" or "FAIL" with the fix.
 * Exit 0 when nothing failed, 1 otherwise.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import type { GlobalOptions } from '../main.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { errorLine } from '../../core/errors.js';
import { openSource } from '../../caldav/open-source.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { createQuietHost } from '../../host/hog/quiet-host.js';
import { cleanText } from '../../core/sanitize.js';
import { plainHttpWarning } from '../../core/plain-http.js';

interface Check { ok: boolean; what: string; fix?: string; warn?: boolean }

export async function doctor(g: GlobalOptions): Promise<void> {
  const checks: Check[] = [];
  const add = (c: Check) => { checks.push(c); print(c); };
  let config: Config;
  try {
    config = loadConfig({ path: g.config, withPassword: true });
    add({ ok: true, what: `config ${config.source} is valid (host ${config.host}, zone ${config.timezone})` });
  } catch (e) {
    add({ ok: false, what: errorLine(e) });
    finish(checks);
    return;
  }
  const cal = config.calendar;
  const asRoot = process.getuid?.() === 0;
  const group = config.admins.group;
  let groupExists = true;
  try { execFileSync('getent', ['group', group], { stdio: 'ignore', timeout: 5000 }); } catch (e) { groupExists = (e as { status?: number }).status !== 2; }
  if (!groupExists) add({ ok: false, warn: true, what: `admin_group "${cleanText(group, 40)}" does not exist: only root${config.admins.users.filter((u) => u !== 'root').length ? ' and the admins list' : ''} can announce or change others' claims`, fix: `groupadd ${group} and add the admins to it, or set admin_group in ${config.source}` });
  const neverSynced = !existsSync(`${config.bridge.stateDir}/snapshot.json`);
  if (cal.kind === 'vdir' && !existsSync(cal.path) && neverSynced) {
    add({ ok: false, warn: true, what: `calendar directory ${cal.path} does not exist yet`, fix: 'start the bridge (systemctl enable --now hosthog-bridge): its first sync creates it' });
  } else try {
    const source = openSource(config);
    const info = await source.info();
    add({ ok: true, what: `calendar ${source.description} answers${info.displayName ? ` ("${info.displayName}")` : ''}` });
    // Users write through the root-run bridge: only the bridge's own access matters.
    if (info.readOnly && asRoot) add({ ok: false, warn: true, what: `calendar is read-only: ${info.readOnlyReason ?? 'writes are refused'}`, fix: 'the CLI cannot write claims; give the hosthog account write access' });
  } catch (e) {
    add({ ok: false, what: `calendar: ${errorLine(e)}`, fix: cal.kind === 'caldav' ? 'check [calendar] url, username and the password file' : `check [calendar] path` });
  }
  const plain = cal.kind === 'caldav' ? plainHttpWarning(cal.url) : null;
  if (plain) add({ ok: false, warn: true, what: plain, fix: 'use the https:// URL of the calendar server' });
  const sd = config.bridge.stateDir;
  if (writable(sd)) add({ ok: true, what: `state directory ${sd} is writable` });
  else if (asRoot) add({ ok: false, what: `state directory ${sd} is not writable`, fix: 'check its permissions, or set [bridge] state_dir' });
  else add({ ok: true, what: `state directory ${sd} belongs to the bridge (run hosthog doctor as root for the bridge's own checks)` });
  const snap = safe(() => readSnapshotFile(sd));
  if (!snap) add({ ok: false, warn: true, what: 'the bridge has not written a snapshot yet', fix: 'systemctl enable --now hosthog-bridge' });
  else {
    const age = snap.syncedAt ? Math.round((Date.now() - snap.syncedAt.getTime()) / 1000) : null;
    const stale = age === null || age * 1000 > config.bridge.pollMs * config.bridge.stalePolls;
    add({ ok: !stale, warn: true, what: age === null ? 'never synced' : `last good sync ${age}s ago${snap.lastError ? ` (last error: ${cleanText(snap.lastError, 200)})` : ''}`, fix: stale ? 'see journalctl -u hosthog-bridge' : undefined });
    // Events nobody sees: a phone's event hosthog cannot read would otherwise go unnoticed.
    const problems = Array.isArray(snap.problems) ? snap.problems : [];
    for (const p of problems.slice(0, 10)) {
      // shown: the event is on the motd anyway (e.g. marked "(time zone unknown)"), not hidden.
      const state = p.shown === true ? 'is shown with a doubt' : 'is not shown';
      const name = cleanText(String(p.href).split('/').pop() ?? '', 80);
      add({ ok: false, warn: true, what: `event ${name} ${state}: ${cleanText(String(p.message), 160)}`,
        fix: 'fix or re-create it in the calendar app (docs/events.md says what hosthog reads)' });
    }
    if (problems.length > 10) add({ ok: false, warn: true, what: `${problems.length - 10} more events are not shown (the bridge logs each at debug level)` });
  }
  const motdDir = dirname(config.bridge.motd);
  add(existsSync(motdDir) ? { ok: true, what: `motd directory ${motdDir} exists` } : { ok: false, warn: true, what: `motd directory ${motdDir} does not exist yet`, fix: 'the bridge creates it; pam_motd shows /run/motd.d/* at login' });
  const pam = safe(() => readFileSync('/etc/pam.d/sshd', 'utf8')) ?? '';
  add(/pam_motd/.test(pam) ? { ok: true, what: 'sshd shows the motd (pam_motd in /etc/pam.d/sshd)' } : { ok: false, warn: true, what: 'pam_motd is not in /etc/pam.d/sshd: people will not see the motd at ssh login', fix: 'add "session optional pam_motd.so motd=/run/motd.dynamic" and "session optional pam_motd.so noupdate"' });
  if (config.hog.quietUnits.length) {
    const ctl = config.hog.systemctl;
    try {
      const plan = await createQuietHost({ stateDir: config.bridge.stateDir, systemctl: ctl }).dryRun(config.hog.quietUnits);
      add({ ok: true, what: `quiet host: a hog now would stop ${plan.stop.length ? plan.stop.join(', ') : 'nothing (no configured unit is active)'}${plan.refused.length ? `; refuses ${plan.refused.map((x) => x.unit).join(', ')}` : ''}` });
    } catch (e) {
      add({ ok: false, what: `quiet host: ${ctl.join(' ')} does not answer (${errorLine(e).slice(0, 120)})`, fix: 'hogs would not stop [hog] quiet_units: run the bridge where systemd runs, or set [hog] systemctl' });
    }
  }
  for (const c of await (await import('./gate.js')).gateDoctor(config)) add(c);
  if (config.gpus.enabled) {
    const { readGpus } = await import('../../host/gpus/sampler.js');
    const r = await readGpus({ command: config.gpus.command, timeoutMs: config.gpus.timeoutMs });
    if ('error' in r) {
      add({ ok: false, warn: true, what: `GPUs unknown: ${cleanText(r.error, 200)}`,
        fix: 'install the NVIDIA driver (nvidia-smi), or set [gpus] command to how nvidia-smi is reached here' });
    } else {
      const n = r.processes.length;
      add({ ok: true, what: `GPUs: ${r.gpus.map((x) => `${x.index} (${x.uuid})`).join(', ')}; ${n} compute process${n === 1 ? '' : 'es'}` });
    }
  }
  if (cal.kind === 'caldav' && cal.passwordFile) {
    const st = safe(() => statSync(cal.passwordFile!));
    if (st && st.uid !== 0) add({ ok: false, warn: true, what: `password file ${cal.passwordFile} is owned by uid ${st.uid}, not root`, fix: `chown root:root ${cal.passwordFile}` });
  }
  finish(checks);
}

function writable(dir: string): boolean {
  try { accessSync(existsSync(dir) ? dir : dirname(dir), constants.W_OK); return true; } catch { return false; }
}
function safe<T>(f: () => T): T | null { try { return f(); } catch { return null; } }
function print(c: Check): void {
  process.stdout.write(`${c.ok ? 'ok  ' : c.warn ? 'warn' : 'FAIL'}  ${c.what}${c.fix ? `\n      fix: ${c.fix}` : ''}\n`);
}
function finish(checks: Check[]): void {
  const failed = checks.filter((c) => !c.ok && !c.warn).length;
  if (failed) process.exitCode = 1;
}
