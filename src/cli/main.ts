#!/usr/bin/env node
/**
 * hosthog's command line. Each command's module is imported only when that command runs, so
 * reading commands (status, list) load nothing they do not need. Every failure ends here: one
 * line on stderr ("hosthog: …") and the error class's exit code; never a stack trace
 * (HOSTHOG_DEBUG=1 prints it for developers).
 */
import { Command, CommanderError, Option } from 'commander';
import { errorLine, exitCodeOf, HosthogError, UsageError } from '../core/errors.js';

export interface GlobalOptions {
  config?: string;
  calendar?: string;
  host?: string;
}

function program(): Command {
  const p = new Command('hosthog')
    .description('who uses this host, from the shared calendar')
    .option(
      '-c, --config <path>',
      'config file (default: $HOSTHOG_CONFIG, /etc/hosthog/config.toml, ~/.config/hosthog/config.toml)',
    )
    .option('--calendar <url>', 'talk to this CalDAV calendar directly (off the host)')
    .option('--host <name>', "off the host: talk to that host's calendar (found through your [fleet] config)")
    // Commander's own errors as one line like ours: "hosthog: … (see hosthog --help)".
    .configureOutput({
      outputError: (str, write) =>
        write(
          `hosthog: ${str
            .trim()
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')} (see hosthog --help)\n`,
        ),
    })
    .exitOverride();
  const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;

  p.command('status', { isDefault: true })
    .description(
      'who uses the host now, who will in the next 24 h, announcements (from the cache; no network)',
    )
    .option('--at <time>', 'show the host as it was or will be at TIME (ISO 8601 or e.g. "tomorrow 9:00")')
    .option('--json', 'machine-readable output')
    .option('--brief', 'one or two lines, for shell start-up')
    .action(async (opts, cmd) => (await import('./commands/status.js')).status(g(cmd), opts));

  p.command('claim')
    .argument('[resources...]', 'resources to claim (e.g. gpu0 gpu1); none = the whole host')
    .description('claim the host (or some resources) for a while')
    .option('-x, --exclusive', 'nobody else may use it meanwhile')
    .option('--shared', 'others may share it (the default)')
    .option(
      '--hog',
      'exclusive, and lock other users out at the door (every ssh login method) while it lasts',
    )
    .option('--in <duration>', 'start after this long, e.g. 5m')
    .option('--at <time>', 'start at TIME, e.g. "tomorrow 9:00" (default: now)')
    .option('--for <duration>', 'how long, e.g. 2h')
    .option('--until <time>', 'until TIME, e.g. "friday 18:00"')
    .option('-m, --note <text>', 'what for; everyone sees it')
    .option('--repeat <rule>', 'e.g. "every monday until 2027-03-01"')
    .option('--allow <users>', 'with --hog: users still let in (comma list)')
    .option('--user <name>', 'admins: claim for someone else')
    .option('--force', 'admins: overrule every claim in the way (their holders are told, with your note)')
    .option('--json', 'machine-readable output')
    .action(async (resources, opts, cmd) =>
      (await import('./commands/claim.js')).claim(g(cmd), resources, opts),
    );

  p.command('extend')
    .argument('[id]', 'the claim: its id or first characters (hosthog list); none = your current or next one')
    .argument('[duration]', 'how much longer, e.g. 2h')
    .description('make a claim longer: hosthog extend 2h, hosthog extend 6f1c 2h')
    .option('--until <time>', 'new end instead of a duration')
    .addOption(new Option('--uid <id>', 'the claim (old spelling of the id argument)').hideHelp())
    .option('--json', 'machine-readable output')
    .action(async (a, b, opts, cmd) => (await import('./commands/claim.js')).extend(g(cmd), a, b, opts));

  p.command('edit')
    .argument('<id>', 'the claim: its id or first characters (see hosthog list)')
    .description('change a claim: note, times, resources, mode')
    .option('-m, --note <text>', 'new note')
    .option('--at <time>', 'new start')
    .option('--until <time>', 'new end')
    .option('--resources <list>', 'new resources (comma list; "" = whole host)')
    .option('-x, --exclusive', 'make it exclusive')
    .option('--shared', 'make it shared')
    .option('--hog', 'lock others out while it lasts')
    .option('--no-hog', 'stop locking others out')
    .option('--allow <users>', 'users let in during a hog')
    .option('--json', 'machine-readable output')
    .action(async (id, opts, cmd) => (await import('./commands/claim.js')).edit(g(cmd), id, opts));

  p.command('release')
    .argument('[id]', 'the claim (default: your current one)')
    .description('end your claim now (a future one is cancelled)')
    .option('--json', 'machine-readable output')
    .action(async (id, opts, cmd) => (await import('./commands/claim.js')).release(g(cmd), id, opts));

  p.command('cancel')
    .argument('<id>', 'the future claim to cancel')
    .description('cancel a claim that has not started')
    .option('--json', 'machine-readable output')
    .action(async (id, opts, cmd) => (await import('./commands/claim.js')).cancel(g(cmd), id, opts));

  p.command('list')
    .description('claims from now on (from the cache; no network)')
    .option('--mine', 'only yours')
    .option('--user <name>', "only this user's")
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/list.js')).list(g(cmd), opts));

  p.command('announce')
    .argument('<text...>', 'the announcement')
    .description('admins: an announcement shown in motd and status until it ends')
    .option('--from <time>', 'when it starts showing (default: now)')
    .option('--until <time>', 'when it stops showing')
    .option('--json', 'machine-readable output')
    .action(async (text, opts, cmd) => (await import('./commands/announce.js')).announce(g(cmd), text, opts));

  p.command('hog')
    .argument('[id]', 'your active exclusive claim (default: the current one)')
    .description('lock other users out (every ssh login method) for the rest of your exclusive claim')
    .option('--allow <users>', 'users still let in (comma list)')
    .option('--dry-run', 'say who would be let in and whether the gate would hold, change nothing')
    .option('--json', 'machine-readable output')
    .action(async (id, opts, cmd) => (await import('./commands/claim.js')).hog(g(cmd), id, opts));

  p.command('unhog')
    .argument('[id]', 'your claim (default: the current one)')
    .description('let everyone in again')
    .option('--force', 'root: open the hog gate now, whatever the calendar says')
    .option('--json', 'machine-readable output')
    .action(async (id, opts, cmd) => (await import('./commands/claim.js')).unhog(g(cmd), id, opts));

  p.command('notify')
    .argument('[text...]', 'the message')
    .description('send a message to everyone logged in here (signed with your name), or set your own notices')
    .option('--to <users>', 'only to these users (comma list), e.g. --to alice,bob')
    .option('--mute <duration>', 'only urgent notices to you for this long, e.g. 2h')
    .option('--unmute', 'all notices to you again')
    .option('--channels <list>', 'how notices reach you: any of wall,tmux,desktop, or "all"')
    .option('--json', 'machine-readable output')
    .action(async (text, opts, cmd) => (await import('./commands/notify.js')).notify(g(cmd), text, opts));

  p.command('who')
    .description('who is on the host and how (ssh, tmux, vscode, desktop), with their load')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/who.js')).who(g(cmd), opts));

  p.command('gpus')
    .description('what runs on each GPU, against who claimed it (from the bridge; no nvidia-smi needed)')
    .option('--json', 'machine-readable output')
    .option('--mine', 'only the GPUs your active claims name')
    .option('--env', 'with --mine: print the CUDA_VISIBLE_DEVICES export line (nothing without a GPU claim)')
    .option('--hint', 'with --mine: the "your claim: gpu1 → export …" line (for the profile.d snippet)')
    .action(async (opts, cmd) => (await import('./commands/gpus.js')).gpus(g(cmd), opts));

  p.command('sync')
    .description('sync the calendar once, rewrite the motd, and exit')
    .option('--full', 'reconcile against a full listing even if the sync token is good')
    .action(async (opts, cmd) => (await import('./commands/sync.js')).sync(g(cmd), opts));

  p.command('bridge')
    .description(
      'run the bridge: poll the calendar, keep motd and cache current, serve the CLI (systemd service)',
    )
    .action(async (_opts, cmd) => (await import('./commands/bridge.js')).bridge(g(cmd)));

  const gate = p.command('gate').description("the hog gate in sshd's PAM stack (docs/admin.md)");
  gate
    .command('setup')
    .description('write the PAM line and the sshd Banner drop-in (idempotent)')
    .option('--root <dir>', 'under this root directory instead of /')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/gate.js')).setup(g(cmd), opts));
  gate
    .command('check')
    .description("verify the gate's wiring (PAM line first, drop-in included, UsePAM yes)")
    .option('--root <dir>', 'under this root directory instead of /')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/gate.js')).check(g(cmd), opts));

  p.command('hosts')
    .description('every host of the fleet: who holds it now, the next claim, free resources, freshness')
    .option('--refresh', 'ask every calendar (its sync-collection), not only those discovery saw change')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/hosts.js')).hosts(g(cmd), opts));

  p.command('free')
    .description('the hosts free for a while, best first, with the command to claim one')
    .option('--for <duration>', 'how long, e.g. 4h')
    .option('--at <time>', 'from TIME, e.g. "tomorrow 9:00" (default: now)')
    .option('--gpus <n>', 'this many free resources (GPUs) instead of the whole host')
    .option('-x, --exclusive', 'free for an exclusive claim (nobody else on it)')
    .option('--wait', 'keep watching until one is free, then print it and exit 0')
    .option('--poll <duration>', 'with --wait: how often to look (default 60s)')
    .option('--timeout <duration>', 'with --wait: give up after this long')
    .option('--claim', 'claim the best one at once')
    .option('--refresh', 'ask every calendar (its sync-collection), not only those discovery saw change')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/free.js')).free(g(cmd), opts));

  p.command('stats')
    .description("the fleet's use: claimed hours, share, exclusive hours, top users, with bar charts")
    .option('--since <when>', 'start of the period: a distance (90d) or a time (default 90d)')
    .option('--until <time>', 'end of the period (default now)')
    .option('--by <what>', 'host, user or resource (default host)')
    .option('--html <file>', 'also write a self-contained HTML report (inline SVG)')
    .option('--refresh', 'ask every calendar (its sync-collection), not only those discovery saw change')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd) => (await import('./commands/stats.js')).stats(g(cmd), opts));

  p.command('request')
    .argument('<id>', 'the claim (uid or its first characters)')
    .description("ask a claim's holder to hand it over; they are told, and status shows it")
    .option('-m, --note <text>', 'what you ask for')
    .option('--close', 'the holder: mark the requests on your claim answered')
    .option('--json', 'machine-readable output')
    .action(async (id, opts, cmd) => (await import('./commands/request.js')).request(g(cmd), id, opts));

  p.command('doctor')
    .description('check the configuration, the calendar and the host integration, with fixes')
    .action(async (_opts, cmd) => (await import('./commands/doctor.js')).doctor(g(cmd)));

  return p;
}

/**
 * The first word that is not an option or an option's value: the command, if any. `takesValue`
 * holds the global options and the default command's options that take a value
 * (`hosthog --at 18:00` is status at 18:00, not a command named "18:00").
 */
function commandWord(args: string[], takesValue: Set<string>): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return args[i + 1];
    if (takesValue.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

function valueFlags(...cmds: (Command | undefined)[]): Set<string> {
  const out = new Set<string>();
  for (const c of cmds)
    for (const o of c?.options ?? [])
      if (o.required || o.optional) for (const f of [o.short, o.long]) if (f) out.add(f);
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const p = program();
  try {
    // status is the default command: without this, a mistyped command would reach it as an
    // argument ("too many arguments for 'status'").
    const word = commandWord(
      argv.slice(2),
      valueFlags(
        p,
        p.commands.find((c) => c.name() === 'status'),
      ),
    );
    const names = p.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    if (word !== undefined && word !== 'help' && !names.includes(word)) {
      const near = closest(word, names);
      throw new UsageError(
        `unknown command "${word.replace(/[^\x20-\x7e]/g, '?').slice(0, 40)}"`,
        `${near.length ? `did you mean ${near.map((n) => `"hosthog ${n}"`).join(' or ')}? ` : ''}` +
          `the commands are ${names.join(', ')}; see hosthog --help`,
      );
    }
    if (word === 'bridge') {
      // The bridge sets its own runtime (src/bridge/runtime.ts) however it was started.
      const { reexecWithRuntime } = await import('../bridge/runtime.js');
      const code = await reexecWithRuntime([process.execPath, ...argv.slice(1)]);
      if (code !== null) return code;
    }
    await p.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return e.exitCode === 0 ? 0 : 64; // commander already printed its one line
    }
    if (process.env.HOSTHOG_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.stderr.write(`hosthog: ${errorLine(e)}\n`);
    if (!(e instanceof HosthogError) && !process.env.HOSTHOG_DEBUG)
      process.stderr.write('hosthog: this is a bug; run with HOSTHOG_DEBUG=1 for details\n');
    return exitCodeOf(e);
  }
}

/**
 * The commands nearest to a mistyped one (edit distance ≤ 2, a swap of two neighbours counting
 * as one edit), all of them when several are as near: "clam" → claim; "statsu" → status, stats.
 */
export function closest(word: string, names: string[]): string[] {
  const w = word.toLowerCase();
  const dist = (a: string, b: string): number => {
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
      i,
      ...Array<number>(b.length).fill(0),
    ]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
    return d[a.length][b.length];
  };
  const scored = names.map((n) => ({ n, d: dist(w, n) }));
  const best = Math.min(...scored.map((x) => x.d));
  return best <= 2 ? scored.filter((x) => x.d === best).map((x) => x.n) : [];
}

export { UsageError };

// `hosthog list | head`: a reader that stops early is not an error (no EPIPE stack trace).
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
