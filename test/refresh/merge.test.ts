import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { customerShape } from '../../src/refresh/merge.js';

describe('customer records of one shape', () => {
  it('keeps the attributes in assignment order, the last value of a name assigned twice, and undefined ones out of the JSON', () => {
    const shape = customerShape(['CustomerId', 'Name', 'City', 'Name', 'PreviousCustomerId']);
    assert.deepEqual(shape.slots, [0, 1, 2, 1, 3]);
    const values = ['c1', 'Ann', 'Oslo', undefined];
    values[shape.slots[3]] = 'Anna';
    const c = shape.make(values);
    assert.equal(JSON.stringify(c), '{"CustomerId":"c1","Name":"Anna","City":"Oslo"}');
    assert.deepEqual(Object.keys(c), ['CustomerId', 'Name', 'City', 'PreviousCustomerId']);
    // Each call makes a new record from the values passed.
    const other = shape.make(['c2', null, 'Rome', 'c0']);
    assert.deepEqual(other, { CustomerId: 'c2', Name: null, City: 'Rome', PreviousCustomerId: 'c0' });
    assert.equal(c.CustomerId, 'c1');
  });

  it('treats any attribute name as data: quotes, backslashes and __proto__', () => {
    const shape = customerShape(['CustomerId', 'say "hi"\\', '__proto__']);
    const c = shape.make(['c1', 'x', 'y']);
    assert.equal(Object.getPrototypeOf(c), Object.prototype);
    assert.deepEqual(Object.entries(c), [['CustomerId', 'c1'], ['say "hi"\\', 'x'], ['__proto__', 'y']]);
  });
});
