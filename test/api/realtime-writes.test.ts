// Real-time writes through the HTTP API (issue 3): PATCH Customer, POST activities (unified and
// source format), $batch, auth, error shapes and durability. Real SQLite in a temp dir, no mocks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { activityIdFor } from '../../src/domain/profile.js';
import {
  customerOf,
  DAY,
  fromNow,
  HOUR,
  namesAttribute,
  odataError,
  offBy,
  REALTIME_FIXTURE,
  sleep,
  workspace,
  type Workspace,
} from './helpers.js';

let ws: Workspace;
let anna: string; // C1 + C2
let bob: string; // C3 + L1
let carla: string; // C4
let dan: string; // L2

before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
  anna = await customerOf(ws, 'Shop', 'Contacts', 'C2');
  bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
  carla = await customerOf(ws, 'Shop', 'Contacts', 'C4');
  dan = await customerOf(ws, 'Loyalty', 'Members', 'L2');
});
after(() => ws.close());

const customerUrl = (id: string, query = '') => ws.url(`/data/Customer/${encodeURIComponent(id)}${query}`);
const getCustomer = async (id: string) => {
  const res = await ws.request('GET', customerUrl(id), { key: ws.keys.viewer });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as Record<string, unknown>;
};
const filterCustomers = async (filter: string) => {
  const res = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: filter } });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { value: Record<string, unknown>[] }).value;
};
const overridesOf = async (id: string) => (await ws.services.store.getProfile(ws.instanceId, id))!.overrides;

describe('PATCH Customer/{id}', () => {
  test('204, and the next GET (single and $filter) shows the new values at once', async () => {
    const res = await ws.request('PATCH', customerUrl(bob, '?caller=crm'), { body: { City: 'Boston', Points: 99.5, JoinedOn: '2021-02-03' } });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    const one = await getCustomer(bob);
    assert.equal(one.City, 'Boston');
    assert.equal(one.Points, 99.5);
    assert.equal(one.JoinedOn, '2021-02-03');
    assert.equal(one.FullName, 'Bob Stone', 'attributes not in the body keep their batch value');
    const byCity = await filterCustomers("City eq 'Boston'");
    assert.deepEqual(byCity.map((c) => c.CustomerId), [bob]);
    assert.equal(byCity[0].Points, 99.5);
    assert.deepEqual((await filterCustomers('Points gt 99 and Points lt 100')).map((c) => c.CustomerId), [bob]);
    assert.deepEqual(await filterCustomers("City eq 'New York'"), [], 'the old value no longer matches');
    const o = await overridesOf(bob);
    assert.deepEqual(o.map((x) => x.attribute).sort(), ['City', 'JoinedOn', 'Points']);
    assert.ok(o.every((x) => x.caller === 'crm'));
  });

  test('without validUntil the override is kept 4 hours; with it, until then', async () => {
    assert.equal((await ws.request('PATCH', customerUrl(carla), { body: { Tier: 'Gold' } })).statusCode, 204);
    const [tier] = (await overridesOf(carla)).filter((o) => o.attribute === 'Tier');
    assert.ok(offBy(tier.validUntil, 4 * HOUR) < 60_000, `validUntil ${tier.validUntil} is about now + 4 h`);
    const until = fromNow(2 * DAY);
    const res = await ws.request('PATCH', customerUrl(carla), { query: { validUntil: until }, body: { Tier: 'Silver' } });
    assert.equal(res.statusCode, 204, res.body);
    const [again] = (await overridesOf(carla)).filter((o) => o.attribute === 'Tier');
    assert.equal(again.validUntil, new Date(until).toISOString());
    assert.equal((await getCustomer(carla)).Tier, 'Silver');
    // An offset and fractional seconds are RFC 3339 too.
    const withOffset = new Date(Date.now() + DAY).toISOString().replace('Z', '+00:00');
    assert.equal((await ws.request('PATCH', customerUrl(carla), { query: { validUntil: withOffset }, body: { Tier: 'Silver' } })).statusCode, 204);
  });

  test('null clears an attribute; the body may be a JSON string (both content types)', async () => {
    assert.equal((await ws.request('PATCH', customerUrl(dan), { body: { Tier: null } })).statusCode, 204);
    assert.equal((await getCustomer(dan)).Tier, null);
    assert.deepEqual(await filterCustomers(`CustomerId eq '${dan}' and Tier eq null`).then((r) => r.length), 1);
    for (const contentType of ['application/json', 'application/json-patch+json']) {
      const city = `City via ${contentType}`;
      const res = await ws.request('PATCH', customerUrl(dan), { raw: JSON.stringify(JSON.stringify({ City: city })), contentType });
      assert.equal(res.statusCode, 204, `${contentType}: ${res.body}`);
      assert.equal((await getCustomer(dan)).City, city);
      const plain = await ws.request('PATCH', customerUrl(dan), { raw: JSON.stringify({ City: `${city}!` }), contentType });
      assert.equal(plain.statusCode, 204, `${contentType}: ${plain.body}`);
      assert.equal((await getCustomer(dan)).City, `${city}!`);
    }
  });

  test('400 naming the attribute: unknown, wrong type, bad date, read-only columns', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ Nickname: 'Bobby' }, 'Nickname'],
      [{ Points: '12.5' }, 'Points'], // string for a decimal
      [{ Points: true }, 'Points'],
      [{ FullName: 42 }, 'FullName'], // number for a string
      [{ JoinedOn: '2026-13-45' }, 'JoinedOn'], // bad date
      [{ JoinedOn: '2023-02-29' }, 'JoinedOn'], // no such day
      [{ JoinedOn: 'yesterday' }, 'JoinedOn'],
      [{ JoinedOn: 20210203 }, 'JoinedOn'],
      [{ City: { name: 'Boston' } }, 'City'], // nested object
      [{ City: ['Boston'] }, 'City'],
      [{ City: 'x'.repeat(100_000) }, 'City'], // huge string
      [{ CustomerId: 'another-id' }, 'CustomerId'],
      [{ PreviousCustomerId: 'x' }, 'PreviousCustomerId'],
      [{ Shop_Contacts_ContactId: 'C9' }, 'Shop_Contacts_ContactId'],
      [{ Loyalty_Members_LoyaltyId: 'L9' }, 'Loyalty_Members_LoyaltyId'],
    ];
    for (const [body, attribute] of cases) {
      const res = await ws.request('PATCH', customerUrl(bob), { body });
      namesAttribute(res, attribute);
    }
    const key = await ws.request('PATCH', customerUrl(bob), { body: { Shop_Contacts_ContactId: 'C9' } });
    assert.match(odataError(key, 400).message, /source key column/);
    // Several problems: all of them in details, none of the valid changes stored.
    const several = await ws.request('PATCH', customerUrl(bob), { body: { City: 'Nowhere', Nickname: 'x', Points: 'many' } });
    const e = odataError(several, 400);
    assert.deepEqual(e.details!.map((d) => d.target).sort(), ['Nickname', 'Points']);
    assert.notEqual((await getCustomer(bob)).City, 'Nowhere', 'a rejected PATCH changes nothing');
  });

  test('400 for an empty body, a body that is not an object, and invalid JSON', async () => {
    odataError(await ws.request('PATCH', customerUrl(bob), { body: {} }), 400, { target: 'body' });
    odataError(await ws.request('PATCH', customerUrl(bob), { body: [{ City: 'x' }] }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob), { body: 42 }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob), { body: null }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob), { body: 'City=Boston' }), 400, { target: 'body' });
    odataError(await ws.request('PATCH', customerUrl(bob), { body: JSON.stringify([1, 2]) }), 400, { target: 'body' });
    odataError(await ws.request('PATCH', customerUrl(bob), { raw: '{"City": "Boston"', contentType: 'application/json' }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob), { raw: '{"City": ', contentType: 'application/json-patch+json' }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob), { raw: '', contentType: 'application/json' }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob), { raw: '', contentType: 'application/json-patch+json' }), 400);
    odataError(await ws.request('PATCH', customerUrl(bob)), 400); // no body at all
    const proto = await ws.request('PATCH', customerUrl(bob), { raw: '{"__proto__": {"City": "x"}}', contentType: 'application/json' });
    odataError(proto, 400, { target: 'body' });
  });

  test('a client that sends Content-Type: application/json with no body can start a refresh', async () => {
    const res = await ws.request('POST', ws.url('/workflows/main/jobs'), { raw: '', contentType: 'application/json' });
    assert.equal(res.statusCode, 202, res.body);
    // Let the run end before other tests go on.
    const { jobId } = res.json() as { jobId: string };
    let status = 'queued';
    for (let i = 0; i < 200 && (status === 'queued' || status === 'running'); i++) {
      await sleep(25);
      status = ((await ws.request('GET', ws.url(`/workflows/main/jobs/${jobId}`))).json() as { jobStatus: string }).jobStatus;
    }
    assert.equal(status, 'successful');
  });

  test('validUntil in the past, more than 30 days ahead, or not RFC 3339: 400 naming validUntil', async () => {
    for (const validUntil of [
      fromNow(-HOUR),
      fromNow(31 * DAY),
      'tomorrow',
      '2099-01-01',
      '1700000000',
      new Date(Date.now() + DAY).toUTCString(),
      `${new Date().getUTCFullYear() + 1}-02-30T10:00:00Z`, // no such day
      `${new Date(Date.now() + DAY).toISOString().slice(0, 10)}T24:00:00Z`, // no such hour (Date.parse rolls it over)
    ]) {
      const res = await ws.request('PATCH', customerUrl(bob), { query: { validUntil }, body: { City: 'Later' } });
      namesAttribute(res, 'validUntil');
    }
    assert.notEqual((await getCustomer(bob)).City, 'Later');
  });

  test('unknown customer: 404', async () => {
    const res = await ws.request('PATCH', customerUrl('00000000-0000-0000-0000-000000000000'), { body: { City: 'x' } });
    odataError(res, 404, { code: 'NotFound' });
  });

  test('POST, PUT, DELETE on Customer: 405 with Allow and a reason', async () => {
    // [method, url, the exact Allow]
    const cases: [string, string, string][] = [
      ['POST', ws.url('/data/Customer'), 'GET'],
      ['PUT', ws.url('/data/Customer'), 'GET'],
      ['DELETE', ws.url('/data/Customer'), 'GET'],
      ['PATCH', ws.url('/data/Customer'), 'GET'],
      ['POST', customerUrl(bob), 'GET, PATCH'],
      ['PUT', customerUrl(bob), 'GET, PATCH'],
      ['DELETE', customerUrl(bob), 'GET, PATCH'],
      ['POST', ws.url('/data/AlternateKey'), 'GET'],
      ['PATCH', ws.url('/data/AlternateKey'), 'GET'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await ws.request(method, url, { body: { City: 'x' } });
      const e = odataError(res, 405, { code: 'MethodNotAllowed' });
      assert.equal(res.headers.allow, allow, `${method} ${url}: Allow`);
      assert.match(e.message, /refresh|immutable/, `${method} ${url}: a reason`);
      assert.ok(e.message.includes(method), `${method} ${url}: the message names the method: ${e.message}`);
    }
    // POST on a profile's URL: profiles are never created through the real-time API.
    const post = odataError(await ws.request('POST', customerUrl(bob), { body: { City: 'x' } }), 405, { code: 'MethodNotAllowed' });
    assert.match(post.message, /POST is not allowed on Customer\/\{CustomerId\}/);
    assert.match(post.message, /created .*only by a refresh/);
    assert.match(post.message, /PATCH/);
    // The methods Allow advertises are served: neither 404 nor 405.
    assert.equal((await ws.request('GET', customerUrl(bob), { key: ws.keys.viewer })).statusCode, 200);
    namesAttribute(await ws.request('PATCH', customerUrl(bob), { body: { Nickname: 'x' } }), 'Nickname');
    assert.equal((await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $top: '1' } })).statusCode, 200);
    assert.equal((await ws.request('GET', ws.url('/data/AlternateKey'), { key: ws.keys.viewer, query: { $top: '1' } })).statusCode, 200);
    // AlternateKey records have no URL of their own (GET on one is 404): no method is served there, 404 names why.
    for (const method of ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']) {
      const res = await ws.request(method, ws.url('/data/AlternateKey/x'), { body: method === 'GET' ? undefined : { City: 'x' } });
      const e = odataError(res, 404, { code: 'NotFound', target: 'entityName' });
      assert.equal(res.headers.allow, undefined, `${method} AlternateKey/x: no Allow`);
      assert.match(e.message, /AlternateKey/);
      assert.match(e.message, /\$filter/, `${method} AlternateKey/x: says how to read them: ${e.message}`);
    }
    assert.notEqual((await getCustomer(bob)).City, 'x', 'nothing changed, and the profile is still there');
  });
});

describe('POST activities', () => {
  const activity = (over: Record<string, unknown> = {}) => ({
    ActivityId: 'web-1',
    CustomerId: bob,
    ActivityTime: '2026-11-01T10:00:00Z',
    ActivityType: 'PageView',
    Title: 'Viewed teapots',
    Url: 'https://shop.example/teapots',
    ...over,
  });
  const purchase = (over: Record<string, unknown> = {}) => ({
    PurchaseId: 'P100',
    ContactId: 'C3',
    PurchasedOn: '2026-11-02T09:30:00Z',
    Product: 'Mug',
    Total: 9.5,
    ...over,
  });
  const activitiesOf = async (customerId: string) => {
    const res = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: `CustomerId eq '${customerId}'` } });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { value: Record<string, unknown>[] }).value;
  };

  test('UnifiedActivity: 201 + Location + the stored activity (Origin realtime, ValidUntil ~30 days)', async () => {
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity?caller=web'), { body: activity() });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as Record<string, unknown>;
    assert.equal(res.headers.location, ws.url('/data/UnifiedActivity/web-1'));
    assert.equal(body.ActivityId, 'web-1');
    assert.equal(body.CustomerId, bob);
    assert.equal(body.Origin, 'realtime');
    assert.equal(body.ActivityTime, '2026-11-01T10:00:00.000Z');
    assert.equal(body.ActivityTypeDisplay, 'PageView');
    assert.equal(body.ShowInTimeline, true);
    assert.ok(offBy(body.ValidUntil as string, 30 * DAY) < 60_000, `ValidUntil ${body.ValidUntil}`);
    const get = await ws.request('GET', res.headers.location as string, { key: ws.keys.viewer });
    assert.equal(get.statusCode, 200, get.body);
    assert.deepEqual(get.json(), body);
    const all = await activitiesOf(bob);
    assert.deepEqual(all.map((a) => a.Origin).sort(), ['batch', 'realtime'], 'batch P4 and the real-time one, merged');
  });

  test('UnifiedActivity without ActivityId gets one; explicit validUntil is kept', async () => {
    const until = fromNow(3 * DAY);
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { query: { validUntil: until }, body: activity({ ActivityId: undefined, Title: 'no id' }) });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as Record<string, unknown>;
    assert.match(body.ActivityId as string, /^[0-9a-f-]{36}$/);
    assert.equal(body.ValidUntil, new Date(until).toISOString());
    assert.equal(res.headers.location, ws.url(`/data/UnifiedActivity/${body.ActivityId}`));
  });

  test('the same ActivityId again: same content 200 with the stored one (no duplicate), other content 409', async () => {
    const first = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity({ ActivityId: 'web-2' }) });
    assert.equal(first.statusCode, 201, first.body);
    const again = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity({ ActivityId: 'web-2' }) });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), first.json());
    assert.equal(again.headers.location, ws.url('/data/UnifiedActivity/web-2'));
    const conflict = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity({ ActivityId: 'web-2', Title: 'other' }) });
    odataError(conflict, 409, { code: 'Conflict', target: 'ActivityId' });
    const list = (await activitiesOf(bob)).filter((a) => a.ActivityId === 'web-2');
    assert.equal(list.length, 1);
    assert.equal(list[0].Title, 'Viewed teapots');
  });

  test('UnifiedActivity: 404 for an unknown CustomerId; 400 naming a bad, unknown or missing attribute', async () => {
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity({ ActivityId: 'x1', CustomerId: 'nobody' }) }), 404, {
      target: 'CustomerId',
    });
    const cases: [Record<string, unknown>, string][] = [
      [activity({ ActivityType: undefined }), 'ActivityType'],
      [activity({ ActivityTime: undefined }), 'ActivityTime'],
      [activity({ CustomerId: undefined }), 'CustomerId'],
      [activity({ ActivityTime: 'last tuesday' }), 'ActivityTime'],
      [activity({ ShowInTimeline: 'yes' }), 'ShowInTimeline'],
      [activity({ Title: 12 }), 'Title'],
      [activity({ Title: { text: 'nested' } }), 'Title'],
      [activity({ Colour: 'red' }), 'Colour'],
      [activity({ Origin: 'batch' }), 'Origin'],
      [activity({ ValidUntil: fromNow(DAY) }), 'ValidUntil'],
      [activity({ ActivityId: 'y'.repeat(200) }), 'ActivityId'],
      [activity({ Description: 'z'.repeat(50_000) }), 'Description'],
    ];
    for (const [body, attribute] of cases) namesAttribute(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body }), attribute);
    namesAttribute(await ws.request('POST', ws.url('/data/UnifiedActivity'), { query: { validUntil: fromNow(-1000) }, body: activity({ ActivityId: 'x2' }) }), 'validUntil');
    namesAttribute(await ws.request('POST', ws.url('/data/UnifiedActivity'), { query: { validUntil: fromNow(40 * DAY) }, body: activity({ ActivityId: 'x3' }) }), 'validUntil');
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: [activity()] }), 400);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: {} }), 400);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { raw: '{', contentType: 'application/json' }), 400);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity')), 400);
  });

  test('source format Shop_Purchases: mapped through the activity config, same ActivityId as the batch would give', async () => {
    const res = await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: purchase() });
    assert.equal(res.statusCode, 201, res.body);
    const a = res.json() as Record<string, unknown>;
    const id = activityIdFor(ws.instanceId, 'Shop', 'Purchases', 'P100');
    assert.equal(a.ActivityId, id);
    assert.equal(res.headers.location, ws.url(`/data/UnifiedActivity/${id}`));
    assert.deepEqual(
      { ...a, ValidUntil: undefined },
      {
        ActivityId: id,
        CustomerId: bob,
        ActivityTime: '2026-11-02T09:30:00.000Z',
        ActivityType: 'Purchase',
        ActivityTypeDisplay: 'Purchase',
        SourceEntityName: 'Purchases',
        SourceActivityId: 'P100',
        DataSourceName: 'Shop',
        Title: 'Bought Mug',
        Description: 'Mug for 9.5',
        Url: 'https://shop.example/orders/P100',
        Icon: 'cart',
        ShowInTimeline: true,
        Origin: 'realtime',
        ValidUntil: undefined,
      },
    );
    assert.ok(offBy(a.ValidUntil as string, 30 * DAY) < 60_000);
    // The batch ids follow the same rule: P4 of the fixture.
    const batch = await ws.request('GET', ws.url(`/data/UnifiedActivity/${activityIdFor(ws.instanceId, 'Shop', 'Purchases', 'P4')}`), { key: ws.keys.viewer });
    assert.equal(batch.statusCode, 200, batch.body);
    assert.equal((batch.json() as Record<string, unknown>).SourceActivityId, 'P4');
    // Values as text, as a source system sends them; C1 resolves through the key ring to Anna's profile.
    const text = await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: purchase({ PurchaseId: 'P101', ContactId: 'C1', Total: '12.00' }) });
    assert.equal(text.statusCode, 201, text.body);
    assert.equal((text.json() as Record<string, unknown>).CustomerId, anna);
    assert.equal((text.json() as Record<string, unknown>).Description, 'Mug for 12');
    // Re-posting: 200 with the stored one; other content: 409.
    const again = await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: purchase() });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), a);
    odataError(await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: purchase({ Product: 'Bowl' }) }), 409);
  });

  test('source format: unknown customer key 404 naming the key; unknown column, bad value, missing required 400', async () => {
    const unknown = await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: purchase({ PurchaseId: 'P102', ContactId: 'C99' }) });
    const e = odataError(unknown, 404, { target: 'ContactId' });
    assert.match(e.message, /C99/);
    const cases: [Record<string, unknown>, string][] = [
      [purchase({ Colour: 'red' }), 'Colour'],
      [purchase({ Total: 'lots' }), 'Total'],
      [purchase({ Total: { amount: 1 } }), 'Total'],
      [purchase({ PurchasedOn: 'soon' }), 'PurchasedOn'],
      [purchase({ PurchasedOn: undefined }), 'PurchasedOn'],
      [purchase({ PurchaseId: undefined }), 'PurchaseId'],
      [purchase({ PurchaseId: '' }), 'PurchaseId'],
      [purchase({ ContactId: undefined }), 'ContactId'],
    ];
    for (const [body, attribute] of cases) namesAttribute(await ws.request('POST', ws.url('/data/Shop_Purchases'), { body }), attribute);
    odataError(await ws.request('POST', ws.url('/data/Nope_Things'), { body: purchase() }), 404, { target: 'entityName' });
  });

  test('re-posting a record the batch already has: 200 with the batch activity, not a duplicate', async () => {
    const p4 = { PurchaseId: 'P4', ContactId: 'C3', PurchasedOn: '2026-01-13', Product: 'Kettle', Total: 45 };
    const res = await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: p4 });
    assert.equal(res.statusCode, 200, res.body);
    const stored = res.json() as Record<string, unknown>;
    assert.equal(stored.Origin, 'batch');
    assert.equal(stored.ActivityId, activityIdFor(ws.instanceId, 'Shop', 'Purchases', 'P4'));
    assert.equal(res.headers.location, ws.url(`/data/UnifiedActivity/${stored.ActivityId}`));
    const list = (await activitiesOf(bob)).filter((a) => a.SourceActivityId === 'P4');
    assert.equal(list.length, 1);
    assert.deepEqual(list[0], stored);
    odataError(await ws.request('POST', ws.url('/data/Shop_Purchases'), { body: { ...p4, Product: 'Kettle 2' } }), 409, { target: 'ActivityId' });
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity({ ActivityId: stored.ActivityId }) }), 409);
  });

  test('an ActivityId of up to 128 characters can be read back at its Location', async () => {
    const id = 'long-'.padEnd(128, 'x');
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity({ ActivityId: id }) });
    assert.equal(res.statusCode, 201, res.body);
    const get = await ws.request('GET', res.headers.location as string, { key: ws.keys.viewer });
    assert.equal(get.statusCode, 200, get.body.slice(0, 200));
    assert.equal((get.json() as Record<string, unknown>).ActivityId, id);
  });

  test('a path parameter over the router limit is answered in the OData error shape', async () => {
    const tooLong = await ws.request('PATCH', customerUrl('x'.repeat(5000)), { body: { City: 'x' } });
    assert.ok(tooLong.statusCode >= 400 && tooLong.statusCode < 500);
    odataError(tooLong, tooLong.statusCode);
  });

  test('JSON string bodies, with application/json and application/json-patch+json', async () => {
    for (const [i, contentType] of ['application/json', 'application/json-patch+json'].entries()) {
      const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
        raw: JSON.stringify(JSON.stringify(activity({ ActivityId: `str-${i}` }))),
        contentType,
      });
      assert.equal(res.statusCode, 201, `${contentType}: ${res.body}`);
      const plain = await ws.request('POST', ws.url('/data/UnifiedActivity'), { raw: JSON.stringify(activity({ ActivityId: `obj-${i}` })), contentType });
      assert.equal(plain.statusCode, 201, `${contentType}: ${plain.body}`);
      const source = await ws.request('POST', ws.url('/data/Shop_Purchases'), { raw: JSON.stringify(JSON.stringify(purchase({ PurchaseId: `PS${i}` }))), contentType });
      assert.equal(source.statusCode, 201, `${contentType}: ${source.body}`);
    }
    // The string must hold a JSON object.
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: 'not json' }), 400, { target: 'body' });
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: '"still a string"' }), 400, { target: 'body' });
  });

  test('PATCH, PUT, DELETE on activities: 405 with Allow', async () => {
    // Exactly the methods each URL serves: GET reads one activity (UnifiedActivity/{id}) or the
    // collection; POST publishes one (UnifiedActivity, a source entity). A source entity cannot be read.
    const cases: [string, string, string][] = [
      ['PATCH', ws.url('/data/UnifiedActivity/web-1'), 'GET'],
      ['PUT', ws.url('/data/UnifiedActivity/web-1'), 'GET'],
      ['DELETE', ws.url('/data/UnifiedActivity/web-1'), 'GET'],
      ['POST', ws.url('/data/UnifiedActivity/web-1'), 'GET'],
      ['PATCH', ws.url('/data/UnifiedActivity'), 'GET, POST'],
      ['PUT', ws.url('/data/UnifiedActivity'), 'GET, POST'],
      ['DELETE', ws.url('/data/UnifiedActivity'), 'GET, POST'],
      ['PATCH', ws.url('/data/Shop_Purchases'), 'POST'],
      ['PUT', ws.url('/data/Shop_Purchases'), 'POST'],
      ['DELETE', ws.url('/data/Shop_Purchases'), 'POST'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await ws.request(method, url, { body: { Title: 'x' } });
      const e = odataError(res, 405, { code: 'MethodNotAllowed' });
      assert.equal(res.headers.allow, allow, `${method} ${url}: Allow`);
      assert.match(e.message, /immutable/);
      assert.ok(e.message.includes(method), `${method} ${url}: the message names the method: ${e.message}`);
      // Every advertised method is served on that URL: neither 404 nor 405 (a 400 for the dummy body is fine).
      for (const m of allow.split(', ')) {
        const served = await ws.request(m, url, m === 'GET' ? { key: ws.keys.viewer } : { body: { Title: 'x' } });
        assert.ok(served.statusCode !== 404 && served.statusCode !== 405, `${m} ${url} is advertised by Allow: ${served.statusCode} ${served.body.slice(0, 200)}`);
      }
    }
    // A source entity's records have no URL of their own (they become UnifiedActivity records):
    // no method is served there, so every method is 404 saying where to go instead.
    for (const method of ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']) {
      const res = await ws.request(method, ws.url('/data/Shop_Purchases/P100'), method === 'GET' ? { key: ws.keys.viewer } : { body: { Title: 'x' } });
      const e = odataError(res, 404, { code: 'NotFound', target: 'entityName' });
      assert.equal(res.headers.allow, undefined, `${method} Shop_Purchases/P100: no Allow`);
      assert.match(e.message, /Shop_Purchases/);
      assert.match(e.message, /UnifiedActivity/, `${method}: says where the activity is read: ${e.message}`);
    }
    // An entity the instance does not have: 404 naming it, whatever the method.
    for (const [method, url] of [['DELETE', ws.url('/data/Nope_Things')], ['PUT', ws.url('/data/Nope_Things/1')], ['POST', ws.url('/data/Nope_Things/1')]] as const)
      odataError(await ws.request(method, url, { body: { Title: 'x' } }), 404, { code: 'NotFound', target: 'entityName' });
    const web1 = await ws.request('GET', ws.url('/data/UnifiedActivity/web-1'), { key: ws.keys.viewer });
    assert.equal((web1.json() as Record<string, unknown>).Title, 'Viewed teapots');
  });
});

describe('$batch', () => {
  type BatchBody = { value: { index: number; status: number; activityId?: string; customerId?: string; error?: { code: string; message: string; target?: string } }[]; succeeded: number; failed: number };
  const item = (id: string, over: Record<string, unknown> = {}) => ({
    ActivityId: id,
    CustomerId: carla,
    ActivityTime: '2026-11-03T08:00:00Z',
    ActivityType: 'Email',
    Title: `mail ${id}`,
    ...over,
  });

  test('UnifiedActivity as a JSON array: one result per item, bad ones rejected, good ones stored', async () => {
    const items = [item('b-1'), item('b-2', { ActivityType: undefined }), item('b-3', { CustomerId: 'nobody' }), item('b-4'), 'not an object', item('b-1')];
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: items });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as BatchBody;
    assert.deepEqual(body.value.map((r) => r.status), [201, 400, 404, 201, 400, 200]);
    assert.deepEqual(body.value.map((r) => r.index), [0, 1, 2, 3, 4, 5]);
    assert.equal(body.succeeded, 3);
    assert.equal(body.failed, 3);
    assert.equal(body.value[1].error!.target, 'ActivityType');
    assert.equal(body.value[2].error!.target, 'CustomerId');
    assert.equal(body.value[0].activityId, 'b-1');
    for (const id of ['b-1', 'b-4']) assert.equal((await ws.request('GET', ws.url(`/data/UnifiedActivity/${id}`), { key: ws.keys.viewer })).statusCode, 200);
    for (const id of ['b-2', 'b-3']) assert.equal((await ws.request('GET', ws.url(`/data/UnifiedActivity/${id}`), { key: ws.keys.viewer })).statusCode, 404);
  });

  test('NDJSON, including a line that is not JSON', async () => {
    const ndjson = [JSON.stringify(item('n-1')), '{broken', '', JSON.stringify(item('n-2')), JSON.stringify(item('n-3', { ActivityTime: 'never' }))].join('\n') + '\n';
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: ndjson, contentType: 'application/x-ndjson' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as BatchBody;
    assert.deepEqual(body.value.map((r) => r.status), [201, 400, 201, 400]);
    assert.match(body.value[1].error!.message, /line 2/);
    assert.equal(body.value[3].error!.target, 'ActivityTime');
  });

  test('source format and Customer batches', async () => {
    const purchases = [
      { PurchaseId: 'PB1', ContactId: 'C4', PurchasedOn: '2026-11-05', Product: 'Spoon', Total: '2' },
      { PurchaseId: 'PB2', ContactId: 'C404', PurchasedOn: '2026-11-05', Product: 'Spoon', Total: '2' },
    ];
    const p = await ws.request('POST', ws.url('/data/Shop_Purchases/$batch'), { body: purchases });
    assert.equal(p.statusCode, 200, p.body);
    const pb = p.json() as BatchBody;
    assert.deepEqual(pb.value.map((r) => r.status), [201, 404]);
    assert.equal(pb.value[0].activityId, activityIdFor(ws.instanceId, 'Shop', 'Purchases', 'PB1'));
    assert.equal(pb.value[1].error!.target, 'ContactId');

    const changes = [
      { CustomerId: dan, changes: { City: 'Lyon', Points: 1 } },
      { CustomerId: 'nobody', changes: { City: 'x' } },
      { CustomerId: carla, changes: { Points: 'many' } },
      { changes: { City: 'x' } },
      { CustomerId: carla },
      42,
    ];
    const ndjson = changes.map((c) => JSON.stringify(c)).join('\n');
    const res = await ws.request('POST', ws.url('/data/Customer/$batch?caller=import'), { raw: ndjson, contentType: 'application/x-ndjson' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as BatchBody;
    assert.deepEqual(body.value.map((r) => r.status), [204, 404, 400, 400, 400, 400]);
    assert.equal(body.value[2].error!.target, 'Points');
    assert.equal(body.value[3].error!.target, 'CustomerId');
    assert.equal(body.succeeded, 1);
    assert.equal((await getCustomer(dan)).City, 'Lyon');
    const arr = await ws.request('POST', ws.url('/data/Customer/$batch'), { body: [{ CustomerId: dan, changes: { City: 'Nice' } }] });
    assert.equal(arr.statusCode, 200, arr.body);
    assert.equal((await getCustomer(dan)).City, 'Nice');
  });

  test('empty batch, more than 10,000 items, or not a list: 400', async () => {
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: [] }), 400, { target: 'body' });
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: '\n\n', contentType: 'application/x-ndjson' }), 400);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: '', contentType: 'application/x-ndjson' }), 400);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: { value: [item('o-1')] } }), 400);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch')), 400);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => item(`many-${i}`));
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: tooMany });
    const e = odataError(res, 400);
    assert.match(e.message, /10,?000/);
    assert.equal((await ws.request('GET', ws.url('/data/UnifiedActivity/many-0'), { key: ws.keys.viewer })).statusCode, 404, 'nothing stored');
  });

  test('exactly 10,000 items are accepted', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => item(`bulk-${i}`, { CustomerId: dan }));
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: items });
    assert.equal(res.statusCode, 200, res.body.slice(0, 500));
    const body = res.json() as BatchBody;
    assert.equal(body.succeeded, 10_000);
    const count = await ws.request('GET', ws.url('/data/UnifiedActivity'), {
      key: ws.keys.viewer,
      query: { $filter: `CustomerId eq '${dan}' and startswith(ActivityId, 'bulk-')`, $count: 'true', $top: '1' },
    });
    assert.equal((count.json() as Record<string, unknown>)['@odata.count'], 10_000);
  });

  test('a bad validUntil on $batch: 400 naming validUntil, nothing stored', async () => {
    const until = 'next week';
    for (const validUntil of [until, fromNow(-HOUR), fromNow(31 * DAY)]) {
      const acts = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { query: { validUntil }, body: [item('vu-1'), item('vu-2')] });
      namesAttribute(acts, 'validUntil');
      const source = await ws.request('POST', ws.url('/data/Shop_Purchases/$batch'), {
        query: { validUntil },
        body: [{ PurchaseId: 'PVU1', ContactId: 'C4', PurchasedOn: '2026-11-05', Product: 'Fork', Total: 1 }],
      });
      namesAttribute(source, 'validUntil');
      const profiles = await ws.request('POST', ws.url('/data/Customer/$batch'), { query: { validUntil }, body: [{ CustomerId: carla, changes: { City: 'Until Never' } }] });
      namesAttribute(profiles, 'validUntil');
    }
    for (const id of ['vu-1', 'vu-2', activityIdFor(ws.instanceId, 'Shop', 'Purchases', 'PVU1')])
      assert.equal((await ws.request('GET', ws.url(`/data/UnifiedActivity/${id}`), { key: ws.keys.viewer })).statusCode, 404, `${id} not stored`);
    assert.notEqual((await getCustomer(carla)).City, 'Until Never');
    assert.ok(!(await overridesOf(carla)).some((o) => o.value === 'Until Never'), 'no override stored');
  });

  test('a $batch body sent as a JSON string (as the published client sends bodies)', async () => {
    for (const contentType of ['application/json', 'application/json-patch+json']) {
      const suffix = contentType.endsWith('patch+json') ? 'p' : 'j';
      const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), {
        raw: JSON.stringify(JSON.stringify([item(`str-b-${suffix}1`), item(`str-b-${suffix}2`, { ActivityType: undefined })])),
        contentType,
      });
      assert.equal(res.statusCode, 200, `${contentType}: ${res.body}`);
      const body = res.json() as BatchBody;
      assert.deepEqual(body.value.map((r) => r.status), [201, 400]);
      assert.equal(body.value[1].error!.target, 'ActivityType');
      assert.equal((await ws.request('GET', ws.url(`/data/UnifiedActivity/str-b-${suffix}1`), { key: ws.keys.viewer })).statusCode, 200);
    }
    const profiles = await ws.request('POST', ws.url('/data/Customer/$batch'), { body: JSON.stringify([{ CustomerId: dan, changes: { Tier: 'From a string' } }]) });
    assert.equal(profiles.statusCode, 200, profiles.body);
    assert.deepEqual((profiles.json() as BatchBody).value.map((r) => r.status), [204]);
    assert.equal((await getCustomer(dan)).Tier, 'From a string');
    // The string must hold a list.
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: JSON.stringify({ value: [item('str-b-x')] }) }), 400, { target: 'body' });
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: '[{"ActivityId": ' }), 400, { target: 'body' });
  });

  test('a Customer $batch item is all or nothing: a bad attribute fails it (400 naming it), other items succeed', async () => {
    const before = (await getCustomer(carla)).City;
    const res = await ws.request('POST', ws.url('/data/Customer/$batch'), {
      body: [
        { CustomerId: dan, changes: { Tier: 'Batch ok 1' } },
        { CustomerId: carla, changes: { City: 'Half', Points: 'many' } },
        { CustomerId: anna, changes: { City: 'Whole' } },
      ],
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as BatchBody;
    assert.deepEqual(body.value.map((r) => r.status), [204, 400, 204]);
    assert.equal(body.succeeded, 2);
    assert.equal(body.failed, 1);
    const error = body.value[1].error!;
    assert.equal(error.target, 'Points');
    assert.match(error.message, /Points/);
    assert.equal((await getCustomer(carla)).City, before, 'the valid change of the rejected item was not stored');
    assert.ok(!(await overridesOf(carla)).some((o) => o.value === 'Half'), 'no override of the rejected item');
    assert.equal((await getCustomer(dan)).Tier, 'Batch ok 1');
    assert.equal((await getCustomer(anna)).City, 'Whole');
  });

  test('$batch on AlternateKey: 405', async () => {
    odataError(await ws.request('POST', ws.url('/data/AlternateKey/$batch'), { body: [{}] }), 405);
  });
});

describe('auth', () => {
  const patch = (options: Parameters<Workspace['request']>[2]) => ws.request('PATCH', customerUrl(bob), { body: { Tier: 'Gold' }, ...options });
  const post = (options: Parameters<Workspace['request']>[2]) =>
    ws.request('POST', ws.url('/data/UnifiedActivity'), {
      body: { CustomerId: bob, ActivityTime: '2026-11-01T00:00:00Z', ActivityType: 'Call' },
      ...options,
    });

  test('no key 401; a key of another instance 401; unknown key 401', async () => {
    for (const key of [null, ws.keys.otherInstance, 'kdr_not_a_key']) {
      odataError(await patch({ key }), 401, { code: 'Unauthorized' });
      odataError(await post({ key }), 401);
      odataError(await ws.request('GET', customerUrl(bob), { key }), 401);
      odataError(await ws.request('GET', ws.url('/data/Customer'), { key }), 401);
    }
    odataError(await ws.request('GET', customerUrl(bob), { headers: { authorization: 'Basic abc' }, key: null }), 401);
    odataError(await ws.request('GET', customerUrl(bob), { headers: { authorization: 'Bearer ' }, key: null }), 401);
  });

  test('Viewer: reads yes, writes 403; Contributor and Administrator write', async () => {
    odataError(await patch({ key: ws.keys.viewer }), 403, { code: 'Forbidden' });
    odataError(await post({ key: ws.keys.viewer }), 403);
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { key: ws.keys.viewer, body: [{}] }), 403);
    odataError(await ws.request('POST', ws.url('/data/Shop_Purchases'), { key: ws.keys.viewer, body: {} }), 403);
    assert.equal((await ws.request('GET', customerUrl(bob), { key: ws.keys.viewer })).statusCode, 200);
    assert.equal((await patch({ key: ws.keys.contributor })).statusCode, 204);
    assert.equal((await patch({ key: ws.keys.admin })).statusCode, 204);
    assert.equal((await post({ key: ws.keys.contributor })).statusCode, 201);
  });

  test('keys as Authorization: Bearer too', async () => {
    assert.equal((await patch({ key: ws.keys.contributor, bearer: true })).statusCode, 204);
    assert.equal((await ws.request('GET', customerUrl(bob), { key: ws.keys.viewer, bearer: true })).statusCode, 200);
    odataError(await patch({ key: ws.keys.viewer, bearer: true }), 403);
    odataError(await patch({ key: ws.keys.otherInstance, bearer: true }), 401);
    // The auth scheme is case-insensitive (RFC 7235 section 2.1).
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      assert.equal((await ws.request('GET', customerUrl(bob), { key: null, headers: { authorization: `${scheme} ${ws.keys.viewer}` } })).statusCode, 200, scheme);
      assert.equal((await patch({ key: null, headers: { authorization: `${scheme} ${ws.keys.contributor}` } })).statusCode, 204, scheme);
      odataError(await patch({ key: null, headers: { authorization: `${scheme} ${ws.keys.viewer}` } }), 403, { code: 'Forbidden' });
    }
    odataError(await ws.request('GET', customerUrl(bob), { key: null, headers: { authorization: 'bearer ' } }), 401, { code: 'Unauthorized' });
    odataError(await ws.request('GET', customerUrl(bob), { key: null, headers: { authorization: `bearer${ws.keys.viewer}` } }), 401, { code: 'Unauthorized' });
  });
});

describe('errors are OData-shaped, never 500', () => {
  test('assorted bad inputs', async () => {
    const bad: [string, string, Parameters<Workspace['request']>[2]][] = [
      ['PATCH', customerUrl(bob), { raw: '{"City":', contentType: 'application/json' }],
      ['PATCH', customerUrl(bob), { raw: 'City=Boston', contentType: 'application/x-www-form-urlencoded' }],
      ['PATCH', customerUrl(bob), { raw: '<City/>', contentType: 'application/xml' }],
      ['PATCH', customerUrl(bob), { raw: JSON.stringify({ City: 'x'.repeat(2 * 1024 * 1024) }), contentType: 'application/json' }],
      ['PATCH', customerUrl(bob), { body: { City: 'a', nested: { deep: [1, { x: 2 }] } } }],
      ['PATCH', customerUrl(bob), { body: { ['x'.repeat(10_000)]: 1 } }],
      ['PATCH', customerUrl(bob), { body: { __proto__: { City: 'x' } } as Record<string, unknown> }],
      ['PATCH', customerUrl(bob), { raw: '{"__proto__": {"City": "x"}, "constructor": {"prototype": {}}}', contentType: 'application/json' }],
      ['PATCH', customerUrl(bob), { raw: '{"Points": 1e400}', contentType: 'application/json' }],
      ['PATCH', customerUrl(bob), { query: { caller: 'c'.repeat(500) }, body: { City: 'x' } }],
      ['PATCH', customerUrl(bob), { query: { validUntil: '' + '9'.repeat(300) }, body: { City: 'x' } }],
      ['PATCH', ws.url('/data/Nope/1'), { body: { City: 'x' } }],
      ['PATCH', '/api/instances/nope/data/Customer/1', { body: { City: 'x' } }],
      ['POST', ws.url('/data/UnifiedActivity'), { raw: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', contentType: 'application/json' }],
      ['POST', ws.url('/data/UnifiedActivity'), { body: { CustomerId: bob, ActivityTime: '2026-01-01', ActivityType: { a: 1 } } }],
      ['POST', ws.url('/data/UnifiedActivity'), { raw: '\u0000\u0001', contentType: 'application/json' }],
      ['POST', ws.url('/data/UnifiedActivity'), { raw: '{"a":1}', contentType: 'text/plain' }],
      ['POST', ws.url('/data/Shop_Purchases'), { body: { PurchaseId: ['P1'], ContactId: 'C1', PurchasedOn: '2026-01-01' } }],
      ['POST', ws.url('/data/Shop_Purchases'), { body: { PurchaseId: 'P9', ContactId: 'C1', PurchasedOn: '2026-01-01', Total: 'NaN' } }],
      ['POST', ws.url('/data/UnifiedActivity/$batch'), { raw: '{"a":', contentType: 'application/json' }],
      ['POST', ws.url('/data/UnifiedActivity/$batch'), { body: 'not an array' }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: "City eq 'x' and" } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: ")))(((" } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: "'" } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: 'x'.repeat(5000) } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: 'not '.repeat(200) + 'true' } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: 'City eq 1' } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: "Points eq 'abc'" } }],
      ['GET', ws.url('/data/Customer'), { query: { $filter: "substringof('a', City)" } }],
      ['GET', ws.url('/data/Customer'), { query: { $orderby: 'City sideways' } }],
      ['GET', ws.url('/data/Customer'), { query: { $top: '-1' } }],
      ['GET', ws.url('/data/Customer'), { query: { $skip: 'ten' } }],
      ['GET', ws.url('/data/Customer'), { query: { $skiptoken: '!!!' } }],
      ['GET', ws.url('/data/Customer'), { query: { $skiptoken: Buffer.from('-5').toString('base64url') } }],
      ['GET', ws.url('/data/Customer'), { query: { $count: 'yes' } }],
      ['GET', ws.url('/data/Customer'), { query: { $expand: 'Orders' } }],
      ['GET', ws.url('/data/Customer'), { query: { $foo: '1' } }],
      ['GET', ws.url('/data/Customer?$filter=a&$filter=b'), {}],
      ['GET', ws.url('/data/Shop_Purchases'), {}],
      ['GET', ws.url('/data/AlternateKey/x'), {}],
    ];
    for (const [method, url, options] of bad) {
      const res = await ws.request(method, url, options);
      const what = `${method} ${url.slice(0, 80)} ${JSON.stringify(options).slice(0, 120)} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, what);
      const body = res.json() as { error?: { code?: unknown; message?: unknown } };
      assert.ok(body.error && typeof body.error.code === 'string' && typeof body.error.message === 'string', what);
    }
    assert.equal((await getCustomer(bob)).City !== 'x', true);
  });

  test('a body over the limit: 413', async () => {
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { raw: JSON.stringify({ Title: 'x'.repeat(1_100_000) }), contentType: 'application/json' });
    odataError(res, 413, { code: 'PayloadTooLarge' });
  });

  test('a $batch whose items are all bad answers 200 with a result per item', async () => {
    const res = await ws.request('POST', ws.url('/data/Customer/$batch'), { body: [null, { CustomerId: 5 }, { CustomerId: bob, changes: 'City' }, { CustomerId: bob, changes: [] }] });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { value: { status: number; error: { code: string; message: string } }[]; failed: number };
    assert.equal(body.failed, 4);
    const acts = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: [null, 1, 'x', [], {}] });
    assert.equal(acts.statusCode, 200, acts.body);
    const a = acts.json() as { value: { status: number; error: { code: string; message: string } }[]; failed: number };
    assert.equal(a.failed, 5);
    assert.ok(a.value.every((r) => r.status === 400 && r.error.code && r.error.message));
    assert.ok(body.value.every((r) => r.status === 400 && r.error.code && r.error.message));
  });
});

describe('durability', () => {
  test('after a 2xx, closing and reopening the data dir keeps the write', async () => {
    assert.equal((await ws.request('PATCH', customerUrl(carla), { body: { City: 'Durable City', Points: 7 } })).statusCode, 204);
    const post = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
      body: { ActivityId: 'durable-1', CustomerId: carla, ActivityTime: '2026-11-20T00:00:00Z', ActivityType: 'Call' },
    });
    assert.equal(post.statusCode, 201, post.body);
    const batch = await ws.request('POST', ws.url('/data/Customer/$batch'), { body: [{ CustomerId: dan, changes: { Tier: 'Durable' } }] });
    assert.equal(batch.statusCode, 200);
    await ws.reopen();
    const c = await getCustomer(carla);
    assert.equal(c.City, 'Durable City');
    assert.equal(c.Points, 7);
    assert.equal((await getCustomer(dan)).Tier, 'Durable');
    const a = await ws.request('GET', ws.url('/data/UnifiedActivity/durable-1'), { key: ws.keys.viewer });
    assert.equal(a.statusCode, 200, a.body);
    assert.deepEqual(a.json(), post.json());
  });
});
