/**
 * How the bridge process is started: V8 flags and C-library malloc settings that keep a
 * long-running bridge small. One list, used by the bench; systemd/hosthog-bridge.service and
 * package.json's `bridge` script spell out the same (test/runtime.test.ts holds them equal).
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
