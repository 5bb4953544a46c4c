// Measures and segments through the API (issue 6): computed by each refresh, read through the
// data API and the manage routes, managed by Contributors, and never changed by real-time writes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { customerOf, DAY, FIXTURES, odataError, readAll, workspace, type Workspace } from './helpers.js';

const MEASURES_FIXTURE = path.join(FIXTURES, 'measures', 'instance.yaml');

const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Everything measures and segments say about the instance, as the API shows it. */
async function snapshot(ws: Workspace) {
  const measures = (await readAll(ws, ws.url('/data/Customer_Measure'))).rows;
  const segments: Record<string, string[]> = {};
  for (const name of ['BigSpenders', 'RecentBuyers', 'Berliners', 'GoldOrBigNotBerlin']) {
    const rows = (await readAll(ws, ws.url(`/data/Customer?$filter=${encodeURIComponent(`IsMemberOfSegment('${name}')`)}&$select=CustomerId`))).rows;
    segments[name] = rows.map((r) => r.CustomerId as string).sort();
  }
  const manage = (await ws.request('GET', ws.url('/manage/segments'), { key: ws.keys.viewer })).json() as { segments: { name: string; size: number }[] };
  const sizes = Object.fromEntries(manage.segments.map((s) => [s.name, s.size]));
  const revenue = ((await ws.request('GET', ws.url('/manage/measures/Revenue'), { key: ws.keys.viewer })).json() as { latest: { value: number } }).latest.value;
  return { measures, segments, sizes, revenue };
}

describe('measures and segments after a refresh', () => {
  let ws: Workspace;
  let anna: string;
  let bob: string;
  before(async () => {
    ws = await workspace({ definition: MEASURES_FIXTURE, copy: true });
    await ws.refresh();
    anna = await customerOf(ws, 'Shop', 'Contacts', 'C1');
    bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
  });
  after(() => ws.close());

  test('the refresh records measures and segments as stages with durations and counts', async () => {
    const runs = await ws.services.store.listRuns(ws.instanceId);
    const stages = Object.fromEntries(runs[0].stages.map((s) => [s.name, s]));
    assert.equal(stages.measures.status, 'successful');
    assert.equal(typeof stages.measures.durationMs, 'number');
    assert.equal(stages.measures.counts.customerMeasures, 6);
    assert.equal(stages.measures.counts.businessMeasures, 2);
    assert.equal(stages.measures.counts['TotalSpend: customers with a value'], 2);
    assert.equal(stages.segments.status, 'successful');
    assert.equal(stages.segments.counts['BigSpenders: members'], 2);
    assert.equal(stages.write.counts.customerMeasureRows, 5);
    assert.ok(stages.measures.issues.some((i) => /could not be found/.test(i.message)), 'the purchase of an unknown contact is reported');
  });

  test('Customer_Measure: one row per customer through the data API, with OData options', async () => {
    const { rows } = await readAll(ws, ws.url('/data/Customer_Measure'));
    assert.equal(rows.length, 5);
    const annaRow = rows.find((r) => r.CustomerId === anna)!;
    // C1 and C2 are one profile (same email): 29.90 + 12.00.
    assert.deepEqual(annaRow, {
      CustomerId: anna,
      TotalSpend: 41.9,
      PurchaseCount: 2,
      RecentPurchases: 0,
      LastPurchase: '2026-01-11T12:00:00.000Z',
      FavoriteProduct: 'Teapot',
      Points: null,
    });
    const res = await ws.request('GET', ws.url('/data/Customer_Measure'), { key: ws.keys.viewer, query: { $filter: 'TotalSpend gt 42', $select: 'CustomerId,Points', $count: 'true' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().value, [{ CustomerId: bob, Points: 1250.5 }]);
    assert.equal(res.json()['@odata.count'], 1);
    const one = await ws.request('GET', ws.url(`/data/Customer_Measure/${bob}`), { key: ws.keys.viewer });
    assert.equal(one.json().FavoriteProduct, 'Kettle');
    odataError(await ws.request('GET', ws.url('/data/Customer_Measure'), { key: ws.keys.viewer, query: { $filter: 'Nope eq 1' } }), 400);
  });

  test('Customer?$expand=Customer_Measure and the card reads by CustomerId', async () => {
    const res = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: `CustomerId eq '${bob}'`, $expand: 'UnifiedActivity,Customer_Measure' } });
    assert.equal(res.statusCode, 200, res.body);
    const [row] = res.json().value;
    assert.equal(row.Customer_Measure.TotalSpend, 45);
    assert.equal(row.UnifiedActivity.length, 1);
    const single = await ws.request('GET', ws.url(`/data/Customer/${anna}?$expand=Customer_Measure`), { key: ws.keys.viewer });
    assert.equal(single.json().Customer_Measure.PurchaseCount, 2);
    assert.deepEqual(await ws.services.store.analytics.segmentsOf(ws.instanceId, bob), ['BigSpenders', 'GoldOrBigNotBerlin']);
    assert.equal((await ws.services.store.analytics.measuresOf(ws.instanceId, bob))?.Points, 1250.5);
    // The customer card shows the same measures (typed) and segment memberships.
    const card = await ws.request('GET', ws.url(`/card/${bob}`), { key: ws.keys.viewer });
    assert.equal(card.statusCode, 200, card.body);
    const { measures, segments } = card.json() as { measures: { name: string; value: unknown; type: string }[]; segments: { name: string }[] };
    const byName = new Map(measures.map((m) => [m.name, m]));
    assert.equal(byName.get('TotalSpend')?.value, 45);
    assert.equal(byName.get('Points')?.value, 1250.5);
    assert.match(byName.get('Points')!.type, /^Edm\./);
    assert.deepEqual(segments.map((x) => x.name), ['BigSpenders', 'GoldOrBigNotBerlin']);
  });

  test('IsMemberOfSegment filters Customer, combines with other conditions, and names unknown segments', async () => {
    const big = await readAll(ws, ws.url(`/data/Customer?$filter=${encodeURIComponent("IsMemberOfSegment('BigSpenders')")}`));
    assert.deepEqual(big.rows.map((r) => r.CustomerId).sort(), [anna, bob].sort());
    const res = await ws.request('GET', ws.url('/data/Customer'), {
      key: ws.keys.viewer,
      query: { $filter: "IsMemberOfSegment('BigSpenders') and not IsMemberOfSegment('Berliners')", $count: 'true' },
    });
    assert.deepEqual(res.json().value.map((r: { CustomerId: string }) => r.CustomerId), [bob]);
    const unknown = odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "IsMemberOfSegment('Nope')" } }), 400, { target: '$filter' });
    assert.match(unknown.message, /no segment 'Nope' \(segments: BigSpenders, RecentBuyers, Berliners, GoldOrBigNotBerlin\)/);
    odataError(await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "IsMemberOfSegment('BigSpenders')" } }), 400);
  });

  test('entity metadata lists Customer_Measure with typed attributes', async () => {
    const res = await ws.request('GET', ws.url('/manage/entities/Customer_Measure'), { key: ws.keys.viewer });
    assert.equal(res.statusCode, 200, res.body);
    const types = Object.fromEntries((res.json().attributes as { name: string; dataType: string }[]).map((a) => [a.name, a.dataType]));
    assert.deepEqual(types, {
      CustomerId: 'Edm.String',
      TotalSpend: 'Edm.Decimal',
      PurchaseCount: 'Edm.Int64',
      RecentPurchases: 'Edm.Int64',
      LastPurchase: 'Edm.DateTimeOffset',
      FavoriteProduct: 'Edm.String',
      Points: 'Edm.Decimal',
    });
    const list = await ws.request('GET', ws.url('/manage/entities'), { key: ws.keys.viewer });
    assert.ok((list.json().entities as { name: string }[]).some((e) => e.name === 'Customer_Measure'));
  });

  test('manage/measures: latest values and history; business measures are single values', async () => {
    const list = await ws.request('GET', ws.url('/manage/measures'), { key: ws.keys.viewer });
    assert.equal(list.statusCode, 200, list.body);
    const measures = list.json().measures as { name: string; kind: string; dataType: string; computed: boolean; latest: Record<string, unknown> }[];
    assert.deepEqual(measures.map((m) => m.name), ['TotalSpend', 'PurchaseCount', 'RecentPurchases', 'LastPurchase', 'FavoriteProduct', 'Points', 'Revenue', 'AverageSpend']);
    assert.ok(measures.every((m) => m.computed));
    const revenue = (await ws.request('GET', ws.url('/manage/measures/Revenue'), { key: ws.keys.viewer })).json();
    // Business measures count every purchase, also the one whose customer is unknown (1.00).
    assert.equal(revenue.latest.value, 87.9);
    assert.equal(revenue.kind, 'business');
    assert.equal(revenue.dataType, 'Edm.Decimal');
    assert.equal(revenue.history.length, 1);
    const average = (await ws.request('GET', ws.url('/manage/measures/AverageSpend'), { key: ws.keys.viewer })).json();
    assert.equal(average.latest.value, 43.45);
    const spend = (await ws.request('GET', ws.url('/manage/measures/TotalSpend'), { key: ws.keys.viewer })).json();
    assert.equal(spend.latest.customersWithValue, 2);
    assert.equal(spend.entity, 'Customer_Measure');
    odataError(await ws.request('GET', ws.url('/manage/measures/Nope'), { key: ws.keys.viewer }), 404, { target: 'name' });
  });

  test('manage/segments: sizes per run', async () => {
    const res = await ws.request('GET', ws.url('/manage/segments/BigSpenders'), { key: ws.keys.viewer });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.size, 2);
    assert.equal(body.active, true);
    assert.deepEqual(body.history.map((h: { size: number }) => h.size), [2]);
    const members = await readAll(ws, body.members);
    assert.equal(members.rows.length, 2);
  });

  test('Customer_Measure cannot be written', async () => {
    const patch = await ws.request('PATCH', ws.url(`/data/Customer_Measure/${bob}`), { body: { TotalSpend: 1 } });
    odataError(patch, 405, { message: /computed by each refresh/ });
    odataError(await ws.request('POST', ws.url('/data/Customer_Measure'), { body: { CustomerId: bob } }), 405);
    odataError(await ws.request('POST', ws.url('/data/Customer_Measure/$batch'), { body: [{ CustomerId: bob }] }), 405);
    odataError(await ws.request('DELETE', ws.url(`/data/Customer_Measure/${bob}`)), 405);
  });
});

describe('the real-time line: measures and segments change only through a refresh', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace({ definition: MEASURES_FIXTURE, copy: true });
    await ws.refresh();
  });
  after(() => ws.close());

  test('real-time profile updates and activities change nothing; a refresh that pulls the same data does', async () => {
    const carla = await customerOf(ws, 'Shop', 'Contacts', 'C4');
    const before = await snapshot(ws);
    assert.ok(!before.segments.BigSpenders.includes(carla));
    assert.ok(!before.segments.Berliners.includes(carla));

    // Real time: Carla moves to Berlin, buys a piano (in the source's format) and a lamp (as a UnifiedActivity).
    const piano = { PurchaseId: 'P9', ContactId: 'C4', PurchasedOn: daysAgo(1), Product: 'Piano', Total: 999 };
    const patch = await ws.request('PATCH', ws.url(`/data/Customer/${carla}`), { body: { City: 'Berlin' } });
    assert.equal(patch.statusCode, 204, patch.body);
    const posted = await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: piano });
    assert.equal(posted.statusCode, 201, posted.body);
    const lamp = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
      body: { ActivityId: 'rt-lamp', CustomerId: carla, ActivityTime: daysAgo(2), ActivityType: 'Purchase', Title: 'Bought a lamp' },
    });
    assert.equal(lamp.statusCode, 201, lamp.body);
    // The overlay shows the writes to readers ...
    const city = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "City eq 'Berlin'", $select: 'CustomerId' } });
    assert.ok(city.json().value.some((r: { CustomerId: string }) => r.CustomerId === carla));
    // ... but measures and segments are exactly what the refresh computed.
    assert.deepEqual(await snapshot(ws), before);

    // A refresh whose sources did not change still ignores the real-time data.
    await ws.refresh();
    const again = await snapshot(ws);
    assert.deepEqual(again.measures, before.measures);
    assert.deepEqual(again.segments, before.segments);
    assert.equal(again.revenue, before.revenue);

    // The sources now bring the same data: the next refresh changes measures and segments.
    ws.append('purchases.csv', `P9,C4,${piano.PurchasedOn},Piano,999\n`);
    ws.replace('contacts.csv', 'C4,Carla Diaz,carla@example.com,,Madrid,2026-01-07T10:00:00Z', `C4,Carla Diaz,carla@example.com,,Berlin,${daysAgo(0)}`);
    await ws.refresh();
    const after = await snapshot(ws);
    const row = after.measures.find((r) => r.CustomerId === carla)!;
    assert.equal(row.TotalSpend, 999);
    assert.equal(row.PurchaseCount, 1, 'the real-time lamp never counts');
    assert.equal(row.RecentPurchases, 1);
    assert.equal(row.FavoriteProduct, 'Piano');
    assert.ok(after.segments.BigSpenders.includes(carla));
    assert.ok(after.segments.RecentBuyers.includes(carla));
    assert.ok(after.segments.Berliners.includes(carla));
    assert.equal(after.sizes.BigSpenders, before.sizes.BigSpenders + 1);
    assert.equal(after.revenue, before.revenue + 999);
    const history = (await ws.request('GET', ws.url('/manage/segments/BigSpenders'), { key: ws.keys.viewer })).json().history as { size: number }[];
    assert.deepEqual(history.map((h) => h.size), [3, 2, 2]);
  });
});

describe('managing measures and segments', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace({ definition: MEASURES_FIXTURE, copy: true });
    await ws.refresh();
  });
  after(() => ws.close());

  const loyalSpend = { name: 'LoyalSpend', aggregation: 'sum', source: { entity: 'Shop.Purchases' }, field: 'Total', filter: [{ field: 'Total', operator: 'ge', value: 20 }] };

  test('Viewers read, Contributors change; other instances and no key are refused', async () => {
    odataError(await ws.request('POST', ws.url('/manage/measures'), { key: ws.keys.viewer, body: loyalSpend }), 403);
    odataError(await ws.request('POST', ws.url('/manage/segments/BigSpenders/deactivate'), { key: ws.keys.viewer }), 403);
    const other = await ws.request('GET', ws.url('/manage/measures'), { key: ws.keys.otherInstance });
    assert.ok(other.statusCode === 401 || other.statusCode === 403, other.body);
    odataError(await ws.request('GET', ws.url('/manage/segments'), { key: null }), 401);
  });

  test('create, read, update and delete a measure; it is computed from the next refresh on', async () => {
    const created = await ws.request('POST', ws.url('/manage/measures'), { body: loyalSpend });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.headers.location, ws.url('/manage/measures/LoyalSpend'));
    assert.equal(created.json().computed, false);
    assert.equal(created.json().dataType, 'Edm.Decimal');
    odataError(await ws.request('POST', ws.url('/manage/measures'), { body: loyalSpend }), 409, { target: 'name' });
    // Stored with the instance definition.
    const record = await ws.services.store.getInstance(ws.instanceId);
    assert.deepEqual(record!.definition.measures!.at(-1), loyalSpend);

    await ws.refresh();
    const rows = (await readAll(ws, ws.url('/data/Customer_Measure?$select=CustomerId,LoyalSpend'))).rows;
    assert.deepEqual(rows.map((r) => r.LoyalSpend).filter((v) => v !== null).sort(), [29.9, 45]);

    const updated = await ws.request('PUT', ws.url('/manage/measures/LoyalSpend'), { body: { ...loyalSpend, name: undefined, aggregation: 'count', field: undefined } });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.equal(updated.json().aggregation, 'count');
    assert.equal(updated.json().dataType, 'Edm.Int64');
    odataError(await ws.request('PUT', ws.url('/manage/measures/LoyalSpend'), { body: { ...loyalSpend, name: 'Other' } }), 400, { target: 'name' });
    odataError(await ws.request('PUT', ws.url('/manage/measures/Nope'), { body: { ...loyalSpend, name: undefined } }), 404);

    const deleted = await ws.request('DELETE', ws.url('/manage/measures/LoyalSpend'));
    assert.equal(deleted.statusCode, 204, deleted.body);
    odataError(await ws.request('GET', ws.url('/manage/measures/LoyalSpend'), { key: ws.keys.viewer }), 404);
  });

  test('bad definitions get 400 naming the field', async () => {
    const bad = async (body: unknown, target: string, message: RegExp) => {
      const e = odataError(await ws.request('POST', ws.url('/manage/measures'), { body }), 400, { target, message });
      assert.ok(e.details?.some((d) => d.target === target));
    };
    await bad({ ...loyalSpend, aggregation: 'median' }, 'aggregation', /must be one of/);
    await bad({ ...loyalSpend, field: 'Product' }, 'field', /sum needs a number/);
    await bad({ ...loyalSpend, source: { entity: 'Shop.Nope' } }, 'source.entity', /unknown entity 'Shop.Nope'/);
    await bad({ ...loyalSpend, filter: [{ field: 'Total', operator: 'gt', value: 'lots' }] }, 'filter[0].value', /"lots" is not a number/);
    await bad({ ...loyalSpend, name: undefined }, 'name', /missing required property 'name'/);
    await bad({ ...loyalSpend, window: { last: 0 } }, 'window.last', /.+/);
    odataError(await ws.request('POST', ws.url('/manage/measures'), { body: [1] }), 400, { target: 'body' });
    const seg = odataError(
      await ws.request('POST', ws.url('/manage/segments'), { body: { name: 'X', rules: [{ conditions: [{ measure: 'Nope', operator: 'gt', value: 1 }] }] } }),
      400,
      { target: 'rules[0].conditions[0].measure' },
    );
    assert.match(seg.message, /unknown measure 'Nope'/);
    // Nothing was stored.
    const record = await ws.services.store.getInstance(ws.instanceId);
    assert.equal(record!.definition.segments!.length, 4);
  });

  test('a measure a segment uses cannot be deleted (409 naming the segment)', async () => {
    const e = odataError(await ws.request('DELETE', ws.url('/manage/measures/TotalSpend')), 409);
    assert.match(e.message, /\/segments\/0\/rules\/0\/conditions\/0\/measure: unknown measure 'TotalSpend'/);
  });

  test('segments: create, update, deactivate (not computed, not filterable), activate, delete', async () => {
    const seg = { name: 'Parisians', rules: [{ conditions: [{ field: 'City', operator: 'eq', value: 'Paris' }] }] };
    const created = await ws.request('POST', ws.url('/manage/segments'), { body: seg });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().size, null);
    await ws.refresh();
    const madrid = { rules: [{ conditions: [{ field: 'City', operator: 'in', value: ['Madrid', 'Paris'] }] }] };
    const put = await ws.request('PUT', ws.url('/manage/segments/Parisians'), { body: madrid });
    assert.equal(put.statusCode, 200, put.body);
    await ws.refresh();
    let body = (await ws.request('GET', ws.url('/manage/segments/Parisians'), { key: ws.keys.viewer })).json();
    assert.equal(body.size, 1, 'Carla in Madrid');
    assert.deepEqual(body.history.map((h: { size: number }) => h.size), [1, 0]);

    const off = await ws.request('POST', ws.url('/manage/segments/Parisians/deactivate'));
    assert.equal(off.statusCode, 200, off.body);
    assert.equal(off.json().active, false);
    const filtered = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "IsMemberOfSegment('Parisians')" } });
    odataError(filtered, 400, { message: /not active/ });
    await ws.refresh();
    body = (await ws.request('GET', ws.url('/manage/segments/Parisians'), { key: ws.keys.viewer })).json();
    assert.equal(body.computed, false);
    assert.equal(body.history.length, 2, 'an inactive segment is not computed');

    const on = await ws.request('POST', ws.url('/manage/segments/Parisians/activate'));
    assert.equal(on.json().active, true);
    odataError(await ws.request('POST', ws.url('/manage/segments/Nope/activate')), 404);
    assert.equal((await ws.request('DELETE', ws.url('/manage/segments/Parisians'))).statusCode, 204);
    assert.equal((await ws.services.store.getInstance(ws.instanceId))!.definition.segments!.length, 4);
  });
});
