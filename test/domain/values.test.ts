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

describe('parseValue for dates and date-times', () => {
  it('completes UTC date-times without milliseconds and keeps canonical ones', async () => {
    const { parseValue } = await import('../../src/domain/values.js');
    assert.deepEqual(parseValue('2025-10-02T11:44:43Z', 'datetime'), { ok: true, value: '2025-10-02T11:44:43.000Z' });
    assert.deepEqual(parseValue(' 2025-10-02T11:44:43.120Z ', 'datetime'), { ok: true, value: '2025-10-02T11:44:43.120Z' });
    assert.deepEqual(parseValue('2025-10-02T13:44:43+02:00', 'datetime'), { ok: true, value: '2025-10-02T11:44:43.000Z' });
  });

  it('knows leap years and month lengths', async () => {
    const { parseValue } = await import('../../src/domain/values.js');
    for (const [text, ok] of [
      ['2024-02-29', true],
      ['2023-02-29', false],
      ['1900-02-29', false],
      ['2000-02-29', true],
      ['2025-04-31', false],
      ['2025-12-31', true],
      ['2025-00-10', false],
    ] as const) {
      assert.equal(parseValue(text, 'date').ok, ok, text);
      assert.equal(parseValue(`${text}T00:00:00Z`, 'datetime').ok, ok, `${text}T00:00:00Z`);
    }
  });
});

describe('parseTimestamp', () => {
  it('reads UTC date-times with and without milliseconds like Date.parse does', () => {
    for (const text of ['2025-10-02T11:44:43Z', '2025-10-02T11:44:43.007Z', '1970-01-01T00:00:00Z', '2024-02-29T23:59:59.999Z'])
      assert.equal(parseTimestamp(text), Date.parse(text), text);
    assert.ok(Number.isNaN(parseTimestamp('2023-02-29T00:00:00Z')));
    assert.ok(Number.isNaN(parseTimestamp('2023-01-01T24:00:00Z')));
  });
});
