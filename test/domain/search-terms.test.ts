import assert from 'node:assert/strict';
import { test } from 'node:test';
import { customerTerms, searchedFields, type SearchTermKind } from '../../src/domain/search-terms.js';

const termsOf = (values: unknown[]) => {
  const fields = searchedFields({ nameFields: ['FirstName', 'LastName'], emailFields: ['Email'], phoneFields: ['Phone'] });
  const out: [SearchTermKind, string][] = [];
  customerTerms(fields, values, (kind, term) => out.push([kind, term]));
  return out;
};

test('a customer\'s terms: folded name words, trimmed lower-case email, phone digits; each once', () => {
  assert.deepEqual(termsOf(['Anna Maria', 'Wiśniewski, Róbert', ' Anna.M@Example.COM ', '+49 (30) 123-456']), [
    ['name', 'anna maria'],
    ['name', 'maria'],
    ['name', 'wisniewski robert'],
    ['name', 'robert'],
    ['email', 'anna.m@example.com'],
    ['phone', '4930123456'],
  ]);
  // The same word in two name fields is one term; numbers give terms, other values none.
  assert.deepEqual(termsOf(['Lee', 'lee', null, 12345678]), [
    ['name', 'lee'],
    ['phone', '12345678'],
  ]);
  // Too short or not digits: no phone term; an empty name or email: none.
  assert.deepEqual(termsOf(['', '  ', '   ', '12-34']), []);
  assert.deepEqual(termsOf([undefined, true, { a: 1 }, 'call me']), []);
});
