/**
 * The stats report in a real browser (Debian's chromium, headless): the SVG charts are in the
 * rendered DOM, the page logs no console errors (no script, nothing blocked by its CSP), and
 * a screenshot is not blank.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeObjects } from '../src/core/ics-read.js';
import { computeStats } from '../src/core/stats-compute.js';
import { renderStatsHtml } from '../src/core/stats-html.js';
import type { Claim } from '../src/core/types.js';
import { decodePng, nonWhite } from './harness/png.js';
import { STATS_EVENTS, STATS_FROM, STATS_UNTIL } from './fleet-fixtures.js';

const BROWSER = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-extensions',
  '--hide-scrollbars',
];

test(
  'the stats HTML report renders in headless chromium: SVG present, no console errors, screenshot not blank',
  { timeout: 120_000 },
  () => {
    const from = new Date(STATS_FROM);
    const to = new Date(STATS_UNTIL);
    const objects = Object.entries(STATS_EVENTS).map(([uid, data]) => ({
      href: `/lab/${uid}.ics`,
      etag: null,
      data,
    }));
    const occ = decodeObjects(objects, { timezone: 'Europe/Berlin', from, to }).occurrences as Claim[];
    const hosts = [
      {
        host: 'lab-stats',
        url: 'http://x/lab/',
        resources: ['gpu0', 'gpu1'],
        occurrences: occ,
        syncedAt: to,
      },
      { host: 'gpu-box-1', url: 'http://x/b1/', resources: [], occurrences: [], syncedAt: to },
    ];
    const s = computeStats(hosts, { from, to, by: 'host', timezone: 'Europe/Berlin' });
    const dir = mkdtempSync(join(tmpdir(), 'hh-browser-'));
    const page = join(dir, 'report.html');
    writeFileSync(page, renderStatsHtml(s));
    const url = `file://${page}`;
    const profile = (n: string) => `--user-data-dir=${join(dir, 'profile-' + n)}`;

    const dom = execFileSync('chromium', [...BROWSER, profile('dom'), '--dump-dom', url], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    assert.match(dom, /<svg id="timeline"/);
    assert.match(dom, /<svg id="users"/);
    assert.match(dom, /<svg id="heat"/);
    assert.equal((dom.match(/class="heat"/g) ?? []).length, 7 * 24, 'a week-by-hour heat map');
    assert.ok((dom.match(/class="busy"/g) ?? []).length >= 5, 'the timeline has busy cells');
    assert.equal((dom.match(/class="user-bar"/g) ?? []).length, 4, 'dave, erin, frank, gina');

    const shot = join(dir, 'shot.png');
    const r = spawnSync(
      'chromium',
      [
        ...BROWSER,
        profile('shot'),
        '--enable-logging=stderr',
        '--v=0',
        `--screenshot=${shot}`,
        '--window-size=1200,1400',
        url,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const consoleLines = r.stderr
      .split('\n')
      .filter((l) => /CONSOLE|Uncaught|Refused to|Content Security Policy/i.test(l));
    assert.deepEqual(consoleLines, [], 'no console errors');
    const img = decodePng(readFileSync(shot));
    assert.equal(img.width, 1200);
    const dark = nonWhite(img);
    assert.ok(dark > 5000, `the screenshot has drawing on it (${dark} non-white pixels)`);
    assert.ok(dark < img.width * img.height * 0.9, 'and is not a solid fill');
  },
);
