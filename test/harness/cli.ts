/**
 * Run the real hosthog CLI as a child process: the compiled dist/src/cli/main.js when the tests
 * run compiled (npm test), or src/cli/main.ts through tsx while developing.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { BRIDGE_ENV, BRIDGE_NODE_FLAGS, RUNTIME_GUARD } from '../../src/bridge/runtime.js';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = here.includes(`${'/'}dist${'/'}`);
export const REPO = compiled ? resolve(here, '../../..') : resolve(here, '../..');

/** argv prefix that runs the CLI: [node, ...args]. */
export function cliCommand(): string[] {
  return compiled
    ? [process.execPath, join(REPO, 'dist/src/cli/main.js')]
    : [process.execPath, '--import', 'tsx', join(REPO, 'src/cli/main.ts')];
}

/** `bridge` runs as bin/hosthog and the unit start it: node flags and malloc env in place (no re-exec). */
function bridgeRuntime(args: string[]): { flags: string[]; env: NodeJS.ProcessEnv } {
  return args.includes('bridge')
    ? { flags: [...BRIDGE_NODE_FLAGS], env: { ...BRIDGE_ENV, [RUNTIME_GUARD]: '1' } }
    : { flags: [], env: {} };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    uid?: number;
    gid?: number;
    input?: string;
    timeoutMs?: number;
    cwd?: string;
  } = {},
): Promise<RunResult> {
  const [cmd, ...pre] = cliCommand();
  const rt = bridgeRuntime(args);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, [...rt.flags, ...pre, ...args], {
      env: { ...process.env, HOSTHOG_LOG_LEVEL: 'warn', ...rt.env, ...opts.env },
      uid: opts.uid,
      gid: opts.gid,
      cwd: opts.cwd ?? REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Start a long-running CLI command (the bridge); the caller stops it. */
export function startCli(
  args: string[],
  opts: SpawnOptions & { env?: NodeJS.ProcessEnv } = {},
): ChildProcess & { output: () => string } {
  const [cmd, ...pre] = cliCommand();
  const rt = bridgeRuntime(args);
  const child = spawn(cmd, [...rt.flags, ...pre, ...args], {
    cwd: REPO,
    ...opts,
    env: { ...process.env, ...rt.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output: () => string };
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  child.output = () => out;
  return child;
}

/** Poll until fn returns a truthy value or the time is up (then throws with the last value). */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}
