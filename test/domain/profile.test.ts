// inAttributeOrder: one record shape whatever order a store returned the keys in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inAttributeOrder } from '../../src/domain/profile.js';

test('named attributes come first in the given order, the others after them as they came', () => {
  const record = { Zip: '1', CustomerId: 'c', Extra: true, City: null, Name: 'n' };
  const ordered = inAttributeOrder(record, ['CustomerId', 'Name', 'Missing', 'City']);
  assert.deepEqual(Object.keys(ordered), ['CustomerId', 'Name', 'City', 'Zip', 'Extra']);
  assert.deepEqual(ordered, record, 'the same attributes and values');
  assert.equal('Missing' in ordered, false, 'an attribute the record lacks is not added');
});

test('JSON text of two stores with different key orders becomes identical', () => {
  const fromSqlite = { CustomerId: 'c', FullName: 'A', City: 'B' };
  const fromPostgres = { City: 'B', FullName: 'A', CustomerId: 'c' };
  const order = Object.keys(fromSqlite);
  assert.equal(JSON.stringify(inAttributeOrder(fromPostgres, order)), JSON.stringify(fromSqlite));
});
