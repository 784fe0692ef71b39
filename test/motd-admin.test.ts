/**
 * Issue 12's motd: announcements newest and most urgent first, one that starts within the day
 * never hidden; a stopped bridge's motd says so. And "did you mean" for a mistyped command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMotd, stoppedMotd } from '../src/core/motd.js';
import { hostView } from '../src/core/view.js';
import { NOW, TZ, b, ann, hostConfig, snap } from './harness/occurrences.js';
import { runCli } from './harness/cli.js';

const newestAnnouncement =
  'motd: the newest active announcement and every one starting within the day are shown, ' +
  'the coming one first';
test(newestAnnouncement, () => {
  const old = ann({
    uid: 'old',
    text: 'old news from last week',
    start: b('2026-11-15T08:00:00'),
    end: b('2026-11-30T00:00:00'),
  });
  const mid = ann({
    uid: 'mid',
    text: 'cluster maintenance notes',
    start: b('2026-11-20T08:00:00'),
    end: b('2026-11-30T00:00:00'),
  });
  const newest = ann({
    uid: 'new',
    text: 'GPU driver update tonight',
    start: b('2026-11-22T09:00:00'),
    end: b('2026-11-23T09:00:00'),
  });
  const soon1 = ann({
    uid: 's1',
    text: 'reboot at 20:00',
    start: b('2026-11-22T20:00:00'),
    end: b('2026-11-22T20:30:00'),
  });
  const soon2 = ann({
    uid: 's2',
    text: 'power work tomorrow 08:00',
    start: b('2026-11-23T08:00:00'),
    end: b('2026-11-23T10:00:00'),
  });
  const text = renderMotd(hostView(snap([old, mid, newest]), hostConfig(), NOW));
  assert.match(text, /GPU driver update tonight/);
  assert.ok(
    text.indexOf('GPU driver update tonight') < text.indexOf('+2 more announcements') ||
      !text.includes('more'),
    text,
  );
  assert.doesNotMatch(text, /old news/);
  const withSoon = renderMotd(hostView(snap([old, mid, newest, soon1, soon2]), hostConfig(), NOW));
  const lines = withSoon
    .split('\n')
    .filter((l) => l.startsWith('ANNOUNCEMENT') || /more announcements/.test(l));
  assert.match(lines[0], /reboot at 20:00/);
  assert.match(lines[1], /power work tomorrow/);
  assert.match(lines[2], /\+3 more announcements/);
});

test("a stopped bridge's motd says so on its first line, once, and keeps what it showed", () => {
  const last = renderMotd(hostView(snap([ann({ uid: 'a', text: 'hello all' })]), hostConfig(), NOW));
  const once = stoppedMotd(last, NOW, TZ);
  assert.match(
    once.split('\n')[0],
    /^! hosthog bridge stopped at 14:05: this may be out of date \(hosthog doctor\)$/,
  );
  assert.ok(once.includes('hello all'));
  const twice = stoppedMotd(once, NOW, TZ);
  assert.equal(twice.split('! hosthog bridge stopped').length - 1, 1);
});

test('hosthog clam: did you mean "hosthog claim"', async () => {
  const r = await runCli(['clam', 'gpu0'], { env: { HOSTHOG_CONFIG: '/nonexistent-hosthog.toml' } });
  assert.equal(r.code, 64);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(
    r.stderr,
    /^hosthog: unknown command "clam" \(did you mean "hosthog claim"\? the commands are /,
  );
});
