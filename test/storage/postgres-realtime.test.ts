// Real-time groups on PostgreSQL that run at the same time, as they do when a node keeps several
// groups in flight or several nodes share the database: each group is its own transaction on its
// own connection. The order-of-writes semantics of one group are in overlay-conformance.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { ActivityRecord } from '../../src/domain/profile.js';
import { type RealtimeWrite } from '../../src/domain/realtime.js';
import { openPostgresStore, type PostgresStore } from '../../src/storage/postgres/store.js';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from './postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the PostgreSQL real-time group tests: ${unavailable}`);

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

const UNTIL = new Date(Date.now() + 3_600_000).toISOString();
const customerIds = Array.from({ length: 40 }, (_, i) => `c${String(i).padStart(2, '0')}`);

const patch = (customerId: string, city: string): RealtimeWrite => ({
  kind: 'profile',
  instanceId: 'shop',
  customerId,
  changes: { City: city, Points: 1 },
  caller: 'test',
  setAt: new Date().toISOString(),
  validUntil: UNTIL,
});

const post = (id: string, customerId: string, title = 'Page'): RealtimeWrite => {
  const activity = { ActivityId: id, CustomerId: customerId, ActivityTime: '2026-01-01T00:00:00.000Z', ActivityType: 'PageView', Title: title, Origin: 'realtime', ValidUntil: UNTIL } as unknown as ActivityRecord;
  return { kind: 'activity', instanceId: 'shop', activity, caller: 'test', createdAt: new Date().toISOString() };
};

describe('PostgreSQL real-time groups at the same time', { skip: unavailable ?? false }, () => {
  let drop: () => Promise<void>;
  const stores: PostgresStore[] = [];

  before(async () => {
    const fresh = await freshSchema();
    drop = fresh.drop;
    // Two stores stand for two nodes, each with connections enough for several groups in flight.
    for (const nodeId of ['node-a', 'node-b']) stores.push(await openPostgresStore({ connectionString: POSTGRES_URL, schema: fresh.schema, maxConnections: 4, nodeId }));
    const [store] = stores;
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/tmp' });
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.writeCustomers(customerIds.map((id) => ({ CustomerId: id })));
    await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
  });

  after(async () => {
    for (const s of stores) await s.close();
    await drop?.();
  });

  it('groups updating the same profiles and posting the same ActivityIds in opposite orders all commit (no deadlock)', async () => {
    const forward = customerIds;
    const backward = [...customerIds].reverse();
    for (let round = 0; round < 5; round++) {
      const groups = [
        [...forward.map((id) => patch(id, `F${round}`)), ...forward.map((id) => post(`a${round}-${id}`, id))],
        [...backward.map((id) => patch(id, `B${round}`)), ...backward.map((id) => post(`a${round}-${id}`, id))],
      ];
      // Four groups at once: two per node, in both orders.
      const results = await Promise.all([stores[0].applyRealtime(groups[0]), stores[1].applyRealtime(groups[1]), stores[1].applyRealtime(groups[0]), stores[0].applyRealtime(groups[1])]);
      const activityStatuses = results.flatMap((r) => r.slice(customerIds.length).map((x) => x.status));
      assert.ok(results.every((r) => r.slice(0, customerIds.length).every((x) => x.status === 'updated')));
      // Each ActivityId is created by exactly one of the four groups and replayed by the other three.
      assert.equal(activityStatuses.filter((s) => s === 'created').length, customerIds.length);
      assert.equal(activityStatuses.filter((s) => s === 'replayed').length, 3 * customerIds.length);
    }
  });

  it('the same ActivityId with different content from two nodes at once: one is created, the other a conflict', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([stores[0].applyRealtime([post(`race-${round}`, 'c01', 'A')]), stores[1].applyRealtime([post(`race-${round}`, 'c01', 'B')])]);
      assert.deepEqual([a[0].status, b[0].status].sort(), ['conflict', 'created']);
    }
  });
});
