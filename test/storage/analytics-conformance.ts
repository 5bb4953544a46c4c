// Conformance suite of the analytics sub-port (measures and segments), through the Store port
// only: every adapter must pass it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { newStages } from '../../src/domain/run.js';
import type { FilterNode } from '../../src/api/odata/filter.js';
import type { GenerationWriter, Store } from '../../src/storage/store.js';
import type { OpenedStore } from './conformance.js';

const DEFINITION = {
  id: 'shop',
  dataSources: [{ name: 'Shop', type: 'csv', entities: [{ name: 'Contacts', path: 'c.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'Shop.Contacts' }] },
} as InstanceDefinition;


const TIMEOUT = { timeout: 20_000 };
const segment = (name: string): FilterNode => ({ kind: 'segment', name, position: 0 });

export function analyticsConformance(name: string, open: () => Promise<OpenedStore>): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const opened = await open();
    try {
      await fn(opened.store);
    } finally {
      await opened.cleanup();
    }
  };

  /** A generation of customers c1..cN with measures and members written through the sub-port. */
  async function build(
    store: Store,
    fill: (w: GenerationWriter, jobId: string) => Promise<void>,
    finish: 'commit' | 'abort' | 'leave' = 'commit',
  ): Promise<{ generation: number; jobId: string }> {
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await fill(w, run.jobId);
    if (finish === 'commit') await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
    else if (finish === 'abort') {
      await w.abort();
      await store.updateRun('shop', run.jobId, { status: 'failed', endedAt: new Date().toISOString() });
    }
    return { generation: w.generation, jobId: run.jobId };
  }

  const customers = (w: GenerationWriter, ids: string[]) => w.writeCustomers(ids.map((id) => ({ CustomerId: id, City: id === 'c1' ? 'Berlin' : 'Paris' })));

  async function generation(store: Store, spend: Record<string, number | null>, members: Record<string, string[]>, revenue: number) {
    return build(store, async (w, jobId) => {
      await customers(w, Object.keys(spend));
      await w.writeCustomerMeasures(Object.entries(spend).map(([CustomerId, TotalSpend]) => ({ CustomerId, TotalSpend })),
      );
      for (const [s, ids] of Object.entries(members)) await w.writeSegmentMembers(s, ids);
      await store.analytics.writeRunSummary('shop', w.generation, jobId, `2026-11-0${w.generation}T00:00:00.000Z`, {
        measures: [
          { name: 'Revenue', kind: 'business', value: revenue, customersWithValue: null },
          { name: 'TotalSpend', kind: 'customer', value: null, customersWithValue: Object.values(spend).filter((v) => v !== null).length },
        ],
        segments: Object.entries(members).map(([s, ids]) => ({ name: s, size: ids.length })),
      });
    });
  }

  const query = (filter?: FilterNode) => ({
    attributes: { CustomerId: 'string' as const, TotalSpend: 'number' as const },
    filter,
    orderby: [],
    top: 100,
    skip: 0,
    count: true,
  });

  describe(`Analytics conformance: ${name}`, () => {
    it('nothing is visible before the generation commits; then reads by customer, Customer_Measure and IsMemberOfSegment see it', TIMEOUT, withStore(async (store) => {
      await store.putInstance({ id: 'shop', name: 'Shop', definition: DEFINITION, sourceFile: '/d.yaml', baseDir: '/' });
      const { run } = await store.createRun('shop', 'cli');
      const w = await store.beginGeneration('shop', run.jobId);
      await customers(w, ['c1', 'c2', 'c3']);
      await w.writeCustomerMeasures([
        { CustomerId: 'c1', TotalSpend: 10 },
        { CustomerId: 'c2', TotalSpend: null },
        { CustomerId: 'c3', TotalSpend: 99.5 },
      ]);
      await w.writeSegmentMembers('Big', ['c3']);
      await w.writeSegmentMembers('Any', ['c1', 'c3']);
      assert.equal(await store.analytics.measuresOf('shop', 'c1'), undefined);
      assert.deepEqual(await store.analytics.segmentsOf('shop', 'c3'), []);
      await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });

      assert.deepEqual(await store.analytics.measuresOf('shop', 'c3'), { CustomerId: 'c3', TotalSpend: 99.5 });
      assert.equal(await store.analytics.measuresOf('shop', 'nobody'), undefined);
      assert.deepEqual(await store.analytics.segmentsOf('shop', 'c3'), ['Any', 'Big']);
      assert.deepEqual(await store.analytics.segmentsOf('shop', 'c2'), []);
      assert.deepEqual(await store.analytics.segmentMembers('shop', 'Any'), ['c1', 'c3']);
      assert.deepEqual(await store.analytics.segmentMembers('shop', 'Any', { skip: 1, top: 5 }), ['c3']);

      const now = new Date().toISOString();
      const all = await store.queryEntity('shop', 'Customer_Measure', query(), now);
      assert.equal(all.count, 3);
      assert.deepEqual(all.rows.map((r) => r.TotalSpend), [10, null, 99.5]);
      const big = await store.queryEntity('shop', 'Customer_Measure', query({ kind: 'comparison', operator: 'gt', left: { kind: 'attribute', name: 'TotalSpend', position: 0 }, right: { kind: 'literal', type: 'number', value: 50, raw: '50', position: 0 }, position: 0, operatorPosition: 0 }), now);
      assert.deepEqual(big.rows.map((r) => r.CustomerId), ['c3']);
      assert.equal(await store.count('shop', 'Customer_Measure'), 3);

      const customerQuery = (filter: FilterNode) => ({ attributes: { CustomerId: 'string' as const, City: 'string' as const }, filter, orderby: [], top: 100, skip: 0, count: false });
      const members = await store.queryEntity('shop', 'Customer', customerQuery(segment('Any')), now);
      assert.deepEqual(members.rows.map((r) => r.CustomerId), ['c1', 'c3']);
      const notMembers = await store.queryEntity('shop', 'Customer', customerQuery({ kind: 'not', operand: segment('Any'), position: 0 }), now);
      assert.deepEqual(notMembers.rows.map((r) => r.CustomerId), ['c2']);
      const unknown = await store.queryEntity('shop', 'Customer', customerQuery(segment('Nope')), now);
      assert.deepEqual(unknown.rows, []);
    }));

    it('history per committed run, newest first; an aborted run leaves no trace; pruning keeps the history', TIMEOUT, withStore(async (store) => {
      await store.putInstance({ id: 'shop', name: 'Shop', definition: DEFINITION, sourceFile: '/d.yaml', baseDir: '/' });
      const g1 = await generation(store, { c1: 1, c2: 2 }, { Big: ['c2'] }, 100);
      const g2 = await generation(store, { c1: 5, c2: null }, { Big: ['c1', 'c2'] }, 250);
      // A run that fails after writing its measures: nothing of it shows.
      await build(store, async (w, jobId) => {
        await customers(w, ['c1']);
        await w.writeCustomerMeasures([{ CustomerId: 'c1', TotalSpend: 1e6 }]);
        await w.writeSegmentMembers('Big', ['c1']);
        await store.analytics.writeRunSummary('shop', w.generation, jobId, '2026-11-09T00:00:00.000Z', {
          measures: [{ name: 'Revenue', kind: 'business', value: 1e6, customersWithValue: null }],
          segments: [{ name: 'Big', size: 1 }],
        });
      }, 'abort');
      // A run still building: its history is not shown either.
      await build(store, async (w, jobId) => {
        await store.analytics.writeRunSummary('shop', w.generation, jobId, '2026-11-09T00:00:00.000Z', {
          measures: [{ name: 'Revenue', kind: 'business', value: 7, customersWithValue: null }],
          segments: [],
        });
      }, 'leave');

      assert.deepEqual(await store.analytics.measuresOf('shop', 'c1'), { CustomerId: 'c1', TotalSpend: 5 });
      const revenue = await store.analytics.measureHistory('shop', 'Revenue');
      assert.deepEqual(revenue.map((h) => [h.generation, h.value, h.jobId]), [[g2.generation, 250, g2.jobId], [g1.generation, 100, g1.jobId]]);
      assert.equal(revenue[0].computedAt, `2026-11-0${g2.generation}T00:00:00.000Z`);
      const spend = await store.analytics.measureHistory('shop', 'TotalSpend');
      assert.deepEqual(spend.map((h) => [h.value, h.customersWithValue]), [[null, 1], [null, 2]]);
      assert.deepEqual((await store.analytics.segmentHistory('shop', 'Big')).map((h) => h.size), [2, 1]);
      assert.deepEqual(await store.analytics.measureHistory('shop', 'Revenue', 1).then((h) => h.map((x) => x.value)), [250]);

      await store.pruneGenerations('shop');
      assert.deepEqual((await store.analytics.segmentHistory('shop', 'Big')).map((h) => h.size), [2, 1], 'history survives pruning');
      assert.deepEqual(await store.analytics.segmentsOf('shop', 'c1'), ['Big']);
      assert.deepEqual(await store.analytics.measuresOf('shop', 'c2'), { CustomerId: 'c2', TotalSpend: null });
    }));
  });
}
