// The API answers the same on both stores: one workspace on SQLite and one on PostgreSQL over the
// same fixture, the same refresh and real-time writes, then the same reads; the bodies must be
// equal text (key order included: jsonb keeps none of its own). Only values set by the clock differ.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { postgresUnavailable } from '../storage/postgres-helpers.js';
import { testStoreKind } from '../storage/test-store.js';
import { DEMO, FIXTURES, REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

// It opens both stores itself: once is enough (the SQLite pass of scripts/run-tests.mjs).
const skip = testStoreKind() === 'postgres' ? 'compares both stores itself, in the SQLite pass' : await postgresUnavailable();
const MEASURES_FIXTURE = path.join(FIXTURES, 'measures', 'instance.yaml');

/** Values set by the clock or at random, not by the data (job ids, durations in ms): equal on both stores only by chance. */
const isClockKey = (key: string) => key === 'jobId' || key.endsWith('Ms');

/** The JSON text with clock values masked: date-times from a day ago on, and the values of clock keys. */
function withoutClockValues(body: string): string {
  const since = Date.now() - 86_400_000;
  const mask = (v: unknown): unknown => {
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v) && Date.parse(v) >= since) return '<clock>';
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isClockKey(k) ? '<clock>' : mask(x)]));
    return v;
  };
  try {
    return JSON.stringify(mask(JSON.parse(body)), null, 1);
  } catch {
    return body;
  }
}

/** A contact of the demo with keys in other sources too. */
const CONTACT = 'C08919396';

/** Both workspaces over one fixture, refreshed; `each` runs the same set-up on both. */
function pair(definition: string, each: (ws: Workspace) => Promise<void> = async () => {}) {
  const spaces: Workspace[] = [];
  before(async () => {
    for (const store of ['sqlite', 'postgres'] as const) {
      const ws = await workspace({ definition, copy: true, store });
      spaces.push(ws);
      await ws.refresh();
      await each(ws);
    }
  });
  after(async () => {
    for (const ws of spaces) await ws.close();
  });
  /** Sends the request to both and asserts equal status and body; returns the SQLite body. */
  return async function same(method: string, rest: string, body?: unknown): Promise<unknown> {
    const [sqlite, postgres] = await Promise.all(spaces.map((ws) => ws.request(method, ws.url(rest), { key: ws.keys.admin, body })));
    assert.equal(postgres.statusCode, sqlite.statusCode, `${method} ${rest}: status (SQLite body ${sqlite.body.slice(0, 300)})`);
    assert.equal(withoutClockValues(postgres.body), withoutClockValues(sqlite.body), `${method} ${rest}: body on PostgreSQL as on SQLite`);
    return sqlite.body ? JSON.parse(sqlite.body) : undefined;
  };
}

describe('the same answers on SQLite and PostgreSQL', { skip: skip ?? false }, () => {
  describe('demo instance: data, search, card, key ring', () => {
    const same = pair(DEMO);
    /** The customer of a contact, by the key ring (ids are the same on both stores: asserted here). */
    const customer = async (key: string) =>
      ((await same('GET', `/profile/keyring?dataSourceName=eCommerce&entityName=eCommerceContacts&key=${key}`)) as { customerId: string }).customerId;

    test('instance, runs and entity metadata', async () => {
      await same('GET', '');
      await same('GET', '/workflows/main/jobs');
      await same('GET', '/manage/entities');
      await same('GET', '/manage/entities/Customer');
    });

    test('collections, filtered, selected, ordered and paged', async () => {
      for (const rest of [
        '/data/Customer?$top=40',
        '/data/Customer?$top=40&$skip=40',
        "/data/Customer?$filter=City eq 'Los Angeles'&$top=20",
        '/data/Customer?$select=FullName,CustomerId,City&$orderby=FullName desc&$top=25',
        '/data/Customer?$count=true&$top=5',
        '/data/UnifiedActivity?$top=40',
        '/data/UnifiedActivity?$orderby=ActivityTime desc&$top=30',
        '/data/AlternateKey?$top=40',
        '/data/eCommerce_eCommercePurchases?$top=30',
        '/data/Loyalty_loyCustomers?$top=30',
      ]) {
        await same('GET', rest);
      }
    });

    test('one record, its card and the search', async () => {
      const id = await customer(CONTACT);
      await same('GET', `/data/Customer/${id}`);
      await same('GET', `/card/${id}`);
      const customers = (await same('GET', '/data/Customer?$top=3')) as { value: { FullName?: string; Email?: string }[] };
      for (const c of customers.value) {
        if (c.FullName) await same('GET', `/search?q=${encodeURIComponent(c.FullName.split(' ')[0])}`);
        if (c.Email) await same('GET', `/search?q=${encodeURIComponent(c.Email)}`);
      }
    });

    test('after real-time writes: the overlay, the card and the activities', async () => {
      const id = await customer(CONTACT);
      await same('PATCH', `/data/Customer/${id}?caller=crm`, { City: 'Lyon', FullName: 'Karen Overlay' });
      await same('POST', '/data/UnifiedActivity', { ActivityId: 'parity-1', CustomerId: id, ActivityTime: '2026-01-02T03:04:05Z', ActivityType: 'Note', Title: 'Parity note' });
      await same('GET', `/data/Customer/${id}`);
      await same('GET', `/card/${id}`);
      await same('GET', `/data/UnifiedActivity?$filter=CustomerId eq '${id}'`);
      await same('GET', "/data/Customer?$filter=City eq 'Lyon'");
      await same('GET', '/search?q=Overlay');
      await same('GET', '/audit');
    });
  });

  describe('measures, segments and enrichment', () => {
    const same = pair(MEASURES_FIXTURE);

    test('measure and segment definitions and values', async () => {
      await same('GET', '/manage/measures');
      await same('GET', '/manage/segments');
      await same('GET', '/manage/segments/BigSpenders');
      await same('GET', '/workflows/main/jobs');
      await same('GET', '/data/Customer_Measure');
      await same('GET', '/manage/entities/Customer_Measure');
      const customers = (await same('GET', '/data/Customer?$top=3')) as { value: { CustomerId: string }[] };
      assert.ok(customers.value.length > 0);
      for (const c of customers.value) {
        await same('GET', `/data/Customer/${c.CustomerId}?$expand=Customer_Measure`);
        await same('GET', `/card/${c.CustomerId}`);
      }
    });
  });

  describe('real-time fixture: enrichment and written records', () => {
    const same = pair(REALTIME_FIXTURE);

    test('enrichment and source entities, before and after writes', async () => {
      await same('GET', '/data/CustomerEnrichment');
      await same('GET', '/manage/entities/CustomerEnrichment');
      await same('POST', '/data/Shop_Purchases', { PurchaseId: 'P900', ContactId: 'C3', PurchasedOn: '2026-01-05T08:00:00Z', Product: 'Tea', Total: 12.5 });
      const bob = ((await same('GET', '/profile/keyring?dataSourceName=Shop&entityName=Contacts&key=C3')) as { customerId: string }).customerId;
      await same('PATCH', `/data/Customer/${bob}`, { Points: 99.5, JoinedOn: '2021-02-03', Tier: 'Gold' });
      await same('GET', '/data/Shop_Purchases');
      await same('GET', '/data/Shop_Purchases/P900');
      await same('GET', '/data/Customer');
      await same('GET', '/data/UnifiedActivity');
      await same('GET', `/card/${bob}`);
    });
  });
});
