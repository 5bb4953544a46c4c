// Webhooks: real payloads through POST /hooks/{name}, read back through the data API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sign } from '../../src/connect/hooks.js';
import { applyFormat, compileMapping, parsePath } from '../../src/connect/mapping.js';
import { customerOf, odataError, workspace, type Workspace } from '../api/helpers.js';

import { CONNECT_FIXTURE } from './helpers.js';
const SECRET = 'tier-secret-for-tests';

describe('mapping', () => {
  test('paths, formats and templates', () => {
    assert.deepEqual(parsePath('$.items[0].sku'), ['items', 0, 'sku']);
    assert.deepEqual(parsePath("order['odd key'].x"), ['order', 'odd key', 'x']);
    assert.equal(applyFormat(1767225600, 'unixSeconds'), '2026-01-01T00:00:00.000Z');
    assert.equal(applyFormat('1767225600000', 'unixMillis'), '2026-01-01T00:00:00.000Z');
    assert.equal(applyFormat('31/12/2026 23:15', 'dd/MM/yyyy HH:mm'), '2026-12-31T23:15:00.000Z');
    assert.ok(applyFormat('31/02/2026', 'dd/MM/yyyy') instanceof Error, 'a date that does not exist');
    assert.equal(applyFormat('1.234,56', 'decimalComma'), 1234.56);
    assert.equal(applyFormat('1,234.56', 'number'), 1234.56);
    assert.ok(applyFormat('abc', 'number') instanceof Error);
    const m = compileMapping({ entity: 'UnifiedActivity', fields: { Title: { template: 'Order {o.id}' }, ActivityType: { value: 'X' }, Note: { path: 'o.note', default: 'none' } } });
    const r = m.apply({ o: { id: 7 } });
    assert.ok(r.ok);
    assert.deepEqual(r.record.values, { Title: 'Order 7', ActivityType: 'X', Note: 'none' });
    const bad = m.apply({ x: 1 });
    assert.ok(!bad.ok);
    assert.match(bad.step, /^fields\.Title/);
    assert.throws(() => compileMapping({ entity: 'UnifiedActivity', fields: { A: { path: 'a', format: 'weird' } } }), /fields\.A: unknown format 'weird'/);
  });
});

describe('webhooks', () => {
  let ws: Workspace;
  before(async () => {
    process.env.KINDRED_TEST_TIER_SECRET = SECRET;
    ws = await workspace({ definition: CONNECT_FIXTURE, copy: true });
    await ws.refresh();
  });
  after(async () => {
    await ws?.close();
    delete process.env.KINDRED_TEST_TIER_SECRET;
  });

  const order = (id: number, contact = 'C3') => ({
    order: { id, created_at: 1767225600 + id, customer: { id: contact }, note: 'gift wrap' },
    items: [{ sku: `SKU-${id}` }, { sku: 'OTHER' }],
  });

  test('a shop order becomes a UnifiedActivity of the customer found by its source key; a replay is not stored twice', async () => {
    const res = await ws.request('POST', ws.url('/hooks/shopOrder'), { body: order(1001) });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.activityId, 'order-1001');
    const customerId = await customerOf(ws, 'Shop', 'Contacts', 'C3');
    assert.equal(body.customerId, customerId);
    const read = await ws.request('GET', ws.url('/data/UnifiedActivity/order-1001'), { key: ws.keys.viewer });
    assert.equal(read.statusCode, 200, read.body);
    const a = read.json();
    assert.equal(a.CustomerId, customerId);
    assert.equal(a.ActivityType, 'WebOrder');
    assert.equal(a.Title, 'Order 1001: SKU-1001');
    assert.equal(a.Description, 'gift wrap');
    assert.equal(Date.parse(a.ActivityTime), (1767225600 + 1001) * 1000);
    const again = await ws.request('POST', ws.url('/hooks/shopOrder'), { body: order(1001) });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().status, 'replayed');
    const list = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "ActivityType eq 'WebOrder'", $count: 'true' } });
    assert.equal(list.json()['@odata.count'], 1);
  });

  test('a source-format purchase with a dd/MM/yyyy date and a decimal comma', async () => {
    const res = await ws.request('POST', ws.url('/hooks/purchase'), { body: { id: 'P77', contact: 'C1', date: '24/12/2026 18:30', product: 'Kettle', amount: '1.049,90' } });
    assert.equal(res.statusCode, 201, res.body);
    const customerId = await customerOf(ws, 'Shop', 'Contacts', 'C1');
    const list = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: `CustomerId eq '${customerId}' and SourceActivityId eq 'P77'` } });
    const [a] = list.json().value;
    assert.ok(a, list.body);
    assert.equal(a.ActivityTime.slice(0, 16), '2026-12-24T18:30');
    assert.equal(a.Description, 'Kettle for 1049.9');
  });

  test('each: one purchase per order line; a replay stores nothing twice; a bad line stores nothing of the payload', async () => {
    const payload = { order: { id: 'W1', contact: 'C3', date: '2026-12-01T09:00:00Z', lines: [{ name: 'Tea', price: '4.50' }, { name: 'Cups', price: 12 }, { name: 'Pot', price: 30 }] } };
    const res = await ws.request('POST', ws.url('/hooks/orderLines'), { body: payload });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().items.map((i: { status: string }) => i.status), ['created', 'created', 'created']);
    const c3 = await customerOf(ws, 'Shop', 'Contacts', 'C3');
    const read = async () => (await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: `CustomerId eq '${c3}' and startswith(SourceActivityId, 'W')`, $orderby: 'SourceActivityId' } })).json().value;
    assert.deepEqual((await read()).map((a: { SourceActivityId: string; Title: string }) => [a.SourceActivityId, a.Title]), [['W1-0', 'Bought Tea'], ['W1-1', 'Bought Cups'], ['W1-2', 'Bought Pot']]);
    const again = await ws.request('POST', ws.url('/hooks/orderLines'), { body: payload });
    assert.deepEqual(again.json().items.map((i: { status: string }) => i.status), ['replayed', 'replayed', 'replayed']);
    const bad = { order: { id: 'W2', contact: 'C3', date: '2026-12-01T09:00:00Z', lines: [{ name: 'Tea', price: 1 }, { price: 2 }] } };
    const e = odataError(await ws.request('POST', ws.url('/hooks/orderLines'), { body: bad }), 400);
    assert.match(e.message, /mapping step 'each\[1\]\.fields\.Product \(path item\.name\)' failed/);
    assert.equal((await read()).length, 3, 'nothing of W2 was stored');
  });

  test('a signed tier change updates the profile found by the loyalty id; a bad or missing signature is 401', async () => {
    const raw = JSON.stringify({ member: { id: 'L2', tier: 'Platinum', points: '4.321,5' } });
    const missing = await ws.request('POST', ws.url('/hooks/tierChange'), { raw });
    odataError(missing, 401, { target: 'signature', message: /X-Loyalty-Signature/ });
    const wrong = await ws.request('POST', ws.url('/hooks/tierChange'), { raw, headers: { 'x-loyalty-signature': `sha256=${sign(raw, 'not the secret')}` } });
    odataError(wrong, 401, { message: /does not match/ });
    const before = await ws.request('GET', ws.url(`/data/Customer/${await customerOf(ws, 'Loyalty', 'Members', 'L2')}`), { key: ws.keys.viewer });
    assert.notEqual(before.json().Tier, 'Platinum');
    const ok = await ws.request('POST', ws.url('/hooks/tierChange'), { raw, headers: { 'x-loyalty-signature': `sha256=${sign(raw, SECRET)}` } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().status, 'updated');
    const customerId = await customerOf(ws, 'Loyalty', 'Members', 'L2');
    const read = await ws.request('GET', ws.url(`/data/Customer/${customerId}`), { key: ws.keys.viewer });
    assert.equal(read.json().Tier, 'Platinum');
    assert.equal(read.json().Points, 4321.5);
    // The signature is over the bytes: the same JSON re-serialised differently does not pass.
    const spaced = JSON.stringify(JSON.parse(raw), null, 2);
    odataError(await ws.request('POST', ws.url('/hooks/tierChange'), { raw: spaced, headers: { 'x-loyalty-signature': `sha256=${sign(raw, SECRET)}` } }), 401);
  });

  test('bad payloads get 400 naming the mapping step that failed', async () => {
    const noTime = order(2002) as { order: Record<string, unknown> };
    delete noTime.order.created_at;
    const e1 = odataError(await ws.request('POST', ws.url('/hooks/shopOrder'), { body: noTime }), 400);
    assert.match(e1.message, /mapping step 'fields\.ActivityTime \(path order\.created_at, format unixSeconds\)' failed: the payload has no value at 'order\.created_at'/);
    const badDate = odataError(await ws.request('POST', ws.url('/hooks/purchase'), { body: { id: 'P78', contact: 'C1', date: '2026-12-24', product: 'X', amount: '1,00' } }), 400);
    assert.match(badDate.message, /fields\.PurchasedOn .*is not a date as dd\/MM\/yyyy HH:mm/);
    const notJson = odataError(await ws.request('POST', ws.url('/hooks/shopOrder'), { raw: '{"order": ', contentType: 'application/json' }), 400);
    assert.match(notJson.message, /mapping step 'parse'/);
    const unknownCustomer = odataError(await ws.request('POST', ws.url('/hooks/shopOrder'), { body: order(2003, 'NOPE') }), 404);
    assert.match(unknownCustomer.message, /customer \(key ring look-up\).*Shop\.Contacts key 'NOPE'/);
    odataError(await ws.request('POST', ws.url('/hooks/nope'), { body: {} }), 404, { target: 'hookName', message: /shopOrder, purchase, orderLines, tierChange/ });
    odataError(await ws.request('POST', ws.url('/hooks/shopOrder'), { body: order(2004), key: ws.keys.viewer }), 403);
    // Nothing of the failed requests was stored.
    const list = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "ActivityType eq 'WebOrder'", $count: 'true' } });
    assert.equal(list.json()['@odata.count'], 1);
  });

  test('the definition is checked: unknown entities, columns and formats are reported with their path', async () => {
    ws.replace('instance.yaml', 'format: dd/MM/yyyy HH:mm', 'format: someday');
    ws.replace('instance.yaml', '      Product: product', '      Produkt: product');
    const { loadInstanceDefinition } = await import('../../src/config/load.js');
    assert.throws(() => loadInstanceDefinition(ws.file('instance.yaml')), (err: Error) => {
      assert.match(err.message, /hooks\[1\]\.fields\.PurchasedOn: unknown format 'someday'/);
      assert.match(err.message, /hooks\[1\]\.fields\.Produkt: 'Produkt' is not a column of Shop\.Purchases/);
      return true;
    });
  });
});
