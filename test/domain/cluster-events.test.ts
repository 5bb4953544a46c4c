import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeClusterEvent, encodeClusterEvent, type ClusterEvent } from '../../src/domain/cluster-events.js';

test('cluster events survive encoding; anything else decodes to null', () => {
  const events: ClusterEvent[] = [{ kind: 'instance', instanceId: 'shop "eu"' }, { kind: 'access' }];
  for (const e of events) assert.deepEqual(decodeClusterEvent(encodeClusterEvent(e)), e);
  for (const text of ['', 'not json', 'null', '{"k":"i"}', '{"k":"i","id":3}', '{"k":"x"}', '[]']) assert.equal(decodeClusterEvent(text), null, text);
});
