/**
 * The bridge's unix-socket RPC with real unix users: the server runs in this (root) process,
 * clients run as hh-alice / hh-bob / hh-dave in child processes via
 *   setpriv --reuid=UID --regid=GID --init-groups node --import tsx CLIENT.mjs …
 * How the children reach the real client code: the repo (/work/main) is world-readable and
 * traversable, so CLIENT.mjs (written to a 0755 temp dir) imports src/host/rpc/rpc-client.ts by
 * absolute path and tsx compiles it on the fly; `--import tsx` resolves from the child's cwd,
 * which is the repo root. tsx keeps its cache in /tmp/tsx-UID, writable per user.
 * A second script (raw.mjs, plain node:net, no tsx) speaks the wire protocol directly to show
 * what a dishonest client can and cannot do.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { promises as fsp, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestUsers, type TestUser } from './harness/users.js';
import { startRpcServer, type RpcServer } from '../src/host/rpc/rpc-server.js';
import { callBridge } from '../src/host/rpc/rpc-client.js';
import type { Caller, RpcRequest } from '../src/host/rpc/rpc-protocol.js';
import { BridgeUnavailableError, PermissionError } from '../src/core/errors.js';

// Run from source (node --import tsx) or compiled (npm test runs dist/test/*.js): the child
// imports the same flavour of the real client.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLIENT_TS = join(REPO, FROM_SOURCE ? 'src/host/rpc/rpc-client.ts' : 'src/host/rpc/rpc-client.js');
const NODE_ARGS = FROM_SOURCE ? ['--import', 'tsx'] : [];
const HANDSHAKE_MS = 2500;

let users: Record<string, TestUser>;
let tmp: string;
let runDir: string;
let socketPath: string;
let challengeDir: string;
let clientsDir: string;
let server: RpcServer | undefined;
const calls: { caller: Caller; req: RpcRequest }[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

const CLIENT_MJS = `
import { callBridge } from ${JSON.stringify(CLIENT_TS)};
const [socketPath, method, claim] = process.argv.slice(2);
try {
  const result = await callBridge(socketPath, { method, params: { from: 'child' } }, \
{ timeoutMs: 10000, ...(claim ? { claimUid: Number(claim) } : {}) });
  console.log(JSON.stringify({ ok: true, result }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, message: e.message, \
line: e.line?.(), exitCode: e.exitCode }));
}
`;

// A dishonest client: speaks the protocol by hand.
const RAW_MJS = `
import { createConnection } from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
const [socketPath, scenario, arg] = process.argv.slice(2);
function open() {
  const s = createConnection(socketPath);
  let buf = '';
  const waiters = [];
  const frames = [];
  s.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) { \
frames.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); }
    while (waiters.length && frames.length) waiters.shift()(frames.shift());
  });
  s.on('error', () => {});
  s.on('close', () => { while (waiters.length) waiters.shift()({ closed: true }); });
  return {
    send: (f) => s.write(JSON.stringify(f) + '\\n'),
    next: () => new Promise((r) => frames.length ? r(frames.shift()) : waiters.push(r)),
    end: () => s.end(),
  };
}
function tryRead(path) { \
try { return { nonce: readFileSync(path, 'utf8') }; } catch (e) { return { readError: e.code }; } }
const out = {};
if (scenario === 'impersonate') {
  const c = open();
  c.send({ type: 'hello', v: 1, uid: Number(arg) });
  const ch = await c.next();
  out.challenge = ch;
  Object.assign(out, tryRead(ch.path));
  c.send({ type: 'proof', nonce: out.nonce ?? randomBytes(32).toString('hex') });
  out.answer = await c.next();
  if (out.answer.type === 'response') out.after = await c.next(); else c.end();
} else if (scenario === 'replay') {
  const a = open();
  a.send({ type: 'hello', v: 1, uid: process.getuid() });
  const chA = await a.next();
  const nonceA = readFileSync(chA.path, 'utf8');
  const b = open();
  b.send({ type: 'hello', v: 1, uid: process.getuid() });
  out.challengeB = await b.next();
  b.send({ type: 'proof', nonce: nonceA });
  out.answerB = await b.next();
  a.send({ type: 'proof', nonce: nonceA });
  out.answerA = await a.next();
  a.send({ type: 'proof', nonce: nonceA });
  out.secondProofA = await a.next();
  a.end();
}
console.log(JSON.stringify(out));
`;

function runAs(user: TestUser, script: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        '--init-groups',
        process.execPath,
        ...NODE_ARGS,
        script,
        ...args,
      ],
      {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: user.home },
        timeout: 30_000,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(last));
        } catch {
          reject(new Error(`client as ${user.name} failed: ${err?.message}\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** A root-side raw connection: send bytes, collect answer frames until the server hangs up. */
function rawSession(
  path: string,
  payloads: (string | Buffer)[],
  waitMs = 5000,
): Promise<{ frames: any[]; closed: boolean }> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let buf = '';
    const frames: any[] = [];
    const t = setTimeout(() => {
      s.destroy();
      resolve({ frames, closed: false });
    }, waitMs);
    s.on('connect', () => {
      for (const p of payloads) s.write(p);
    });
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        frames.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      resolve({ frames, closed: true });
    });
  });
}

const handler = async (caller: Caller, req: RpcRequest): Promise<unknown> => {
  calls.push({ caller, req });
  if (req.method === 'deny') throw new PermissionError('not yours to release', 'ask its holder');
  if (req.method === 'crash') throw new Error('secret internal detail');
  return { caller, method: req.method, params: req.params };
};

async function listChallenges(): Promise<string[]> {
  return fsp.readdir(challengeDir);
}

async function waitUntilEmpty(ms = 3000): Promise<string[]> {
  const until = Date.now() + ms;
  let left = await listChallenges();
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = await listChallenges();
  }
  return left;
}

before(async () => {
  users = ensureTestUsers();
  tmp = await fsp.mkdtemp('/tmp/hh-rpc-');
  await fsp.chmod(tmp, 0o755);
  runDir = join(tmp, 'run');
  socketPath = join(runDir, 'bridge.sock');
  challengeDir = join(runDir, 'challenges');
  clientsDir = join(tmp, 'clients');
  await fsp.mkdir(clientsDir, { mode: 0o755 });
  await fsp.chmod(clientsDir, 0o755);
  await fsp.writeFile(join(clientsDir, 'client.mjs'), CLIENT_MJS, { mode: 0o644 });
  await fsp.writeFile(join(clientsDir, 'raw.mjs'), RAW_MJS, { mode: 0o644 });
  server = await startRpcServer({ socketPath, runDir, handler, handshakeTimeoutMs: HANDSHAKE_MS });
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await server?.close();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

test('the server makes a root-owned 0755 socket dir, a 0666 socket and a 0711 challenge dir', async () => {
  const d = await fsp.stat(runDir);
  assert.equal(d.uid, 0);
  assert.equal(d.mode & 0o7777, 0o755);
  const s = await fsp.lstat(socketPath);
  assert.ok(s.isSocket());
  assert.equal(s.mode & 0o777, 0o666);
  const c = await fsp.lstat(challengeDir);
  assert.ok(c.isDirectory());
  assert.equal(c.uid, 0);
  assert.equal(c.mode & 0o7777, 0o711);
  // Others can traverse but not list it.
  const bobLs = await new Promise<number>((r) =>
    execFile(
      'setpriv',
      [
        `--reuid=${users['hh-bob'].uid}`,
        `--regid=${users['hh-bob'].gid}`,
        '--init-groups',
        'ls',
        challengeDir,
      ],
      (e) => r(e ? Number((e as any).code) : 0),
    ),
  );
  assert.notEqual(bobLs, 0);
});

test("alice's call reaches the handler as hh-alice with her groups", async () => {
  const before = calls.length;
  const r = await runAs(users['hh-alice'], join(clientsDir, 'client.mjs'), [socketPath, 'whoami']);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(calls.length, before + 1);
  const { caller, req } = calls[calls.length - 1];
  assert.equal(caller.user, 'hh-alice');
  assert.equal(caller.uid, users['hh-alice'].uid);
  assert.equal(caller.gid, users['hh-alice'].gid);
  assert.deepEqual(caller.groups, ['hh-alice']);
  assert.deepEqual(req, { method: 'whoami', params: { from: 'child' } });
  assert.equal(r.result.caller.user, 'hh-alice');
  assert.deepEqual(await waitUntilEmpty(), []);
});

test("dave's groups include hh-admins", async () => {
  const r = await runAs(users['hh-dave'], join(clientsDir, 'client.mjs'), [socketPath, 'whoami']);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.result.caller.user, 'hh-dave');
  assert.ok(r.result.caller.groups.includes('hh-admins'), JSON.stringify(r.result.caller.groups));
  assert.equal(calls[calls.length - 1].caller.user, 'hh-dave');
});

const bobClaimingAliceUid =
  "bob claiming alice's uid (or root's) cannot read the nonce, is refused, and the handler is never called";
test(bobClaimingAliceUid, async () => {
  const before = calls.length;
  // Through the real client code: it cannot read the challenge, so it gives up.
  const viaClient = await runAs(users['hh-bob'], join(clientsDir, 'client.mjs'), [
    socketPath,
    'whoami',
    String(users['hh-alice'].uid),
  ]);
  assert.equal(viaClient.ok, false);
  assert.equal(viaClient.name, 'PermissionError');
  assert.match(
    viaClient.message,
    new RegExp(`could not prove to the bridge that you are uid ${users['hh-alice'].uid}: EACCES`),
  );

  // By hand: read fails with EACCES, a guessed nonce is refused, the connection is closed.
  for (const uid of [users['hh-alice'].uid, 0]) {
    const r = await runAs(users['hh-bob'], join(clientsDir, 'raw.mjs'), [
      socketPath,
      'impersonate',
      String(uid),
    ]);
    assert.equal(r.challenge.type, 'challenge', JSON.stringify(r));
    assert.equal(r.readError, 'EACCES');
    assert.equal(r.answer.type, 'response');
    assert.equal(r.answer.ok, false);
    assert.equal(r.answer.error.type, 'PermissionError');
    assert.match(r.answer.error.message, new RegExp(`could not prove that you are uid ${uid}`));
    assert.equal(r.answer.error.exitCode, 77);
    assert.deepEqual(r.after, { closed: true });
    assert.equal(existsSync(r.challenge.path), false, 'the challenge file is deleted after a wrong answer');
  }
  assert.equal(calls.length, before, 'the handler was never called');

  // Alice herself, by hand, proves it: the same raw path works for the rightful owner.
  const ok = await runAs(users['hh-alice'], join(clientsDir, 'raw.mjs'), [
    socketPath,
    'impersonate',
    String(users['hh-alice'].uid),
  ]);
  assert.equal(ok.answer.type, 'welcome');
  assert.equal(ok.answer.user, 'hh-alice');
  assert.deepEqual(await waitUntilEmpty(), []);
});

test('a proof is bound to its connection and single-use', async () => {
  const before = calls.length;
  const r = await runAs(users['hh-alice'], join(clientsDir, 'raw.mjs'), [socketPath, 'replay']);
  // Connection B gets its own challenge; A's nonce does not open B.
  assert.equal(r.challengeB.type, 'challenge');
  assert.equal(r.answerB.ok, false);
  assert.equal(r.answerB.error.type, 'PermissionError');
  // A's nonce opens A, once; a second proof on A is a protocol error that closes it.
  assert.equal(r.answerA.type, 'welcome');
  assert.equal(r.secondProofA.ok, false);
  assert.equal(r.secondProofA.error.type, 'UsageError');
  assert.equal(calls.length, before);
  assert.deepEqual(await waitUntilEmpty(), []);
});

test('a client that never answers the challenge times out and its challenge file is gone', async () => {
  const before = calls.length;
  const alice = users['hh-alice'];
  let path = '';
  const t0 = Date.now();
  const result = await new Promise<{ frames: any[] }>((resolve) => {
    const s = createConnection(socketPath);
    let buf = '';
    const frames: any[] = [];
    s.on('connect', () => s.write(JSON.stringify({ type: 'hello', v: 1, uid: alice.uid }) + '\n'));
    s.on('data', async (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const f = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        frames.push(f);
        if (f.type === 'challenge') path = f.path;
      }
    });
    s.on('close', () => resolve({ frames }));
  });
  const elapsed = Date.now() - t0;
  assert.ok(path.startsWith(challengeDir + '/'), path);
  assert.ok(elapsed >= HANDSHAKE_MS - 100, `closed after ${elapsed} ms`);
  assert.equal(result.frames[0].type, 'challenge');
  assert.equal(result.frames[1].ok, false);
  assert.match(result.frames[1].error.message, /timed out proving who you are/);
  assert.equal(existsSync(path), false);
  assert.deepEqual(await listChallenges(), []);
  assert.equal(calls.length, before);
});

test('challenge files are owned by the claimed uid, mode 0400, and go away on disconnect', async () => {
  const alice = users['hh-alice'];
  const s = createConnection(socketPath);
  const path = await new Promise<string>((resolve) => {
    let buf = '';
    s.on('connect', () => s.write(JSON.stringify({ type: 'hello', v: 1, uid: alice.uid }) + '\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))).path);
    });
  });
  const st = await fsp.stat(path);
  assert.equal(st.uid, alice.uid);
  assert.equal(st.gid, 0);
  assert.equal(st.mode & 0o7777, 0o400);
  assert.equal(st.size, 64);
  s.destroy();
  assert.deepEqual(await waitUntilEmpty(), []);
});

const garbageFrames =
  'garbage, oversized and out-of-order frames get an error and a hang-up, and the server keeps serving';
test(garbageFrames, async () => {
  const before = calls.length;
  const cases: (string | Buffer)[][] = [
    ['not json\n'],
    [Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a])],
    ['[1,2,3]\n'],
    ['{"type":"hello","v":1,"uid":-1}\n'],
    ['{"type":"hello","v":1,"uid":4294967295}\n'],
    ['{"type":"hello","v":1,"uid":"1001"}\n'],
    ['{"type":"hello","v":1,"uid":1.5}\n'],
    ['{"type":"proof","nonce":"00"}\n'],
    ['{"type":"request","method":"whoami","params":{}}\n'],
    ['{"type":"hello","v":99,"uid":0}\n'],
    ['x'.repeat(1024 * 1024)],
  ];
  for (const payload of cases) {
    const r = await rawSession(socketPath, payload);
    assert.equal(r.closed, true, `server hangs up on ${String(payload[0]).slice(0, 40)}`);
    assert.equal(r.frames.length, 1, String(payload[0]).slice(0, 40));
    assert.equal(r.frames[0].ok, false);
    assert.equal(
      r.frames[0].error.type,
      'UsageError',
      `${String(payload[0]).slice(0, 40)} → ${JSON.stringify(r.frames[0])}`,
    );
  }
  // An unknown uid is refused before any file is created.
  const unknown = await rawSession(socketPath, ['{"type":"hello","v":1,"uid":3999999}\n']);
  assert.equal(unknown.frames[0].error.type, 'PermissionError');
  assert.match(unknown.frames[0].error.message, /uid 3999999 has no account/);
  // Connect-and-vanish, many at once.
  await Promise.all(
    Array.from(
      { length: 30 },
      () =>
        new Promise<void>((r) => {
          const s = createConnection(socketPath, () => {
            s.write('{"type":"hello","v":1,"uid":0}\n');
            s.destroy();
            r();
          });
          s.on('error', () => r());
        }),
    ),
  );
  assert.equal(calls.length, before);
  // Still serving.
  const r = await runAs(users['hh-alice'], join(clientsDir, 'client.mjs'), [socketPath, 'whoami']);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.deepEqual(await waitUntilEmpty(), []);
});

const handlerErrors =
  'handler errors come back as the same HosthogError class; other errors as a generic internal error';
test(handlerErrors, async () => {
  const deny = await runAs(users['hh-bob'], join(clientsDir, 'client.mjs'), [socketPath, 'deny']);
  assert.deepEqual(
    { ok: deny.ok, name: deny.name, exitCode: deny.exitCode, line: deny.line },
    { ok: false, name: 'PermissionError', exitCode: 77, line: 'not yours to release (ask its holder)' },
  );
  const crash = await runAs(users['hh-bob'], join(clientsDir, 'client.mjs'), [socketPath, 'crash']);
  assert.equal(crash.ok, false);
  assert.equal(crash.exitCode, 70);
  assert.match(crash.message, /internal error/);
  assert.doesNotMatch(crash.message, /secret internal detail/);
  // In-process too (root is a caller like any other, proving uid 0).
  await assert.rejects(
    callBridge(socketPath, { method: 'deny', params: {} }),
    (e: unknown) => e instanceof PermissionError && e.exitCode === 77,
  );
  assert.equal(calls[calls.length - 1].caller.user, 'root');
});

test('a second server on a live socket refuses to start and leaves the first one working', async () => {
  await assert.rejects(
    startRpcServer({ socketPath, runDir, handler }),
    /another hosthog bridge is already running on this host/,
  );
  assert.ok((await fsp.lstat(socketPath)).isSocket());
  const r = (await callBridge(socketPath, { method: 'whoami', params: {} })) as { caller: Caller };
  assert.equal(r.caller.uid, 0);
});

test('a stale socket file is replaced at start', async () => {
  const dir = join(tmp, 'stale');
  await fsp.mkdir(dir, { mode: 0o755 });
  await fsp.chmod(dir, 0o755);
  const path = join(dir, 'bridge.sock');
  // A socket file nobody listens on (what a killed bridge leaves).
  execFileSync('python3', [
    '-c',
    'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])',
    path,
  ]);
  assert.ok((await fsp.lstat(path)).isSocket());
  const noBridge = await runAs(users['hh-alice'], join(clientsDir, 'client.mjs'), [path, 'whoami']);
  assert.equal(noBridge.name, 'BridgeUnavailableError'); // ECONNREFUSED reads the same as no socket
  const s2 = await startRpcServer({ socketPath: path, runDir: dir, handler });
  cleanups.push(() => s2.close());
  const r = await runAs(users['hh-alice'], join(clientsDir, 'client.mjs'), [path, 'whoami']);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.result.caller.user, 'hh-alice');
  await s2.close();
  assert.equal(existsSync(path), false, 'close removes its socket');
  assert.deepEqual(await fsp.readdir(join(dir, 'challenges')), []);
});

test('no bridge: BridgeUnavailableError with one line and exit code 69', async () => {
  const path = join(tmp, 'nowhere', 'bridge.sock');
  const r = await runAs(users['hh-alice'], join(clientsDir, 'client.mjs'), [path, 'whoami']);
  assert.equal(r.ok, false);
  assert.equal(r.name, 'BridgeUnavailableError');
  assert.equal(r.exitCode, 69);
  assert.equal(r.message, `no hosthog bridge is running on this host (socket ${path})`);
  assert.equal(
    r.line,
    `no hosthog bridge is running on this host (socket ${path}) ` +
      '(start it: systemctl start hosthog-bridge, or use --calendar URL to talk to the calendar directly)',
  );
  assert.ok(!r.line.includes('\n'));
  await assert.rejects(callBridge(path, { method: 'whoami', params: {} }), BridgeUnavailableError);
});

const noChallengeFileRemains =
  'no challenge file remains, and close leaves the challenge dir empty and removes the socket';
test(noChallengeFileRemains, async () => {
  assert.deepEqual(await waitUntilEmpty(), []);
  await server!.close();
  server = undefined;
  assert.deepEqual(await listChallenges(), []);
  assert.equal(existsSync(socketPath), false);
});
