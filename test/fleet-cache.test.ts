/**
 * The fleet's warm-run pieces that need no server: the home PROPFIND parser (namespaces kept),
 * when getlastmodified may decide "unchanged" (the racy guard, Radicale only), and the packed
 * statistics cache (same numbers as from the occurrences, heat map across a DST change).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Claim } from '../src/core/types.js';
import type { HostSnapshot } from '../src/core/fleet-types.js';
import { computeStats, statsPieces } from '../src/core/stats-compute.js';
import { parseHomeAnswer } from '../src/fleet/home-propfind.js';
import { lastModifiedUsable } from '../src/fleet/discover.js';
import { lastModifiedTrusted } from '../src/fleet/fleet-sync.js';
import { packPieces, unpackPieces } from '../src/fleet/stats-cache.js';

const RADICALE_ANSWER = [
  "<?xml version='1.0' encoding='utf-8'?>",
  '<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"',
  ' xmlns:RADICALE="http://radicale.org/ns/">',
  '<response><href>/alice/</href><propstat><prop>',
  '<resourcetype><principal /><collection /></resourcetype></prop>',
  '<status>HTTP/1.1 200 OK</status></propstat><propstat><prop>',
  '<displayname /><getlastmodified /><RADICALE:displayname />',
  '</prop><status>HTTP/1.1 404 Not Found</status></propstat></response>',
  '<response><href>/alice/gpu-1/</href><propstat><prop>',
  '<resourcetype><C:calendar /><collection /></resourcetype>',
  '<displayname>gpu-1</displayname><getlastmodified>Fri, 04 Dec 2026 22:25:27 GMT</getlastmodified>',
  '<RADICALE:displayname>other</RADICALE:displayname></prop>',
  '<status>HTTP/1.1 200 OK</status></propstat></response>',
  '</multistatus>',
].join('\n');

const XANDIKOS_ANSWER = [
  '<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="http://radicale.org/ns/"',
  ' xmlns:ns2="urn:ietf:params:xml:ns:caldav">',
  '<ns0:response><ns0:href>/user/calendars/gpu-1/</ns0:href><ns0:propstat>',
  '<ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop>',
  '<ns0:resourcetype><ns0:collection /><ns2:calendar /></ns0:resourcetype>',
  '<ns0:displayname>gpu-1</ns0:displayname></ns0:prop></ns0:propstat><ns0:propstat>',
  '<ns0:status>HTTP/1.1 404 Not Found</ns0:status>',
  '<ns0:prop><ns0:getlastmodified /><ns1:displayname /></ns0:prop></ns0:propstat></ns0:response>',
  '</ns0:multistatus>',
].join('');

test('parseHomeAnswer keeps namespaces apart and ignores 404 propstats', () => {
  const r = parseHomeAnswer(RADICALE_ANSWER);
  assert.equal(r.length, 2);
  assert.deepEqual(r[0], {
    href: '/alice/',
    types: ['principal', 'collection'],
    displayName: null,
    syncToken: null,
    lastModified: null,
    radicale: false,
  });
  assert.equal(r[1].displayName, 'gpu-1', "RADICALE:displayname is not the calendar's display name");
  assert.equal(r[1].radicale, true);
  assert.equal(r[1].lastModified, 'Fri, 04 Dec 2026 22:25:27 GMT');
  assert.deepEqual(r[1].types, ['calendar', 'collection']);
  const x = parseHomeAnswer(XANDIKOS_ANSWER);
  assert.equal(x[0].radicale, false, 'a 404 for RADICALE:displayname is not Radicale');
  assert.equal(x[0].lastModified, null);
  assert.equal(x[0].displayName, 'gpu-1');
});

test('lastModifiedUsable: Radicale with a Date and a value for every host calendar only', () => {
  const entries = parseHomeAnswer(RADICALE_ANSWER);
  const date = Date.parse('Fri, 04 Dec 2026 22:25:28 GMT');
  assert.equal(lastModifiedUsable({ status: 207, date, entries }, [entries[1]]), null);
  assert.match(lastModifiedUsable({ status: 207, date: null, entries }, [entries[1]])!, /no Date/);
  assert.match(
    lastModifiedUsable({ status: 207, date, entries }, [{ ...entries[1], lastModified: null }])!,
    /without getlastmodified/,
  );
  const x = parseHomeAnswer(XANDIKOS_ANSWER);
  assert.match(lastModifiedUsable({ status: 207, date, entries: x }, x)!, /not Radicale/);
});

test('lastModifiedTrusted: the same value, in an earlier second than the answer before the sync', () => {
  const lm = 'Fri, 04 Dec 2026 22:25:27 GMT';
  const at = (s: string) => Date.parse(`Fri, 04 Dec 2026 22:25:${s} GMT`);
  const kept = (answeredAt: number | null) => ({ lastModified: lm, answeredAt, token: 't' });
  assert.equal(lastModifiedTrusted(lm, kept(at('28'))), true);
  assert.equal(lastModifiedTrusted(lm, kept(at('28') + 999)), true);
  // The racy case: the value is in the second of that answer; a change later in it would not move it.
  assert.equal(lastModifiedTrusted(lm, kept(at('27'))), false);
  assert.equal(lastModifiedTrusted(lm, kept(at('27') + 999)), false);
  assert.equal(lastModifiedTrusted(lm, kept(null)), false);
  assert.equal(lastModifiedTrusted('Fri, 04 Dec 2026 22:25:29 GMT', kept(at('30'))), false, 'moved');
  assert.equal(lastModifiedTrusted(null, kept(at('28'))), false);
  assert.equal(lastModifiedTrusted(lm, null), false);
});

const H = 3_600_000;
let n = 0;
function claim(user: string, start: string, hours: number, o: Partial<Claim> = {}): Claim {
  const s = new Date(start);
  return {
    kind: 'claim',
    uid: `u${++n}`,
    user,
    mode: 'shared',
    hog: false,
    resources: [],
    note: '',
    allow: [],
    recurring: false,
    start: s,
    end: new Date(s.getTime() + hours * H),
    allDay: false,
    title: '',
    created: new Date(0),
    ...o,
  };
}

test('the packed stats cache gives computeStats the same numbers as the occurrences', () => {
  const occ = [
    // across DST (Berlin)
    claim('bob', '2026-03-28T22:00:00Z', 6, { mode: 'exclusive', resources: ['gpu0'] }),
    claim('carol', '2026-03-29T01:00:00Z', 3, { resources: ['gpu0'] }), // overruled by bob's exclusive
    claim('dan', '2026-10-24T20:00:00Z', 60, { hog: true, mode: 'exclusive' }), // > 2 days, across DST
    claim('erin', '2026-06-01T08:00:00Z', 4, { resources: ['gpu1', 'gpu2'] }),
    claim('<b>x</b>', '2026-06-01T09:00:00Z', 2, { resources: ['gpu3'] }),
  ];
  const snap: HostSnapshot = {
    host: 'h',
    url: 'http://x/h/',
    resources: ['gpu0', 'gpu1', 'gpu2', 'gpu3'],
    occurrences: occ,
    syncedAt: null,
  };
  const pieces = statsPieces(occ);
  assert.equal(pieces.length, 4, "carol's claim is overruled");
  const packed = JSON.parse(
    JSON.stringify(packPieces(pieces, { window: 'w', token: 't', lastFullAt: null })),
  );
  assert.deepEqual(unpackPieces(packed), pieces);
  const cached: HostSnapshot = { ...snap, occurrences: [], statsPieces: unpackPieces(packed) };
  for (const by of ['host', 'user', 'resource'] as const) {
    const opts = {
      from: new Date('2026-01-01Z'),
      to: new Date('2027-01-01Z'),
      by,
      timezone: 'Europe/Berlin',
    };
    assert.deepEqual(computeStats([cached], opts), computeStats([snap], opts), by);
  }
  const period = { from: new Date('2026-01-01Z'), to: new Date('2027-01-01Z'), timezone: 'Europe/Berlin' };
  const all = computeStats([cached], { ...period, by: 'host' });
  assert.equal(
    all.heat.flat().reduce((a, b) => a + b, 0),
    6 + 60 + 4 + 2,
  );
  const s = computeStats([{ ...cached, statsPieces: [pieces[0]] }], { ...period, by: 'host' });
  // bob: 23:00 CET Sat 28 Mar to 06:00 CEST Sun 29 Mar (02:00 skipped): hours 23, 0, 1, 3, 4, 5.
  assert.equal(s.heat[5][23], 1);
  assert.equal(s.heat[6][2], 0, 'no 02:00 on the spring-forward night');
  assert.equal(s.heat[6][3], 1);
  assert.equal(s.heat[6][5], 1);
  assert.equal(
    s.heat.flat().reduce((a, b) => a + b, 0),
    6,
  );
});
