// Customer search and the customer card over the demo instance (real SQLite, inject()).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { foldText } from '../../src/domain/search-terms.js';
import { customerOf, DEMO, fromNow, HOUR, odataError, scanAll, workspace, type Workspace } from './helpers.js';

interface Hit {
  CustomerId: string;
  displayName: string | null;
  email: string | null;
  phone: string | null;
  matchedOn: string;
  matchedValue: string;
}

interface Field {
  name: string;
  value: unknown;
  type: string;
  batchValue: unknown;
  source: { dataSource: string; entity: string; column: string } | null;
  override: { value: unknown; caller: string | null; setAt: string; validUntil: string } | null;
}

interface CardBody {
  customerId: string;
  previousCustomerIds: string[];
  fields: Field[];
  keyring: { DataSourceName: string; EntityName: string; AlternateValue: string }[];
  measures: unknown[];
  segments: unknown[];
  activities: { value: Record<string, unknown>[]; nextSkip: number | null; types: string[] };
}

describe('customer search and card (demo)', () => {
  let ws: Workspace;
  let customers: Record<string, unknown>[];

  before(async () => {
    ws = await workspace({ definition: DEMO });
    await ws.refresh();
    customers = await scanAll(ws, 'Customer');
  });
  after(async () => ws?.close());

  const search = async (q: string, top?: number): Promise<Hit[]> => {
    const res = await ws.request('GET', ws.url('/search'), { key: ws.keys.viewer, query: top ? { q, top: String(top) } : { q } });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { value: Hit[] }).value;
  };
  const card = async (customerId: string, query: Record<string, string> = {}): Promise<CardBody> => {
    const res = await ws.request('GET', ws.url(`/card/${encodeURIComponent(customerId)}`), { key: ws.keys.viewer, query });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as CardBody;
  };

  it('the refresh records search terms and field sources', async () => {
    const run = (await ws.services.store.listRuns(ws.instanceId, 1))[0];
    const write = run.stages.find((s) => s.name === 'write')!;
    assert.ok((write.counts.searchTerms ?? 0) >= customers.length, `search terms ${write.counts.searchTerms} for ${customers.length} customers`);
    assert.equal(typeof write.counts.searchTermsMs, 'number');
  });

  it('finds a name by the prefix of any word, ignoring case and accents', async () => {
    const accented = customers.find((c) => typeof c.FullName === 'string' && /[^\x00-\x7F]/.test(c.FullName as string) && (c.FullName as string).includes(' '));
    assert.ok(accented, 'the demo has an accented name');
    const words = foldText(accented.FullName as string).split(' ');
    const last = words[words.length - 1];
    // Upper case, accents as written in the data, a prefix of the last word.
    const original = (accented.FullName as string).split(/\s+/).pop()!;
    for (const q of [last.slice(0, 4), original.slice(0, 5).toUpperCase(), `${words[0]} ${last.slice(0, 2)}`]) {
      const hits = await search(q, 100);
      const hit: Hit | undefined = hits.find((h) => h.CustomerId === accented.CustomerId);
      assert.ok(hit, `'${q}' finds ${accented.FullName}: ${JSON.stringify(hits.slice(0, 3))}`);
      assert.equal(hit.matchedOn, 'name');
      assert.ok(hit.matchedValue.startsWith(foldText(q)), `${hit.matchedValue} starts with ${foldText(q)}`);
      assert.equal(hit.displayName, accented.FullName);
    }
    assert.deepEqual(await search('zzzqqqxxy'), []);
  });

  it('finds an email exactly, case-insensitive', async () => {
    const c = customers.find((x) => typeof x.Email === 'string' && /[a-z]/.test(x.Email as string))!;
    const hits = await search((c.Email as string).toUpperCase());
    const hit = hits.find((h) => h.CustomerId === c.CustomerId);
    assert.ok(hit, JSON.stringify(hits));
    assert.equal(hit.matchedOn, 'email');
    assert.equal(hit.email, c.Email);
    // A prefix of an email is not an email match.
    const partial = await search((c.Email as string).slice(0, (c.Email as string).indexOf('@') + 2));
    assert.ok(!partial.some((h) => h.matchedOn === 'email'));
  });

  it('finds a phone number however it is written', async () => {
    const c = customers.find((x) => typeof x.Phone === 'string' && /^\+1\D*\d{3}\D*\d{3}\D*\d{4}$/.test(x.Phone as string))!;
    assert.ok(c, 'a US phone in the demo');
    const digits = (c.Phone as string).replace(/\D/g, '').slice(1);
    for (const q of [`(${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`, `+1${digits}`, `${digits.slice(0, 3)}.${digits.slice(3, 6)}.${digits.slice(6)}`]) {
      const hits = await search(q);
      const hit = hits.find((h) => h.CustomerId === c.CustomerId);
      assert.ok(hit, `'${q}' finds ${c.Phone}: ${JSON.stringify(hits)}`);
      assert.equal(hit.matchedOn, 'phone');
      assert.equal(hit.matchedValue, `+1${digits}`);
    }
  });

  it('finds any source key', async () => {
    const id = await customerOf(ws, 'Loyalty', 'loyCustomers', 'LOY13014788');
    const hits = await search('LOY13014788');
    assert.equal(hits[0]?.CustomerId, id);
    assert.equal(hits[0].matchedOn, 'key');
    assert.equal(hits[0].matchedValue, 'LOY13014788');
    const byId = await search(id);
    assert.deepEqual([byId[0].CustomerId, byId[0].matchedOn, byId[0].matchedValue], [id, 'key', id]);
  });

  it('limits results and validates parameters', async () => {
    const hits = await search('a', 3);
    assert.equal(hits.length, 3);
    assert.equal(new Set(hits.map((h) => h.CustomerId)).size, 3, 'one result per customer');
    odataError(await ws.request('GET', ws.url('/search'), { key: ws.keys.viewer, query: { q: 'a', top: '1000' } }), 400, { message: /top/ });
    odataError(await ws.request('GET', ws.url('/search'), { key: ws.keys.viewer }), 400);
    odataError(await ws.request('GET', ws.url('/search'), { key: ws.keys.otherInstance, query: { q: 'a' } }), 401);
    odataError(await ws.request('GET', '/api/instances/nope/search', { key: ws.keys.admin, query: { q: 'a' } }), 401);
  });

  it('shows fields with their source, overrides with caller and expiry, and the key ring', async () => {
    const id = await customerOf(ws, 'Loyalty', 'loyCustomers', 'LOY13014788');
    const before = await card(id);
    assert.equal(before.customerId, id);
    // Measures and segments of the last refresh, as the data API and the store have them.
    const row = (await ws.request('GET', ws.url(`/data/Customer_Measure/${id}`), { key: ws.keys.viewer })).json() as Record<string, unknown>;
    const measures = before.measures as { name: string; value: unknown }[];
    assert.ok(measures.length > 0);
    for (const m of measures) assert.deepEqual(m.value, row[m.name] ?? null, m.name);
    assert.deepEqual(
      (before.segments as { name: string }[]).map((x) => x.name),
      await ws.services.store.analytics.segmentsOf(ws.instanceId, id),
    );
    assert.ok(before.keyring.some((k) => k.DataSourceName === 'Loyalty' && k.EntityName === 'loyCustomers' && k.AlternateValue === 'LOY13014788'));
    const tier = before.fields.find((f) => f.name === 'LoyaltyTier')!;
    assert.deepEqual(tier.source, { dataSource: 'Loyalty', entity: 'loyCustomers', column: 'Tier' });
    assert.equal(tier.type, 'Edm.String');
    assert.equal(tier.override, null);
    assert.equal(tier.value, tier.batchValue);
    const loyaltyKey = before.fields.find((f) => f.name === 'Loyalty_loyCustomers_LoyaltyId')!;
    assert.deepEqual(loyaltyKey.source, { dataSource: 'Loyalty', entity: 'loyCustomers', column: 'LoyaltyId' });
    // Every merged field with a value names one of its configured source columns; empty ones none.
    const merge = (await ws.services.catalog.require(ws.instanceId)).resolved.mergeFields;
    for (const f of before.fields) {
      const def = merge.find((m) => m.name === f.name);
      if (!def) continue;
      if (f.batchValue === null) assert.equal(f.source, null, f.name);
      else assert.ok(def.from.some((s) => s.entity === `${f.source!.dataSource}.${f.source!.entity}` && s.column === f.source!.column), `${f.name}: ${JSON.stringify(f.source)}`);
    }

    const validUntil = fromNow(2 * HOUR);
    const res = await ws.request('PATCH', ws.url(`/data/Customer/${id}`), { body: { LoyaltyTier: 'Platinum' }, query: { caller: 'crm', validUntil } });
    assert.equal(res.statusCode, 204, res.body);
    const after = await card(id);
    const changed = after.fields.find((f) => f.name === 'LoyaltyTier')!;
    assert.equal(changed.value, 'Platinum');
    assert.equal(changed.batchValue, tier.batchValue);
    assert.equal(changed.override?.caller, 'crm');
    assert.equal(changed.override?.validUntil, new Date(validUntil).toISOString());
    assert.ok(Math.abs(Date.parse(changed.override!.setAt) - Date.now()) < 60_000);
  });

  it('pages the timeline newest first with type and date filters, real-time ones marked', async () => {
    // The customer with the most activities.
    const counts = new Map<string, number>();
    for (const a of await scanAll(ws, 'UnifiedActivity')) counts.set(a.CustomerId as string, (counts.get(a.CustomerId as string) ?? 0) + 1);
    const [id, total] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    assert.ok(total >= 3, `busiest customer has ${total} activities`);
    const post = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
      query: { caller: 'web-shop' },
      body: { ActivityId: 'rt-card-1', CustomerId: id, ActivityTime: new Date().toISOString(), ActivityType: 'PageView', ActivityTypeDisplay: 'Page view', Title: 'Viewed the card' },
    });
    assert.equal(post.statusCode, 201, post.body);

    const all: Record<string, unknown>[] = [];
    let skip: number | null = 0;
    let pages = 0;
    while (skip !== null) {
      const page: CardBody = await card(id, { top: '2', skip: String(skip) });
      assert.ok(page.activities.value.length <= 2);
      all.push(...page.activities.value);
      skip = page.activities.nextSkip;
      assert.ok(++pages < 100);
    }
    assert.equal(all.length, total + 1);
    const times = all.map((a) => a.ActivityTime as string);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    const rt = all.find((a) => a.ActivityId === 'rt-card-1')!;
    assert.equal(rt.realtime, true);
    assert.equal(rt.caller, 'web-shop');
    assert.ok(typeof rt.validUntil === 'string');
    assert.ok(all.filter((a) => a.ActivityId !== 'rt-card-1').every((a) => a.realtime === false && !('caller' in a)));

    const first = await card(id);
    assert.ok(first.activities.types.includes('PageView'));
    const pageViews = await card(id, { activityType: 'PageView' });
    assert.deepEqual(pageViews.activities.value.map((a) => a.ActivityId), ['rt-card-1']);
    const batchTypes = first.activities.types.filter((t) => t !== 'PageView');
    const typed = await card(id, { activityType: batchTypes.join(',') });
    assert.equal(typed.activities.value.length, Math.min(total, 50));
    const oldest = times[times.length - 1];
    const ranged = await card(id, { from: oldest, to: new Date(Date.parse(oldest) + 1000).toISOString() });
    assert.ok(ranged.activities.value.length >= 1 && ranged.activities.value.every((a) => a.ActivityTime === oldest));
  });

  it('answers 404 for an unknown customer and 400 naming a bad parameter', async () => {
    odataError(await ws.request('GET', ws.url('/card/no-such-customer'), { key: ws.keys.viewer }), 404, { target: 'customerId' });
    const id = customers[0].CustomerId as string;
    odataError(await ws.request('GET', ws.url(`/card/${id}`), { key: ws.keys.viewer, query: { from: 'yesterday' } }), 400, { target: 'from' });
    odataError(await ws.request('GET', ws.url(`/card/${id}`), { key: ws.keys.viewer, query: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' } }), 400, {
      target: 'from',
    });
    odataError(await ws.request('GET', ws.url(`/card/${id}`), { key: ws.keys.viewer, query: { top: '0' } }), 400, { message: /top/ });
    odataError(await ws.request('GET', ws.url(`/card/${id}`), { key: null }), 401);
  });
});
