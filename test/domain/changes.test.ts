import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changesOf, decodeChangeMessage, encodeChangeMessages, MAX_CHANGE_MESSAGE_BYTES, type Change } from '../../src/domain/changes.js';
import type { RealtimeResult, RealtimeWrite } from '../../src/domain/realtime.js';

const at = '2026-11-30T10:00:00.000Z';
const profile = (customerId: string, attributes: string[]): Change => ({
  instanceId: 'shop',
  customerId,
  kind: 'profile',
  at,
  attributes,
  validUntil: '2026-11-30T14:00:00.000Z',
});
const activity = (customerId: string, activityId: string): Change => ({ instanceId: 'shop', customerId, kind: 'activity', at, activityId, validUntil: '2026-12-30T10:00:00.000Z' });

describe('change messages between nodes', () => {
  it('round-trip to the same changes (same JSON as the local feed sends) with the node id', () => {
    const changes = [profile('c1', ['City', 'Email']), activity('c2', 'a1'), { instanceId: 'shop', customerId: 'c3', kind: 'activity', at, activityId: 'a2' } as Change];
    const messages = encodeChangeMessages('node-1', changes);
    assert.equal(messages.length, 1);
    const decoded = decodeChangeMessage(messages[0]);
    assert.equal(decoded?.nodeId, 'node-1');
    assert.equal(JSON.stringify(decoded?.changes), JSON.stringify(changes));
  });

  it('a large group is split into messages under the NOTIFY limit, nothing lost, order kept', () => {
    const changes = Array.from({ length: 2000 }, (_, i) => (i % 2 ? activity(`c${i}`, `activity-${i}`) : profile(`customer-${i}`, ['FirstName', 'LastName', 'City'])));
    const messages = encodeChangeMessages('node-1', changes);
    assert.ok(messages.length > 10);
    assert.ok(messages.every((m) => Buffer.byteLength(m) <= MAX_CHANGE_MESSAGE_BYTES));
    const back = messages.flatMap((m) => decodeChangeMessage(m)!.changes);
    assert.deepEqual(back, changes);
  });

  it('a change too large for a message goes without its attribute list', () => {
    const huge = profile('c1', Array.from({ length: 400 }, (_, i) => `Attribute_with_a_long_name_${i}`));
    const messages = encodeChangeMessages('n', [activity('c0', 'a0'), huge, activity('c2', 'a2')]);
    assert.ok(messages.every((m) => Buffer.byteLength(m) <= MAX_CHANGE_MESSAGE_BYTES));
    const back = messages.flatMap((m) => decodeChangeMessage(m)!.changes);
    assert.deepEqual(back.map((c) => c.customerId), ['c0', 'c1', 'c2']);
    assert.equal(back[1].attributes, undefined);
    assert.equal(back[1].kind, 'profile');
  });

  it('anything else is not a message', () => {
    for (const text of ['', 'not json', '{}', '{"n":1,"at":"x","c":[]}', 'null']) assert.equal(decodeChangeMessage(text), null, text);
  });

  it('changesOf: updated profiles and created activities only', () => {
    const writes = [
      { kind: 'profile', instanceId: 'shop', customerId: 'c1', changes: { City: 'Oslo' }, caller: null, setAt: at, validUntil: 'v' },
      { kind: 'profile', instanceId: 'shop', customerId: 'gone', changes: { City: 'Oslo' }, caller: null, setAt: at, validUntil: 'v' },
    ] as RealtimeWrite[];
    const results: RealtimeResult[] = [
      { status: 'updated', customerId: 'c1', validUntil: 'v' },
      { status: 'customerNotFound', customerId: 'gone' },
    ];
    assert.deepEqual(changesOf(writes, results, at), [{ instanceId: 'shop', customerId: 'c1', kind: 'profile', at, attributes: ['City'], validUntil: 'v' }]);
  });
});
