import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanText, truncate, isClean, DEFAULT_MAX } from '../src/core/sanitize.js';

const ESC = '\u001b';

test('plain text passes; whitespace runs fold; null/undefined become empty', () => {
  assert.equal(cleanText('alice exclusive: ICML runs'), 'alice exclusive: ICML runs');
  assert.equal(cleanText('  a \t b\r\n\nc\v\fd  '), 'a b c d');
  assert.equal(cleanText('\u2028a\u2029b\u00a0c'), 'a b c');
  assert.equal(cleanText(null), '');
  assert.equal(cleanText(undefined), '');
  assert.equal(cleanText(42), '42');
  assert.equal(cleanText('Grüße 🎉 日本語'), 'Grüße 🎉 日本語');
});

test('CSI sequences are removed whole', () => {
  assert.equal(cleanText(`${ESC}[31mred${ESC}[0m`), 'red');
  assert.equal(cleanText(`${ESC}[2J${ESC}[H${ESC}[?25lhidden cursor`), 'hidden cursor');
  assert.equal(cleanText(`a${ESC}[38;5;196mb`), 'ab');
  assert.equal(cleanText(`\u009b31mC1 csi`), 'C1 csi');
  assert.equal(cleanText(`x${ESC}[`), 'x');
});

test('OSC/DCS/APC/PM/SOS strings are removed with their payload and terminator', () => {
  assert.equal(cleanText(`${ESC}]0;pwned title\u0007after`), 'after');
  assert.equal(cleanText(`${ESC}]8;;http://evil.example${ESC}\\click${ESC}]8;;${ESC}\\ me`), 'click me');
  assert.equal(cleanText(`${ESC}P+q544e${ESC}\\ok`), 'ok');
  assert.equal(cleanText(`${ESC}_apc payload${ESC}\\ok`), 'ok');
  assert.equal(cleanText(`${ESC}^pm payload${ESC}\\ok`), 'ok');
  assert.equal(cleanText(`${ESC}Xsos payload${ESC}\\ok`), 'ok');
  assert.equal(cleanText(`\u009d0;c1 osc\u009cok`), 'ok');
  assert.equal(cleanText(`\u0090dcs\u009cok`), 'ok');
  // unterminated OSC swallows the rest: nothing of it reaches the terminal
  assert.equal(cleanText(`before${ESC}]0;never ends`), 'before');
});

test('two-byte escapes, lone ESC, other C0/C1 controls and DEL are removed', () => {
  assert.equal(cleanText(`${ESC}cRIS reset`), 'RIS reset');
  assert.equal(cleanText(`${ESC}(0line drawing`), 'line drawing');
  assert.equal(cleanText(`${ESC}7save${ESC}8`), 'save');
  assert.equal(cleanText(`bell\u0007\u0007 and\u0000nul\u007fdel\u0085nel\u0008bs`), 'bell andnuldelnelbs');
  assert.equal(cleanText(`${ESC}${ESC}[31mx`), 'x');
  assert.equal(cleanText(`${ESC}`), '');
  // removing a control never creates a new escape sequence
  const tricky = cleanText(`${ESC}\u0000[31mx`);
  assert.ok(!tricky.includes(ESC));
  assert.ok(isClean(tricky));
});

test('bidi overrides, isolates and invisible formatting are removed', () => {
  assert.equal(cleanText('abc\u202efdp.exe'), 'abcfdp.exe');
  assert.equal(cleanText('\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069x'), 'x');
  assert.equal(cleanText('a\u200bb\u200ec\u200fd\ufeffe\u061cf\u2060g'), 'abcdefg');
});

test('length is capped in code points with an ellipsis', () => {
  const long = 'x'.repeat(10_000);
  const c = cleanText(long);
  assert.equal(Array.from(c).length, DEFAULT_MAX);
  assert.equal(DEFAULT_MAX, 200);
  assert.ok(c.endsWith('…'));
  assert.equal(cleanText('abcdef', 4), 'abc…');
  assert.equal(cleanText('abcd', 4), 'abcd');
  assert.equal(Array.from(cleanText('🎉'.repeat(300))).length, 200); // surrogate pairs are not split
  assert.ok(!cleanText('🎉'.repeat(300)).includes('\ud83c…'));
  assert.equal(truncate('word word word', 6), 'word…'); // no space before the ellipsis
  assert.equal(truncate('abc', 1), 'a');
  assert.equal(truncate('abc', 0), '');
});

test('isClean flags controls and bidi marks, accepts normal text', () => {
  assert.equal(isClean('alice exclusive: ICML'), true);
  assert.equal(isClean('Grüße 🎉'), true);
  assert.equal(isClean(`${ESC}[31m`), false);
  assert.equal(isClean('a\u0007'), false);
  assert.equal(isClean('a\u202eb'), false);
  assert.equal(isClean('a\u009bb'), false);
  assert.equal(isClean('tab\there'), false);
});

test('cleanText output is always clean (fuzz over control/escape alphabet)', () => {
  const alphabet = [
    ESC,
    '[',
    ']',
    '\\',
    'P',
    '_',
    '^',
    'X',
    '0',
    ';',
    'm',
    '\u0007',
    '\u009b',
    '\u009d',
    '\u009c',
    '\u0090',
    '\u202e',
    '\u2066',
    'a',
    ' ',
    '\n',
    '\u007f',
    '\u0000',
    '(',
    '?',
    '🎉',
  ];
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const n = rnd() % 40;
    for (let j = 0; j < n; j++) s += alphabet[rnd() % alphabet.length];
    const c = cleanText(s);
    assert.ok(isClean(c), JSON.stringify(s));
    assert.ok(!c.includes(ESC));
    assert.equal(c, c.trim());
    assert.ok(!/\s\s/.test(c), JSON.stringify(s));
    assert.ok(Array.from(c).length <= DEFAULT_MAX);
  }
});
