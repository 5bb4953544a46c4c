// The Store conformance suite against PostgreSQL, each store on a schema of its own (dropped
// afterwards). Needs a server at KINDRED_TEST_POSTGRES_URL, DATABASE_URL or 127.0.0.1:5432;
// without one the suite is skipped with the reason printed.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { newStages } from '../../src/domain/run.js';
import { postgresMigrations } from '../../src/storage/postgres/migrations.js';
import { INSERT_BATCH } from '../../src/storage/postgres/statements.js';
import { openPostgresStore } from '../../src/storage/postgres/store.js';
import { sqliteMigrations } from '../../src/storage/sqlite/migrations.js';
import { freshSchema, openPostgresOnFreshSchema, postgresUnavailable, POSTGRES_URL, schemaClient, untilWaitingForLock } from './postgres-helpers.js';
import { storeConformance } from './conformance.js';
import { overlayConformance } from './overlay-conformance.js';
import { coordinationConformance } from './coordination-conformance.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL store tests: ${unavailable}`);
  describe('Store conformance: postgres', { skip: unavailable }, () => {});
} else {
  const open = () => openPostgresOnFreshSchema();
  storeConformance('postgres', open);
  overlayConformance('postgres', open);
  coordinationConformance('postgres', open);
}

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

const stages = () => ({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });

describe('PostgreSQL adapter specifics', { skip: unavailable || false }, () => {
  const schemas: { drop: () => Promise<void> }[] = [];
  after(async () => {
    for (const s of schemas) await s.drop();
  });
  const fresh = async () => {
    const s = await freshSchema();
    schemas.push(s);
    return s.schema;
  };

  it('filter indexes: one partial index per instance and attribute, kept across generations, dropped when no longer listed (all of them with an empty list)', async () => {
    const schema = await fresh();
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    const client = await schemaClient(schema);
    const indexes = async () =>
      (
        await client.query(
          `SELECT obj_description(c.oid, 'pg_class') AS tag, pg_get_indexdef(c.oid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = 'customers'::regclass AND c.relname LIKE 'customers_filter_%' ORDER BY 1`,
        )
      ).rows.map((r) => [r.tag, /WHERE \(instance_id = 'shop'::text\)/.test(r.def)]);
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
      const generation = async (attributes: { name: string; type: 'string' | 'number' }[]) => {
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        await w.writeCustomers([{ CustomerId: 'c1', PreviousCustomerId: null, City: 'Oslo', Points: 3 }]);
        assert.equal(await w.indexCustomerAttributes(attributes), attributes.length);
        await w.commit(stages());
      };
      await generation([{ name: 'City', type: 'string' }, { name: 'Points', type: 'number' }]);
      assert.deepEqual(await indexes(), [
        ['kindred filterIndex ["shop","City","string"]', true],
        ['kindred filterIndex ["shop","Points","number"]', true],
      ]);
      await generation([{ name: 'City', type: 'string' }, { name: 'Points', type: 'number' }]);
      assert.equal((await indexes()).length, 2, 'the same list builds nothing new');
      await generation([{ name: 'City', type: 'string' }]);
      assert.deepEqual(await indexes(), [['kindred filterIndex ["shop","City","string"]', true]]);
      // A concurrent build that failed half-way leaves an invalid index: the next refresh builds it again.
      await client.query(
        `UPDATE pg_index SET indisvalid = false WHERE indexrelid = (SELECT c.oid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
           WHERE i.indrelid = 'customers'::regclass AND c.relname LIKE 'customers_filter_%')`,
      );
      const valid = async () => (await client.query(`SELECT i.indisvalid AS v FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'customers_filter_%'`)).rows.map((r) => r.v);
      assert.deepEqual(await valid(), [false]);
      await generation([{ name: 'City', type: 'string' }]);
      assert.deepEqual(await valid(), [true]);
      assert.deepEqual(await indexes(), [['kindred filterIndex ["shop","City","string"]', true]]);
      await generation([]);
      assert.deepEqual(await indexes(), [], 'a definition without filterIndex drops the last one');
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('stores opened at once on a new schema migrate it once, to the last version', async () => {
    const schema = await fresh();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 })));
    for (const s of stores) await s.close();
    const client = await schemaClient(schema);
    try {
      const versions = (await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      assert.deepEqual(versions, postgresMigrations.map((m) => m.version));
      // A change made on both adapters has the same number (PostgreSQL may lack versions SQLite has, never the reverse).
      const sqliteVersions = new Set(sqliteMigrations.map((m) => m.version));
      assert.ok(versions.every((v) => sqliteVersions.has(v)), `versions ${versions.join(', ')} are all SQLite versions`);
    } finally {
      await client.end();
    }
  });

  it("an export run of a store that closed (its process died) is failed by another; a live store's is not", async () => {
    const schema = await fresh();
    const open = () => openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    const [live, dying, survivor] = [await open(), await open(), await open()];
    try {
      const run = (runId: string) => ({
        runId,
        instanceId: 'shop',
        exportName: 'daily',
        trigger: 'manual' as const,
        jobId: null,
        generation: 1,
        status: 'running' as const,
        target: 'file out.csv',
        startedAt: new Date().toISOString(),
        endedAt: null,
        rows: 0,
        batches: 0,
        durationMs: null,
        error: null,
      });
      await live.exportRuns.createRun(run('of-live'));
      await dying.exportRuns.createRun(run('of-dying'));
      await dying.close();
      assert.equal(await survivor.exportRuns.failInterrupted('node gone'), 1);
      assert.equal((await survivor.exportRuns.getRun('shop', 'of-dying'))?.status, 'failed');
      assert.equal((await survivor.exportRuns.getRun('shop', 'of-live'))?.status, 'running');
    } finally {
      await live.close();
      await survivor.close();
    }
  });

  it('bulk loads more rows than one INSERT batch; abort and pruneGenerations really delete them', async () => {
    const schema = await fresh();
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    const client = await schemaClient(schema);
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
      const n = INSERT_BATCH * 2 + 1;
      const ids = Array.from({ length: n }, (_, i) => `c${String(i).padStart(6, '0')}`);
      const write = async () => {
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        await w.writeCustomers(ids.map((id) => ({ CustomerId: id, FullName: `Name ${id}`, Note: "quote ' and \\ backslash" })));
        await w.writeAlternateKeys(ids.map((id) => ({ DataSourceName: 'S', EntityName: 'E', AlternateValue: `k${id}`, CustomerId: id })));
        return w;
      };
      const first = await write();
      await first.commit(stages());
      assert.equal(await store.count('shop', 'Customer'), n);
      assert.equal(await store.count('shop', 'AlternateKey'), n);
      assert.deepEqual(await store.getCustomer('shop', ids[n - 1]), { CustomerId: ids[n - 1], FullName: `Name ${ids[n - 1]}`, Note: "quote ' and \\ backslash" });

      const aborted = await write();
      const rowsOf = async (g: number) => Number((await client.query('SELECT COUNT(*) AS n FROM customers WHERE generation = $1', [g])).rows[0].n);
      assert.equal(await rowsOf(aborted.generation), n);
      await aborted.abort();
      assert.equal(await rowsOf(aborted.generation), 0);
      const store2 = await store.getInstance('shop');
      assert.equal(store2?.currentGeneration, first.generation);

      const second = await write();
      await second.commit(stages());
      assert.equal(await store.pruneGenerations('shop'), 1);
      assert.equal(await rowsOf(first.generation), 0);
      assert.equal(await rowsOf(second.generation), n);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('a real-time group waits for a generation switch in progress and then sees the new generation', async () => {
    const schema = await fresh();
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    const client = await schemaClient(schema);
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
      for (const ids of [['c1'], ['c2']]) {
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        await w.writeCustomers(ids.map((id) => ({ CustomerId: id })));
        if (ids[0] === 'c1') await w.commit(stages());
        else await store.updateRun('shop', run.jobId, { status: 'failed' });
      }
      const generations = (await client.query('SELECT generation FROM generations ORDER BY generation')).rows.map((r) => r.generation as number);
      // A switch to the generation without c1 is in progress (holding the instance row, as commit does).
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM instances WHERE id = $1 FOR UPDATE', ['shop']);
      await client.query('UPDATE instances SET current_generation = $1 WHERE id = $2', [generations[1], 'shop']);
      const write = store.applyRealtime([
        { kind: 'profile', instanceId: 'shop', customerId: 'c1', changes: { City: 'Paris' }, caller: null, setAt: new Date().toISOString(), validUntil: '2099-01-01T00:00:00.000Z' },
      ]);
      let settled = false;
      void write.finally(() => (settled = true)).catch(() => {});
      // Commit the switch only once the real-time group is waiting for the row lock (a group that
      // does not wait settles first and fails the assertions below).
      await untilWaitingForLock(client, 'FOR SHARE', () => settled);
      await client.query('COMMIT');
      assert.deepEqual(await write, [{ status: 'customerNotFound', customerId: 'c1' }]);
      assert.equal((await client.query('SELECT COUNT(*)::int AS n FROM profile_overrides')).rows[0].n, 0, 'no override for a vanished profile');
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
      await store.close();
    }
  });
});
