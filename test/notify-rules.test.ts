/**
 * Who a notice is for (issue 12): the author of a change is not told of it; reminders and
 * starts go to the holder and the users of the same resources (everyone only when the claim
 * takes the whole host or hogs it); urgent only when it takes something from the reader; a
 * user's own settings (mute, channels) from a hostile file are applied safely.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, chownSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planNotices, messageNotice, type Notice } from '../src/core/notify-plan.js';
import { isFor } from '../src/host/sessions/channels/index.js';
import { validateConfig, type Config } from '../src/config/schema.js';
import type { Claim } from '../src/core/types.js';
import { parsePrefs, wants } from '../src/core/notify-prefs.js';
import { readPrefsFile } from '../src/host/sessions/notify-prefs-file.js';

const { config } = validateConfig(
  { host: 'box', timezone: 'UTC', notify: { reminders: ['15m'] }, resources: ['gpu0', 'gpu1'] },
  { hostname: 'x', timezone: 'UTC' },
  't',
);
const CFG = config as Config;
const MIN = 60_000;
const T0 = new Date('2026-03-02T09:00:00Z');
const at = (m: number) => new Date(T0.getTime() + m * MIN);
function claim(p: Partial<Claim> & { uid: string }): Claim {
  return {
    kind: 'claim',
    recurring: false,
    allDay: false,
    user: 'alice',
    mode: 'shared',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    title: 't',
    start: at(60),
    end: at(180),
    ...p,
  };
}
const readers = (n: Notice, people: string[]) => people.filter((u) => isFor(n, u));
const PEOPLE = ['alice', 'bob', 'carol'];

test("the author of a change is not told of it; an admin's edit of another's claim tells the holder", () => {
  const c = claim({ uid: 'a', resources: ['gpu0'] });
  const edited = { ...c, note: 'new note' };
  const [byHolder] = planNotices([c], [edited], T0, new Set(), CFG);
  assert.equal(byHolder.kind, 'changed');
  assert.deepEqual(readers(byHolder, PEOPLE), ['bob', 'carol']);
  const [byRoot] = planNotices([c], [edited], T0, new Set(), CFG, { author: 'root' });
  assert.deepEqual(readers(byRoot, [...PEOPLE, 'root']), ['alice', 'bob', 'carol']);
  const [fresh] = planNotices([], [c], T0, new Set(), CFG);
  assert.deepEqual(readers(fresh, PEOPLE), ['bob', 'carol']);
  assert.deepEqual(readers(messageNotice('bob', 'hi', T0), PEOPLE), ['alice', 'carol']);
  assert.deepEqual(
    readers(messageNotice('bob', 'hi', T0, ['carol']), PEOPLE),
    ['carol'],
    'hosthog notify --to carol',
  );
});

test("a reminder for bob's gpu1 claim goes to bob and the users of gpu1 then, not to everyone", () => {
  const bobs = claim({ uid: 'b', user: 'bob', resources: ['gpu1'], start: at(15), end: at(120) });
  const alices = claim({ uid: 'a', user: 'alice', resources: ['gpu1'], start: at(-60), end: at(30) });
  const carols = claim({ uid: 'c', user: 'carol', resources: ['gpu0'], start: at(-60), end: at(300) });
  const ns = planNotices([bobs, alices, carols], [bobs, alices, carols], T0, new Set(), CFG, {
    lastRun: at(-1),
  });
  const r = ns.find((n) => n.kind === 'reminder')!;
  assert.ok(r, JSON.stringify(ns));
  assert.deepEqual(readers(r, PEOPLE), ['alice', 'bob']);
  assert.equal(r.urgent, false);
  // A whole-host exclusive claim takes the host from everyone: all are told, urgently.
  const whole = claim({ uid: 'w', user: 'bob', mode: 'exclusive', start: at(15), end: at(60) });
  const w = planNotices([whole], [whole], T0, new Set(), CFG, { lastRun: at(-1) }).find(
    (n) => n.kind === 'reminder',
  )!;
  assert.deepEqual(readers(w, PEOPLE), PEOPLE);
  assert.equal(w.urgent, true);
});

const urgentOnlyWhenItTakes =
  'urgent only when it takes something: hog or whole-host exclusive; not an exclusive gpu or a shared claim';
test(urgentOnlyWhenItTakes, () => {
  const cases: [Partial<Claim>, boolean][] = [
    [{ hog: true, mode: 'exclusive' }, true],
    [{ mode: 'exclusive' }, true],
    [{ mode: 'exclusive', resources: ['gpu0'] }, false],
    [{ mode: 'shared' }, false],
  ];
  for (const [p, urgent] of cases) {
    const [n] = planNotices([], [claim({ uid: 'x', ...p })], T0, new Set(), CFG);
    assert.equal(n.urgent, urgent, JSON.stringify(p));
  }
});

test('notify.toml: mute passes only urgent notices until it ends; channels choose; junk is dropped', () => {
  const { prefs, problems } = parsePrefs({
    mute_until: at(120).toISOString(),
    channels: ['tmux'],
    evil: 'x',
  });
  assert.deepEqual(problems, ['unknown key evil']);
  assert.equal(wants(prefs, 'tmux', false, T0), false);
  assert.equal(wants(prefs, 'tmux', true, T0), true);
  assert.equal(wants(prefs, 'wall', true, T0), false);
  assert.equal(wants(prefs, 'tmux', false, at(121)), true);
  assert.equal(parsePrefs({ channels: ['wall', 'rm -rf'] }).prefs.channels, null);
});

const hostilePrefsFile =
  'notify.toml is read as root like a hostile file: symlink, wrong owner, too big, bad TOML ' +
  'are ignored and logged';
test(hostilePrefsFile, (t) => {
  const home = mkdtempSync(join(tmpdir(), 'hh-prefs-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const dir = join(home, '.config', 'hosthog');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'notify.toml');
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.equal(readPrefsFile(home, 1001, warn), null); // none: fine, no warning
  assert.equal(warnings.length, 0);
  writeFileSync(file, 'channels = ["tmux"]\n');
  chownSync(file, 1001, 1001);
  assert.deepEqual(readPrefsFile(home, 1001, warn)?.channels, ['tmux']);
  assert.equal(readPrefsFile(home, 1002, warn), null);
  assert.match(warnings.pop()!, /not owned by the user/);
  rmSync(file);
  symlinkSync('/etc/shadow', file);
  assert.equal(readPrefsFile(home, 0, warn), null);
  assert.match(warnings.pop()!, /ELOOP/);
  rmSync(file);
  writeFileSync(file, 'x'.repeat(10_000));
  chownSync(file, 1001, 1001);
  assert.equal(readPrefsFile(home, 1001, warn), null);
  assert.match(warnings.pop()!, /over 4096 bytes/);
  writeFileSync(file, 'channels = [\n');
  assert.equal(readPrefsFile(home, 1001, warn), null);
  assert.match(warnings.pop()!, /not valid TOML/);
  rmSync(file);
  mkdirSync(file);
  assert.equal(readPrefsFile(home, 0, warn), null);
});
