// CustomerEnrichment through the data API and entity metadata, and the enrich stage's record.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { customerOf, odataError, REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

let ws: Workspace;
let bob: string;
let run: Awaited<ReturnType<Workspace['refresh']>>;
before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  ws.append('contacts.csv', 'C5,Erin Wu,erin@mailinator.com,+44 7400 123456,London,2026-01-09T10:00:00Z\n');
  run = await ws.refresh();
  bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
});
after(() => ws?.close());

test('the enrich stage is recorded with counts and a duration', () => {
  const stage = run.stages.find((s) => s.name === 'enrich')!;
  assert.equal(stage.status, 'successful');
  assert.equal(stage.counts.profiles, run.summary.profiles);
  assert.equal(stage.counts.fields, 3, 'FullName, Email and Phone by their semantic types');
  assert.ok(stage.counts.values > 0);
  assert.equal(typeof stage.durationMs, 'number');
  assert.equal(run.summary.enriched, run.summary.profiles);
  const order = run.stages.map((s) => s.name);
  assert.ok(order.indexOf('write') < order.indexOf('enrich') && order.indexOf('enrich') < order.indexOf('export'));
});

test('CustomerEnrichment is an entity of the instance, with Edm types', async () => {
  const res = await ws.request('GET', ws.url('/manage/entities/CustomerEnrichment'), { key: ws.keys.viewer });
  assert.equal(res.statusCode, 200, res.body);
  const e = res.json();
  assert.deepEqual(e.keys, ['CustomerId']);
  const types = Object.fromEntries(e.attributes.map((a: { name: string; dataType: string }) => [a.name, a.dataType]));
  assert.equal(types.CustomerId, 'Edm.String');
  assert.equal(types.EmailIsDisposable, 'Edm.Boolean');
  assert.equal(types.PhoneE164, 'Edm.String');
  assert.equal(types.FullNameLast, 'Edm.String');
  const all = await ws.request('GET', ws.url('/manage/entities'), { key: ws.keys.viewer });
  assert.ok(all.json().entities.some((x: { name: string }) => x.name === 'CustomerEnrichment'));
});

test('read with OData options, by id, and expanded on Customer (the card)', async () => {
  const erin = await customerOf(ws, 'Shop', 'Contacts', 'C5');
  const res = await ws.request('GET', ws.url('/data/CustomerEnrichment'), {
    key: ws.keys.viewer,
    query: { $filter: 'EmailIsDisposable eq true', $select: 'CustomerId,EmailDomain,PhoneCountry,PhoneLineType', $count: 'true' },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json()['@odata.count'], 1);
  assert.deepEqual(res.json().value, [{ CustomerId: erin, EmailDomain: 'mailinator.com', PhoneCountry: 'GB', PhoneLineType: 'mobile' }]);

  const one = await ws.request('GET', ws.url(`/data/CustomerEnrichment/${bob}`), { key: ws.keys.viewer, query: { $select: 'FullNameFirst,FullNameLast,EmailIsBusiness' } });
  assert.equal(one.statusCode, 200, one.body);
  assert.deepEqual(one.json(), { FullNameFirst: 'Bob', FullNameLast: 'Stone', EmailIsBusiness: true });

  const card = await ws.request('GET', ws.url(`/data/Customer/${bob}`), { key: ws.keys.viewer, query: { $expand: 'CustomerEnrichment' } });
  assert.equal(card.json().CustomerEnrichment.PhoneE164, '+12125550100');
  assert.equal((await ws.services.store.enrichment.of(ws.instanceId, bob))?.PhoneE164, '+12125550100');

  odataError(await ws.request('GET', ws.url('/data/CustomerEnrichment/no-such-customer'), { key: ws.keys.viewer }), 404, { target: 'entityId' });
  odataError(await ws.request('GET', ws.url('/data/CustomerEnrichment'), { key: ws.keys.viewer, query: { $filter: 'Shoe eq 1' } }), 400);
  for (const [method, url] of [['POST', '/data/CustomerEnrichment'], ['PATCH', `/data/CustomerEnrichment/${bob}`], ['DELETE', `/data/CustomerEnrichment/${bob}`]] as const) {
    const r = await ws.request(method, ws.url(url), { body: { EmailDomain: 'x.com' } });
    odataError(r, 405);
    assert.match(r.json().error.message, /computed by each refresh/);
  }
});
