/**
 * How the bridge process is started: V8 flags and C-library malloc settings that keep a
 * long-running bridge small. One list; bin/hosthog execs node with the same for `hosthog
 * bridge` (the unit and `npm run bridge` start it that way), and a bridge started as plain
 * `node main.js bridge` re-runs itself once with them (reexecWithRuntime); test/runtime.test.ts
 * holds them equal.
 *
 * Measured with a 5,000-event calendar (docs/benchmarks.md): without these the bridge sits at
 * ~115 MB RSS after its first sync; with them ~90 MB, and it stays there between polls.
 *  - --max-semi-space-size=1, --optimize-for-size: a small young generation, size-first GC;
 *  - --expose-gc: lets the bridge run one compacting GC after a big sync (bridge.ts);
 *  - MALLOC_ARENA_MAX=1: one glibc arena instead of one per thread (V8's compiler and GC
 *    threads each kept freed memory in their own);
 *  - MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_: big buffers (HTTP bodies) come from mmap
 *    and go back to the system when freed; the heap top is trimmed early.
 */
export const BRIDGE_NODE_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size', '--expose-gc'] as const;

export const BRIDGE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '1',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** Set in the bridge's environment once its runtime is in place (never re-exec twice). */
export const RUNTIME_GUARD = 'HOSTHOG_BRIDGE_RUNTIME';

/**
 * `node main.js bridge` started without the runtime (not through bin/hosthog, the unit or
 * `npm run bridge`, which exec node with it): run the bridge once more as a child with the
 * flags and malloc settings, forward signals to it, and end with its exit code. Node cannot
 * exec(2) itself, so this parent stays (small, idle); bin/hosthog avoids it. Returns null
 * when the runtime is already in place.
 */
export async function reexecWithRuntime(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number | null> {
  if (env[RUNTIME_GUARD]) return null;
  const { spawn } = await import('node:child_process');
  const child = spawn(argv[0], [...process.execArgv, ...BRIDGE_NODE_FLAGS, ...argv.slice(1)], {
    env: { ...env, ...BRIDGE_ENV, [RUNTIME_GUARD]: '1' },
    stdio: 'inherit',
  });
  const forward = (sig: NodeJS.Signals) => () => {
    child.kill(sig);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, forward(sig));
  return new Promise((resolve) => {
    child.on('error', () => resolve(70));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}
