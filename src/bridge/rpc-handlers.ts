/**
 * What the bridge does for a verified caller on the host. The caller's identity comes from the
 * RPC layer's proof (src/host/rpc/peer-identity.ts), never from the request: `user` in a request is
 * only a wish to act for someone else, which the planners allow to admins alone.
 */
import type { Config } from '../config/schema.js';
import type { Caller, RpcRequest } from '../host/rpc/rpc-protocol.js';
import { AuthError, PermissionError, UsageError } from '../core/errors.js';
import { adminHint, type Actor, type ClaimRequest } from '../core/plan-write.js';
import type { Mode } from '../core/types.js';
import type { CalendarWriter } from './writer.js';

export function actorOf(caller: Caller, config: Config): Actor {
  const isAdmin =
    caller.uid === 0 ||
    config.admins.users.includes(caller.user) ||
    caller.groups.includes(config.admins.group);
  return { user: caller.user, isAdmin };
}

/** Extra methods other parts of the bridge serve (notify, hog …). */
export type ExtraHandler = (
  caller: Caller,
  actor: Actor,
  params: Record<string, unknown>,
) => Promise<unknown>;

/**
 * `config`: the bridge's config, or a function giving its current one (the bridge reloads it).
 * A refused calendar login is the bridge's credentials, which only root can fix: other callers
 * are told to ask an admin, not to edit a root-only file.
 */
export function makeHandler(
  writer: CalendarWriter,
  config: Config | (() => Config),
  before: () => Promise<void>,
  extra: Record<string, ExtraHandler> = {},
) {
  const cfg = typeof config === 'function' ? config : () => config;
  const handle = dispatch(writer, cfg, before, extra);
  return async (caller: Caller, req: RpcRequest): Promise<unknown> => {
    try {
      return await handle(caller, req);
    } catch (e) {
      if (!(e instanceof AuthError) || actorOf(caller, cfg()).isAdmin) throw e;
      throw new AuthError(
        "the calendar refused the hosthog bridge's login, so nothing was written",
        "tell an admin of this host: the bridge's calendar password needs fixing",
      );
    }
  };
}

function dispatch(
  writer: CalendarWriter,
  cfg: () => Config,
  before: () => Promise<void>,
  extra: Record<string, ExtraHandler>,
) {
  return async (caller: Caller, req: RpcRequest): Promise<unknown> => {
    const config = cfg();
    const actor = actorOf(caller, config);
    const p = req.params ?? {};
    switch (req.method) {
      case 'whoami':
        return { user: caller.user, uid: caller.uid, admin: actor.isAdmin };
      case 'claim': {
        const r = claimRequest(p);
        // The rule is untrusted input: checked exactly as the CLI checks --repeat (only daily or
        // coarser, must occur), before anything expands it.
        if (r.rrule !== undefined) {
          r.rrule = (await import('../core/repeat.js')).parseRepeat(r.rrule, r.start, config.timezone);
        }
        await before();
        return writer.claim(actor, r);
      }
      case 'extend':
        await before();
        return writer.extend(actor, { uid: optStr(p.uid), by: optNum(p.byMs), until: optDate(p.until) });
      case 'edit':
        await before();
        return writer.edit(actor, reqStr(p.uid, 'uid'), {
          note: optStr(p.note),
          until: optDate(p.until),
          start: optDate(p.start),
          resources: optList(p.resources),
          mode: optMode(p.mode),
          hog: optBool(p.hog),
          allow: optList(p.allow),
        });
      case 'release':
        await before();
        return writer.release(actor, optStr(p.uid));
      case 'cancel':
        await before();
        return writer.release(actor, reqStr(p.uid, 'uid'), { cancelOnly: true });
      case 'announce':
        if (!actor.isAdmin) throw new PermissionError('only admins may announce', adminHint(config));
        await before();
        return writer.announce(
          actor,
          reqStr(p.text, 'text'),
          reqDate(p.start, 'start'),
          reqDate(p.end, 'end'),
        );
      case 'hog':
        await before();
        return writer.setHog(actor, optStr(p.uid), true, optList(p.allow));
      case 'unhog':
        await before();
        return writer.setHog(actor, optStr(p.uid), false);
      case 'request': {
        // A hand-over request (src/core/fleet-request.ts); on the host the holder is told at once.
        await before();
        const r = await writer.request(actor, reqStr(p.uid, 'uid'), {
          text: optStr(p.text),
          close: optBool(p.close),
        });
        if (!p.close && extra.tell) {
          try {
            await extra.tell(caller, actor, {
              to: r.holder,
              text: `${caller.user} asks for your claim ${r.uid.slice(0, 8)}: ${optStr(p.text) ?? ''}`,
            });
          } catch {
            /* the request is stored; status shows it */
          }
        }
        return r;
      }
      default: {
        const h = extra[req.method];
        if (h) return h(caller, actor, p);
        throw new UsageError(
          `the bridge does not know the request "${String(req.method).slice(0, 40)}"`,
          'update the hosthog CLI and bridge to the same version',
        );
      }
    }
  };
}

function claimRequest(p: Record<string, unknown>): ClaimRequest {
  return {
    resources: optList(p.resources) ?? [],
    mode: optMode(p.mode) ?? 'shared',
    hog: optBool(p.hog) ?? false,
    note: optStr(p.note) ?? '',
    allow: optList(p.allow) ?? [],
    start: reqDate(p.start, 'start'),
    end: optDate(p.end) ?? null,
    rrule: optStr(p.rrule),
    user: optStr(p.user),
    force: optBool(p.force),
  };
}

function bad(what: string): never {
  throw new UsageError(`malformed request: ${what}`, 'update the hosthog CLI and bridge to the same version');
}
function optStr(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > 10_000) bad('a text field');
  return v;
}
function reqStr(v: unknown, name: string): string {
  const s = optStr(v);
  if (s === undefined) bad(`${name} missing`);
  return s;
}
function optNum(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad('a number field');
  return v;
}
function optBool(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') bad('a yes/no field');
  return v;
}
function optDate(v: unknown): Date | undefined {
  const s = optStr(v);
  if (s === undefined) return undefined;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) bad('a time field');
  return d;
}
function reqDate(v: unknown, name: string): Date {
  const d = optDate(v);
  if (!d) bad(`${name} missing`);
  return d;
}
function optList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > 100 || v.some((x) => typeof x !== 'string' || x.length > 100))
    bad('a list field');
  return v as string[];
}
function optMode(v: unknown): Mode | undefined {
  const s = optStr(v);
  if (s === undefined) return undefined;
  if (s !== 'shared' && s !== 'exclusive') bad('mode');
  return s;
}
