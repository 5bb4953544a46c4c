import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoTimestamp, parseTimestamp } from '../../src/domain/values.js';

describe('isoTimestamp', () => {
  it('returns canonical UTC timestamps as they are', () => {
    assert.equal(isoTimestamp('2026-03-01T09:30:00.000Z'), '2026-03-01T09:30:00.000Z');
    assert.equal(isoTimestamp('2024-02-29T23:59:59.999Z'), '2024-02-29T23:59:59.999Z');
  });

  it('refuses canonical-looking timestamps of days that do not exist', () => {
    assert.equal(isoTimestamp('2026-02-29T00:00:00.000Z'), null);
    assert.equal(isoTimestamp('2026-11-31T00:00:00.000Z'), null);
    assert.equal(isoTimestamp('2026-01-01T24:00:00.000Z'), null);
  });

  it('converts other forms to canonical UTC and agrees with parseTimestamp', () => {
    for (const [text, iso] of [
      ['2026-03-01', '2026-03-01T00:00:00.000Z'],
      ['2026-03-01 10:15', '2026-03-01T10:15:00.000Z'],
      ['2026-03-01T10:15:30+02:00', '2026-03-01T08:15:30.000Z'],
      ['2026-03-01T10:15:30.5Z', '2026-03-01T10:15:30.500Z'],
    ] as const) {
      assert.equal(isoTimestamp(text), iso, text);
      assert.equal(new Date(parseTimestamp(text)).toISOString(), iso, text);
    }
  });

  it('returns null for text that is not a date', () => {
    for (const text of ['', 'yesterday', '2026-13-01', '01/03/2026']) assert.equal(isoTimestamp(text), null, text);
  });
});
