import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderByString, permuteInPlace, prefixNumber } from '../../src/domain/string-order.js';

const byLess = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

test('orders like < on strings: prefixes, ties past the first characters, characters beyond ASCII, surrogates', () => {
  const keys = [
    'b', 'a', '', 'ab', 'abc', 'ab\u0000', 'abcdefgh2', 'abcdefgh1', 'abcdefg', '\u00e9z', '\u00ffa', '\u00e9a', '~~~~~~~~~a', '~~~~~~~~~',
    '\u007f\u007fz', '\u007f\u007fa', 'Z', 'z', '\ud83d\ude00x', '\ud83d\ude00a', '\uffff', '0123', '01234567-89ab', '01234567-89aa',
  ];
  // Many random UUID-like keys too, with shared prefixes.
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 2000; i++) keys.push(`${Math.floor(rand() * 16).toString(16).repeat(3)}${Math.floor(rand() * 1e9).toString(16)}`);
  const order = orderByString(keys.length, (i) => keys[i]);
  assert.deepEqual(
    Array.from(order, (i) => keys[i]),
    [...keys].sort(byLess),
  );
  assert.equal(new Set(order).size, keys.length, 'every index once');
});

test('prefixNumber never orders two keys against <', () => {
  const keys = ['', 'a', 'a\u0000', 'a\u007e', 'a\u007f', 'a\u0080b', 'a\u0080a', 'a\uffff', 'aaaaaaa', 'aaaaaaab', 'b'];
  for (const a of keys) for (const b of keys) if (prefixNumber(a) < prefixNumber(b)) assert.ok(a < b, `${JSON.stringify(a)} < ${JSON.stringify(b)}`);
});

test('permuteInPlace puts rows[order[k]] at k', () => {
  const rows = ['c', 'a', 'b'];
  assert.equal(permuteInPlace(rows, [1, 2, 0]), rows);
  assert.deepEqual(rows, ['a', 'b', 'c']);
});
