/** claim, extend, edit, release, cancel, hog, unhog: parse what the user typed, send it, print. */
import { userInfo } from 'node:os';
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { callWrite } from '../transport.js';
import { parseWhen, parseDurationArg, claimTimes } from '../../core/when.js';
import { parseDuration } from '../../core/duration.js';
import { parseRepeat } from '../../core/repeat.js';
import { UsageError } from '../../core/errors.js';
import { printResult } from '../output.js';

export interface ClaimOpts {
  exclusive?: boolean;
  shared?: boolean;
  hog?: boolean;
  in?: string;
  at?: string;
  for?: string;
  until?: string;
  note?: string;
  repeat?: string;
  allow?: string;
  user?: string;
  json?: boolean;
  force?: boolean;
}

// "" is an empty list (edit --resources "" = the whole host again; --allow "" clears it), not "unchanged".
const list = (s?: string) =>
  s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);

export async function claim(g: GlobalOptions, resources: string[], o: ClaimOpts): Promise<void> {
  const config = configFor(g);
  const now = new Date();
  if (o.exclusive && o.shared)
    throw new UsageError('--exclusive and --shared contradict each other', 'pick one');
  if (o.hog && o.shared) throw new UsageError('a hog claim is always exclusive', 'drop --shared');
  if (o.in && o.at) throw new UsageError('--in and --at both say when to start', 'pick one');
  if (o.for && o.until) throw new UsageError('--for and --until both say when to end', 'pick one');
  const { start, end } = claimTimes(o, now, config.timezone);
  if (!end) throw new UsageError('a claim needs an end', 'add --for 2h or --until 18:00');
  const rrule = o.repeat ? parseRepeat(o.repeat, start, config.timezone) : undefined;
  const res = resources.flatMap((r) => list(r) ?? []);
  const result = await callWrite(g, 'claim', {
    resources: res,
    mode: o.exclusive || o.hog ? 'exclusive' : 'shared',
    hog: Boolean(o.hog),
    note: o.note ?? '',
    allow: list(o.allow) ?? [],
    start: start.toISOString(),
    end: end.toISOString(),
    rrule,
    user: o.user,
    ...(o.force ? { force: true } : {}),
  });
  printResult(result, o.json);
}

export async function extend(
  g: GlobalOptions,
  a: string | undefined,
  b: string | undefined,
  o: { until?: string; uid?: string; json?: boolean },
): Promise<void> {
  const config = configFor(g);
  // One way to name a claim: `extend [id] [duration]`; a lone argument that reads as a duration is one.
  let duration = b;
  if (a !== undefined && b === undefined && parseDuration(a) !== null) duration = a;
  else if (a !== undefined) {
    if (o.uid && o.uid !== a)
      throw new UsageError('two claim ids given', 'give the id once, e.g. hosthog extend 6f1c 2h');
    o = { ...o, uid: a };
  }
  if (!duration && !o.until)
    throw new UsageError('extend by how much?', 'e.g. hosthog extend 2h, or hosthog extend --until 18:00');
  if (duration && o.until)
    throw new UsageError('give a duration or --until, not both', 'e.g. hosthog extend 2h');
  const params = duration
    ? { uid: o.uid, byMs: parseDurationArg(duration) }
    : { uid: o.uid, until: parseWhen(o.until!, new Date(), config.timezone).toISOString() };
  printResult(await callWrite(g, 'extend', params), o.json);
}

export async function edit(
  g: GlobalOptions,
  uid: string,
  o: {
    note?: string;
    until?: string;
    at?: string;
    resources?: string;
    exclusive?: boolean;
    shared?: boolean;
    hog?: boolean;
    allow?: string;
    json?: boolean;
  },
): Promise<void> {
  const config = configFor(g);
  const now = new Date();
  if (o.exclusive && o.shared)
    throw new UsageError('--exclusive and --shared contradict each other', 'pick one');
  const params = {
    uid,
    note: o.note,
    until: o.until ? parseWhen(o.until, now, config.timezone).toISOString() : undefined,
    start: o.at ? parseWhen(o.at, now, config.timezone).toISOString() : undefined,
    resources: list(o.resources),
    mode: o.exclusive ? 'exclusive' : o.shared ? 'shared' : undefined,
    hog: o.hog,
    allow: list(o.allow),
  };
  if (Object.entries(params).every(([k, v]) => k === 'uid' || v === undefined))
    throw new UsageError('nothing to change', 'give e.g. --note "…" or --until 18:00');
  printResult(await callWrite(g, 'edit', params), o.json);
}

export async function release(
  g: GlobalOptions,
  uid: string | undefined,
  o: { json?: boolean },
): Promise<void> {
  printResult(await callWrite(g, 'release', { uid }), o.json);
}

export async function cancel(g: GlobalOptions, uid: string, o: { json?: boolean }): Promise<void> {
  printResult(await callWrite(g, 'cancel', { uid }), o.json);
}

export async function hog(
  g: GlobalOptions,
  uid: string | undefined,
  o: { allow?: string; dryRun?: boolean; json?: boolean },
): Promise<void> {
  if (o.dryRun) {
    const r = (await callWrite(g, 'hog-dry-run', { uid, allow: list(o.allow) })) as {
      summary: string;
      letIn: string[];
      units?: { stop: string[]; refused: { unit: string; why: string }[]; error?: string };
    };
    if (o.json) {
      printResult(r, true);
      return;
    }
    const u = r.units;
    process.stdout.write(
      r.summary +
        '\n' +
        r.letIn.map((n) => `  let in\t${n}\n`).join('') +
        (u
          ? u.stop.map((x) => `  stop\t${x}\n`).join('') +
            u.refused.map((x) => `  keep\t${x.unit} (${x.why})\n`).join('') +
            (u.error ? `  quiet host: ${u.error}\n` : '')
          : ''),
    );
    return;
  }
  printResult(await callWrite(g, 'hog', { uid, allow: list(o.allow) }), o.json);
}

export async function unhog(
  g: GlobalOptions,
  uid: string | undefined,
  o: { force?: boolean; json?: boolean },
): Promise<void> {
  if (o.force) {
    if (userInfo().uid !== 0)
      throw new UsageError('unhog --force opens the hog gate and needs root', 'run it with sudo');
    const { forceUnhog } = await import('./unhog-force.js');
    printResult(await forceUnhog(configFor(g)), o.json);
    return;
  }
  printResult(await callWrite(g, 'unhog', { uid }), o.json);
}
