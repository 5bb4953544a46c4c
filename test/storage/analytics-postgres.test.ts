// The analytics sub-port conformance suite against PostgreSQL, each store on a schema of its own
// (dropped afterwards), and what only this adapter has: bulk writes over several INSERT batches and
// the per-generation tables really emptied. Without a server the tests are skipped with the reason printed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { parseFilter } from '../../src/api/odata/filter.js';
import { newStages } from '../../src/domain/run.js';
import { INSERT_BATCH } from '../../src/storage/postgres/statements.js';
import { openPostgresStore } from '../../src/storage/postgres/store.js';
import { analyticsConformance } from './analytics-conformance.js';
import { freshSchema, openPostgresOnFreshSchema, POSTGRES_URL, postgresUnavailable, schemaClient } from './postgres-helpers.js';

const PREFIX = 'kindred_test_analytics';
const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL analytics tests: ${unavailable}`);
  describe('Analytics conformance: postgres', { skip: unavailable }, () => {});
} else {
  analyticsConformance('postgres', () => openPostgresOnFreshSchema(PREFIX));
}

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

describe('PostgreSQL analytics specifics', { skip: unavailable || false }, () => {
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
  });

  it('more measures and members than one INSERT batch; abort and pruning empty the per-customer tables, pruning keeps committed history', { timeout: 60_000 }, async () => {
    const { schema, drop } = await freshSchema(PREFIX);
    drops.push(drop);
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    const client = await schemaClient(schema);
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
      const n = INSERT_BATCH + 7;
      const ids = Array.from({ length: n }, (_, i) => `c${String(i).padStart(6, '0')}`);
      const build = async (revenue: number) => {
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        await w.writeCustomers(ids.map((id) => ({ CustomerId: id })));
        await w.writeCustomerMeasures(ids.map((id, i) => ({ CustomerId: id, Spend: i / 4, Tier: i % 2 ? 'odd' : "o'even" })));
        await w.writeSegmentMembers('All', ids);
        await store.analytics.writeRunSummary('shop', w.generation, run.jobId, new Date().toISOString(), {
          measures: [{ name: 'Revenue', kind: 'business', value: revenue, customersWithValue: null }],
          segments: [{ name: 'All', size: n }],
        });
        return { w, jobId: run.jobId };
      };
      const countOf = async (table: string, generation: number) =>
        (await client.query(`SELECT COUNT(*)::int AS n FROM ${table} WHERE instance_id = 'shop' AND generation = $1`, [generation])).rows[0].n as number;
      const tables = ['customer_measures', 'segment_members', 'analytics_history'];
      const countsOf = async (generation: number) => {
        const counts: number[] = [];
        for (const t of tables) counts.push(await countOf(t, generation));
        return counts;
      };

      const first = await build(1);
      await first.w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
      assert.equal(await store.count('shop', 'Customer_Measure'), n);
      assert.deepEqual(await store.analytics.measuresOf('shop', ids[n - 1]), { CustomerId: ids[n - 1], Spend: (n - 1) / 4, Tier: n % 2 ? "o'even" : 'odd' });
      assert.equal((await store.analytics.segmentMembers('shop', 'All', { skip: n - 2, top: 10 })).length, 2);
      let scanned = 0;
      for await (const batch of store.scan('shop', 'Customer_Measure', 2000)) scanned += batch.length;
      assert.equal(scanned, n);

      const aborted = await build(2);
      assert.deepEqual(await countsOf(aborted.w.generation), [n, n, 2]);
      await aborted.w.abort();
      await store.updateRun('shop', aborted.jobId, { status: 'failed' });
      assert.deepEqual(await countsOf(aborted.w.generation), [0, 0, 0], 'an aborted build leaves nothing');

      const second = await build(3);
      await second.w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
      assert.equal(await store.pruneGenerations('shop'), 1);
      assert.deepEqual(await countsOf(first.w.generation), [0, 0, 2], 'the retired generation keeps its history only');
      assert.deepEqual((await store.analytics.measureHistory('shop', 'Revenue')).map((h) => h.value), [3, 1]);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('IsMemberOfSegment combined with other bound values in one filter', async () => {
    const { schema, drop } = await freshSchema(PREFIX);
    drops.push(drop);
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
      const { run } = await store.createRun('shop', 'cli');
      const w = await store.beginGeneration('shop', run.jobId);
      await w.writeCustomers([
        { CustomerId: 'c1', City: 'Paris' },
        { CustomerId: 'c2', City: 'Paris' },
        { CustomerId: 'c3', City: 'Rome' },
      ]);
      await w.writeSegmentMembers('Gold', ['c2', 'c3']);
      await w.writeSegmentMembers('Silver', ['c1']);
      await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
      const read = await store.queryEntity(
        'shop',
        'Customer',
        {
          attributes: { CustomerId: 'string', City: 'string' },
          filter: parseFilter("(City eq 'Paris' and IsMemberOfSegment('Gold')) or (IsMemberOfSegment('Silver') and City eq 'Paris')"),
          orderby: [],
          top: 10,
          skip: 0,
          count: true,
        },
        new Date().toISOString(),
      );
      assert.deepEqual(read, { rows: [{ CustomerId: 'c1', City: 'Paris' }, { CustomerId: 'c2', City: 'Paris' }], count: 2 });
    } finally {
      await store.close();
    }
  });
});
