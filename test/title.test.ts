import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTitle, formatTitle, type TitleParse } from '../src/core/title.js';

const C = (
  user: string,
  mode: 'shared' | 'exclusive',
  hog: boolean,
  resources: string[],
  note: string,
): TitleParse => ({ kind: 'claim', user, mode, hog, resources, note });
const A = (text: string): TitleParse => ({ kind: 'announcement', text });

const table: [string, string[], TitleParse][] = [
  ['alice', [], C('alice', 'shared', false, [], '')],
  ['alice exclusive', [], C('alice', 'exclusive', false, [], '')],
  ['alice: exclusive', [], C('alice', 'exclusive', false, [], '')],
  ['[exclusive] alice', [], C('alice', 'exclusive', false, [], '')],
  ['[Exclusive] Alice: paper', [], C('Alice', 'exclusive', false, [], 'paper')],
  ['alice excl: paper deadline', [], C('alice', 'exclusive', false, [], 'paper deadline')],
  ['ALICE EXCL: Paper Deadline', [], C('ALICE', 'exclusive', false, [], 'Paper Deadline')],
  ['alice shared', [], C('alice', 'shared', false, [], '')],
  ['alice excl gpu0', [], C('alice', 'exclusive', false, ['gpu0'], '')],
  ['bob gpu0,gpu1: training', [], C('bob', 'shared', false, ['gpu0', 'gpu1'], 'training')],
  ['bob gpu0, gpu1: training', [], C('bob', 'shared', false, ['gpu0', 'gpu1'], 'training')],
  ['bob GPU0 exclusive', [], C('bob', 'exclusive', false, ['gpu0'], '')],
  ['carol hog: benchmarks', [], C('carol', 'exclusive', true, [], 'benchmarks')],
  ['carol shared hog', [], C('carol', 'exclusive', true, [], '')],
  ['[hog] carol gpu2: x: y', [], C('carol', 'exclusive', true, ['gpu2'], 'x: y')],
  ['alice: ICML runs', [], C('alice', 'shared', false, [], 'ICML runs')],
  ['alice: hog gpu0', [], C('alice', 'exclusive', true, ['gpu0'], '')],
  ['a_b.c-d excl', [], C('a_b.c-d', 'exclusive', false, [], '')],
  ['  alice   exclusive  ', [], C('alice', 'exclusive', false, [], '')],
  ['reboot', [], C('reboot', 'shared', false, [], '')],
  ['reboot: tonight 22:00', [], C('reboot', 'shared', false, [], 'tonight 22:00')],
  // categories as tags
  ['alice', ['exclusive'], C('alice', 'exclusive', false, [], '')],
  ['alice', ['Work', 'HOG'], C('alice', 'exclusive', true, [], '')],
  ['alice shared', ['exclusive', 'hog'], C('alice', 'shared', false, [], '')], // title keywords win
  ['Alice', ['claim'], C('Alice', 'shared', false, [], '')],
  ['Alice exclusive', [], C('Alice', 'exclusive', false, [], '')],
  ['alice', ['announcement'], A('alice')],
  // announcements
  ['Maintenance window', [], A('Maintenance window')],
  ['NixOS upgrade Saturday', [], A('NixOS upgrade Saturday')],
  ['Reboot', [], A('Reboot')],
  ['Reboot: tonight at 22:00', [], A('Reboot: tonight at 22:00')],
  ['Note: disk full', [], A('Note: disk full')],
  ['alice and bob', [], A('alice and bob')],
  ['alice foo: bar', [], A('alice foo: bar')],
  ['power outage 14:00', [], A('power outage 14:00')],
  ['[urgent] alice', [], A('[urgent] alice')],
  ['1alice', [], A('1alice')],
  ['', [], A('')],
  [': note only', [], A(': note only')],
  ['Ünïcode person', [], A('Ünïcode person')],
  ['averyveryveryveryverylongusername123', [], A('averyveryveryveryverylongusername123')],
];

for (const [title, cats, want] of table) {
  test(`parseTitle ${JSON.stringify(title)} ${cats.length ? JSON.stringify(cats) : ''}`, () => {
    assert.deepEqual(parseTitle(title, cats), want);
  });
}

test('parseTitle cleans control characters and caps the note', () => {
  const p = parseTitle('alice excl: \u001b[31mred\u001b[0m \u202eevil\u0007' + ' x'.repeat(300), []);
  assert.equal(p.kind, 'claim');
  if (p.kind !== 'claim') return;
  assert.ok(p.note.startsWith('red evil x x'));
  assert.ok(Array.from(p.note).length <= 200 && p.note.endsWith('…'));
  const a = parseTitle('Free \u001b]0;title\u0007pizza', []);
  assert.deepEqual(a, A('Free pizza'));
});

test('formatTitle writes the documented forms', () => {
  assert.equal(formatTitle({ user: 'alice', mode: 'shared', hog: false, resources: [], note: '' }), 'alice');
  assert.equal(
    formatTitle({ user: 'alice', mode: 'exclusive', hog: false, resources: ['gpu0'], note: 'ICML runs' }),
    'alice exclusive gpu0: ICML runs',
  );
  assert.equal(
    formatTitle({ user: 'carol', mode: 'exclusive', hog: true, resources: [], note: 'benchmarks' }),
    'carol hog: benchmarks',
  );
  assert.equal(
    formatTitle({ user: 'Bob', mode: 'shared', hog: false, resources: ['gpu0', 'gpu1'], note: 'a: b' }),
    'Bob gpu0,gpu1: a: b',
  );
});

test('parseTitle(formatTitle(x)) round-trips', () => {
  const cases = [
    { user: 'alice', mode: 'shared' as const, hog: false, resources: [], note: '' },
    { user: 'alice', mode: 'exclusive' as const, hog: false, resources: [], note: '' },
    {
      user: 'bob',
      mode: 'shared' as const,
      hog: false,
      resources: ['gpu0', 'gpu1'],
      note: 'training, phase 2',
    },
    { user: 'carol', mode: 'exclusive' as const, hog: true, resources: ['gpu3'], note: 'benchmarks: final' },
    {
      user: 'd_e.f-g',
      mode: 'exclusive' as const,
      hog: false,
      resources: ['nvme1'],
      note: 'Maintenance window',
    },
    { user: 'reboot', mode: 'shared' as const, hog: false, resources: [], note: 'x' },
  ];
  for (const c of cases) assert.deepEqual(parseTitle(formatTitle(c), []), { kind: 'claim', ...c });
});
