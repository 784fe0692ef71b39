/**
 * hosthog doctor: checks an admin would otherwise do by hand, each "ok" or "FAIL" with the fix.
 * Exit 0 when nothing failed, 1 otherwise.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import type { GlobalOptions } from '../main.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { errorLine } from '../../core/errors.js';
import { openSource } from '../../caldav/open-source.js';
import { readSnapshotFile } from '../../bridge/snapshot-file.js';
import { createQuietHost } from '../../host/hog/quiet-host.js';
import { cleanText } from '../../core/sanitize.js';
import { plainHttpWarning } from '../../core/plain-http.js';
import { configHash, readConfigStamp } from '../../bridge/config-stamp.js';

/** ok, warn (!ok, warn), FAIL (!ok), or info: what this user cannot check (ok, info). */
export interface Check {
  ok: boolean;
  what: string;
  fix?: string;
  warn?: boolean;
  info?: boolean;
}

/** What every check gets: the config, who runs doctor, the clock. */
export interface DoctorContext {
  config: Config;
  asRoot: boolean;
  now: Date;
  add: (c: Check) => void;
}
/** One check: adds zero or more lines. Other parts add theirs to CHECKS (gate, sshd, GPUs …). */
export type DoctorCheck = (ctx: DoctorContext) => void | Promise<void>;

export async function doctor(g: GlobalOptions): Promise<void> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    print(c);
  };
  const asRoot = process.getuid?.() === 0;
  let config: Config;
  try {
    // The calendar password is root's: a lab member checks without it (and is told so below).
    config = loadConfig({ path: g.config, withPassword: asRoot });
    const resources = config.resources.length ? config.resources.join(', ') : 'none: the whole host only';
    add({
      ok: true,
      what:
        `config ${config.source} is valid ` +
        `(host ${config.host}, zone ${config.timezone}, resources ${resources})`,
    });
  } catch (e) {
    add({ ok: false, what: errorLine(e) });
    finish(checks);
    return;
  }
  if (!asRoot)
    add({
      ok: true,
      info: true,
      what:
        `running as ${userInfo().username}: checks what a lab member can; ` +
        'the calendar login, state directory and hog setup are checked by sudo hosthog doctor',
    });
  const ctx: DoctorContext = { config, asRoot, now: new Date(), add };
  for (const check of CHECKS) {
    try {
      await check(ctx);
    } catch (e) {
      add({ ok: false, what: `${check.name}: ${errorLine(e)}` });
    }
  }
  finish(checks);
}

function checkAdminGroup({ config, add }: DoctorContext): void {
  const group = config.admins.group;
  let groupExists = true;
  try {
    execFileSync('getent', ['group', group], { stdio: 'ignore', timeout: 5000 });
  } catch (e) {
    groupExists = (e as { status?: number }).status !== 2;
  }
  const andList = config.admins.users.filter((u) => u !== 'root').length ? ' and the admins list' : '';
  if (!groupExists)
    add({
      ok: false,
      warn: true,
      what:
        `admin_group "${cleanText(group, 40)}" does not exist: ` +
        `only root${andList} can announce or change others' claims`,
      fix: `groupadd ${group} and add the admins to it, or set admin_group in ${config.source}`,
    });
}

async function checkCalendar({ config, asRoot, add }: DoctorContext): Promise<void> {
  const cal = config.calendar;
  const neverSynced = !existsSync(`${config.bridge.stateDir}/snapshot.json`);
  if (cal.kind === 'vdir' && !existsSync(cal.path) && neverSynced) {
    add({
      ok: false,
      warn: true,
      what: `calendar directory ${cal.path} does not exist yet`,
      fix: 'start the bridge (systemctl enable --now hosthog-bridge): its first sync creates it',
    });
    return;
  }
  if (cal.kind === 'caldav' && !asRoot) {
    add({
      ok: true,
      info: true,
      what:
        `calendar ${cal.url}: only root can log in with the host's password (sudo hosthog doctor); ` +
        "the bridge's last sync is below",
    });
    return;
  }
  try {
    const source = openSource(config);
    const info = await source.info();
    add({
      ok: true,
      what: `calendar ${source.description} answers${info.displayName ? ` ("${info.displayName}")` : ''}`,
    });
    // Users write through the root-run bridge: only the bridge's own access matters.
    if (info.readOnly && asRoot)
      add({
        ok: false,
        warn: true,
        what: `calendar is read-only: ${info.readOnlyReason ?? 'writes are refused'}`,
        fix: 'the CLI cannot write claims; give the hosthog account write access',
      });
  } catch (e) {
    add({
      ok: false,
      what: `calendar: ${errorLine(e)}`,
      fix:
        cal.kind === 'caldav'
          ? 'check [calendar] url, username and the password file'
          : `check [calendar] path`,
    });
  }
  const plain = cal.kind === 'caldav' ? plainHttpWarning(cal.url) : null;
  if (plain) add({ ok: false, warn: true, what: plain, fix: 'use the https:// URL of the calendar server' });
}

function checkStateDir({ config, asRoot, add }: DoctorContext): void {
  const sd = config.bridge.stateDir;
  if (writable(sd)) add({ ok: true, what: `state directory ${sd} is writable` });
  else if (asRoot)
    add({
      ok: false,
      what: `state directory ${sd} is not writable`,
      fix: 'check its permissions, or set [bridge] state_dir',
    });
  else
    add({
      ok: true,
      what:
        `state directory ${sd} belongs to the bridge ` +
        "(run hosthog doctor as root for the bridge's own checks)",
    });
}

/** Is a bridge running on this state directory, and does it answer on the socket? */
async function checkBridgeRunning({ config, add }: DoctorContext): Promise<void> {
  const pid = bridgePid(config.bridge.stateDir);
  if (pid === null) {
    add({
      ok: false,
      what:
        `the bridge is not running (no live bridge in ${config.bridge.stateDir}/bridge.pid): ` +
        'the motd, notices and hogs stand still',
      fix:
        'systemctl start hosthog-bridge ' +
        '(without systemd: hosthog bridge under your service manager, docs/admin.md)',
    });
    return;
  }
  const answers = await new Promise<boolean>((resolve) => {
    const s = connect(config.bridge.socket);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 3000).unref();
  });
  add(
    answers
      ? { ok: true, what: `bridge running (pid ${pid}), answering on ${config.bridge.socket}` }
      : {
          ok: false,
          what: `bridge running (pid ${pid}) but ${config.bridge.socket} does not answer`,
          fix: 'check [bridge] socket in both configs; systemctl restart hosthog-bridge',
        },
  );
}

/** The running bridge read the config as it is now (else an edit is not in effect). */
function checkBridgeConfig({ config, add }: DoctorContext): void {
  const pid = bridgePid(config.bridge.stateDir);
  if (pid === null) return;
  const stamp = readConfigStamp(config.bridge.stateDir);
  if (!stamp || stamp.pid !== pid) {
    add({
      ok: false,
      warn: true,
      what: `the running bridge (pid ${pid}) does not say which config it read (an older hosthog)`,
      fix: 'systemctl restart hosthog-bridge',
    });
  } else if (stamp.source !== config.source || stamp.sha256 !== configHash(config.source)) {
    add({
      ok: false,
      what:
        `the running bridge uses an older config (${cleanText(stamp.source, 100)} as of ${stamp.at}): ` +
        `your edits to ${config.source} are not in effect`,
      fix: 'systemctl restart hosthog-bridge (or restart hosthog bridge under your service manager)',
    });
  } else {
    add({ ok: true, what: `the bridge runs the config as it is now (${config.source})` });
  }
}

function checkSnapshot({ config, now, add }: DoctorContext): void {
  const sd = config.bridge.stateDir;
  const snap = safe(() => readSnapshotFile(sd));
  if (!snap) {
    add({
      ok: false,
      warn: true,
      what: 'the bridge has not written a snapshot yet',
      fix: 'systemctl enable --now hosthog-bridge',
    });
    return;
  }
  const age = snap.syncedAt ? Math.round((now.getTime() - snap.syncedAt.getTime()) / 1000) : null;
  const stale = age === null || age * 1000 > config.bridge.pollMs * config.bridge.stalePolls;
  const lastError = snap.lastError ? ` (last error: ${cleanText(snap.lastError, 200)})` : '';
  add({
    ok: !stale,
    warn: true,
    what: age === null ? 'never synced' : `last good sync ${age}s ago${lastError}`,
    fix: stale ? 'see journalctl -u hosthog-bridge' : undefined,
  });
  // Events nobody sees: a phone's event hosthog cannot read would otherwise go unnoticed.
  const problems = Array.isArray(snap.problems) ? snap.problems : [];
  for (const p of problems.slice(0, 10)) {
    // shown: the event is on the motd anyway (e.g. marked "(time zone unknown)"), not hidden.
    const state = p.shown === true ? 'is shown with a doubt' : 'is not shown';
    const name = cleanText(String(p.href).split('/').pop() ?? '', 80);
    add({
      ok: false,
      warn: true,
      what: `event ${name} ${state}: ${cleanText(String(p.message), 160)}`,
      fix: 'fix or re-create it in the calendar app (docs/events.md says what hosthog reads)',
    });
  }
  if (problems.length > 10)
    add({
      ok: false,
      warn: true,
      what: `${problems.length - 10} more events are not shown (the bridge logs each at debug level)`,
    });
}

/** The motd exists and is fresh: a live bridge rewrites it at least every 10 minutes. */
function checkMotd({ config, now, add }: DoctorContext): void {
  const motdDir = dirname(config.bridge.motd);
  if (!existsSync(motdDir)) {
    add({
      ok: false,
      warn: true,
      what: `motd directory ${motdDir} does not exist yet`,
      fix: 'the bridge creates it; pam_motd shows /run/motd.d/* at login',
    });
    return;
  }
  const st = safe(() => statSync(config.bridge.motd));
  if (!st) {
    add({
      ok: false,
      warn: true,
      what: `no motd at ${config.bridge.motd} yet`,
      fix: 'start the bridge: it writes the motd',
    });
    return;
  }
  const ageMin = Math.round((now.getTime() - st.mtimeMs) / 60_000);
  const stopped = (safe(() => readFileSync(config.bridge.motd, 'utf8').slice(0, 200)) ?? '').startsWith(
    '! hosthog bridge stopped',
  );
  if (stopped)
    add({
      ok: false,
      warn: true,
      what: `the motd ${config.bridge.motd} says the bridge stopped (${ageMin} min ago)`,
      fix: 'systemctl start hosthog-bridge',
    });
  else if (ageMin > 15)
    add({
      ok: false,
      what: `the motd ${config.bridge.motd} is ${ageMin} min old: people see an old picture at login`,
      fix: 'the bridge rewrites it every 10 min when alive: systemctl restart hosthog-bridge',
    });
  else add({ ok: true, what: `motd ${config.bridge.motd} is fresh (${ageMin} min old)` });
}

function checkPamMotd({ add }: DoctorContext): void {
  const pam = safe(() => readFileSync('/etc/pam.d/sshd', 'utf8')) ?? '';
  add(
    /pam_motd/.test(pam)
      ? { ok: true, what: 'sshd shows the motd (pam_motd in /etc/pam.d/sshd)' }
      : {
          ok: false,
          warn: true,
          what: 'pam_motd is not in /etc/pam.d/sshd: people will not see the motd at ssh login',
          fix:
            'add "session optional pam_motd.so motd=/run/motd.dynamic" ' +
            'and "session optional pam_motd.so noupdate"',
        },
  );
}

async function checkQuietHost({ config, asRoot, add }: DoctorContext): Promise<void> {
  if (!config.hog.quietUnits.length) return;
  if (!asRoot) {
    add({ ok: true, info: true, what: 'quiet host units: checked by root only (sudo hosthog doctor)' });
    return;
  }
  const ctl = config.hog.systemctl;
  try {
    const plan = await createQuietHost({ stateDir: config.bridge.stateDir, systemctl: ctl }).dryRun(
      config.hog.quietUnits,
    );
    const stops = plan.stop.length ? plan.stop.join(', ') : 'nothing (no configured unit is active)';
    const refuses = plan.refused.length ? `; refuses ${plan.refused.map((x) => x.unit).join(', ')}` : '';
    add({ ok: true, what: `quiet host: a hog now would stop ${stops}${refuses}` });
  } catch (e) {
    add({
      ok: false,
      what: `quiet host: ${ctl.join(' ')} does not answer (${errorLine(e).slice(0, 120)})`,
      fix: 'hogs would not stop [hog] quiet_units: run the bridge where systemd runs, or set [hog] systemctl',
    });
  }
}

function checkPasswordFile({ config, add }: DoctorContext): void {
  const cal = config.calendar;
  if (cal.kind !== 'caldav' || !cal.passwordFile) return;
  const st = safe(() => statSync(cal.passwordFile!));
  if (st && st.uid !== 0)
    add({
      ok: false,
      warn: true,
      what: `password file ${cal.passwordFile} is owned by uid ${st.uid}, not root`,
      fix: `chown root:root ${cal.passwordFile}`,
    });
  if (st && st.mode & 0o077)
    add({
      ok: false,
      what: `password file ${cal.passwordFile} can be read by others (mode ${(st.mode & 0o777).toString(8)})`,
      fix: `chmod 600 ${cal.passwordFile}`,
    });
}

/** The hog gate's wiring (sshd, PAM): src/cli/commands/gate.ts. */
async function checkGate({ config, add }: DoctorContext): Promise<void> {
  for (const c of await (await import('./gate.js')).gateDoctor(config)) add(c);
}

/** nvidia-smi answers (GPU watching is on): else the GPUs show as unknown. */
async function checkGpus({ config, add }: DoctorContext): Promise<void> {
  if (config.gpus.enabled) {
    const { readGpus } = await import('../../host/gpus/sampler.js');
    const r = await readGpus({ command: config.gpus.command, timeoutMs: config.gpus.timeoutMs });
    if ('error' in r) {
      add({
        ok: false,
        warn: true,
        what: `GPUs unknown: ${cleanText(r.error, 200)}`,
        fix:
          'install the NVIDIA driver (nvidia-smi), ' +
          'or set [gpus] command to how nvidia-smi is reached here',
      });
    } else {
      const n = r.processes.length;
      const gpus = r.gpus.map((x) => `${x.index} (${x.uuid})`).join(', ');
      add({ ok: true, what: `GPUs: ${gpus}; ${n} compute process${n === 1 ? '' : 'es'}` });
    }
  }
}

/** The checks, in order. Add a function here (or push to it) for a new check. */
export const CHECKS: DoctorCheck[] = [
  checkAdminGroup,
  checkCalendar,
  checkStateDir,
  checkBridgeRunning,
  checkBridgeConfig,
  checkSnapshot,
  checkMotd,
  checkPamMotd,
  checkQuietHost,
  checkGate,
  checkGpus,
  checkPasswordFile,
];

/** The live bridge named by state_dir/bridge.pid, or null. */
function bridgePid(stateDir: string): number | null {
  const pid = Number.parseInt(
    safe(() => readFileSync(join(stateDir, 'bridge.pid'), 'utf8').slice(0, 32)) ?? '',
    10,
  );
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const cmd = safe(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')) ?? [];
  return cmd.includes('bridge') ? pid : null;
}

function writable(dir: string): boolean {
  try {
    accessSync(existsSync(dir) ? dir : dirname(dir), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}
function print(c: Check): void {
  const label = c.ok ? (c.info ? 'note' : 'ok  ') : c.warn ? 'warn' : 'FAIL';
  process.stdout.write(`${label}  ${c.what}${c.fix ? `\n      fix: ${c.fix}` : ''}\n`);
}
function finish(checks: Check[]): void {
  const failed = checks.filter((c) => !c.ok && !c.warn).length;
  if (failed) process.exitCode = 1;
}
