/**
 * Real CalDAV servers for tests: Radicale and Xandikos from Debian, each on a free loopback
 * port with its own temporary directory and an empty calendar already created.
 *
 *   const srv = await startRadicale();
 *   t.after(() => srv.destroy());
 *
 * Processes run in their own process group (killed as a group), die with the test process
 * (setpriv --pdeathsig KILL, plus a process.on('exit') hook), and their stderr is kept so a
 * failure to start says why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface TestServer {
  kind: 'radicale' | 'xandikos';
  /** Full URL of the (already created, empty) calendar collection, ending in '/'. */
  calendarUrl: string;
  username: string;
  password: string; // xandikos: any values (no auth)
  port: number;
  dir: string;
  /** Stops the process (data kept). */
  stop(): Promise<void>;
  /** Starts again on the same port with the same data. */
  start(): Promise<void>;
  /** stop + remove dir. */
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
  try { child.kill(signal); } catch { /* already gone */ }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => { for (const c of live) killGroup(c, 'SIGKILL'); });
}

interface Running { child: ChildProcess; stderr: () => string; exited: Promise<number | null>; }

function launch(cmd: string, args: string[], cwd: string): Running {
  installExitHook();
  // setpriv sets PR_SET_PDEATHSIG and execs the server: it is killed if this process dies.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args], {
    cwd,
    detached: true, // own process group, so stop() can kill the whole group
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  live.add(child);
  // A server a test forgot to stop must not keep the test process alive (the exit hook kills it).
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  let buf = '';
  const keep = (d: Buffer) => { buf = (buf + d.toString('utf8')).slice(-8000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => { live.delete(child); resolve(code); });
    child.once('error', (e) => { buf += `\nspawn error: ${e.message}`; live.delete(child); resolve(-1); });
  });
  return { child, stderr: () => buf, exited };
}

/** Resolves once anything answers HTTP on the port; rejects if the process exits first. */
async function waitUntilAnswering(port: number, run: Running, what: string, timeoutMs = 15000): Promise<void> {
  let dead = false;
  void run.exited.then(() => { dead = true; });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what} exited before answering on 127.0.0.1:${port}:\n${run.stderr()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (!dead) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  killGroup(run.child, 'SIGKILL');
  throw new Error(`${what} did not answer on 127.0.0.1:${port} within ${timeoutMs} ms:\n${run.stderr()}`);
}

async function stopRunning(run: Running | undefined): Promise<void> {
  if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
  killGroup(run.child, 'SIGTERM');
  const t = setTimeout(() => killGroup(run.child, 'SIGKILL'), 3000);
  await run.exited;
  clearTimeout(t);
}

async function mkcalendar(url: string, auth: string | undefined, what: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/xml; charset=utf-8' };
  if (auth) headers.authorization = auth;
  const body = '<?xml version="1.0" encoding="utf-8"?>\n<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>test calendar</D:displayname></D:prop></D:set></C:mkcalendar>';
  const r = await fetch(url, { method: 'MKCALENDAR', headers, body });
  const text = await r.text();
  if (r.status !== 201) throw new Error(`${what}: MKCALENDAR ${url} answered ${r.status}: ${text.slice(0, 500)}`);
}

interface Spec {
  kind: TestServer['kind'];
  dir: string;
  cmd: string;
  args(port: number): string[];
  prepare(port: number): void;
}

/** Start on a fresh free port (retrying if another process grabbed it meanwhile). */
async function firstStart(spec: Spec): Promise<{ port: number; run: Running }> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    spec.prepare(port);
    const run = launch(spec.cmd, spec.args(port), spec.dir);
    try {
      await waitUntilAnswering(port, run, spec.kind);
      return { port, run };
    } catch (e) {
      lastErr = e;
      await stopRunning(run);
    }
  }
  throw lastErr;
}

function makeServer(spec: Spec, port: number, first: Running, calendarUrl: string, username: string, password: string): TestServer {
  let run: Running | undefined = first;
  return {
    kind: spec.kind, calendarUrl, username, password, port, dir: spec.dir,
    async stop() { await stopRunning(run); run = undefined; },
    async start() {
      if (run) return;
      let lastErr: unknown;
      // The port can stay busy for a moment after stop(): retry for a few seconds.
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = launch(spec.cmd, spec.args(port), spec.dir);
        try { await waitUntilAnswering(port, r, spec.kind); run = r; return; } catch (e) {
          lastErr = e;
          await stopRunning(r);
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      throw lastErr;
    },
    async destroy() {
      await stopRunning(run);
      run = undefined;
      rmSync(spec.dir, { recursive: true, force: true });
    },
  };
}

export async function startRadicale(opts: { calendar?: string; user?: string; password?: string } = {}): Promise<TestServer> {
  const user = opts.user ?? 'alice';
  const password = opts.password ?? 'secret';
  const calendar = opts.calendar ?? 'hosthog';
  const dir = mkdtempSync(join(tmpdir(), 'hh-radicale-'));
  const spec: Spec = {
    kind: 'radicale', dir, cmd: 'radicale',
    args: () => ['--config', join(dir, 'config')],
    prepare(port) {
      mkdirSync(join(dir, 'collections'), { recursive: true });
      writeFileSync(join(dir, 'users'), `${user}:${password}\n`);
      writeFileSync(join(dir, 'config'), [
        '[server]', `hosts = 127.0.0.1:${port}`,
        '[auth]', 'type = htpasswd', `htpasswd_filename = ${join(dir, 'users')}`, 'htpasswd_encryption = plain', 'delay = 0',
        '[rights]', 'type = owner_only',
        '[storage]', `filesystem_folder = ${join(dir, 'collections')}`,
        '[web]', 'type = none',
        '[logging]', 'level = warning', 'mask_passwords = True',
        '',
      ].join('\n'));
    },
  };
  const { port, run } = await firstStart(spec);
  const calendarUrl = `http://127.0.0.1:${port}/${encodeURIComponent(user)}/${encodeURIComponent(calendar)}/`;
  const auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  const srv = makeServer(spec, port, run, calendarUrl, user, password);
  try { await mkcalendar(calendarUrl, auth, 'radicale'); } catch (e) { await srv.destroy(); throw e; }
  return srv;
}

export async function startXandikos(opts: { calendar?: string } = {}): Promise<TestServer> {
  const calendar = opts.calendar ?? 'calendar';
  const dir = mkdtempSync(join(tmpdir(), 'hh-xandikos-'));
  const spec: Spec = {
    kind: 'xandikos', dir, cmd: 'xandikos',
    args: (port) => ['--defaults', '-d', join(dir, 'data'), '-l', '127.0.0.1', '-p', String(port)],
    prepare() { /* xandikos --defaults creates its tree */ },
  };
  const { port, run } = await firstStart(spec);
  const calendarUrl = `http://127.0.0.1:${port}/user/calendars/${encodeURIComponent(calendar)}/`;
  const srv = makeServer(spec, port, run, calendarUrl, 'user', 'unused');
  if (calendar !== 'calendar') {
    try { await mkcalendar(calendarUrl, undefined, 'xandikos'); } catch (e) { await srv.destroy(); throw e; }
  }
  return srv;
}
