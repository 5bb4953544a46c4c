// The telemetry, search and card conformance suite against PostgreSQL, each store on a schema of
// its own, and what differs from SQLite (several processes adding telemetry at once, terms built
// a page of customers at a time). Without a server the tests are skipped with the reason printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { newStages } from '../../src/domain/run.js';
import { BUILD_PAGE } from '../../src/storage/postgres/search.js';
import { openPostgresStore, quoteIdentifier } from '../../src/storage/postgres/store.js';
import type { TelemetryMinute } from '../../src/storage/telemetry.js';
import { openPostgresOnFreshSchema, postgresUnavailable, POSTGRES_URL, schemasDroppedAfter } from './postgres-helpers.js';
import { uiSubportConformance } from './ui-conformance.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL telemetry, search and card tests: ${unavailable}`);
  describe('postgres: telemetry, search and card sub-ports', { skip: unavailable }, () => {});
} else {
  uiSubportConformance('postgres', () => openPostgresOnFreshSchema());
}

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

const minute = (caller: string, latencyBucket: number): TelemetryMinute => ({
  instanceId: 'shop',
  minute: 5000,
  method: 'PATCH',
  entity: 'Customer',
  caller,
  status: 204,
  errorCode: '',
  requests: 1,
  bytesIn: 7,
  bytesOut: 0,
  latency: [[latencyBucket, 1]],
});

describe('PostgreSQL telemetry and search specifics', { skip: unavailable || false }, () => {
  const fresh = schemasDroppedAfter();

  it('telemetry added by several processes at once to the same minutes adds up, none lost', async () => {
    const schema = await fresh();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 3 })));
    try {
      // Each process flushes 10 batches; each batch has both callers, in either order, and a key twice.
      await Promise.all(
        stores.flatMap((s, p) =>
          Array.from({ length: 10 }, (_, b) =>
            s.telemetry.addMinutes(b % 2 ? [minute('crm', p), minute('web', 1), minute('crm', 9)] : [minute('web', 1), minute('crm', 9), minute('crm', p)]),
          ),
        ),
      );
      const rows = await stores[0].telemetry.readMinutes('shop', 5000, 5001);
      assert.deepEqual(
        rows.map((r) => [r.caller, r.requests, r.bytesIn, r.latency]),
        [
          ['crm', 80, 560, [[0, 10], [1, 10], [2, 10], [3, 10], [9, 40]]],
          ['web', 40, 280, [[1, 40]]],
        ],
      );
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('builds search terms over more customers than one page, and abort and pruneGenerations delete them', async () => {
    const schema = await fresh();
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${quoteIdentifier(schema)}` });
    await client.connect();
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
      const n = BUILD_PAGE * 2 + 1;
      const ids = Array.from({ length: n }, (_, i) => `c${String(i).padStart(6, '0')}`);
      const spec = { nameFields: ['FirstName', 'LastName'], emailFields: ['Email'], phoneFields: [] };
      const build = async () => {
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        // Both name fields hold "Lee" for the last customer: its term is stored once.
        await w.writeCustomers(ids.map((id, i) => ({ CustomerId: id, FirstName: i === n - 1 ? 'Lee' : `First ${id}`, LastName: 'Lee', Email: `${id}@X.example` })));
        // Per customer: "first cNNNNNN", "cNNNNNN", "lee" and the email; the last one: "lee" and the email.
        assert.equal(await w.buildSearchTerms(spec), (n - 1) * 4 + 2);
        return w;
      };
      const termsOf = async (g: number) => Number((await client.query('SELECT COUNT(*) AS n FROM search_terms WHERE generation = $1', [g])).rows[0].n);
      const first = await build();
      await first.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
      for (const id of [ids[0], ids[BUILD_PAGE - 1], ids[BUILD_PAGE], ids[n - 1]]) {
        assert.deepEqual(
          (await store.search.find('shop', { email: `${id}@x.example` }, 5)).map((h) => h.customerId),
          [id],
        );
      }
      assert.deepEqual((await store.search.find('shop', { namePrefix: ids[BUILD_PAGE] }, 5)).map((h) => h.customerId), [ids[BUILD_PAGE]]);

      const aborted = await build();
      assert.equal(await termsOf(aborted.generation), (n - 1) * 4 + 2);
      await aborted.abort();
      assert.equal(await termsOf(aborted.generation), 0);
      const second = await build();
      await second.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
      assert.equal(await store.pruneGenerations('shop'), 1);
      assert.equal(await termsOf(first.generation), 0);
      assert.equal(await termsOf(second.generation), (n - 1) * 4 + 2);
    } finally {
      await client.end();
      await store.close();
    }
  });
});
