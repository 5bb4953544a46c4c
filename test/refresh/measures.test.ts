// The measures and segments stages on a few thousand generated records: every aggregation checked
// against a plain recomputation, the stages recorded, and a failed refresh changing nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadInstanceDefinition } from '../../src/config/load.js';
import type { StageRecord } from '../../src/domain/run.js';
import { runRefresh } from '../../src/refresh/pipeline.js';
import type { Store } from '../../src/storage/store.js';
import { openTestStore, type TestStore } from '../storage/test-store.js';

const CUSTOMERS = 3000;
const PURCHASES = 12000;
const RETURNS = 1500;
const DAY = 86_400_000;
const CITIES = ['Berlin', 'Paris', 'Rome', 'Madrid', 'Oslo'];
const PRODUCTS = ['Tea', 'Pot', 'Cup', 'Mug', 'Kettle', 'Spoon', 'Tray'];

/** A small deterministic generator (LCG), so failures reproduce. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const DEFINITION = `id: gen
dataSources:
  - name: Shop
    type: csv
    entities:
      - name: Contacts
        path: contacts.csv
        primaryKey: ContactId
        columns:
          - { name: ContactId }
          - { name: City }
          - { name: Tier }
      - name: Purchases
        path: purchases.csv
        primaryKey: PurchaseId
        columns:
          - { name: PurchaseId }
          - { name: ContactId }
          - { name: PurchasedOn, type: datetime }
          - { name: Product }
          - { name: Total, type: decimal }
      - name: Returns
        path: returns.csv
        primaryKey: ReturnId
        columns:
          - { name: ReturnId }
          - { name: Buyer }
          - { name: Amount, type: decimal }
unification:
  matching:
    - entity: Shop.Contacts
activities:
  - entity: Shop.Purchases
    customer: { entity: Shop.Contacts, foreignKey: ContactId }
    timestamp: PurchasedOn
    type: Purchase
    title: "{Product}"
measures:
  - { name: Spend, aggregation: sum, source: { entity: Shop.Purchases }, field: Total }
  - { name: AvgTotal, aggregation: average, source: { entity: Shop.Purchases }, field: Total }
  - { name: Recent, aggregation: count, source: { activity: Purchase }, window: { last: 90 } }
  - { name: Products, aggregation: countDistinct, source: { entity: Shop.Purchases }, field: Product }
  - { name: Smallest, aggregation: min, source: { entity: Shop.Purchases }, field: Total }
  - { name: LastTime, aggregation: max, source: { activity: Purchase }, field: ActivityTime }
  - { name: FirstProduct, aggregation: first, source: { entity: Shop.Purchases }, field: Product }
  - { name: LastProduct, aggregation: last, source: { activity: Purchase }, field: Title }
  - { name: Priciest, aggregation: argMax, source: { entity: Shop.Purchases }, field: Product, by: Total }
  - { name: Cheapest, aggregation: argMin, source: { entity: Shop.Purchases }, field: Product, by: Total }
  - name: TeaSpend
    aggregation: sum
    source: { entity: Shop.Purchases }
    field: Total
    filter: [{ field: Product, operator: eq, value: Tea }]
  - name: Returned
    aggregation: sum
    source: { entity: Shop.Returns, customer: { entity: Shop.Contacts, foreignKey: Buyer } }
    field: Amount
  - { name: Revenue, kind: business, aggregation: sum, source: { entity: Shop.Purchases }, field: Total }
  - { name: Customers, kind: business, aggregation: count, source: { profiles: true } }
segments:
  - name: Big
    rules:
      - conditions: [{ measure: Spend, operator: ge, value: 1000 }]
  - name: RecentBerlin
    rules:
      - conditions:
          - { field: City, operator: eq, value: Berlin }
          - { activity: Purchase, window: { last: 90 } }
  - name: GoldOrBigExceptReturners
    rules:
      - conditions: [{ field: Tier, operator: eq, value: Gold }]
      - combine: union
        conditions: [{ measure: Spend, operator: ge, value: 1000 }]
      - combine: except
        conditions: [{ measure: Returned, operator: isNotNull }]
`;

interface Purchase {
  id: string;
  contact: string;
  time: number;
  product: string;
  total: number;
}

describe('measures and segments over generated data', () => {
  let dir: string;
  let store: Store;
  let opened: TestStore | undefined;
  const contacts: { id: string; city: string; tier: string }[] = [];
  const purchases: Purchase[] = [];
  const returns: { id: string; buyer: string; amount: number }[] = [];
  let refreshTime = 0;
  let stages: Record<string, StageRecord>;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kindred-measures-'));
    const rnd = random(42);
    const now = Date.now();
    for (let i = 0; i < CUSTOMERS; i++) contacts.push({ id: `C${i}`, city: CITIES[Math.floor(rnd() * CITIES.length)], tier: rnd() < 0.1 ? 'Gold' : 'Silver' });
    for (let i = 0; i < PURCHASES; i++) {
      // Skewed: some customers buy a lot, many not at all; a few purchases belong to no known contact.
      const c = rnd() < 0.01 ? `X${i}` : `C${Math.floor(rnd() ** 2 * CUSTOMERS)}`;
      const time = Math.floor((now - rnd() * 730 * DAY) / 1000) * 1000;
      purchases.push({ id: `P${i}`, contact: c, time, product: PRODUCTS[Math.floor(rnd() * PRODUCTS.length)], total: Math.round(rnd() * 50000) / 100 });
    }
    for (let i = 0; i < RETURNS; i++) returns.push({ id: `R${i}`, buyer: `C${Math.floor(rnd() * CUSTOMERS)}`, amount: Math.round(rnd() * 10000) / 100 });
    writeFileSync(path.join(dir, 'instance.yaml'), DEFINITION);
    writeFileSync(path.join(dir, 'contacts.csv'), 'ContactId,City,Tier\n' + contacts.map((c) => `${c.id},${c.city},${c.tier}`).join('\n') + '\n');
    writeFileSync(
      path.join(dir, 'purchases.csv'),
      'PurchaseId,ContactId,PurchasedOn,Product,Total\n' + purchases.map((p) => `${p.id},${p.contact},${new Date(p.time).toISOString()},${p.product},${p.total}`).join('\n') + '\n',
    );
    writeFileSync(path.join(dir, 'returns.csv'), 'ReturnId,Buyer,Amount\n' + returns.map((r) => `${r.id},${r.buyer},${r.amount}`).join('\n') + '\n');
    opened = await openTestStore(dir, 'kindred_measures');
    store = opened.store;
    const { definition, baseDir } = loadInstanceDefinition(path.join(dir, 'instance.yaml'));
    await store.putInstance({ id: 'gen', name: 'gen', definition, sourceFile: 'instance.yaml', baseDir });
    const { run } = await store.createRun('gen', 'cli');
    const done = await runRefresh({ store, run });
    assert.equal(done.status, 'successful', done.error ?? '');
    refreshTime = Date.parse(done.startedAt!);
    stages = Object.fromEntries(done.stages.map((s) => [s.name, s]));
  });
  after(async () => {
    await opened?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** CustomerId → contact id, through the key ring. */
  async function contactOf(): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    for await (const batch of store.scan('gen', 'AlternateKey')) for (const k of batch) map.set(k.CustomerId as string, k.AlternateValue as string);
    return map;
  }

  test('every customer measure equals a plain recomputation from the source rows', async () => {
    const contactIds = await contactOf();
    const byContact = new Map<string, Purchase[]>();
    for (const p of purchases) byContact.set(p.contact, [...(byContact.get(p.contact) ?? []), p]);
    const returned = new Map<string, number>();
    for (const r of returns) returned.set(r.buyer, (returned.get(r.buyer) ?? 0) + r.amount);
    const tidy = (x: number) => Number(x.toPrecision(15));
    const start = refreshTime - 90 * DAY;
    let rows = 0;
    for await (const batch of store.scan('gen', 'Customer_Measure')) {
      for (const row of batch) {
        rows++;
        const contact = contactIds.get(row.CustomerId as string)!;
        const list = byContact.get(contact) ?? [];
        const totals = list.map((p) => p.total);
        const sum = totals.reduce((a, b) => a + b, 0);
        const byTime = [...list].sort((a, b) => a.time - b.time);
        const byTotal = [...list].sort((a, b) => a.total - b.total);
        const tea = list.filter((p) => p.product === 'Tea');
        const expected = {
          CustomerId: row.CustomerId,
          Spend: list.length ? tidy(sum) : null,
          AvgTotal: list.length ? tidy(sum / list.length) : null,
          Recent: list.filter((p) => p.time > start && p.time <= refreshTime).length,
          Products: new Set(list.map((p) => p.product)).size,
          Smallest: list.length ? Math.min(...totals) : null,
          LastTime: list.length ? new Date(byTime.at(-1)!.time).toISOString() : null,
          FirstProduct: byTime[0]?.product ?? null,
          LastProduct: byTime.at(-1)?.product ?? null,
          Priciest: byTotal.at(-1)?.product ?? null,
          Cheapest: byTotal[0]?.product ?? null,
          TeaSpend: tea.length ? tidy(tea.reduce((a, p) => a + p.total, 0)) : null,
          Returned: returned.has(contact) ? tidy(returned.get(contact)!) : null,
        };
        // Ties in time or total could pick either row; the generator makes them (nearly) impossible.
        assert.deepEqual(row, expected, `measures of ${contact}`);
      }
    }
    assert.equal(rows, CUSTOMERS);
  });

  test('business measures and segment members equal a plain recomputation', async () => {
    const revenue = await store.analytics.measureHistory('gen', 'Revenue');
    assert.equal(revenue[0].value, Number(purchases.reduce((a, p) => a + p.total, 0).toPrecision(15)));
    assert.equal((await store.analytics.measureHistory('gen', 'Customers'))[0].value, CUSTOMERS);

    const contactIds = await contactOf();
    const spend = new Map<string, number>();
    const recent = new Set<string>();
    for (const p of purchases) {
      spend.set(p.contact, (spend.get(p.contact) ?? 0) + p.total);
      if (p.time > refreshTime - 90 * DAY && p.time <= refreshTime) recent.add(p.contact);
    }
    const returners = new Set(returns.map((r) => r.buyer));
    const expected = {
      Big: contacts.filter((c) => (spend.get(c.id) ?? 0) >= 1000),
      RecentBerlin: contacts.filter((c) => c.city === 'Berlin' && recent.has(c.id)),
      GoldOrBigExceptReturners: contacts.filter((c) => (c.tier === 'Gold' || (spend.get(c.id) ?? 0) >= 1000) && !returners.has(c.id)),
    };
    for (const [name, list] of Object.entries(expected)) {
      const members = await store.analytics.segmentMembers('gen', name, { top: CUSTOMERS });
      assert.deepEqual(members.map((id) => contactIds.get(id)).sort(), list.map((c) => c.id).sort(), name);
      assert.ok(list.length > 0, `${name} has members, so the check means something`);
      assert.equal((await store.analytics.segmentHistory('gen', name))[0].size, list.length);
    }
  });

  test('the stages are recorded with durations and counts', () => {
    assert.equal(stages.measures.status, 'successful');
    assert.equal(stages.segments.status, 'successful');
    assert.ok(stages.measures.durationMs! >= 0 && stages.segments.durationMs! >= 0);
    assert.equal(stages.measures.counts.measures, 14);
    assert.equal(stages.measures.counts['Shop.Purchases: rows without a customer'], purchases.filter((p) => p.contact.startsWith('X')).length);
    assert.equal(stages.segments.counts.segments, 3);
    assert.equal(stages.write.counts.customerMeasureRows, CUSTOMERS);
  });

  test('a refresh that fails while writing changes no measure, member or history', async () => {
    const membersBefore = await store.analytics.segmentMembers('gen', 'Big', { top: CUSTOMERS });
    const historyBefore = await store.analytics.measureHistory('gen', 'Revenue');
    const measuresBefore = await store.analytics.measuresOf('gen', membersBefore[0]);
    writeFileSync(path.join(dir, 'purchases.csv'), 'PurchaseId,ContactId,PurchasedOn,Product,Total\nP1,C1,2026-01-01,Tea,99999\n');
    const { run } = await store.createRun('gen', 'cli');
    const controller = new AbortController();
    const done = await runRefresh({
      store,
      run,
      signal: controller.signal,
      // Cancel once the generation's measures are being written.
      onProgress: (stage) => {
        if (stage === 'write') controller.abort();
      },
      onStage: (s) => {
        if (s.name === 'write' && s.status === 'running') setImmediate(() => controller.abort());
      },
    });
    assert.equal(done.status, 'cancelled');
    assert.deepEqual(await store.analytics.segmentMembers('gen', 'Big', { top: CUSTOMERS }), membersBefore);
    assert.deepEqual(await store.analytics.measureHistory('gen', 'Revenue'), historyBefore);
    assert.deepEqual(await store.analytics.measuresOf('gen', membersBefore[0]), measuresBefore);
    assert.equal(await store.count('gen', 'Customer_Measure'), CUSTOMERS);
  });
});
