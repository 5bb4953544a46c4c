// The content hash decides whether a re-posted ActivityId is a safe retry or a conflict, and it is
// stored with each activity: it must stay the same for the same content whatever the key order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ActivityRecord } from '../../src/domain/profile.js';
import { activityContentHash } from '../../src/domain/realtime.js';

const record = (): ActivityRecord => ({
  ActivityId: 'a-1',
  CustomerId: 'c-1',
  ActivityTime: '2026-01-01T10:00:00.000Z',
  ActivityType: 'Visit',
  ActivityTypeDisplay: 'Visit "quoted"',
  SourceEntityName: 'UnifiedActivity',
  SourceActivityId: 'a-1',
  DataSourceName: 'realtime',
  Title: 'Ünïcode \u2028 and \\ backslash',
  Description: null,
  Url: 'https://example.com/?a=1&b=2',
  Icon: null,
  ShowInTimeline: true,
  Origin: 'realtime',
  ValidUntil: '2026-02-01T10:00:00.000Z',
});

/** The documented canonical form: JSON of the [key, value] pairs sorted by key, without ValidUntil and Origin. */
function reference(a: ActivityRecord): string {
  const pairs = Object.entries(a)
    .filter(([k]) => k !== 'ValidUntil' && k !== 'Origin')
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([k, v]) => [k, v ?? null]);
  return createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
}

describe('activityContentHash', () => {
  it('is the SHA-256 of the sorted [key, value] pairs for the usual key order', () => {
    assert.equal(activityContentHash(record()), reference(record()));
  });

  it('does not depend on key order, expiry or origin', () => {
    const usual = activityContentHash(record());
    const reversed = Object.fromEntries(Object.entries(record()).reverse()) as unknown as ActivityRecord;
    assert.equal(activityContentHash(reversed), usual);
    assert.equal(activityContentHash({ ...record(), ValidUntil: '2026-03-01T00:00:00.000Z', Origin: 'batch' }), usual);
    const { ValidUntil: _expiry, ...withoutExpiry } = record();
    assert.equal(activityContentHash(withoutExpiry as ActivityRecord), usual);
  });

  it('changes when any hashed field changes', () => {
    const usual = activityContentHash(record());
    for (const [field, value] of [
      ['Title', 'other'],
      ['Description', ''],
      ['ShowInTimeline', false],
      ['CustomerId', 'c-2'],
      ['ActivityTime', '2026-01-01T10:00:01.000Z'],
    ] as const) {
      const changed = { ...record(), [field]: value } as ActivityRecord;
      assert.notEqual(activityContentHash(changed), usual, field);
      assert.equal(activityContentHash(changed), reference(changed), field);
    }
  });
});
