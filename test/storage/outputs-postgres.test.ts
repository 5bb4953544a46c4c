// The enrichment, export-run and notification sub-port conformance suite against PostgreSQL, each
// store on a schema of its own (dropped afterwards), and what only this adapter has to get right:
// concurrent callers (threshold swaps, an enrichment write racing an abort) and payloads kept as
// sent. Without a server the tests are skipped with the reason printed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { encodeEnrichments } from '../../src/domain/enrich-batch.js';
import { openPostgresStore } from '../../src/storage/postgres/store.js';
import { outputsConformance } from './outputs-conformance.js';
import { freshSchema, openPostgresOnFreshSchema, POSTGRES_URL, postgresUnavailable, schemaClient, untilWaitingForLock } from './postgres-helpers.js';

const PREFIX = 'kindred_test_outputs';
const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL output sub-port tests: ${unavailable}`);
  describe('postgres: enrichment, export runs and notifications', { skip: unavailable }, () => {});
} else {
  outputsConformance('postgres', () => openPostgresOnFreshSchema(PREFIX));
}

/** Text of the store's statements that lock or delete a generations row. */
const LOCKS_GENERATION = 'generations WHERE instance_id = $1 AND generation = $2';

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

describe('PostgreSQL output sub-port specifics', { skip: unavailable || false }, () => {
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
  });
  const open = async (maxConnections = 2) => {
    const { schema, drop } = await freshSchema(PREFIX);
    drops.push(drop);
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections });
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/' });
    return { store, schema };
  };

  it('a delivery payload reads back with its keys in the order sent', async () => {
    const { store } = await open();
    try {
      const payload = { zeta: 1, event: 'refreshFailed', alpha: { y: 2, b: [3, { d: 4, c: 5 }] } };
      await store.notifications.createDelivery({
        deliveryId: 'd1',
        instanceId: 'shop',
        notification: 'ops',
        event: 'refreshFailed',
        payload,
        status: 'pending',
        attempts: 0,
        responseStatus: null,
        lastError: null,
        createdAt: '2026-11-29T10:00:00.000Z',
        updatedAt: '2026-11-29T10:00:00.000Z',
      });
      const stored = await store.notifications.getDelivery('shop', 'd1');
      assert.equal(JSON.stringify(stored?.payload), JSON.stringify(payload));
    } finally {
      await store.close();
    }
  });

  it('concurrent threshold swaps of one subject form one chain: each value is replaced exactly once', async () => {
    const { store } = await open(8);
    try {
      const values = Array.from({ length: 24 }, (_, i) => i + 0.5);
      const previous = await Promise.all(values.map((v) => store.notifications.swapThresholdValue('shop', 'ops', 'segment:Gold', v, `t${v}`)));
      assert.equal(previous.filter((p) => p === undefined).length, 1, 'exactly one caller was first');
      const replaced = previous.filter((p): p is number => p !== undefined);
      assert.equal(new Set(replaced).size, replaced.length, 'no value was replaced twice');
      const last = values.filter((v) => !replaced.includes(v));
      assert.equal(last.length, 1, 'one value is left standing');
      assert.equal(await store.notifications.swapThresholdValue('shop', 'ops', 'segment:Gold', 0, 'end'), last[0]);
    } finally {
      await store.close();
    }
  });

  it('an enrichment write racing an abort: rows written first go with the generation, a write after it is refused', { timeout: 30_000 }, async () => {
    const { store, schema } = await open(4);
    const client = await schemaClient(schema);
    try {
      const enrichmentRows = async (generation: number) =>
        (await client.query('SELECT COUNT(*)::int AS n FROM customer_enrichments WHERE generation = $1', [generation])).rows[0].n as number;

      // A write in flight (holding the generation row as write() does) when the abort starts: the
      // abort waits for it and then deletes its rows too.
      const first = await store.createRun('shop', 'cli');
      const racing = await store.beginGeneration('shop', first.run.jobId);
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM generations WHERE generation = $1 FOR SHARE', [racing.generation]);
      await client.query(`INSERT INTO customer_enrichments (instance_id, generation, customer_id, data) VALUES ('shop', $1, 'c1', '{}')`, [racing.generation]);
      let aborted = false;
      const abort = racing.abort().finally(() => (aborted = true));
      await untilWaitingForLock(client, LOCKS_GENERATION, () => aborted);
      await client.query('COMMIT');
      await abort;
      assert.equal(await enrichmentRows(racing.generation), 0, 'no rows left behind in the aborted generation');
      await store.updateRun('shop', first.run.jobId, { status: 'failed' });

      // An abort in progress when the write starts: the write waits, then finds the generation gone.
      const second = await store.createRun('shop', 'cli');
      const gone = await store.beginGeneration('shop', second.run.jobId);
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM generations WHERE generation = $1 FOR UPDATE', [gone.generation]);
      let written = false;
      const write = store.enrichment.write('shop', gone.generation, encodeEnrichments([{ CustomerId: 'c1' }])).finally(() => (written = true));
      write.catch(() => {});
      await untilWaitingForLock(client, LOCKS_GENERATION, () => written);
      await client.query('DELETE FROM generations WHERE generation = $1', [gone.generation]);
      await client.query('COMMIT');
      await assert.rejects(write, /not being built/);
      assert.equal(await enrichmentRows(gone.generation), 0);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
      await store.close();
    }
  });
});
