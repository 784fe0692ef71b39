/**
 * Run a command (argv, never a shell) with a deadline: past it the child's whole process group
 * is killed (SIGKILL) and the promise settles at once, whatever the child left running.
 */
import { spawn } from 'node:child_process';

export interface Bounded {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
  timedOut: boolean;
}

const MAX_OUT = 1 << 20;

export function runBounded(argv: string[], timeoutMs: number): Promise<Bounded> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const finish = (r: Omit<Bounded, 'stdout' | 'stderr'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, stdout, stderr });
    };
    let child: ReturnType<typeof spawn>;
    try {
      // Its own process group: the deadline kills whatever it started too.
      const env = { ...process.env, LC_ALL: 'C' };
      child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    } catch (e) {
      resolve({ code: null, stdout, stderr, error: (e as Error).message, timedOut: false });
      return;
    }
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    };
    const timer = setTimeout(() => {
      kill();
      finish({ code: null, timedOut: true });
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUT) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUT) stderr += d.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish({
        code: null,
        error: e.code === 'ENOENT' ? `${argv[0]} not found` : e.message,
        timedOut: false,
      });
    });
    child.on('close', (code) => finish({ code, timedOut: false }));
  });
}
