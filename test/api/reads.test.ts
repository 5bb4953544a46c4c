// Reads through the HTTP API (issue 3) over the demo instance (~376 profiles, 771 activities):
// OData options on Customer, UnifiedActivity and AlternateKey, paging, key ring, entity metadata.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO, namesAttribute, odataError, readAll, scanAll, workspace, type Workspace } from './helpers.js';

type Row = Record<string, unknown>;
let ws: Workspace;
/** Every profile as the API returns it (one page of 1000), in the default order. */
let all: Row[];
/** Customer attributes and their Edm types (from manage/entities). */
let attributes: { name: string; dataType: string }[];

before(async () => {
  ws = await workspace({ definition: DEMO });
  await ws.refresh();
  const res = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $top: '1000' } });
  assert.equal(res.statusCode, 200, res.body);
  all = (res.json() as { value: Row[] }).value;
  const meta = await ws.request('GET', ws.url('/manage/entities/Customer'), { key: ws.keys.viewer });
  attributes = (meta.json() as { attributes: { name: string; dataType: string }[] }).attributes;
});
after(() => ws.close());

const get = async (entity: string, query: Record<string, string>) => {
  const res = await ws.request('GET', ws.url(`/data/${entity}`), { key: ws.keys.viewer, query });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { value: Row[]; '@odata.count'?: number; '@odata.nextLink'?: string; '@odata.context': string };
};
const ids = (rows: Row[]) => rows.map((r) => r.CustomerId as string).sort();
const lower = (v: unknown) => (typeof v === 'string' ? v.replace(/[A-Z]/g, (c) => c.toLowerCase()) : null);
/** OData contains as SQLite LIKE does it: case-insensitive for ASCII letters only. */
const contains = (v: unknown, text: string) => lower(v)?.includes(lower(text)!) ?? false;
const expectIds = async (filter: string, predicate: (r: Row) => boolean) => {
  const expected = ids(all.filter(predicate));
  const got = await get('Customer', { $filter: filter, $top: '1000' });
  assert.deepEqual(ids(got.value), expected, filter);
  return expected;
};

describe('Customer collection', () => {
  test('the demo has all its profiles, the same as the store', async () => {
    assert.ok(all.length > 300, `${all.length} profiles`);
    assert.deepEqual(ids(all), ids(await scanAll(ws, 'Customer')));
    assert.equal(new Set(ids(all)).size, all.length);
  });

  test('default page of 100 with @odata.nextLink; following it reads everything once, no gaps', async () => {
    const first = await get('Customer', {});
    assert.equal(first.value.length, 100);
    assert.match(first['@odata.context'], /\/api\/instances\/demo\/data\/\$metadata#Customer$/);
    assert.ok(first['@odata.nextLink']);
    const { rows, pages } = await readAll(ws, ws.url('/data/Customer'));
    assert.equal(pages, Math.ceil(all.length / 100) + (all.length % 100 === 0 ? 1 : 0));
    assert.deepEqual(rows.map((r) => r.CustomerId), all.map((r) => r.CustomerId), 'same order as one big page, no duplicates, no gaps');
  });

  test('paging with $filter, $orderby, $select and an odd $top keeps them on every page', async () => {
    const query = "$filter=Country eq 'US' or Country eq null&$orderby=City desc,FullName&$select=CustomerId,City,FullName&$top=37";
    const { rows, pages } = await readAll(ws, ws.url(`/data/Customer?${query.replace(/ /g, '%20')}`));
    const one = await get('Customer', { $filter: "Country eq 'US' or Country eq null", $orderby: 'City desc,FullName', $select: 'CustomerId,City,FullName', $top: '1000' });
    assert.ok(one.value.length > 37 * 2, 'several pages');
    assert.equal(pages, Math.ceil(one.value.length / 37) + (one.value.length % 37 === 0 ? 1 : 0));
    assert.deepEqual(rows, one.value);
    assert.equal(new Set(ids(rows)).size, rows.length);
    for (const r of rows) assert.deepEqual(Object.keys(r), ['CustomerId', 'City', 'FullName']);
  });

  test('$top (default 100, at most 1000), $skip, $count', async () => {
    assert.equal((await get('Customer', { $top: '1000' })).value.length, all.length);
    namesAttribute(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $top: '1001' } }), '$top');
    namesAttribute(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $top: '0' } }), '$top');
    namesAttribute(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $skip: '-3' } }), '$skip');
    const page = await get('Customer', { $top: '10', $skip: '20' });
    assert.deepEqual(page.value, all.slice(20, 30));
    const beyond = await get('Customer', { $skip: '100000' });
    assert.deepEqual(beyond.value, []);
    assert.equal(beyond['@odata.nextLink'], undefined);
    const counted = await get('Customer', { $count: 'true', $top: '5' });
    assert.equal(counted['@odata.count'], all.length);
    assert.equal(counted.value.length, 5);
    assert.equal((await get('Customer', {}))['@odata.count'], undefined);
    const us = all.filter((r) => r.Country === 'US').length;
    assert.equal((await get('Customer', { $filter: "Country eq 'US'", $count: 'true', $top: '1' }))['@odata.count'], us);
  });

  test('$filter: eq, ne, in, contains, startswith, and/or/not, null, dates, source key columns', async () => {
    const someCity = all.find((r) => r.City && all.filter((x) => x.City === r.City).length > 1)!.City as string;
    assert.ok((await expectIds(`City eq '${someCity.replace(/'/g, "''")}'`, (r) => r.City === someCity)).length > 1);
    await expectIds("Country ne 'US'", (r) => r.Country !== 'US');
    await expectIds("Country in ('DE', 'GB', 'FR')", (r) => ['DE', 'GB', 'FR'].includes(r.Country as string));
    assert.ok((await expectIds("contains(Email, 'GMAIL')", (r) => contains(r.Email, 'gmail'))).length > 10);
    await expectIds("startswith(FullName, 'Ma')", (r) => lower(r.FullName)?.startsWith('ma') ?? false);
    await expectIds("(contains(Email, 'gmail') or contains(Email, 'yahoo')) and not (City eq null)", (r) => (contains(r.Email, 'gmail') || contains(r.Email, 'yahoo')) && r.City !== null);
    await expectIds("not contains(Email, 'gmail') and Phone ne null", (r) => !contains(r.Email, 'gmail') && r.Phone !== null);
    await expectIds('LoyaltyTier eq null', (r) => r.LoyaltyTier === null);
    await expectIds("BirthDate lt '1960-01-01'", (r) => typeof r.BirthDate === 'string' && r.BirthDate < '1960-01-01');
    await expectIds('UpdatedAt ge 2025-06-01T00:00:00Z', (r) => typeof r.UpdatedAt === 'string' && r.UpdatedAt >= '2025-06-01T00:00:00.000Z');
    const withKey = all.find((r) => r.eCommerce_eCommerceContacts_ContactId)!;
    const byKey = await expectIds(
      `eCommerce_eCommerceContacts_ContactId eq '${withKey.eCommerce_eCommerceContacts_ContactId}'`,
      (r) => r.eCommerce_eCommerceContacts_ContactId === withKey.eCommerce_eCommerceContacts_ContactId,
    );
    assert.deepEqual(byKey, [withKey.CustomerId]);
    const two = all.slice(3, 5).map((r) => r.CustomerId as string);
    await expectIds(`CustomerId in ('${two[0]}', '${two[1]}')`, (r) => two.includes(r.CustomerId as string));
    await expectIds(`CustomerId eq '${two[0]}'`, (r) => r.CustomerId === two[0]);
  });

  test('$filter: le on dates, date-times, strings and numbers, boundary included', async () => {
    /** Strings compare by code point (BINARY collation): UTF-8 byte order is code point order. */
    const le = (v: unknown, bound: string) => typeof v === 'string' && Buffer.compare(Buffer.from(v), Buffer.from(bound)) <= 0;
    const births = all.map((r) => r.BirthDate).filter((v): v is string => typeof v === 'string').sort();
    const birth = births[Math.floor(births.length / 2)];
    const dates = await expectIds(`BirthDate le '${birth}'`, (r) => le(r.BirthDate, birth));
    assert.ok(dates.length > 1 && dates.length < all.length, `${dates.length} born on or before ${birth}`);
    assert.ok(all.some((r) => r.BirthDate === birth && dates.includes(r.CustomerId as string)), 'le includes the bound itself');
    // The strict lt for contrast: the bound itself drops out.
    await expectIds(`BirthDate lt '${birth}'`, (r) => typeof r.BirthDate === 'string' && r.BirthDate < birth);
    const updates = all.map((r) => r.UpdatedAt).filter((v): v is string => typeof v === 'string').sort();
    const updated = updates[Math.floor(updates.length / 3)];
    assert.ok((await expectIds(`UpdatedAt le ${updated}`, (r) => le(r.UpdatedAt, updated))).length > 1);
    const cities = all.map((r) => r.City).filter((v): v is string => typeof v === 'string').sort();
    const city = cities[Math.floor(cities.length / 2)];
    await expectIds(`City le '${city.replace(/'/g, "''")}'`, (r) => le(r.City, city));
    await expectIds(`not (City le '${city.replace(/'/g, "''")}')`, (r) => !le(r.City, city));
    // Numbers: the purchase counts of Customer_Measure, compared numerically (10 is not le 9).
    const measures = (await get('Customer_Measure', { $top: '1000' })).value;
    assert.ok(measures.length > 10, `${measures.length} measure rows`);
    const counts = measures.map((r) => r.PurchaseCount).filter((v): v is number => typeof v === 'number');
    assert.ok(new Set(counts).size > 2, 'several distinct purchase counts');
    for (const bound of [...new Set(counts)].sort((a, b) => a - b).slice(0, 3)) {
      const expected = ids(measures.filter((r) => typeof r.PurchaseCount === 'number' && r.PurchaseCount <= bound));
      const got = await get('Customer_Measure', { $filter: `PurchaseCount le ${bound}`, $top: '1000' });
      assert.deepEqual(ids(got.value), expected, `PurchaseCount le ${bound}`);
    }
  });

  test('$filter: endswith, case-insensitive for ASCII, wildcards literal, null never matches', async () => {
    assert.ok((await expectIds("endswith(Email, '.COM')", (r) => lower(r.Email)?.endsWith('.com') ?? false)).length > 10);
    const someEmail = all.find((r) => typeof r.Email === 'string')!.Email as string;
    const domain = someEmail.slice(someEmail.indexOf('@'));
    assert.ok((await expectIds(`endswith(Email, '${domain.replace(/'/g, "''")}')`, (r) => lower(r.Email)?.endsWith(lower(domain)!) ?? false)).length >= 1);
    await expectIds("endswith(FullName, 'son') and not endswith(Email, '.com')", (r) => (lower(r.FullName)?.endsWith('son') ?? false) && !(lower(r.Email)?.endsWith('.com') ?? false));
    // LIKE wildcards in the text match literally: '%' and '_' are not "anything".
    assert.deepEqual(await expectIds("endswith(Email, '%')", (r) => typeof r.Email === 'string' && r.Email.endsWith('%')), []);
    await expectIds("endswith(Email, '_com')", (r) => lower(r.Email)?.endsWith('_com') ?? false);
    // Two-valued logic: a null attribute never matches endswith, so `not endswith` includes it.
    await expectIds("not endswith(LoyaltyTier, 'd')", (r) => !(lower(r.LoyaltyTier)?.endsWith('d') ?? false));
  });

  test('a bad $filter: 400 naming $filter and the position; an unknown attribute: 400 naming it', async () => {
    const syntax = odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "City eq 'Berlin' and" } }), 400, {
      target: '$filter',
    });
    assert.match(syntax.message, /position \d+/);
    const garbage = odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "City eq 'x' ))" } }), 400, {
      target: '$filter',
    });
    assert.match(garbage.message, /position 12/);
    const unknown = odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "Town eq 'Berlin'" } }), 400, {
      target: '$filter',
    });
    assert.match(unknown.message, /Town/);
    const type = odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "UpdatedAt gt 'soon'" } }), 400);
    assert.match(type.message, /UpdatedAt/);
    odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $orderby: 'Town' } }), 400, { target: '$orderby' });
    odataError(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filters: "City eq 'x'" } }), 400, { target: '$filters' });
  });

  test('$select and $orderby', async () => {
    const sel = await get('Customer', { $select: 'FullName,CustomerId', $top: '3' });
    for (const r of sel.value) assert.deepEqual(Object.keys(r), ['FullName', 'CustomerId']);
    namesAttribute(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $select: 'FullName,Nickname' } }), '$select');
    const desc = (await get('Customer', { $orderby: 'FullName desc', $top: '1000' })).value.map((r) => r.FullName as string | null);
    const named = desc.filter((n) => n !== null) as string[];
    assert.deepEqual(desc.slice(named.length), desc.filter((n) => n === null), 'nulls last when descending');
    for (let i = 1; i < named.length; i++) assert.ok(named[i - 1] >= named[i], `${named[i - 1]} >= ${named[i]}`);
    const asc = (await get('Customer', { $orderby: 'BirthDate,CustomerId desc', $top: '1000' })).value;
    for (let i = 1; i < asc.length; i++) {
      const [a, b] = [asc[i - 1], asc[i]];
      const [x, y] = [(a.BirthDate as string | null) ?? '', (b.BirthDate as string | null) ?? ''];
      assert.ok(x < y || (x === y && (a.CustomerId as string) > (b.CustomerId as string)), `order at ${i}`);
    }
  });

  test('$search: the text in any string or date attribute, case-insensitive', async () => {
    const searchable = attributes.filter((a) => a.dataType === 'Edm.String' || a.dataType === 'Edm.Date').map((a) => a.name);
    for (const text of ['miller', 'BERLIN', '1955-', 'xyzzy-nothing']) {
      const expected = ids(all.filter((r) => searchable.some((name) => contains(r[name], text))));
      const got = await get('Customer', { $search: text, $top: '1000', $count: 'true' });
      assert.deepEqual(ids(got.value), expected, text);
      assert.equal(got['@odata.count'], expected.length);
    }
    const both = await get('Customer', { $search: 'miller', $filter: "Country eq 'US'", $top: '1000' });
    assert.ok(both.value.every((r) => r.Country === 'US'));
    namesAttribute(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $search: '   ' } }), '$search');
    // LIKE wildcards in the text match literally.
    assert.deepEqual((await get('Customer', { $search: '%' })).value, all.filter((r) => searchable.some((n) => contains(r[n], '%'))));
  });

  test('$expand=UnifiedActivity on the collection and on one profile', async () => {
    const acts = (await get('UnifiedActivity', { $top: '1000' })).value;
    const groups = new Map<string, Row[]>();
    for (const a of acts) groups.set(a.CustomerId as string, [...(groups.get(a.CustomerId as string) ?? []), a]);
    const [customerId, own] = [...groups].sort((a, b) => b[1].length - a[1].length)[0];
    assert.ok(own.length > 1);
    const expanded = await get('Customer', { $filter: `CustomerId eq '${customerId}'`, $expand: 'UnifiedActivity' });
    assert.equal(expanded.value.length, 1);
    const list = expanded.value[0].UnifiedActivity as Row[];
    assert.deepEqual(list.map((a) => a.ActivityId).sort(), own.map((a) => a.ActivityId).sort());
    const times = list.map((a) => a.ActivityTime as string);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    const withSelect = await get('Customer', { $filter: `CustomerId eq '${customerId}'`, $expand: 'UnifiedActivity', $select: 'FullName' });
    assert.deepEqual(Object.keys(withSelect.value[0]).sort(), ['FullName', 'UnifiedActivity']);
    const one = await ws.request('GET', ws.url(`/data/Customer/${customerId}`), { key: ws.keys.viewer, query: { $expand: 'UnifiedActivity' } });
    assert.equal(one.statusCode, 200);
    assert.deepEqual((one.json() as Row).UnifiedActivity, list);
    const page = await get('Customer', { $expand: 'UnifiedActivity', $top: '20' });
    assert.ok(page.value.every((r) => Array.isArray(r.UnifiedActivity)));
    namesAttribute(await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $expand: 'Orders' } }), '$expand');
    namesAttribute(await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $expand: 'Customer' } }), '$expand');
  });
});

describe('one Customer', () => {
  test('by id, with $select; unknown id 404; unknown $select or $expand 400', async () => {
    const c = all[7];
    const res = await ws.request('GET', ws.url(`/data/Customer/${c.CustomerId}`), { key: ws.keys.viewer });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), c);
    const sel = await ws.request('GET', ws.url(`/data/Customer/${c.CustomerId}`), { key: ws.keys.viewer, query: { $select: 'Email,CustomerId' } });
    assert.deepEqual(sel.json(), { Email: c.Email, CustomerId: c.CustomerId });
    odataError(await ws.request('GET', ws.url('/data/Customer/no-such-customer'), { key: ws.keys.viewer }), 404, { code: 'NotFound' });
    namesAttribute(await ws.request('GET', ws.url(`/data/Customer/${c.CustomerId}`), { key: ws.keys.viewer, query: { $select: 'Email,Nickname' } }), '$select');
    namesAttribute(await ws.request('GET', ws.url(`/data/Customer/${c.CustomerId}`), { key: ws.keys.viewer, query: { $expand: 'Orders' } }), '$expand');
  });
});

describe('UnifiedActivity', () => {
  test('reads merge batch and real-time activities; paging covers both', async () => {
    const before = await get('UnifiedActivity', { $count: 'true', $top: '1' });
    const batchCount = (await scanAll(ws, 'UnifiedActivity')).length;
    assert.equal(before['@odata.count'], batchCount);
    const customerId = all[0].CustomerId as string;
    const post = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
      body: { ActivityId: 'rt-read-1', CustomerId: customerId, ActivityTime: '2026-11-10T10:00:00Z', ActivityType: 'Call', Title: 'Called' },
    });
    assert.equal(post.statusCode, 201, post.body);
    const purchase = await ws.request('POST', ws.url('/data/eCommerce_eCommercePurchases'), { body: await purchaseFor(all.find((r) => r.eCommerce_eCommerceContacts_ContactId)!) });
    assert.equal(purchase.statusCode, 201, purchase.body);
    const after = await get('UnifiedActivity', { $count: 'true', $top: '1' });
    assert.equal(after['@odata.count'], batchCount + 2);
    const rt = await get('UnifiedActivity', { $filter: "Origin eq 'realtime'", $orderby: 'ActivityTime desc' });
    assert.deepEqual(rt.value.map((a) => a.Origin), ['realtime', 'realtime']);
    const mine = await get('UnifiedActivity', { $filter: `CustomerId eq '${customerId}'`, $top: '1000' });
    assert.ok(mine.value.some((a) => a.ActivityId === 'rt-read-1'));
    const { rows } = await readAll(ws, ws.url('/data/UnifiedActivity?$top=250'));
    assert.equal(rows.length, batchCount + 2);
    assert.equal(new Set(rows.map((r) => r.ActivityId)).size, rows.length);
    const byId = await ws.request('GET', ws.url('/data/UnifiedActivity/rt-read-1'), { key: ws.keys.viewer, query: { $select: 'ActivityId,Origin' } });
    assert.deepEqual(byId.json(), { ActivityId: 'rt-read-1', Origin: 'realtime' });
    odataError(await ws.request('GET', ws.url('/data/UnifiedActivity/nope'), { key: ws.keys.viewer }), 404);
    // The $expand of the profile shows the real-time one too.
    const expanded = await ws.request('GET', ws.url(`/data/Customer/${customerId}`), { key: ws.keys.viewer, query: { $expand: 'UnifiedActivity' } });
    assert.ok(((expanded.json() as Row).UnifiedActivity as Row[]).some((a) => a.ActivityId === 'rt-read-1'));
  });
});

/** A purchase in the demo's eCommercePurchases format for a profile with an eCommerce contact key. */
async function purchaseFor(customer: Row): Promise<Row> {
  const meta = await ws.request('GET', ws.url('/manage/entities/eCommerce_eCommercePurchases'), { key: ws.keys.viewer });
  const entity = meta.json() as { keys: string[]; timestampAttribute: string; attributes: { name: string; dataType: string }[]; relationships: { fromAttribute: string }[] };
  const body: Row = {};
  for (const a of entity.attributes) {
    if (a.name === entity.keys[0]) body[a.name] = 'RT-ORDER-1';
    else if (a.name === entity.timestampAttribute) body[a.name] = '2026-11-11T11:00:00Z';
    else if (a.name === entity.relationships[0].fromAttribute) body[a.name] = customer.eCommerce_eCommerceContacts_ContactId;
  }
  return body;
}

describe('AlternateKey and key ring', () => {
  test('AlternateKey reads: by customer, by source key, counted', async () => {
    const total = (await scanAll(ws, 'AlternateKey')).length;
    assert.equal((await get('AlternateKey', { $count: 'true', $top: '1' }))['@odata.count'], total);
    const c = all.find((r) => r.eCommerce_eCommerceContacts_ContactId && r.Loyalty_loyCustomers_LoyaltyId) ?? all[0];
    const keys = await get('AlternateKey', { $filter: `CustomerId eq '${c.CustomerId}'` });
    const expected = await ws.services.store.alternateKeysOf(ws.instanceId, c.CustomerId as string);
    assert.deepEqual(
      keys.value.map((k) => `${k.DataSourceName}/${k.EntityName}/${k.AlternateValue}`).sort(),
      expected.map((k) => `${k.DataSourceName}/${k.EntityName}/${k.AlternateValue}`).sort(),
    );
    const one = await get('AlternateKey', {
      $filter: `DataSourceName eq 'eCommerce' and EntityName eq 'eCommerceContacts' and AlternateValue eq '${c.eCommerce_eCommerceContacts_ContactId}'`,
    });
    assert.deepEqual(one.value, [{ DataSourceName: 'eCommerce', EntityName: 'eCommerceContacts', AlternateValue: c.eCommerce_eCommerceContacts_ContactId, CustomerId: c.CustomerId }]);
    const { rows } = await readAll(ws, ws.url('/data/AlternateKey?$top=333'));
    assert.equal(rows.length, total);
    assert.equal(new Set(rows.map((r) => `${r.DataSourceName}/${r.EntityName}/${r.AlternateValue}`)).size, total);
    odataError(await ws.request('GET', ws.url('/data/AlternateKey'), { key: ws.keys.viewer, query: { $expand: 'UnifiedActivity' } }), 400);
  });

  test('GET profile/keyring: found, 404, 400', async () => {
    const c = all.find((r) => r.eCommerce_eCommerceContacts_ContactId && (r.Loyalty_loyCustomers_LoyaltyId || r.Website_webUsers_UserId))!;
    const key = c.eCommerce_eCommerceContacts_ContactId as string;
    const res = await ws.request('GET', ws.url('/profile/keyring'), { key: ws.keys.viewer, query: { dataSourceName: 'eCommerce', entityName: 'eCommerceContacts', key } });
    assert.equal(res.statusCode, 200, res.body);
    const ring = res.json() as { instanceId: string; customerId: string; keyRing: { dataSourceName: string; entityName: string; preferredKey: string; keys: string[] }[] };
    assert.equal(ring.instanceId, 'demo');
    assert.equal(ring.customerId, c.CustomerId);
    const shop = ring.keyRing.find((g) => g.dataSourceName === 'eCommerce' && g.entityName === 'eCommerceContacts')!;
    assert.ok(shop.keys.includes(key));
    assert.equal(shop.preferredKey, key);
    assert.ok(ring.keyRing.length >= 2, 'keys of the other sources too');
    const all2 = ring.keyRing.flatMap((g) => g.keys.map((k) => `${g.dataSourceName}/${g.entityName}/${k}`)).sort();
    const expected = (await ws.services.store.alternateKeysOf('demo', c.CustomerId as string)).map((k) => `${k.DataSourceName}/${k.EntityName}/${k.AlternateValue}`).sort();
    assert.deepEqual(all2, expected);
    odataError(await ws.request('GET', ws.url('/profile/keyring'), { key: ws.keys.viewer, query: { dataSourceName: 'eCommerce', entityName: 'eCommerceContacts', key: 'C-NOPE' } }), 404, {
      target: 'key',
    });
    odataError(await ws.request('GET', ws.url('/profile/keyring'), { key: ws.keys.viewer, query: { dataSourceName: 'eCommerce' } }), 400);
    odataError(await ws.request('GET', ws.url('/profile/keyring'), { key: null, query: { dataSourceName: 'eCommerce', entityName: 'eCommerceContacts', key } }), 401);
  });
});

describe('entity metadata', () => {
  test('GET manage/entities and manage/entities/UnifiedActivity: attributes with Edm types', async () => {
    const res = await ws.request('GET', ws.url('/manage/entities'), { key: ws.keys.viewer });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { instanceId: string; entities: { name: string; qualifiedEntityName: string; entityType: string; attributes: { name: string; dataType: string }[] }[] };
    assert.equal(body.instanceId, 'demo');
    const names = body.entities.map((e) => e.qualifiedEntityName);
    for (const n of ['Customer', 'UnifiedActivity', 'AlternateKey', 'eCommerce_eCommercePurchases']) assert.ok(names.includes(n), n);
    assert.equal(body.entities.find((e) => e.name === 'Customer')!.entityType, 'profile');

    const ua = await ws.request('GET', ws.url('/manage/entities/UnifiedActivity'), { key: ws.keys.viewer });
    assert.equal(ua.statusCode, 200);
    const entity = ua.json() as { name: string; entityType: string; keys: string[]; timestampAttribute: string; attributes: { name: string; dataType: string }[] };
    assert.equal(entity.entityType, 'unifiedActivity');
    assert.deepEqual(entity.keys, ['ActivityId']);
    assert.equal(entity.timestampAttribute, 'ActivityTime');
    const types = Object.fromEntries(entity.attributes.map((a) => [a.name, a.dataType]));
    assert.deepEqual(types, {
      ActivityId: 'Edm.String',
      CustomerId: 'Edm.String',
      ActivityTime: 'Edm.DateTimeOffset',
      ActivityType: 'Edm.String',
      ActivityTypeDisplay: 'Edm.String',
      SourceEntityName: 'Edm.String',
      SourceActivityId: 'Edm.String',
      DataSourceName: 'Edm.String',
      Title: 'Edm.String',
      Description: 'Edm.String',
      Url: 'Edm.String',
      Icon: 'Edm.String',
      ShowInTimeline: 'Edm.Boolean',
      Origin: 'Edm.String',
      ValidUntil: 'Edm.DateTimeOffset',
    });
    const customerTypes = Object.fromEntries(attributes.map((a) => [a.name, a.dataType]));
    assert.equal(customerTypes.BirthDate, 'Edm.Date');
    assert.equal(customerTypes.UpdatedAt, 'Edm.DateTimeOffset');
    assert.equal(customerTypes.eCommerce_eCommerceContacts_ContactId, 'Edm.String');
    assert.deepEqual(Object.keys(all[0]), attributes.map((a) => a.name), 'records carry exactly the listed attributes');
    odataError(await ws.request('GET', ws.url('/manage/entities/Nope'), { key: ws.keys.viewer }), 404);
    odataError(await ws.request('GET', '/api/instances/nope/manage/entities', { key: ws.keys.viewer }), 401);
  });
});

describe('reads see real-time profile updates', () => {
  test('$filter, $orderby, $search and $select use the overridden values', async () => {
    const c = all[11];
    const res = await ws.request('PATCH', ws.url(`/data/Customer/${c.CustomerId}`), { body: { City: 'Zzyzx Overlay', FullName: '\t(sorts first) Overlay' } });
    assert.equal(res.statusCode, 204, res.body);
    assert.deepEqual(ids((await get('Customer', { $filter: "City eq 'Zzyzx Overlay'" })).value), [c.CustomerId]);
    assert.deepEqual(ids((await get('Customer', { $search: 'zzyzx' })).value), [c.CustomerId]);
    assert.equal((await get('Customer', { $orderby: 'FullName', $filter: 'FullName ne null', $top: '1' })).value[0].CustomerId, c.CustomerId);
    assert.deepEqual((await get('Customer', { $filter: `CustomerId eq '${c.CustomerId}'`, $select: 'City' })).value, [{ City: 'Zzyzx Overlay' }]);
    if (c.City !== null) assert.ok(!(await get('Customer', { $filter: `City eq '${String(c.City).replace(/'/g, "''")}'`, $top: '1000' })).value.some((r) => r.CustomerId === c.CustomerId));
    const { rows } = await readAll(ws, ws.url('/data/Customer'));
    assert.equal(rows.length, all.length, 'overrides add no rows');
  });
});

// Last: it adds real-time activities, which the counts of the tests above do not expect.
describe('$expand=UnifiedActivity beyond one page', () => {
  test('a profile with more than 100 activities gets the newest 100 and UnifiedActivity@odata.nextLink to the rest', async () => {
    const customerId = all[0].CustomerId as string;
    const batch = Array.from({ length: 130 }, (_, i) => ({
      ActivityId: `expand-page-${i}`,
      CustomerId: customerId,
      ActivityTime: new Date(Date.UTC(2026, 5, 1) + i * 60_000).toISOString(),
      ActivityType: 'PageView',
    }));
    const posted = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: batch });
    assert.equal(posted.statusCode, 200, posted.body);
    const own = (await get('UnifiedActivity', { $filter: `CustomerId eq '${customerId}'`, $top: '1000' })).value;
    assert.ok(own.length > 130);

    const one = await ws.request('GET', ws.url(`/data/Customer/${customerId}`), { key: ws.keys.viewer, query: { $expand: 'UnifiedActivity' } });
    const first = one.json() as Row;
    const page = first.UnifiedActivity as Row[];
    assert.equal(page.length, 100);
    const link = new URL(first['UnifiedActivity@odata.nextLink'] as string);
    const rest: Row[] = [];
    for (let next: URL | undefined = link; next; ) {
      const res = await ws.request('GET', next.pathname, { key: ws.keys.viewer, query: Object.fromEntries(next.searchParams) });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { value: Row[]; '@odata.nextLink'?: string };
      rest.push(...body.value);
      next = body['@odata.nextLink'] ? new URL(body['@odata.nextLink']) : undefined;
    }
    const seen = [...page, ...rest].map((a) => a.ActivityId as string);
    assert.equal(new Set(seen).size, seen.length, 'no activity twice');
    assert.deepEqual([...seen].sort(), own.map((a) => a.ActivityId as string).sort());
    const times = [...page, ...rest].map((a) => a.ActivityTime as string);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first across the link');

    const collection = await get('Customer', { $filter: `CustomerId eq '${customerId}'`, $expand: 'UnifiedActivity' });
    assert.equal((collection.value[0].UnifiedActivity as Row[]).length, 100);
    assert.equal(collection.value[0]['UnifiedActivity@odata.nextLink'], first['UnifiedActivity@odata.nextLink']);
  });
});

test('$expand over a page of 300 profiles lets other work run in between (a turn of the event loop every 25 rows)', async () => {
  let turns = 0;
  let stop = false;
  const spin = () => {
    if (stop) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const page = await get('Customer', { $top: '300', $expand: 'UnifiedActivity,Customer_Measure' });
  stop = true;
  assert.equal(page.value.length, 300);
  assert.ok(page.value.every((r) => Array.isArray(r.UnifiedActivity)));
  // 300 rows: 11 turns given up inside the expansion, more than the request itself takes.
  assert.ok(turns >= 11, `other work ran ${turns} times`);
});
