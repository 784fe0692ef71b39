import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  planClaim,
  findMyClaim,
  planExtend,
  planEdit,
  planRelease,
  planAnnounce,
  checkHoggable,
  type ClaimRequest,
  type Actor,
} from '../src/core/plan-write.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import type { Claim } from '../src/core/types.js';
import {
  ConflictError,
  NotFoundError,
  PermissionError,
  UsageError,
  HosthogError,
} from '../src/core/errors.js';

const TZ = 'Europe/Berlin';
const { config: cfg } = validateConfig(
  { host: 'box', timezone: TZ, resources: ['gpu0', 'gpu1'], limits: { max_claim: '3d', max_ahead: '180d' } },
  { hostname: 'box', timezone: TZ },
  '/etc/hosthog/config.toml',
);
const config = cfg as Config;
// Friday 2026-11-20 10:00 Berlin.
const NOW = new Date('2026-11-20T09:00:00Z');
const H = 3_600_000;
const at = (hhmm: string, day = '2026-11-20') => new Date(`${day}T${hhmm}:00+01:00`);
const alice: Actor = { user: 'alice', isAdmin: false };
const bob: Actor = { user: 'bob', isAdmin: false };
const root: Actor = { user: 'root', isAdmin: true };

function claim(p: Partial<Claim> & { uid: string; user: string; start: Date; end: Date }): Claim {
  return {
    kind: 'claim',
    recurring: false,
    allDay: false,
    title: '',
    mode: 'exclusive',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    ...p,
  };
}
function req(p: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    resources: [],
    mode: 'exclusive',
    hog: false,
    note: '',
    allow: [],
    start: NOW,
    end: at('12:00'),
    ...p,
  };
}
function throwsWith<T extends HosthogError>(
  fn: () => unknown,
  cls: new (...a: any[]) => T,
  msg: RegExp,
  hint?: RegExp,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.match(e.message, msg);
    if (hint) assert.match(e.hint ?? '', hint);
    assert.ok(!e.line().includes('\n'), 'one line');
    return true;
  });
}

test('planClaim: a plain claim becomes a spec for the host', () => {
  const { spec } = planClaim(
    req({ resources: ['gpu0', 'gpu0'], note: 'train\u001b[31m run', allow: ['bob'] }),
    alice,
    [],
    config,
    NOW,
    'uid-1',
  );
  assert.deepEqual(spec, {
    kind: 'claim',
    uid: 'uid-1',
    host: 'box',
    user: 'alice',
    mode: 'exclusive',
    hog: false,
    resources: ['gpu0'],
    note: 'train run',
    allow: ['bob'],
    start: NOW,
    end: at('12:00'),
    timezone: TZ,
  });
  assert.equal(
    planClaim(req({ hog: true, mode: 'shared' }), alice, [], config, NOW, 'u').spec.mode,
    'exclusive',
  );
});

test('planClaim: ends, lengths, limits, past starts and resources', () => {
  throwsWith(
    () => planClaim(req({ end: null }), alice, [], config, NOW, 'u'),
    UsageError,
    /^a claim needs an end: add --for 2h or --until 18:00$/,
  );
  throwsWith(
    () => planClaim(req({ end: NOW }), alice, [], config, NOW, 'u'),
    UsageError,
    /end after it starts/,
  );
  throwsWith(
    () => planClaim(req({ end: new Date(NOW.getTime() + 4 * 24 * H) }), alice, [], config, NOW, 'u'),
    UsageError,
    /at most 3d \(this one: 4d\)/,
    /max_claim in \[limits\] of \/etc\/hosthog\/config.toml/,
  );
  throwsWith(
    () =>
      planClaim(
        req({ start: at('10:00', '2027-06-01'), end: at('11:00', '2027-06-01') }),
        alice,
        [],
        config,
        NOW,
        'u',
      ),
    UsageError,
    /more than 180d ahead/,
    /max_ahead/,
  );
  throwsWith(
    () => planClaim(req({ start: at('09:58') }), alice, [], config, NOW, 'u'),
    UsageError,
    /cannot start in the past/,
  );
  // within the minute of grace
  assert.ok(planClaim(req({ start: new Date(NOW.getTime() - 30_000) }), alice, [], config, NOW, 'u'));
  // "now" rounded down to 10:00:00 by the CLI at 10:00:59, planned by the bridge at 10:01:00.5: fine.
  assert.ok(
    planClaim(
      req({ start: NOW, end: at('11:00') }),
      alice,
      [],
      config,
      new Date(NOW.getTime() + 60_500),
      'u',
    ),
  );
  // bob's exclusive claim ended at 10:00:45; alice's made at 10:00:50 (start 10:00:00) is no conflict.
  const endedJustNow = claim({
    uid: 'bob-x',
    user: 'bob',
    start: at('09:13'),
    end: new Date(NOW.getTime() + 45_000),
  });
  assert.ok(
    planClaim(
      req({ mode: 'exclusive', start: NOW, end: at('11:00') }),
      alice,
      [endedJustNow],
      config,
      new Date(NOW.getTime() + 50_000),
      'u',
    ),
  );
  throwsWith(
    () =>
      planClaim(
        req({ mode: 'exclusive', start: NOW, end: at('11:00') }),
        alice,
        [endedJustNow],
        config,
        new Date(NOW.getTime() + 40_000),
        'u',
      ),
    ConflictError,
    /bob-x/,
  );
  throwsWith(
    () => planClaim(req({ resources: ['gpu0', 'tpu9'] }), alice, [], config, NOW, 'u'),
    UsageError,
    /unknown resource "tpu9" on box/,
    /known resources: gpu0, gpu1/,
  );
  throwsWith(
    () => planClaim(req({ allow: ['bob;rm'] }), alice, [], config, NOW, 'u'),
    UsageError,
    /not a user name/,
  );
});

test("planClaim: only admins claim in another user's name", () => {
  throwsWith(
    () => planClaim(req({ user: 'bob' }), alice, [], config, NOW, 'u'),
    PermissionError,
    /only an admin/,
    /admin_group in \/etc\/hosthog\/config.toml/,
  );
  assert.equal(planClaim(req({ user: 'bob' }), root, [], config, NOW, 'u').spec.user, 'bob');
  assert.equal(planClaim(req({ user: 'alice' }), alice, [], config, NOW, 'u').spec.user, 'alice');
});

test('planClaim: conflicts name the holder, host-zone times and the uid', () => {
  const bobs = claim({
    uid: 'bob-uid-1234',
    user: 'bob',
    mode: 'shared',
    start: at('11:00'),
    end: at('15:00'),
    resources: ['gpu0'],
  });
  throwsWith(
    () => planClaim(req({ start: at('14:00'), end: at('16:00') }), alice, [bobs], config, NOW, 'u'),
    ConflictError,
    /14:00–16:00 \(exclusive\) overlaps bob's shared claim on gpu0 11:00–15:00 \(id bob-uid-1234\)/,
    /ask bob/,
  );
  // shared + shared is fine; shared vs someone's exclusive is not.
  assert.ok(
    planClaim(req({ mode: 'shared', start: at('14:00'), end: at('16:00') }), alice, [bobs], config, NOW, 'u'),
  );
  const bobX = { ...bobs, mode: 'exclusive' as const };
  throwsWith(
    () =>
      planClaim(
        req({ mode: 'shared', resources: ['gpu0'], start: at('14:00'), end: at('16:00') }),
        alice,
        [bobX],
        config,
        NOW,
        'u',
      ),
    ConflictError,
    /bob's exclusive claim/,
  );
  // Different resources do not overlap; the whole host overlaps every resource.
  assert.ok(
    planClaim(
      req({ resources: ['gpu1'], start: at('14:00'), end: at('16:00') }),
      alice,
      [bobX],
      config,
      NOW,
      'u',
    ),
  );
  throwsWith(
    () =>
      planClaim(
        req({ start: at('14:00'), end: at('16:00') }),
        alice,
        [{ ...bobX, resources: ['gpu1'] }],
        config,
        NOW,
        'u',
      ),
    ConflictError,
    /on gpu1/,
  );
  // Touching ends do not overlap.
  assert.ok(planClaim(req({ start: at('15:00'), end: at('16:00') }), alice, [bobX], config, NOW, 'u'));
  // A hog is exclusive even when asked shared.
  throwsWith(
    () =>
      planClaim(
        req({ hog: true, mode: 'shared', start: at('14:00'), end: at('16:00') }),
        alice,
        [bobs],
        config,
        NOW,
        'u',
      ),
    ConflictError,
    /\(hog\) overlaps/,
  );
  // The user's own overlapping claims are allowed.
  assert.ok(planClaim(req({ start: at('14:00'), end: at('16:00') }), bob, [bobX], config, NOW, 'u'));
  // Only holding claims block: carol's claim overruled by bob's earlier booking does not.
  const carol = claim({
    uid: 'carol',
    user: 'carol',
    start: at('16:00'),
    end: at('18:00'),
    created: at('09:30'),
  });
  const bobEarly = claim({
    uid: 'bob2',
    user: 'bob',
    start: at('15:30'),
    end: at('16:30'),
    created: at('09:00'),
  });
  throwsWith(
    () =>
      planClaim(req({ start: at('16:00'), end: at('17:00') }), alice, [carol, bobEarly], config, NOW, 'u'),
    ConflictError,
    /bob's/,
  );
  assert.ok(
    planClaim(req({ start: at('17:00'), end: at('18:00') }), alice, [carol, bobEarly], config, NOW, 'u'),
  );
});

test('planClaim: repeating claims need an end, are checked per occurrence, across DST', () => {
  const base = { start: at('09:00', '2027-03-15'), end: at('10:00', '2027-03-15') }; // Monday, CET
  throwsWith(
    () => planClaim(req({ ...base, rrule: 'FREQ=WEEKLY;BYDAY=MO' }), alice, [], config, NOW, 'u'),
    UsageError,
    /repeating claim needs an end/,
    /until 2027-03-01/,
  );
  // Monday 2027-03-29 09:00 is CEST (07:00Z): bob holds exactly that hour.
  const bobs = claim({
    uid: 'bob-dst',
    user: 'bob',
    start: new Date('2027-03-29T07:00:00Z'),
    end: new Date('2027-03-29T08:00:00Z'),
  });
  throwsWith(
    () => planClaim(req({ ...base, rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=3' }), alice, [bobs], config, NOW, 'u'),
    ConflictError,
    new RegExp(
      /^2027-03-29 09:00–10:00 \(exclusive\) overlaps /.source +
        /bob's exclusive claim on the whole host 2027-03-29 09:00–10:00 \(id bob-dst\)$/.source,
    ),
  );
  // Two occurrences stop before it.
  const ok = planClaim(
    req({ ...base, rrule: 'RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2' }),
    alice,
    [bobs],
    config,
    NOW,
    'u',
  );
  assert.equal(ok.spec.rrule, 'FREQ=WEEKLY;BYDAY=MO;COUNT=2');
  // Bob at 08:00Z (10:00 CEST) does not overlap 09:00–10:00 CEST.
  const later = { ...bobs, start: new Date('2027-03-29T08:00:00Z'), end: new Date('2027-03-29T09:00:00Z') };
  assert.ok(
    planClaim(req({ ...base, rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=3' }), alice, [later], config, NOW, 'u'),
  );
  // Rules that run past max_ahead are refused.
  throwsWith(
    () =>
      planClaim(req({ ...base, rrule: 'FREQ=WEEKLY;UNTIL=20271231T225959Z' }), alice, [], config, NOW, 'u'),
    UsageError,
    /must end within 180d/,
    /max_ahead/,
  );
  throwsWith(
    () => planClaim(req({ ...base, rrule: 'FREQ=DAILY;COUNT=400' }), alice, [], config, NOW, 'u'),
    UsageError,
    /must end within 180d/,
  );
});

const everyTuesdayFromFriday =
  'planClaim: "every tuesday" typed on a Friday starts the series on the first Tuesday, ' +
  'keeping the time and length';
test(everyTuesdayFromFriday, () => {
  // NOW is Friday 2026-11-20; --at tomorrow 09:00 (Saturday) --for 3h --repeat every tuesday.
  const sat = { start: at('09:00', '2026-11-21'), end: at('12:00', '2026-11-21') };
  const { spec } = planClaim(
    req({ ...sat, rrule: 'FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301T000000Z' }),
    alice,
    [],
    config,
    NOW,
    'u',
  );
  assert.deepEqual([spec.start, spec.end], [at('09:00', '2026-11-24'), at('12:00', '2026-11-24')]);
  // A claim of dave's on that Saturday is no conflict, one on the first Tuesday is.
  const daveSat = claim({
    uid: 'dave-sat',
    user: 'dave',
    start: at('10:00', '2026-11-21'),
    end: at('11:00', '2026-11-21'),
  });
  assert.ok(
    planClaim(
      req({ ...sat, rrule: 'FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301T000000Z' }),
      alice,
      [daveSat],
      config,
      NOW,
      'u',
    ),
  );
  const daveTue = claim({
    uid: 'dave-tue',
    user: 'dave',
    start: at('10:00', '2026-11-24'),
    end: at('11:00', '2026-11-24'),
  });
  throwsWith(
    () =>
      planClaim(
        req({ ...sat, rrule: 'FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301T000000Z' }),
        alice,
        [daveTue],
        config,
        NOW,
        'u',
      ),
    ConflictError,
    /dave-tue/,
  );
});

test('findMyClaim: active, else next; by uid or prefix; helpful misses', () => {
  const past = claim({ uid: 'aaaa-past', user: 'alice', start: at('07:00'), end: at('08:00') });
  const active = claim({ uid: 'aaaa-active', user: 'alice', start: at('09:00'), end: at('11:00') });
  const next = claim({ uid: 'bbbb-next', user: 'alice', start: at('13:00'), end: at('14:00') });
  const bobs = claim({ uid: 'cccc-bob', user: 'bob', start: at('09:00'), end: at('11:00') });
  const all = [past, next, active, bobs];
  assert.equal(findMyClaim(all, 'alice', NOW).uid, 'aaaa-active');
  assert.equal(findMyClaim([past, next, bobs], 'alice', NOW).uid, 'bbbb-next');
  assert.equal(findMyClaim(all, 'alice', NOW, 'bbbb-next').uid, 'bbbb-next');
  assert.equal(findMyClaim(all, 'alice', NOW, 'bbbb').uid, 'bbbb-next');
  // any owner; the planner checks permission
  assert.equal(findMyClaim(all, 'alice', NOW, 'cccc').uid, 'cccc-bob');
  throwsWith(
    () => findMyClaim(all, 'alice', NOW, 'aaaa'),
    UsageError,
    /matches 2 claims/,
    /aaaa-past|aaaa-active/,
  );
  throwsWith(
    () => findMyClaim(all, 'alice', NOW, 'zzzz', TZ),
    NotFoundError,
    /no claim with id "zzzz"/,
    /your claims: aaaa-act 09:00–11:00 exclusive on the whole host; bbbb-nex 13:00–14:00/,
  );
  throwsWith(
    () => findMyClaim([past, bobs], 'alice', NOW),
    NotFoundError,
    /alice holds no current or upcoming claim/,
    /hosthog status/,
  );
  const second = claim({ uid: 'dddd', user: 'alice', mode: 'shared', start: at('09:30'), end: at('12:00') });
  throwsWith(() => findMyClaim([...all, second], 'alice', NOW), UsageError, /2 claims right now/, /aaaa-act/);
  // A recurring uid picks the active occurrence, else the next.
  const occ = (d: string, hh: string) =>
    claim({
      uid: 'rec',
      user: 'alice',
      recurring: true,
      recurrenceId: new Date(`${d}T${hh}:00+01:00`).toISOString(),
      start: at(hh, d),
      end: at('11:00', d),
    });
  const occs = [occ('2026-11-19', '09:00'), occ('2026-11-20', '09:00'), occ('2026-11-21', '09:00')];
  assert.equal(findMyClaim(occs, 'alice', NOW, 'rec').recurrenceId, occs[1].recurrenceId);
  assert.equal(
    findMyClaim(occs, 'alice', new Date('2026-11-20T11:00:00Z'), 'rec').recurrenceId,
    occs[2].recurrenceId,
  );
});

test('planExtend: by a duration or to a time; checks the extra time for conflicts', () => {
  const mine = claim({ uid: 'a1', user: 'alice', start: at('09:00'), end: at('11:00'), resources: ['gpu0'] });
  assert.deepEqual(planExtend(mine, 2 * H, alice, [mine], config, NOW), { patch: { end: at('13:00') } });
  assert.deepEqual(planExtend(mine, at('18:00'), root, [mine], config, NOW), { patch: { end: at('18:00') } });
  throwsWith(
    () => planExtend(mine, H, bob, [mine], config, NOW),
    PermissionError,
    /cannot extend alice's claim a1/,
    /ask an admin/,
  );
  throwsWith(() => planExtend(mine, 0, alice, [mine], config, NOW), UsageError, /positive/);
  throwsWith(
    () => planExtend(mine, at('10:30'), alice, [mine], config, NOW),
    UsageError,
    /already lasts until/,
    /edit --until/,
  );
  throwsWith(() => planExtend(mine, 3 * 24 * H, alice, [mine], config, NOW), UsageError, /at most 3d/);
  const ended = { ...mine, end: at('09:30') };
  throwsWith(() => planExtend(ended, H, alice, [ended], config, NOW), UsageError, /already ended/);
  const bobs = claim({
    uid: 'bob-9',
    user: 'bob',
    start: at('12:00'),
    end: at('13:00'),
    resources: ['gpu0'],
  });
  throwsWith(
    () => planExtend(mine, 2 * H, alice, [mine, bobs], config, NOW),
    ConflictError,
    /11:00–13:00 \(exclusive\) overlaps bob's exclusive claim on gpu0 12:00–13:00 \(id bob-9\)/,
  );
  assert.ok(planExtend(mine, H, alice, [mine, bobs], config, NOW)); // up to 12:00 is fine
  // A recurring occurrence: the patch applies to that occurrence only.
  const occ = { ...mine, recurring: true, recurrenceId: at('09:00').toISOString() };
  assert.deepEqual(planExtend(occ, H, alice, [occ], config, NOW), {
    patch: { end: at('12:00') },
    recurrenceId: at('09:00').toISOString(),
  });
});

test('planEdit: patches only what changes, validates, checks conflicts', () => {
  const mine = claim({
    uid: 'a1',
    user: 'alice',
    mode: 'shared',
    start: at('13:00'),
    end: at('15:00'),
    resources: ['gpu0'],
    note: 'old',
  });
  assert.deepEqual(planEdit(mine, { note: 'new note' }, alice, [mine], config, NOW), {
    patch: { note: 'new note' },
  });
  assert.deepEqual(planEdit(mine, { until: at('16:00'), start: at('12:00') }, alice, [mine], config, NOW), {
    patch: { start: at('12:00'), end: at('16:00') },
  });
  assert.deepEqual(planEdit(mine, { hog: true, allow: ['bob', 'bob'] }, alice, [mine], config, NOW), {
    patch: { hog: true, mode: 'exclusive', allow: ['bob'] },
  });
  assert.deepEqual(planEdit(mine, { resources: ['gpu1'] }, root, [mine], config, NOW), {
    patch: { resources: ['gpu1'] },
  });
  throwsWith(
    () => planEdit(mine, { note: 'old' }, alice, [mine], config, NOW),
    UsageError,
    /nothing to change/,
  );
  throwsWith(
    () => planEdit({ ...mine, hog: true, mode: 'exclusive' }, { mode: 'shared' }, alice, [mine], config, NOW),
    UsageError,
    /hog claim is always exclusive/,
    /--no-hog/,
  );
  throwsWith(
    () => planEdit(mine, { note: 'x' }, bob, [mine], config, NOW),
    PermissionError,
    /cannot edit alice's claim/,
    /admin_group/,
  );
  throwsWith(
    () => planEdit(mine, { start: at('08:00') }, alice, [mine], config, NOW),
    UsageError,
    /into the past/,
  );
  throwsWith(
    () => planEdit(mine, { until: at('12:00') }, alice, [mine], config, NOW),
    UsageError,
    /end after it starts/,
  );
  throwsWith(
    () => planEdit(mine, { resources: ['gpu7'] }, alice, [mine], config, NOW),
    UsageError,
    /unknown resource "gpu7"/,
    /gpu0, gpu1/,
  );
  throwsWith(
    () => planEdit(mine, { note: 'x'.repeat(201) }, alice, [mine], config, NOW),
    UsageError,
    /a note may have at most 200 characters/,
  );
  assert.ok(planEdit(mine, { note: 'x'.repeat(200) }, alice, [mine], config, NOW));
  const bobs = claim({
    uid: 'bob-7',
    user: 'bob',
    mode: 'shared',
    start: at('14:00'),
    end: at('18:00'),
    resources: ['gpu0'],
  });
  assert.ok(planEdit(mine, { note: 'x' }, alice, [mine, bobs], config, NOW)); // shared + shared
  throwsWith(
    () => planEdit(mine, { mode: 'exclusive' }, alice, [mine, bobs], config, NOW),
    ConflictError,
    /bob's shared claim on gpu0 14:00–18:00 \(id bob-7\)/,
  );
  assert.ok(planEdit(mine, { mode: 'exclusive', resources: ['gpu1'] }, alice, [mine, bobs], config, NOW));
  // Moving only the start keeps the length; the conflict check sees the moved end.
  assert.deepEqual(planEdit(mine, { start: at('14:00') }, alice, [mine], config, NOW), {
    patch: { start: at('14:00'), end: at('16:00') },
  });
  const carols = claim({
    uid: 'carol-1',
    user: 'carol',
    mode: 'exclusive',
    start: at('16:10'),
    end: at('17:00'),
    resources: ['gpu0'],
  });
  assert.ok(
    planEdit(mine, { start: at('14:00') }, alice, [mine, carols], config, NOW),
    'ends 16:00, before carol',
  );
  throwsWith(
    () => planEdit(mine, { start: at('14:30') }, alice, [mine, carols], config, NOW),
    ConflictError,
    /carol's exclusive claim on gpu0 16:10–17:00/,
  );
  const ended = { ...mine, start: at('07:00'), end: at('08:00') };
  throwsWith(() => planEdit(ended, { note: 'x' }, alice, [ended], config, NOW), UsageError, /already ended/);
  const occ = { ...mine, recurring: true, recurrenceId: at('13:00').toISOString() };
  assert.deepEqual(planEdit(occ, { note: 'only this one' }, alice, [occ], config, NOW), {
    patch: { note: 'only this one' },
    recurrenceId: at('13:00').toISOString(),
  });
});

test('planRelease: active ends now, future is cancelled, recurring cancels one occurrence', () => {
  const active = claim({ uid: 'a1', user: 'alice', start: at('09:00'), end: at('11:00') });
  assert.deepEqual(planRelease(active, alice, NOW), { action: 'end-now', patch: { end: NOW } });
  const future = { ...active, start: at('13:00'), end: at('14:00') };
  assert.deepEqual(planRelease(future, root, NOW), { action: 'cancel', patch: { cancelled: true } });
  const occ = { ...future, recurring: true, recurrenceId: at('13:00').toISOString() };
  assert.deepEqual(planRelease(occ, alice, NOW), {
    action: 'cancel',
    patch: { cancelled: true },
    recurrenceId: at('13:00').toISOString(),
  });
  const activeOcc = { ...active, recurring: true, recurrenceId: at('09:00').toISOString() };
  assert.deepEqual(planRelease(activeOcc, alice, NOW), {
    action: 'end-now',
    patch: { end: NOW },
    recurrenceId: at('09:00').toISOString(),
  });
  throwsWith(
    () => planRelease(active, bob, NOW),
    PermissionError,
    /cannot release alice's claim/,
    /ask an admin/,
  );
  throwsWith(() => planRelease({ ...active, end: at('09:30') }, alice, NOW), UsageError, /already ended/);
  // Starting exactly now: nothing has happened yet, cancel.
  assert.equal(planRelease({ ...active, start: NOW }, alice, NOW).action, 'cancel');
  // Released at 10:00:42: ends on the whole minute, as shown; one that started within this minute
  // keeps the seconds.
  const later = new Date(NOW.getTime() + 42_000);
  assert.deepEqual(planRelease(active, alice, later), { action: 'end-now', patch: { end: NOW } });
  const justNow = { ...active, start: new Date(NOW.getTime() + 10_000) };
  assert.deepEqual(planRelease(justNow, alice, later), { action: 'end-now', patch: { end: later } });
});

test('planAnnounce: admins only, sane times, clean text', () => {
  const { spec } = planAnnounce(
    'reboot at 18:00\u0007',
    at('17:00'),
    at('18:30'),
    root,
    config,
    NOW,
    'ann-1',
  );
  assert.deepEqual(spec, {
    kind: 'announcement',
    uid: 'ann-1',
    host: 'box',
    text: 'reboot at 18:00',
    start: at('17:00'),
    end: at('18:30'),
    timezone: TZ,
    author: 'root',
  });
  assert.ok(planAnnounce('now', at('09:00'), at('11:00'), root, config, NOW, 'a')); // may have begun already
  throwsWith(
    () => planAnnounce('hi', at('17:00'), at('18:00'), alice, config, NOW, 'a'),
    PermissionError,
    /only admins may announce/,
    /^ask an admin: root or a member of group \S+ \(admins and admin_group in \S+\)$/,
  );
  throwsWith(
    () => planAnnounce('  ', at('17:00'), at('18:00'), root, config, NOW, 'a'),
    UsageError,
    /needs a text/,
  );
  throwsWith(
    () => planAnnounce('x', at('18:00'), at('17:00'), root, config, NOW, 'a'),
    UsageError,
    /end after it starts/,
  );
  throwsWith(
    () => planAnnounce('x', at('08:00'), at('09:00'), root, config, NOW, 'a'),
    UsageError,
    /already be over/,
  );
  throwsWith(
    () => planAnnounce('x', at('08:00', '2027-12-01'), at('09:00', '2027-12-01'), root, config, NOW, 'a'),
    UsageError,
    /180d ahead/,
  );
  throwsWith(
    () => planAnnounce('x'.repeat(600), at('17:00'), at('18:00'), root, config, NOW, 'a'),
    UsageError,
    /at most 500/,
  );
});

test('checkHoggable: a shared claim is refused with the way to make it exclusive', () => {
  const shared = claim({
    uid: 'abcd1234-x',
    user: 'alice',
    mode: 'shared',
    start: at('09:00'),
    end: at('11:00'),
  });
  throwsWith(
    () => checkHoggable(shared),
    UsageError,
    /claim abcd1234 is shared: only an exclusive claim can be a hog/,
    /hosthog edit abcd1234 --exclusive/,
  );
  checkHoggable({ ...shared, mode: 'exclusive' });
});
