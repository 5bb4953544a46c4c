// ActivityIds worked out ahead in a worker thread: the ids activityIdFor gives, row by row; none
// (so the activities stage works them out itself) when they would not fit the rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveInstance } from '../../src/config/resolve.js';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { activityIdFor, type FieldValue } from '../../src/domain/profile.js';
import { ACTIVITY_ID_LENGTH, startActivityIds } from '../../src/refresh/activity-ids.js';
import { Origins, type TypedEntityRows } from '../../src/refresh/context.js';

const definition = {
  id: 'shop',
  dataSources: [
    {
      name: 'Shop',
      type: 'csv',
      entities: [
        { name: 'Contacts', path: 'c.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] },
        { name: 'Orders', path: 'o.csv', primaryKey: 'OrderId', columns: [{ name: 'OrderId' }, { name: 'ContactId' }, { name: 'At' }] },
      ],
    },
  ],
  unification: { matching: [{ entity: 'Shop.Contacts' }] },
  activities: [{ entity: 'Shop.Orders', timestamp: 'At', type: 'Order', customer: { entity: 'Shop.Contacts', foreignKey: 'ContactId' } }],
} as unknown as InstanceDefinition;

const instance = resolveInstance(definition, '/tmp');
const KEYS = ['o1', ' padded ', 'Zoë', '😀 emoji', 'a'.repeat(500), '0', 'x\u0000y'];

function typedOrders(n: number): Map<string, TypedEntityRows> {
  const entity = instance.entities.get('Shop.Orders')!;
  const keys = Array.from({ length: n }, (_, i) => (i < KEYS.length ? KEYS[i].trim() : `order-${i}`));
  const rows: FieldValue[][] = keys.map((k) => [k, 'c1', '2024-01-01T00:00:00.000Z']);
  return new Map([['Shop.Orders', { entity, rows, keys, origin: new Origins(['o.csv']), modified: new Float64Array(n) }]]);
}

const idOf = (ids: string, i: number) => ids.substring(i * ACTIVITY_ID_LENGTH, (i + 1) * ACTIVITY_ID_LENGTH);

test('row by row the ids activityIdFor gives; none for an entity that is not an activity', async () => {
  const typed = typedOrders(1000);
  const ahead = startActivityIds(instance, typed, true);
  const ids = await ahead.of('Shop.Orders');
  assert.ok(ids !== null);
  const { keys } = typed.get('Shop.Orders')!;
  assert.equal(ids.length, keys.length * ACTIVITY_ID_LENGTH);
  keys.forEach((k, i) => assert.equal(idOf(ids, i), activityIdFor('shop', 'Shop', 'Orders', k), `row ${i} (${JSON.stringify(k)})`));
  assert.equal(await ahead.of('Shop.Contacts'), null);
  assert.equal(ahead.asked('Shop.Orders'), true);
  assert.equal(ahead.asked('Shop.Contacts'), false);
  ahead.stop();
});

test('small entities are left to the activities stage unless forced; rows reordered since, or a stop, give none', async () => {
  const small = startActivityIds(instance, typedOrders(100));
  assert.equal(await small.of('Shop.Orders'), null, 'below ACTIVITY_IDS_WORKER_MIN_ROWS');
  assert.equal(small.asked('Shop.Orders'), false, 'not asked: no fallback to report');
  assert.equal(await startActivityIds(instance, typedOrders(100), false).of('Shop.Orders'), null);

  const typed = typedOrders(1000);
  const ahead = startActivityIds(instance, typed, true);
  const data = typed.get('Shop.Orders')!;
  data.rows.reverse();
  data.keys.reverse();
  assert.equal(await ahead.of('Shop.Orders'), null, 'ids that no longer fit the rows are not used');
  assert.equal(ahead.asked('Shop.Orders'), true, 'asked, and fell back: the activities stage reports it');

  const stopped = startActivityIds(instance, typedOrders(50_000), true);
  stopped.stop();
  assert.equal(await stopped.of('Shop.Orders'), null);
});
