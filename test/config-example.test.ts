/**
 * config/config.example.toml lists every key the schema knows (docs/admin.md says so): a key
 * added to schema.ts's KNOWN without a line in the example fails here. With every line
 * uncommented (and only one of [calendar] url/path), the example is a valid config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { REPO } from './harness/cli.js';
import { KNOWN, validateConfig } from '../src/config/schema.js';

const text = readFileSync(join(REPO, 'config/config.example.toml'), 'utf8');

/** section → keys mentioned as "key =" (commented or not) in that section of the example. */
function mentioned(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>([['', new Set()]]);
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\s*\[([a-z_]+)\]\s*$/.exec(line);
    if (s) {
      section = s[1];
      out.set(section, out.get(section) ?? new Set());
      out.get('')!.add(section);
      continue;
    }
    const k = /^\s*#?\s*([a-z_]+)\s*=/.exec(line);
    if (k) out.get(section)!.add(k[1]);
  }
  return out;
}

test('config.example.toml mentions every key of every section the schema knows', () => {
  const m = mentioned();
  const missing: string[] = [];
  // [fleet] belongs in each user's own config (docs/fleet.md lists its keys), not the host's.
  const perUser = new Set(['fleet']);
  for (const [section, keys] of Object.entries(KNOWN)) {
    if (perUser.has(section)) continue;
    for (const k of keys)
      if (!m.get(section)?.has(k) && !perUser.has(k)) missing.push(section ? `[${section}] ${k}` : k);
  }
  assert.deepEqual(
    missing,
    [],
    `add these keys (commented, with their default) to config/config.example.toml`,
  );
  // and nothing the schema would reject
  const unknown: string[] = [];
  for (const [section, keys] of m)
    for (const k of keys) if (!(KNOWN[section] ?? []).includes(k)) unknown.push(`[${section}] ${k}`);
  assert.deepEqual(unknown, []);
});

test('config.example.toml sets nothing live: installing it keeps the machine defaults', () => {
  const raw = parse(text) as Record<string, unknown>;
  const { config, problems } = validateConfig(
    raw,
    { hostname: 'real-host', timezone: 'America/Chicago' },
    'example',
  );
  assert.deepEqual(problems, []);
  assert.equal(config!.host, 'real-host');
  assert.equal(config!.timezone, 'America/Chicago');
  assert.deepEqual(config!.resources, []);
  assert.equal(config!.calendar.kind, 'vdir');
});

test('config.example.toml with every line uncommented (path instead of url) is a valid config', () => {
  const live = text
    .split('\n')
    .map((l) => l.replace(/^#\s?(?=[a-z_]+\s*=)/, ''))
    .filter((l) => !/^(url|username|password_file)\s*=/.test(l))
    .join('\n');
  const { problems } = validateConfig(
    parse(live) as Record<string, unknown>,
    { hostname: 'h', timezone: 'UTC' },
    'example',
  );
  assert.deepEqual(problems, []);
});
