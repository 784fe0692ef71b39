/** The streaming multistatus reader: namespaces by URI, CDATA, entities, statuses, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultistatusReader, parseMultistatus } from '../src/caldav/multistatus.js';
import { CalendarUnavailableError } from '../src/core/errors.js';

const ICS =
  'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:alice & bob <gpu0>\r\n' +
  'END:VEVENT\r\nEND:VCALENDAR\r\n';

const anyPrefix =
  'any prefix (D:, none, default namespace) is read by namespace URI; CDATA and entities; CRLF restored';
test(anyPrefix, () => {
  const cdata = `<cal:calendar-data><![CDATA[${ICS}]]></cal:calendar-data>`;
  const okD = '<D:status>HTTP/1.1 200 OK</D:status>';
  const escaped = ICS.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const data = `<calendar-data xmlns="urn:ietf:params:xml:ns:caldav">${escaped}</calendar-data>`;
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <D:response><D:href>/cal/a.ics</D:href>
  <D:propstat><D:prop><D:getetag>&quot;e-1&quot;</D:getetag>${cdata}</D:prop>${okD}</D:propstat>
 </D:response>
 <response xmlns="DAV:"><href>/cal/b.ics</href>
  <propstat><prop><getetag>"e-2"</getetag>${data}</prop><status>HTTP/1.1 200 OK</status></propstat>
 </response>
 <D:sync-token>http://example/sync/7</D:sync-token>
</D:multistatus>`;
  const ms = parseMultistatus(xml);
  assert.equal(ms.syncToken, 'http://example/sync/7');
  assert.deepEqual(
    ms.responses.map((r) => [r.hrefs, r.etag, r.calendarData, r.status]),
    [
      [['/cal/a.ics'], '"e-1"', ICS, null],
      [['/cal/b.ics'], '"e-2"', ICS, null],
    ],
  );
});

const responseLevel404 =
  'response-level 404 (sync-collection deletions), failed propstats ignored, other namespaces not confused';
test(responseLevel404, () => {
  const wrongData = '<d:calendar-data>not caldav</d:calendar-data>';
  const notFound = '<d:status>HTTP/1.1 404 Not Found</d:status>';
  const ok = '<d:status>HTTP/1.1 200 OK</d:status>';
  const ms = parseMultistatus(`<d:multistatus xmlns:d="DAV:" xmlns:x="urn:other">
    <d:response><d:href>/cal/gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>
    <d:response><d:href>/cal/c.ics</d:href>
      <d:propstat><d:prop><d:getetag>"c"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
      <d:propstat><d:prop><x:getetag>"wrong"</x:getetag>${wrongData}</d:prop>${notFound}</d:propstat>
    </d:response>
    <d:response><d:href>/cal/d.ics</d:href>
      <d:propstat><d:prop><x:getetag>"wrong"</x:getetag></d:prop>${ok}</d:propstat>
    </d:response>
  </d:multistatus>`);
  assert.deepEqual(
    ms.responses.map((r) => [r.hrefs[0], r.status, r.etag, r.calendarData, r.hasOkProps]),
    [
      ['/cal/gone.ics', 404, null, null, false],
      ['/cal/c.ics', null, '"c"', null, true],
      ['/cal/d.ics', null, null, null, true],
    ],
  );
  assert.equal(ms.syncToken, null);
});

test('fed in pieces of any size, the answer is the same', () => {
  const escaped = ICS.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const xml =
    '<multistatus xmlns="DAV:"><response><href>/cal/%C3%A4.ics</href>' +
    '<propstat><prop><getetag>"ä-1"</getetag>' +
    `<calendar-data xmlns="urn:ietf:params:xml:ns:caldav">${escaped}</calendar-data></prop>` +
    '<status>HTTP/1.1 200 OK</status></propstat></response><sync-token>t-1</sync-token></multistatus>';
  const whole = parseMultistatus(xml);
  for (const size of [1, 3, 7, 64]) {
    const r = new MultistatusReader();
    for (let i = 0; i < xml.length; i += size) r.write(xml.slice(i, i + size));
    assert.deepEqual(r.end('test'), whole, `pieces of ${size}`);
  }
  assert.equal(whole.responses[0].etag, '"ä-1"');
});

test('not XML, not a multistatus, or cut off: one CalendarUnavailableError naming what was read', () => {
  for (const bad of [
    '<html><body>Login</body></html>',
    'Internal error',
    '<d:multistatus xmlns:d="DAV:"><d:response><d:href>/x',
    '',
  ]) {
    assert.throws(
      () => parseMultistatus(bad, 'listing changes'),
      (e: unknown) => {
        assert.ok(e instanceof CalendarUnavailableError);
        assert.match(
          (e as Error).message,
          /^listing changes: the calendar server's answer is not readable WebDAV XML/,
        );
        assert.ok(!(e as Error).message.includes('\n'));
        return true;
      },
      JSON.stringify(bad),
    );
  }
});

const forbiddenCharacters =
  'characters XML forbids (a vertical tab pasted into a description), raw or as references, ' +
  'do not stop the sync';
test(forbiddenCharacters, () => {
  const data =
    'BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:v\nSUMMARY:alice\n' +
    'DESCRIPTION:col1\u000bcol2 &#11; &#x1B;[31m &#xFFFE; ok &#233;\nEND:VEVENT\nEND:VCALENDAR\n';
  const xml =
    '<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">' +
    '<d:response><d:href>/cal/v.ics</d:href>' +
    `<d:propstat><d:prop><d:getetag>"v"</d:getetag><c:calendar-data>${data}</c:calendar-data></d:prop>` +
    '<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>';
  for (const size of [xml.length, 5, 1]) {
    const r = new MultistatusReader();
    for (let i = 0; i < xml.length; i += size) r.write(xml.slice(i, i + size));
    const ms = r.end('test');
    assert.equal(ms.responses.length, 1, `pieces of ${size}`);
    assert.equal(
      ms.responses[0].calendarData,
      'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:v\r\nSUMMARY:alice\r\n' +
        'DESCRIPTION:col1\ufffdcol2 \ufffd \ufffd[31m \ufffd ok é\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
      `pieces of ${size}`,
    );
  }
});
