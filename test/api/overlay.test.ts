// The real-time overlay over refreshes (issue 3): expiry and the sweeper, survival of refreshes,
// merges and splits, overrides superseded by newer source records, real-time activities that
// the batch later brings, and the batch data itself left untouched. One workspace, tests in order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportEntity } from '../../src/cli/commands/export.js';
import { activityIdFor } from '../../src/domain/profile.js';
import { customerOf, odataError, REALTIME_FIXTURE, scanAll, sleep, workspace, type Workspace } from './helpers.js';

type Row = Record<string, unknown>;
let ws: Workspace;

before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  await ws.refresh();
});
after(() => ws.close());

const id = (dataSource: string, entity: string, key: string) => customerOf(ws, dataSource, entity, key);
const customer = async (customerId: string) => {
  const res = await ws.request('GET', ws.url(`/data/Customer/${customerId}`), { key: ws.keys.viewer });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as Row;
};
const customers = async (filter: string) => {
  const res = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: filter } });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { value: Row[] }).value;
};
const activities = async (filter: string) => {
  const res = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: filter, $top: '1000' } });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { value: Row[] }).value;
};
const expanded = async (customerId: string) => {
  const res = await ws.request('GET', ws.url(`/data/Customer/${customerId}`), { key: ws.keys.viewer, query: { $expand: 'UnifiedActivity' } });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { UnifiedActivity: Row[] }).UnifiedActivity;
};
const patch = async (customerId: string, body: Row, query?: Record<string, string>) => {
  const res = await ws.request('PATCH', ws.url(`/data/Customer/${customerId}`), { body, query });
  assert.equal(res.statusCode, 204, res.body);
};
const post = async (entity: string, body: Row, query?: Record<string, string>, status = 201) => {
  const res = await ws.request('POST', ws.url(`/data/${entity}`), { body, query });
  assert.equal(res.statusCode, status, res.body);
  return res.json() as Row;
};
const unified = (activityId: string, customerId: string, over: Row = {}) => ({
  ActivityId: activityId,
  CustomerId: customerId,
  ActivityTime: '2026-11-15T12:00:00Z',
  ActivityType: 'Note',
  Title: activityId,
  ...over,
});
const purchaseId = (key: string) => activityIdFor(ws.instanceId, 'Shop', 'Purchases', key);
const csvLine = (name: string, line: string) => {
  const text = ws.read(name);
  ws.write(name, `${text}${text.endsWith('\n') ? '' : '\n'}${line}\n`);
};
async function exportCsv(entity: string, name: string): Promise<string> {
  const out = path.join(ws.dir, `${name}.csv`);
  await exportEntity({ entity, instanceId: ws.instanceId, format: 'csv', out, dataDir: ws.dataDir, database: ws.database });
  return readFileSync(out, 'utf8');
}

describe('the real-time overlay', () => {
  test('an expired override or activity is never returned, and the sweeper purges them', async () => {
    const carla = await id('Shop', 'Contacts', 'C4');
    const soon = new Date(Date.now() + 1200).toISOString();
    await patch(carla, { City: 'Short Stay' }, { validUntil: soon });
    await patch(carla, { Tier: 'Long Stay' });
    await post('UnifiedActivity', unified('short-1', carla), { validUntil: soon });
    const p300 = await post('Shop_Purchases', { PurchaseId: 'P300', ContactId: 'C4', PurchasedOn: '2026-11-16T08:00:00Z', Product: 'Tea' }, { validUntil: soon });
    assert.equal((await customer(carla)).City, 'Short Stay');
    assert.equal((await customers("City eq 'Short Stay'")).length, 1);
    assert.equal((await activities(`CustomerId eq '${carla}'`)).length, 2);
    assert.equal((await expanded(carla)).length, 2);

    await sleep(Date.parse(soon) - Date.now() + 50);
    const c = await customer(carla);
    assert.equal(c.City, 'Madrid', 'the batch value again');
    assert.equal(c.Tier, 'Long Stay', 'the other override still counts');
    assert.deepEqual(await customers("City eq 'Short Stay'"), []);
    assert.deepEqual((await customers("City eq 'Madrid'")).map((r) => r.CustomerId), [carla]);
    assert.deepEqual((await customers("Tier eq 'Long Stay'")).map((r) => r.CustomerId), [carla]);
    assert.deepEqual(await activities(`CustomerId eq '${carla}'`), []);
    assert.deepEqual(await expanded(carla), []);
    odataError(await ws.request('GET', ws.url('/data/UnifiedActivity/short-1'), { key: ws.keys.viewer }), 404);
    odataError(await ws.request('GET', ws.url(`/data/UnifiedActivity/${p300.ActivityId}`), { key: ws.keys.viewer }), 404);
    const count = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $count: 'true' } });
    assert.equal((count.json() as Row)['@odata.count'], (await scanAll(ws, 'UnifiedActivity')).length);

    // Posting an expired activity's id again (before the sweep) publishes it anew.
    const again = await post('UnifiedActivity', unified('short-1', carla));
    assert.equal(again.ActivityId, 'short-1');
    assert.equal((await activities("ActivityId eq 'short-1'")).length, 1);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: unified('short-1', carla, { Title: 'changed' }) }), 409);

    const swept = await ws.services.sweeper.sweep();
    assert.deepEqual(swept, { overrides: 1, activities: 1 });
    assert.deepEqual((await ws.services.store.getProfile(ws.instanceId, carla))!.overrides.map((o) => o.attribute), ['Tier']);
    assert.deepEqual(await ws.services.sweeper.sweep(), { overrides: 0, activities: 0 });
    // Five hours on, the 4-hour default of the Tier override has run out too.
    const later = await ws.services.sweeper.sweep(new Date(Date.now() + 5 * 3_600_000));
    assert.deepEqual(later, { overrides: 1, activities: 0 });
    assert.equal((await customer(carla)).Tier, null);
    assert.equal((await activities("ActivityId eq 'short-1'")).length, 1, 'its 30 days are not over');
  });

  test('real-time writes never change what the refresh produced, and survive a refresh', async () => {
    const bob = await id('Shop', 'Contacts', 'C3');
    const before = { customers: await scanAll(ws, 'Customer'), activities: await scanAll(ws, 'UnifiedActivity'), keys: await scanAll(ws, 'AlternateKey') };
    const exported = { customers: await exportCsv('Customer', 'c0'), activities: await exportCsv('UnifiedActivity', 'a0') };

    await patch(bob, { City: 'Boston', Points: 1.5 });
    await post('UnifiedActivity', unified('keep-1', bob));
    const p100 = await post('Shop_Purchases', { PurchaseId: 'P100', ContactId: 'C3', PurchasedOn: '2026-11-02T09:30:00Z', Product: 'Mug', Total: 9.5 });
    await ws.request('POST', ws.url('/data/Customer/$batch'), { body: [{ CustomerId: bob, changes: { Tier: 'Batch Tier' } }] });

    assert.deepEqual(await scanAll(ws, 'Customer'), before.customers, 'store.scan reads the batch data, untouched');
    assert.deepEqual(await scanAll(ws, 'UnifiedActivity'), before.activities);
    assert.deepEqual(await scanAll(ws, 'AlternateKey'), before.keys);
    assert.equal(await exportCsv('Customer', 'c1'), exported.customers);
    assert.equal(await exportCsv('UnifiedActivity', 'a1'), exported.activities);

    const run = await ws.refresh();
    assert.equal(run.generation, 2);
    assert.deepEqual(await scanAll(ws, 'Customer'), before.customers, 'the refresh is not influenced by the overlay');
    assert.deepEqual(await scanAll(ws, 'UnifiedActivity'), before.activities);
    assert.equal(await exportCsv('Customer', 'c2'), exported.customers);

    const b = await customer(bob);
    assert.equal(b.City, 'Boston');
    assert.equal(b.Points, 1.5);
    assert.equal(b.Tier, 'Batch Tier');
    assert.deepEqual((await customers("City eq 'Boston'")).map((r) => r.CustomerId), [bob]);
    const rt = await activities(`CustomerId eq '${bob}' and Origin eq 'realtime'`);
    assert.deepEqual(rt.map((a) => a.ActivityId).sort(), ['keep-1', p100.ActivityId].sort());
  });

  test('overrides and activities on a retired id follow their customer through a merge', async () => {
    const anna = await id('Shop', 'Contacts', 'C2');
    const dan = await id('Loyalty', 'Members', 'L2');
    await patch(anna, { City: 'Paris', JoinedOn: '2019-01-01' });
    await sleep(5);
    await patch(dan, { City: 'Rome', Tier: 'Platinum' });
    await patch(anna, { Points: 42 });
    await post('UnifiedActivity', unified('dan-1', dan));
    await post('UnifiedActivity', unified('anna-1', anna));
    // Dan's loyalty record takes Anna's email: his profile merges into hers (she has more records).
    ws.replace('loyalty.csv', 'L2,Dan Eve,dan@example.com', 'L2,Dan Eve,anna.mueller@example.com');
    await ws.refresh();

    assert.equal(await id('Loyalty', 'Members', 'L2'), anna);
    odataError(await ws.request('GET', ws.url(`/data/Customer/${dan}`), { key: ws.keys.viewer }), 404);
    odataError(await ws.request('PATCH', ws.url(`/data/Customer/${dan}`), { body: { City: 'x' } }), 404);
    const a = await customer(anna);
    assert.equal(a.PreviousCustomerId, dan);
    assert.equal(a.City, 'Rome', 'the newer of the two City overrides');
    assert.equal(a.Tier, 'Platinum', "the retired id's override");
    assert.equal(a.JoinedOn, '2019-01-01');
    assert.equal(a.Points, 42);
    assert.deepEqual((await customers("Tier eq 'Platinum'")).map((r) => r.CustomerId), [anna]);
    assert.deepEqual(await activities(`CustomerId eq '${dan}'`), []);
    const mine = await activities(`CustomerId eq '${anna}' and Origin eq 'realtime'`);
    assert.deepEqual(mine.map((x) => x.ActivityId).sort(), ['anna-1', 'dan-1']);
    assert.ok(mine.every((x) => x.CustomerId === anna), 'the records say so too, not only the index');
    const act = await ws.request('GET', ws.url('/data/UnifiedActivity/dan-1'), { key: ws.keys.viewer });
    assert.equal((act.json() as Row).CustomerId, anna);
    assert.ok((await expanded(anna)).some((x) => x.ActivityId === 'dan-1' && x.CustomerId === anna));
    // The same activity posted again for the surviving profile is a replay, not a conflict.
    assert.equal((await post('UnifiedActivity', unified('dan-1', anna), undefined, 200)).CustomerId, anna);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: unified('dan-1', dan) }), 404, { target: 'CustomerId' });
    assert.deepEqual((await ws.services.store.getProfile(ws.instanceId, anna))!.overrides.map((o) => o.attribute), ['City', 'JoinedOn', 'Points', 'Tier']);
  });

  test('through a split, overrides stay with the id and source-format activities follow their source key', async () => {
    const anna = await id('Shop', 'Contacts', 'C2');
    assert.equal(await id('Shop', 'Contacts', 'C1'), anna);
    const p101 = await post('Shop_Purchases', { PurchaseId: 'P101', ContactId: 'C1', PurchasedOn: '2026-11-03T09:30:00Z', Product: 'Bowl', Total: '3' });
    assert.equal(p101.CustomerId, anna);
    await post('UnifiedActivity', unified('anna-2', anna));
    // C1 gets another email: C2 + L2 stay together (anna's id), C1 leaves.
    ws.replace('contacts.csv', 'C1,Anna Müller,anna.mueller@example.com', 'C1,Anna Müller,anna.other@example.com');
    await ws.refresh();

    assert.equal(await id('Shop', 'Contacts', 'C2'), anna);
    const c1 = await id('Shop', 'Contacts', 'C1');
    assert.notEqual(c1, anna);
    const a = await customer(anna);
    assert.equal(a.City, 'Rome');
    assert.equal(a.Tier, 'Platinum');
    const split = await customer(c1);
    assert.equal(split.City, 'Berlin', 'the split-off profile has the batch values');
    assert.equal(split.Tier, null);
    const moved = await ws.request('GET', ws.url(`/data/UnifiedActivity/${p101.ActivityId}`), { key: ws.keys.viewer });
    assert.equal((moved.json() as Row).CustomerId, c1, 'follows ContactId C1 through the key ring');
    assert.deepEqual((await activities(`CustomerId eq '${c1}' and Origin eq 'realtime'`)).map((x) => x.ActivityId), [p101.ActivityId]);
    assert.ok((await expanded(c1)).some((x) => x.ActivityId === p101.ActivityId));
    // Re-sending the same source record now resolves to the split-off profile: still a replay.
    const replay = await post('Shop_Purchases', { PurchaseId: 'P101', ContactId: 'C1', PurchasedOn: '2026-11-03T09:30:00Z', Product: 'Bowl', Total: '3' }, undefined, 200);
    assert.equal(replay.CustomerId, c1);
    assert.ok(!(await expanded(anna)).some((x) => x.ActivityId === p101.ActivityId));
    assert.deepEqual((await activities(`CustomerId eq '${anna}' and Origin eq 'realtime'`)).map((x) => x.ActivityId).sort(), ['anna-1', 'anna-2', 'dan-1']);
  });

  test('an override stops counting once a refresh brings a newer source record for its customer', async () => {
    const bob = await id('Shop', 'Contacts', 'C3');
    const carla = await id('Shop', 'Contacts', 'C4');
    await patch(bob, { Tier: 'Diamond' });
    await patch(carla, { Tier: 'Copper' });
    await sleep(5);
    // The loyalty system changes Bob's record after the real-time update.
    const modified = new Date().toISOString();
    ws.replace('loyalty.csv', 'Gold,1250.5,2020-05-01,2026-03-01T00:00:00Z', `Emerald,1250.5,2020-05-01,${modified}`);
    assert.equal((await customer(bob)).Tier, 'Diamond', 'until the refresh brings it');
    await ws.refresh();

    const b = await customer(bob);
    assert.equal(b.Tier, 'Emerald', 'the newer source value');
    assert.equal(b.City, 'New York', "every override of the customer is older than the record: Boston no longer counts");
    assert.equal(b.Points, 1250.5);
    assert.deepEqual(await customers("Tier eq 'Diamond'"), []);
    assert.deepEqual((await ws.services.store.getProfile(ws.instanceId, bob))!.overrides, [], 'removed at the refresh');
    assert.equal((await customer(carla)).Tier, 'Copper', "Carla's records did not change");
    // A real-time update after that refresh counts again.
    await patch(bob, { Tier: 'Ruby' });
    assert.equal((await customer(bob)).Tier, 'Ruby');
    assert.deepEqual((await customers("Tier eq 'Ruby'")).map((r) => r.CustomerId), [bob]);
  });

  test('a real-time activity whose ActivityId later arrives through a refresh is shown once, from the batch', async () => {
    const carla = await id('Shop', 'Contacts', 'C4');
    const p200 = await post('Shop_Purchases', { PurchaseId: 'P200', ContactId: 'C4', PurchasedOn: '2026-11-20T10:00:00Z', Product: 'Vase', Total: 30 });
    const p201 = await post('Shop_Purchases', { PurchaseId: 'P201', ContactId: 'C4', PurchasedOn: '2026-11-21T10:00:00Z', Product: 'Lamp', Total: 20 });
    assert.equal(p200.ActivityId, purchaseId('P200'));
    assert.equal((await activities("SourceActivityId eq 'P200'"))[0].Origin, 'realtime');
    csvLine('purchases.csv', 'P200,C4,2026-11-20T10:00:00Z,Vase,30');
    csvLine('purchases.csv', 'P201,C4,2026-11-21T10:00:00Z,Lamp XL,25'); // the batch differs: it wins
    await ws.refresh();

    for (const [key, title] of [
      ['P200', 'Bought Vase'],
      ['P201', 'Bought Lamp XL'],
    ]) {
      const list = await activities(`SourceActivityId eq '${key}'`);
      assert.equal(list.length, 1, key);
      assert.equal(list[0].ActivityId, purchaseId(key));
      assert.equal(list[0].Origin, 'batch');
      assert.equal(list[0].Title, title);
      assert.equal(list[0].ValidUntil, undefined);
      const one = await ws.request('GET', ws.url(`/data/UnifiedActivity/${purchaseId(key)}`), { key: ws.keys.viewer });
      assert.equal((one.json() as Row).Origin, 'batch');
      assert.equal((await expanded(carla)).filter((x) => x.ActivityId === purchaseId(key)).length, 1);
    }
    assert.equal(p201.Title, 'Bought Lamp');
    const { rows } = { rows: await activities(`CustomerId eq '${carla}'`) };
    assert.equal(new Set(rows.map((r) => r.ActivityId)).size, rows.length, 'no duplicates');
    // Re-sending the record is a replay of the batch activity; other content is a conflict.
    const replay = await post('Shop_Purchases', { PurchaseId: 'P200', ContactId: 'C4', PurchasedOn: '2026-11-20T10:00:00Z', Product: 'Vase', Total: 30 }, undefined, 200);
    assert.equal(replay.Origin, 'batch');
    odataError(await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: { PurchaseId: 'P201', ContactId: 'C4', PurchasedOn: '2026-11-21T10:00:00Z', Product: 'Lamp', Total: 20 } }), 409);
    // Real-time activities stay out of the batch tables.
    assert.ok((await scanAll(ws, 'UnifiedActivity')).every((x) => x.Origin === 'batch'));
  });

  test(
    'a real-time update of a profile whose source record carries a future last-modified time is visible',
    async () => {
      const l3 = await id('Loyalty', 'Members', 'L3');
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
      ws.replace('loyalty.csv', '12.25,2024-02-29,2026-02-01T00:00:00Z', `12.25,2024-02-29,${tomorrow}`);
      await ws.refresh();
      await patch(l3, { City: 'Lisbon' });
      assert.equal((await customer(l3)).City, 'Lisbon');
      await ws.refresh();
      assert.equal((await customer(l3)).City, 'Lisbon', 'a refresh that brings no new source data keeps the override');
    },
  );

  test('an override stops counting once a refresh brings a source record newer than it, even when another record of its customer is dated later still', async () => {
    const bob = await id('Shop', 'Contacts', 'C3');
    const l3 = await id('Loyalty', 'Members', 'L3');
    const overrides = async (customerId: string) =>
      (await ws.services.store.getProfile(ws.instanceId, customerId))!.overrides.map((o) => [o.attribute, o.value]);
    const editLine = (name: string, key: string, edit: (line: string) => string) =>
      ws.write(name, ws.read(name).split('\n').map((line) => (line.startsWith(`${key},`) ? edit(line) : line)).join('\n'));
    // Bob's shop record is dated in the future: his profile's newest last-modified time from here on.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    ws.replace('contacts.csv', 'New York,2026-01-05T10:00:00Z', `New York,${tomorrow}`);
    await ws.refresh();
    await patch(bob, { Tier: 'Sapphire', City: 'Reno' });
    await patch(l3, { Tier: 'Tin' });
    await ws.refresh();
    assert.deepEqual(await overrides(bob), [['City', 'Reno'], ['Tier', 'Sapphire']], 'unchanged source data dated after the override leaves it alone');

    // The loyalty system changes Bob's other record after the override, though earlier than the shop record's date.
    await sleep(5);
    const modified = new Date().toISOString();
    assert.ok(modified < tomorrow);
    editLine('loyalty.csv', 'L1', (line) => line.replace(/,Emerald,(.*),[^,]*$/, `,Onyx,$1,${modified}`));
    assert.equal((await customer(bob)).Tier, 'Sapphire', 'until the refresh brings it');
    await ws.refresh();
    let b = await customer(bob);
    assert.equal(b.Tier, 'Onyx', 'the newer source value');
    assert.equal(b.City, 'New York');
    assert.deepEqual(await overrides(bob), [], 'removed at the refresh although the newest last-modified time did not grow');
    assert.deepEqual(await customers("Tier eq 'Sapphire'"), []);
    assert.equal((await customer(l3)).Tier, 'Tin', "L3's future-dated record did not change");
    assert.equal((await customer(l3)).City, 'Lisbon');

    // The same within one source: a new shop record for Bob (deduplicated into his profile by email).
    await patch(bob, { City: 'Reno' });
    await ws.refresh();
    assert.equal((await customer(bob)).City, 'Reno', 'nothing new yet');
    await sleep(5);
    csvLine('contacts.csv', `C5,Bob Stone,bob@example.com,,Chicago,${new Date().toISOString()}`);
    await ws.refresh();
    assert.equal(await id('Shop', 'Contacts', 'C5'), bob);
    b = await customer(bob);
    assert.equal(b.City, 'New York', 'the override ended; the future-dated record is still the most recent contact');
    assert.deepEqual(await overrides(bob), []);
    assert.equal((await customer(l3)).Tier, 'Tin');
  });
});
