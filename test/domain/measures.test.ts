import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkCondition, compileValuePredicate, windowStart } from '../../src/domain/conditions.js';
import { aggregate, type AggregateOptions, type RowSet } from '../../src/domain/measures.js';
import type { FieldValue } from '../../src/domain/profile.js';

interface Row {
  customer: number;
  time: string | null;
  amount: number | null;
  product: string | null;
}

const rows: Row[] = [
  { customer: 0, time: '2026-01-01T00:00:00.000Z', amount: 10, product: 'Tea' },
  { customer: 0, time: '2026-03-01T00:00:00.000Z', amount: 30, product: 'Pot' },
  { customer: 0, time: '2026-02-01T00:00:00.000Z', amount: 20, product: 'Tea' },
  { customer: 1, time: '2026-02-15T00:00:00.000Z', amount: null, product: 'Cup' },
  { customer: 1, time: '2026-02-15T00:00:00.000Z', amount: 0.1, product: 'Mug' },
  { customer: 1, time: null, amount: 0.2, product: null },
  { customer: -1, time: '2026-02-01T00:00:00.000Z', amount: 1000, product: 'Lost' },
];

const set: RowSet<Row> = {
  rows,
  group: Int32Array.from(rows.map((r) => r.customer)),
  time: (i) => rows[i].time,
  get: (f) => (r) => r[f as keyof Row] as FieldValue,
};

/** Three customers: 0 and 1 have rows, 2 has none. */
const run = (o: Omit<AggregateOptions<Row>, 'groups'> & { groups?: number }) => aggregate(set, { groups: 3, ...o });
const amount = set.get('amount');
const product = set.get('product');

describe('aggregations per customer', () => {
  test('sum and average skip nulls, round away binary noise, and are null without rows', () => {
    assert.deepEqual(run({ aggregation: 'sum', field: amount }), [60, 0.3, null]);
    assert.deepEqual(run({ aggregation: 'average', field: amount }), [20, 0.15, null]);
  });

  test('count counts rows (or non-null values of a field); count distinct counts values; both 0 without rows', () => {
    assert.deepEqual(run({ aggregation: 'count' }), [3, 3, 0]);
    assert.deepEqual(run({ aggregation: 'count', field: amount }), [3, 2, 0]);
    assert.deepEqual(run({ aggregation: 'countDistinct', field: product }), [2, 2, 0]);
  });

  test('min and max compare numbers as numbers and text as text', () => {
    assert.deepEqual(run({ aggregation: 'min', field: amount }), [10, 0.1, null]);
    assert.deepEqual(run({ aggregation: 'max', field: amount }), [30, 0.2, null]);
    assert.deepEqual(run({ aggregation: 'max', field: product }), ['Tea', 'Mug', null]);
    assert.deepEqual(run({ aggregation: 'max', field: set.get('time') }), ['2026-03-01T00:00:00.000Z', '2026-02-15T00:00:00.000Z', null]);
  });

  test('first and last take the value of the earliest and latest row by time (ties: first keeps the earlier row, last the later)', () => {
    assert.deepEqual(run({ aggregation: 'first', field: product }), ['Tea', 'Cup', null]);
    assert.deepEqual(run({ aggregation: 'last', field: product }), ['Pot', 'Mug', null]);
  });

  test('argMax and argMin take the value of the row with the largest and smallest `by`', () => {
    assert.deepEqual(run({ aggregation: 'argMax', field: product, by: amount }), ['Pot', null, null]);
    assert.deepEqual(run({ aggregation: 'argMin', field: product, by: amount }), ['Tea', 'Mug', null]);
  });

  test('filters and windows leave rows out; rows without a time are outside every window', () => {
    const filter = (r: Row) => r.product === 'Tea';
    assert.deepEqual(run({ aggregation: 'sum', field: amount, filter }), [30, null, null]);
    const window = { start: '2026-01-15T00:00:00.000Z', end: '2026-02-20T00:00:00.000Z' };
    assert.deepEqual(run({ aggregation: 'count', window }), [1, 2, 0]);
    assert.deepEqual(run({ aggregation: 'sum', field: amount, window }), [20, 0.1, null]);
  });

  test('a business measure aggregates every row, also rows without a customer', () => {
    assert.deepEqual(aggregate(set, { aggregation: 'sum', groups: 1, single: true, field: amount }), [1060.3]);
    assert.deepEqual(aggregate(set, { aggregation: 'count', groups: 1, single: true }), [7]);
  });
});

describe('conditions', () => {
  test('two-valued logic on null, numbers compared as numbers, text case-insensitive for contains and startsWith', () => {
    const gt = compileValuePredicate('gt', 5, 'decimal');
    assert.equal(gt(6), true);
    assert.equal(gt(5), false);
    assert.equal(gt(null), false);
    const ne = compileValuePredicate('ne', 'Berlin', 'string');
    assert.equal(ne(null), true);
    assert.equal(ne('Berlin'), false);
    assert.equal(compileValuePredicate('eq', null, 'string')(null), true);
    assert.equal(compileValuePredicate('contains', 'ERL', 'string')('Berlin'), true);
    assert.equal(compileValuePredicate('startsWith', 'ber', 'string')('Berlin'), true);
    assert.equal(compileValuePredicate('in', ['a', null], 'string')(null), true);
    assert.equal(compileValuePredicate('notIn', [1, 2], 'integer')(2), false);
    assert.equal(compileValuePredicate('isNull', undefined, 'string')(undefined), true);
  });

  test('date-time literals are normalised to the stored form before comparing', () => {
    const after = compileValuePredicate('ge', '2026-01-10', 'datetime');
    assert.equal(after('2026-01-10T00:00:00.000Z'), true);
    assert.equal(after('2026-01-09T23:59:59.999Z'), false);
  });

  test('checkCondition says what is wrong with an operator or a value', () => {
    assert.deepEqual(checkCondition('gt', 'lots', 'decimal'), [{ path: 'value', message: '"lots" is not a number' }]);
    assert.deepEqual(checkCondition('in', 'a', 'string'), [{ path: 'value', message: "operator 'in' needs a list of values" }]);
    assert.deepEqual(checkCondition('isNull', 1, 'string'), [{ path: 'value', message: "operator 'isNull' takes no value" }]);
    assert.deepEqual(checkCondition('eq', undefined, 'string'), [{ path: 'value', message: "operator 'eq' needs a value" }]);
    assert.equal(checkCondition('contains', 'x', 'integer')[0].path, 'operator');
    assert.deepEqual(checkCondition('ge', '2026-02-30', 'date'), [{ path: 'value', message: '"2026-02-30" is not a date (YYYY-MM-DD)' }]);
    assert.deepEqual(checkCondition('ge', 3, 'integer'), []);
  });

  test('windows are the last N units before the refresh time, months and years by the calendar', () => {
    const t = Date.parse('2026-03-31T12:00:00Z');
    assert.equal(new Date(windowStart({ last: 2, unit: 'hours' }, t)).toISOString(), '2026-03-31T10:00:00.000Z');
    assert.equal(new Date(windowStart({ last: 90 }, t)).toISOString(), '2025-12-31T12:00:00.000Z');
    assert.equal(new Date(windowStart({ last: 1, unit: 'weeks' }, t)).toISOString(), '2026-03-24T12:00:00.000Z');
    assert.equal(new Date(windowStart({ last: 12, unit: 'months' }, t)).toISOString(), '2025-03-31T12:00:00.000Z');
    assert.equal(new Date(windowStart({ last: 1, unit: 'years' }, t)).toISOString(), '2025-03-31T12:00:00.000Z');
  });
});
