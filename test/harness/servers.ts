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
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface TestServer {
  kind: 'radicale' | 'xandikos' | 'davical';
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
  /** DAViCal only: run SQL in its database (as the postgres superuser); returns psql's -At output. */
  sql?(query: string): Promise<string>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
  try {
    child.kill(signal);
  } catch {
    /* already gone */
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
}

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

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
  const keep = (d: Buffer) => {
    buf = (buf + d.toString('utf8')).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    });
    child.once('error', (e) => {
      buf += `\nspawn error: ${e.message}`;
      live.delete(child);
      resolve(-1);
    });
  });
  return { child, stderr: () => buf, exited };
}

/** Resolves once anything answers HTTP on the port; rejects if the process exits first. */
async function waitUntilAnswering(
  port: number,
  run: Running,
  what: string,
  timeoutMs = 15000,
): Promise<void> {
  let dead = false;
  void run.exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what} exited before answering on 127.0.0.1:${port}:\n${run.stderr()}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (!dead) return;
    } catch {
      /* not yet */
    }
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
  const body =
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">' +
    '<D:set><D:prop><D:displayname>test calendar</D:displayname></D:prop></D:set></C:mkcalendar>';
  const r = await fetch(url, { method: 'MKCALENDAR', headers, body });
  const text = await r.text();
  if (r.status !== 201)
    throw new Error(`${what}: MKCALENDAR ${url} answered ${r.status}: ${text.slice(0, 500)}`);
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

function makeServer(
  spec: Spec,
  port: number,
  first: Running,
  calendarUrl: string,
  username: string,
  password: string,
): TestServer {
  let run: Running | undefined = first;
  return {
    kind: spec.kind,
    calendarUrl,
    username,
    password,
    port,
    dir: spec.dir,
    async stop() {
      await stopRunning(run);
      run = undefined;
    },
    async start() {
      if (run) return;
      let lastErr: unknown;
      // The port can stay busy for a moment after stop(): retry for a few seconds.
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = launch(spec.cmd, spec.args(port), spec.dir);
        try {
          await waitUntilAnswering(port, r, spec.kind);
          run = r;
          return;
        } catch (e) {
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

export async function startRadicale(
  opts: { calendar?: string; user?: string; password?: string } = {},
): Promise<TestServer> {
  const user = opts.user ?? 'alice';
  const password = opts.password ?? 'secret';
  const calendar = opts.calendar ?? 'hosthog';
  const dir = mkdtempSync(join(tmpdir(), 'hh-radicale-'));
  const spec: Spec = {
    kind: 'radicale',
    dir,
    cmd: 'radicale',
    args: () => ['--config', join(dir, 'config')],
    prepare(port) {
      mkdirSync(join(dir, 'collections'), { recursive: true });
      writeFileSync(join(dir, 'users'), `${user}:${password}\n`);
      writeFileSync(
        join(dir, 'config'),
        [
          '[server]',
          `hosts = 127.0.0.1:${port}`,
          '[auth]',
          'type = htpasswd',
          `htpasswd_filename = ${join(dir, 'users')}`,
          'htpasswd_encryption = plain',
          'delay = 0',
          '[rights]',
          'type = owner_only',
          '[storage]',
          `filesystem_folder = ${join(dir, 'collections')}`,
          '[web]',
          'type = none',
          '[logging]',
          'level = warning',
          'mask_passwords = True',
          '',
        ].join('\n'),
      );
    },
  };
  const { port, run } = await firstStart(spec);
  const calendarUrl = `http://127.0.0.1:${port}/${encodeURIComponent(user)}/${encodeURIComponent(calendar)}/`;
  const auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  const srv = makeServer(spec, port, run, calendarUrl, user, password);
  try {
    await mkcalendar(calendarUrl, auth, 'radicale');
  } catch (e) {
    await srv.destroy();
    throw e;
  }
  return srv;
}

export async function startXandikos(opts: { calendar?: string } = {}): Promise<TestServer> {
  const calendar = opts.calendar ?? 'calendar';
  const dir = mkdtempSync(join(tmpdir(), 'hh-xandikos-'));
  const spec: Spec = {
    kind: 'xandikos',
    dir,
    cmd: 'xandikos',
    args: (port) => ['--defaults', '-d', join(dir, 'data'), '-l', '127.0.0.1', '-p', String(port)],
    prepare() {
      /* xandikos --defaults creates its tree */
    },
  };
  const { port, run } = await firstStart(spec);
  const calendarUrl = `http://127.0.0.1:${port}/user/calendars/${encodeURIComponent(calendar)}/`;
  const srv = makeServer(spec, port, run, calendarUrl, 'user', 'unused');
  if (calendar !== 'calendar') {
    try {
      await mkcalendar(calendarUrl, undefined, 'xandikos');
    } catch (e) {
      await srv.destroy();
      throw e;
    }
  }
  return srv;
}

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * DAViCal 1.1.12 from Debian with its own PostgreSQL cluster and Apache, all on loopback and in
 * one short temporary directory, set up as /work/shared/notes/davical-notes.md describes: initdb
 * and postgres as the postgres user (trust, socket only), create-database.sh, one user "alice"
 * inserted through dav_principal, Apache (prefork + mod_php) in the foreground with -DNO_DETACH,
 * the config found through an auto_prepend_file (nothing under /etc is touched), MKCALENDAR.
 * stop()/start() stop and start Apache (the database keeps running); destroy() stops both.
 */
export async function startDavical(opts: { calendar?: string } = {}): Promise<TestServer> {
  const user = 'alice';
  const password = 'secret';
  const calendar = opts.calendar ?? 'hosthog';
  const dir = mkdtempSync('/tmp/hh-dav-'); // the socket path must stay under 107 bytes
  chmodSync(dir, 0o755); // postgres and www-data must reach the socket and the config
  const pgData = join(dir, 'pg');
  const sock = join(dir, 's');
  const ap = join(dir, 'ap');
  for (const d of [pgData, sock]) mkdirSync(d);
  mkdirSync(ap);
  const pgUid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const pgGid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  for (const d of [pgData, sock]) chownSync(d, pgUid, pgGid);
  const asPg = ['--reuid=postgres', '--regid=postgres', '--init-groups'];
  let pg: Running | undefined;
  let apache: Running | undefined;
  const cleanup = async () => {
    await stopRunning(apache);
    if (pg && pg.child.exitCode === null) {
      killGroup(pg.child, 'SIGINT'); // fast shutdown (SIGTERM would wait for sessions)
      const t = setTimeout(() => killGroup(pg!.child, 'SIGKILL'), 5000);
      await pg.exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run(
      'setpriv',
      [
        ...asPg,
        `${PG_BIN}/initdb`,
        '-D',
        pgData,
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--no-locale',
        '-N',
      ],
      { cwd: dir },
    );
    const pgPort = await freePort();
    pg = launch(
      'setpriv',
      [
        ...asPg,
        `${PG_BIN}/postgres`,
        '-D',
        pgData,
        '-p',
        String(pgPort),
        '-k',
        sock,
        '-c',
        'listen_addresses=',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      dir,
    );
    const env = { ...process.env, PGHOST: sock, PGPORT: String(pgPort), PGUSER: 'postgres', TMPDIR: dir };
    for (let i = 0; ; i++) {
      try {
        await run('pg_isready', ['-U', 'postgres', '-h', sock, '-p', String(pgPort)]);
        break;
      } catch (e) {
        if (i > 150 || pg.child.exitCode !== null) throw new Error(`postgres did not start: ${pg.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await run('/usr/share/davical/dba/create-database.sh', ['davical', 'adminpw'], { cwd: dir, env });
    const psql = async (q: string, as = 'postgres') =>
      (await run('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-U', as, '-d', 'davical', '-c', q], { env }))
        .stdout;
    const rev = await psql(
      "SELECT schema_major||'.'||schema_minor||'.'||schema_patch FROM awl_db_revision " +
        'ORDER BY schema_major DESC, schema_minor DESC, schema_patch DESC LIMIT 1',
    );
    if (rev.trim() !== '1.3.5')
      throw new Error(`DAViCal schema is at ${rev.trim()}, not 1.3.5: create-database.sh failed`);
    await psql(
      'INSERT INTO dav_principal ' +
        '(username, password, fullname, displayname, email, type_id, default_privileges) ' +
        `VALUES ('${user}', '**${password}', 'Alice', 'Alice', 'alice@example.net', 1, ` +
        "privilege_to_bits(ARRAY['read-free-busy','schedule-deliver']))",
      'davical_dba',
    );
    writeFileSync(join(dir, 'prepend.php'), `<?php $_SERVER['SERVER_NAME'] = '../..${dir}/davical';\n`);
    writeFileSync(
      join(dir, 'davical-conf.php'),
      [
        '<?php',
        "$_SERVER['SERVER_NAME'] = '127.0.0.1';",
        "$c->domain_name = '127.0.0.1';",
        "$c->system_name = 'hosthog test DAViCal';",
        `$c->pg_connect[] = 'host=${sock} port=${pgPort} dbname=davical user=davical_app';`,
        '',
      ].join('\n'),
    );
    chmodSync(join(dir, 'prepend.php'), 0o644);
    chmodSync(join(dir, 'davical-conf.php'), 0o644);
    const mods = '/usr/lib/apache2/modules';
    const conf = (port: number) =>
      [
        `ServerRoot ${ap}`,
        `PidFile ${ap}/httpd.pid`,
        `DefaultRuntimeDir ${ap}`,
        `Mutex file:${ap} default`,
        `Listen 127.0.0.1:${port}`,
        'ServerName 127.0.0.1',
        'User www-data',
        'Group www-data',
        `ErrorLog ${ap}/error.log`,
        'LogFormat "%h %r %>s %b" common',
        `CustomLog ${ap}/access.log common`,
        `LoadModule mpm_prefork_module ${mods}/mod_mpm_prefork.so`,
        `LoadModule authz_core_module ${mods}/mod_authz_core.so`,
        `LoadModule dir_module ${mods}/mod_dir.so`,
        `LoadModule mime_module ${mods}/mod_mime.so`,
        'TypesConfig /etc/mime.types',
        `LoadModule php_module ${mods}/libphp8.2.so`,
        'StartServers 2',
        'MinSpareServers 1',
        'MaxSpareServers 3',
        'MaxRequestWorkers 6',
        'DocumentRoot /usr/share/davical/htdocs',
        '<Directory /usr/share/davical/htdocs>',
        '  DirectoryIndex index.php',
        '  AllowOverride None',
        '  Require all granted',
        '</Directory>',
        '<FilesMatch "\\.php$">',
        '  SetHandler application/x-httpd-php',
        '</FilesMatch>',
        `php_admin_value auto_prepend_file ${dir}/prepend.php`,
        '',
      ].join('\n');
    const spec: Spec = {
      kind: 'davical',
      dir,
      cmd: 'apache2',
      args: () => ['-d', ap, '-f', join(ap, 'httpd.conf'), '-DNO_DETACH'],
      prepare(port) {
        writeFileSync(join(ap, 'httpd.conf'), conf(port));
      },
    };
    const first = await firstStart(spec);
    apache = first.run;
    const calendarUrl = `http://127.0.0.1:${first.port}/caldav.php/${user}/${encodeURIComponent(calendar)}/`;
    const auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
    await mkcalendar(calendarUrl, auth, 'davical');
    const srv = makeServer(spec, first.port, first.run, calendarUrl, user, password);
    return {
      ...srv,
      async stop() {
        await srv.stop();
        apache = undefined;
      },
      async destroy() {
        await srv.stop();
        apache = undefined;
        await cleanup();
      },
      sql: (q: string) => psql(q),
    };
  } catch (e) {
    const log = existsSync(join(ap, 'error.log'))
      ? `\n${readFileSync(join(ap, 'error.log'), 'utf8').slice(-2000)}`
      : '';
    await cleanup();
    throw new Error(`DAViCal did not start: ${(e as Error).message}${log}`);
  }
}
