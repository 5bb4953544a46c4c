import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { isKeyLookup, ReaderPool } from '../../src/storage/sqlite/reader-pool.js';
import { encodeEnrichments } from '../../src/domain/enrich-batch.js';
import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { sqliteMigrations } from '../../src/storage/sqlite/migrations.js';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { parseFilter } from '../../src/api/odata/filter.js';
import type { RealtimeWrite } from '../../src/domain/realtime.js';
import { storeConformance } from './conformance.js';
import { loadInstanceDefinition } from '../../src/config/load.js';
import { runRefresh } from '../../src/refresh/pipeline.js';
import { resolveInstance } from '../../src/config/resolve.js';
import { unifiedSchema } from '../../src/domain/unified-schema.js';
import type { Store } from '../../src/storage/store.js';
import { overlayConformance } from './overlay-conformance.js';
import { coordinationConformance } from './coordination-conformance.js';

const roots: string[] = [];
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

const profileWrite = (customerId: string): RealtimeWrite => ({
  kind: 'profile',
  instanceId: 'shop',
  customerId,
  changes: { City: 'Paris' },
  caller: null,
  setAt: '2024-06-01T00:00:00.000Z',
  validUntil: '2099-01-01T00:00:00.000Z',
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kindred-sqlite-'));
  roots.push(dir);
  return dir;
}

storeConformance('sqlite', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'kindred.db');
  const store = openSqliteStore({ file });
  return {
    store,
    reopen: async () => openSqliteStore({ file }),
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// A large generation is loaded by a thread of its own (generationLoading 'auto'): the same suite
// with every generation loaded so.
storeConformance('sqlite, generations loaded in a thread', () => openSqliteOnTempDir('kindred-sqlite-', { generationLoading: 'thread' }));

coordinationConformance('sqlite', () => openSqliteOnTempDir('kindred-sqlite-', { reopen: false }));

overlayConformance('sqlite', () => openSqliteOnTempDir('kindred-sqlite-', { reopen: false }));
// The server answers queryEntity in reader threads: the same answers, read-your-writes included.
// Generations loaded in a thread as well (filter indexes included).
overlayConformance('sqlite, queries in reader threads, generations loaded in a thread', () =>
  openSqliteOnTempDir('kindred-sqlite-', { reopen: false, readerThreads: 2, generationLoading: 'thread' }),
);

describe('SQLite adapter specifics', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });

  const definition = {
    id: 'shop',
    dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
    unification: { matching: [{ entity: 'S.E' }] },
  } as InstanceDefinition;

  /** Instance 'shop' with one generation of n customers c000000… named 'Name i'. */
  async function refreshedWithCustomers(store: ReturnType<typeof openSqliteStore>, n: number): Promise<void> {
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.writeCustomers(Array.from({ length: n }, (_, i) => ({ CustomerId: `c${String(i).padStart(6, '0')}`, PreviousCustomerId: null, FullName: `Name ${i}` })));
    await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
  }

  /** `$filter` on the Customers of 'shop': the first 10 by key (CustomerId and FullName), and the count. */
  const customerQuery = (store: ReturnType<typeof openSqliteStore>) => (filter: string) =>
    store.queryEntity('shop', 'Customer', { attributes: { CustomerId: 'string', FullName: 'string' }, filter: parseFilter(filter), orderby: [], top: 10, skip: 0, count: true }, '2024-06-01T00:00:00.000Z');

  it('creates the database directory, applies each migration once and keeps data across reopening', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'kindred.db');
    const first = openSqliteStore({ file });
    assert.equal(first.dialect, 'sqlite');
    assert.ok(existsSync(file));
    await first.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
    await first.close();

    for (let i = 0; i < 2; i++) {
      const again = openSqliteStore({ file });
      assert.equal((await again.getInstance('shop'))?.name, 'Shop');
      await again.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
      assert.deepEqual(
        versions.map((v) => v.version),
        sqliteMigrations.map((m) => m.version),
      );
    } finally {
      db.close();
    }
  });

  it('upgrades a database of an older version with its real-time activities intact (rowid table, unique ActivityId)', async () => {
    const file = path.join(dir, 'old.db');
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of sqliteMigrations.filter((m) => m.version <= 2)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
    }
    const activity = { ActivityId: 'rt-1', CustomerId: 'c1', ActivityTime: '2026-01-01T00:00:00.000Z', ActivityType: 'T', Origin: 'realtime' };
    old
      .prepare(
        `INSERT INTO realtime_activities (instance_id, activity_id, customer_id, activity_time, valid_until, content_hash, caller, created_at, data)
         VALUES ('shop', 'rt-1', 'c1', '2026-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z', 'h', 'pos', '2026-01-01T00:00:00.000Z', ?)`,
      )
      .run(JSON.stringify(activity));
    old.close();

    const store = openSqliteStore({ file });
    try {
      assert.deepEqual(await store.getActivity('shop', 'rt-1', '2026-06-01T00:00:00.000Z'), activity);
    } finally {
      await store.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      const table = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'realtime_activities'").get() as { sql: string };
      assert.doesNotMatch(table.sql, /WITHOUT ROWID/);
      const unique = db.prepare("SELECT \"unique\" AS u FROM pragma_index_list('realtime_activities') WHERE name = 'realtime_activities_id'").get() as { u: number };
      assert.equal(unique.u, 1);
    } finally {
      db.close();
    }
  });

  it("builds each generation's customers, measures, segment members, search terms, alternate keys, activities and enrichments in tables of their own, indexed at commit and dropped with the generation", async () => {
    const file = path.join(dir, 'own-tables.db');
    const store = openSqliteStore({ file });
    const schema = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare(`SELECT type, name FROM sqlite_schema WHERE name LIKE '%/shop/%' ORDER BY type, name`).all() as { type: string; name: string }[];
      } finally {
        db.close();
      }
    };
    const stages = { stages: [], summary: {}, endedAt: '2024-01-01T00:00:00.000Z' };
    const activity = (id: string, customerId: string) => ({
      ActivityId: id, CustomerId: customerId, ActivityTime: '2024-01-01T00:00:00.000Z', ActivityType: 'T', ActivityTypeDisplay: 'T',
      SourceEntityName: 'E', SourceActivityId: id, DataSourceName: 'S', Title: null, Description: null, Url: null, Icon: null,
      ShowInTimeline: true, Origin: 'batch' as const,
    });
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
      const run = (await store.createRun('shop', 'cli')).run;
      const tablesOf = (g: number) =>
        ['activities', 'alternate_keys', 'customer_enrichments', 'customer_measures', 'customers', 'search_terms', 'segment_members'].map((base) => ({ type: 'table', name: `${base}/shop/${g}` }));
      const indexesOf = (g: number) =>
        ['activities/shop/g/customer', 'activities/shop/g/key', 'alternate_keys/shop/g/customer', 'customer_enrichments/shop/g/key', 'customer_measures/shop/g/key', 'customers/shop/g/key', 'segment_members/shop/g/customer'].map(
          (name) => ({ type: 'index', name: name.replace('/g/', `/${g}/`) }),
        );
      const w1 = await store.beginGeneration('shop', run.jobId);
      // While loading: the tables, no secondary index yet.
      assert.deepEqual(schema(), tablesOf(1));
      await w1.writeCustomerMeasures([{ CustomerId: 'c1', Spend: 5 }]);
      await w1.writeSegmentMembers('Big', ['c1']);
      await w1.writeCustomers([{ CustomerId: 'c1' }]);
      await w1.writeAlternateKeys([{ DataSourceName: 'S', EntityName: 'E', AlternateValue: 'k1', CustomerId: 'c1' }]);
      await w1.writeActivities([activity('a1', 'c1')]);
      await store.enrichment.write('shop', w1.generation, encodeEnrichments([{ CustomerId: 'c1', NameFirst: 'Zoë' }]));
      // Not visible before commit.
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k1'), undefined);
      await w1.commit(stages);
      assert.deepEqual(schema(), [...indexesOf(1), ...tablesOf(1)]);
      assert.deepEqual(await store.enrichment.of('shop', 'c1'), { CustomerId: 'c1', NameFirst: 'Zoë' });
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k1'), 'c1');
      assert.deepEqual(await store.getCustomer('shop', 'c1'), { CustomerId: 'c1' });
      assert.deepEqual(await store.analytics.measuresOf('shop', 'c1'), { CustomerId: 'c1', Spend: 5 });
      assert.deepEqual(await store.analytics.segmentsOf('shop', 'c1'), ['Big']);
      assert.deepEqual((await store.activitiesOf('shop', 'c1')).map((a) => a.ActivityId), ['a1']);
      assert.equal(await store.count('shop', 'UnifiedActivity'), 1);

      const w2 = await store.beginGeneration('shop', run.jobId);
      await w2.writeCustomers([{ CustomerId: 'c2' }]);
      await w2.writeAlternateKeys([{ DataSourceName: 'S', EntityName: 'E', AlternateValue: 'k1', CustomerId: 'c2' }]);
      await w2.writeActivities([activity('a2', 'c2')]);
      await w2.commit(stages);
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k1'), 'c2');
      assert.equal(await store.pruneGenerations('shop'), 1);
      assert.deepEqual(schema(), [...indexesOf(2), ...tablesOf(2)]);
      assert.equal(await store.getCustomer('shop', 'c1'), undefined);
      assert.deepEqual(await store.getCustomer('shop', 'c2'), { CustomerId: 'c2' });
      const w3 = await store.beginGeneration('shop', run.jobId);
      await w3.writeAlternateKeys([{ DataSourceName: 'S', EntityName: 'E', AlternateValue: 'k9', CustomerId: 'c9' }]);
      await w3.abort();
      assert.equal(schema().length, 14);
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k1'), 'c2');
      // An ActivityId twice in one generation: its key index refuses it at commit, nothing switches.
      const w4 = await store.beginGeneration('shop', run.jobId);
      await w4.writeCustomers([{ CustomerId: 'c3' }]);
      await w4.writeActivities([activity('a3', 'c3'), activity('a3', 'c3')]);
      await assert.rejects(w4.commit(stages), /UNIQUE constraint failed/);
      await w4.abort();
      assert.equal(schema().length, 14);
      assert.deepEqual((await store.activitiesOf('shop', 'c2')).map((a) => a.ActivityId), ['a2']);
      // So does a CustomerId twice.
      const w5 = await store.beginGeneration('shop', run.jobId);
      await w5.writeCustomers([{ CustomerId: 'c4' }, { CustomerId: 'c4' }]);
      await assert.rejects(w5.commit(stages), /UNIQUE constraint failed/);
      await w5.abort();
      assert.equal(schema().length, 14);
      assert.deepEqual(await store.getCustomer('shop', 'c2'), { CustomerId: 'c2' });
    } finally {
      await store.close();
    }
  });

  it('reads and prunes a generation written into the shared tables before generations had tables of their own', async () => {
    const file = path.join(dir, 'shared-tables.db');
    let store = openSqliteStore({ file });
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
    const run = (await store.createRun('shop', 'cli')).run;
    await store.close();
    // Generation 1 as an older version stored it: rows in the shared tables.
    const db = new Database(file);
    const activity = { ActivityId: 'a1', CustomerId: 'c1', ActivityTime: '2024-01-01T00:00:00.000Z', ActivityType: 'T', Origin: 'batch' };
    db.exec(`INSERT INTO generations (instance_id, generation, job_id, status, created_at) VALUES ('shop', 1, '${run.jobId}', 'live', '2024-01-01T00:00:00.000Z');
      INSERT INTO customers (instance_id, generation, customer_id, data, source_modified) VALUES ('shop', 1, 'c1', '{"CustomerId":"c1"}', '2023-01-01T00:00:00.000Z');
      INSERT INTO customer_measures VALUES ('shop', 1, 'c1', '{"CustomerId":"c1","Spend":5}');
      INSERT INTO segment_members VALUES ('shop', 1, 'Big', 'c1');
      INSERT INTO search_terms VALUES ('shop', 1, 'email', 'a@b.c', 'c1');
      INSERT INTO alternate_keys VALUES ('shop', 1, 'S', 'E', 'k1', 'c1');
      INSERT INTO customer_enrichments VALUES ('shop', 1, 'c1', '{"CustomerId":"c1","NameFirst":"Ann"}');
      UPDATE instances SET current_generation = 1 WHERE id = 'shop';`);
    db.prepare(`INSERT INTO activities VALUES ('shop', 1, 'a1', 'c1', '2024-01-01T00:00:00.000Z', ?)`).run(JSON.stringify(activity));
    db.close();
    store = openSqliteStore({ file });
    const now = '2024-06-01T00:00:00.000Z';
    try {
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k1'), 'c1');
      assert.deepEqual(await store.getCustomer('shop', 'c1'), { CustomerId: 'c1' });
      assert.equal((await store.getProfile('shop', 'c1'))?.sourceModified, '2023-01-01T00:00:00.000Z');
      assert.deepEqual(await store.analytics.measuresOf('shop', 'c1'), { CustomerId: 'c1', Spend: 5 });
      assert.deepEqual(await store.analytics.segmentMembers('shop', 'Big'), ['c1']);
      const inSegment = await store.queryEntity(
        'shop',
        'Customer',
        { attributes: { CustomerId: 'string' }, filter: parseFilter("IsMemberOfSegment('Big')"), orderby: [], top: 10, skip: 0, count: true },
        now,
      );
      assert.deepEqual(inSegment, { rows: [{ CustomerId: 'c1' }], count: 1 });
      assert.equal(await store.count('shop', 'Customer_Measure'), 1);
      assert.deepEqual(await store.search.find('shop', { email: 'a@b.c' }, 10), [{ customerId: 'c1', matchedOn: 'email', matchedValue: 'a@b.c' }]);
      // A real-time update finds the customer of the old generation.
      assert.equal((await store.applyRealtime([profileWrite('c1')]))[0].status, 'updated');
      assert.deepEqual(await store.alternateKeysOf('shop', 'c1'), [{ DataSourceName: 'S', EntityName: 'E', AlternateValue: 'k1', CustomerId: 'c1' }]);
      assert.deepEqual(await store.getActivity('shop', 'a1', now), activity);
      assert.deepEqual(await store.activitiesOf('shop', 'c1', {}, now), [activity]);
      const keys = await store.queryEntity('shop', 'AlternateKey', { attributes: { CustomerId: 'string' }, orderby: [], top: 10, skip: 0, count: true }, now);
      assert.equal(keys.count, 1);
      assert.deepEqual(await store.enrichment.of('shop', 'c1'), { CustomerId: 'c1', NameFirst: 'Ann' });
      assert.equal(await store.count('shop', 'CustomerEnrichment'), 1);

      const w2 = await store.beginGeneration('shop', run.jobId);
      await w2.writeCustomers([{ CustomerId: 'c1' }]);
      await w2.writeAlternateKeys([{ DataSourceName: 'S', EntityName: 'E', AlternateValue: 'k2', CustomerId: 'c1' }]);
      await w2.commit({ stages: [], summary: {}, endedAt: now });
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k1'), undefined);
      assert.equal(await store.findCustomerIdByKey('shop', 'S', 'E', 'k2'), 'c1');
      // The override stays: c1 is in the new generation (carried over from the shared table's generation).
      assert.deepEqual((await store.getProfile('shop', 'c1'))?.overrides.map((o) => o.attribute), ['City']);
      assert.equal(await store.pruneGenerations('shop'), 1);
    } finally {
      await store.close();
    }
    const after = new Database(file, { readonly: true });
    try {
      for (const table of ['customers', 'customer_measures', 'segment_members', 'search_terms', 'alternate_keys', 'activities', 'customer_enrichments'])
        assert.equal(after.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get(), 0, table);
    } finally {
      after.close();
    }
  });

  it('works in memory', async () => {
    const store = openSqliteStore({ file: ':memory:' });
    try {
      assert.equal(await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir }), 'created');
      assert.equal((await store.createRun('shop', 'cli')).created, true);
    } finally {
      await store.close();
    }
  });

  it('with reader threads, a query that reads every profile leaves the event loop free; a bad filter is still a 400', async () => {
    const store = openSqliteStore({ file: path.join(dir, 'readers.db'), readerThreads: 1 });
    try {
      await refreshedWithCustomers(store, 40_000);
      const query = customerQuery(store);
      await query("FullName eq 'Name 1'"); // starts the thread
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      // contains() cannot use an index: every profile is read.
      const result = await query("contains(FullName, 'me 3999')");
      clearInterval(timer);
      assert.deepEqual(result.rows.map((r) => r.CustomerId), ['c003999', 'c039990', 'c039991', 'c039992', 'c039993', 'c039994', 'c039995', 'c039996', 'c039997', 'c039998']);
      assert.equal(result.count, 11);
      assert.ok(ticks > 0, 'timers ran while the reader thread read');
      await assert.rejects(query("FullName eq 3"), (err: Error) => err.name === 'ODataError' && /\$filter/.test(err.message));
    } finally {
      await store.close();
    }
  });

  it('with reader threads, a lookup by key is answered at once, not after the scans queued in the reader', async () => {
    const store = openSqliteStore({ file: path.join(dir, 'readers-keys.db'), readerThreads: 1 });
    try {
      await refreshedWithCustomers(store, 40_000);
      const query = customerQuery(store);
      await query("FullName eq 'Name 1'"); // starts the thread
      const answered: string[] = [];
      // Each contains() reads every profile in the one reader thread, one after the other.
      const scans = ['1', '2', '3'].map((d) => query(`contains(FullName, 'me 3999${d}')`).then((r) => (answered.push('scan'), r)));
      const lookup = query("CustomerId eq 'c012345'").then((r) => (answered.push('lookup'), r));
      const andLookup = query("FullName ne 'x' and CustomerId eq 'c000042'").then((r) => (answered.push('lookup'), r));
      const [one, two, ...scanned] = await Promise.all([lookup, andLookup, ...scans]);
      assert.deepEqual(answered, ['lookup', 'lookup', 'scan', 'scan', 'scan']);
      assert.deepEqual(one, { rows: [{ CustomerId: 'c012345', FullName: 'Name 12345' }], count: 1 });
      assert.deepEqual(two, { rows: [{ CustomerId: 'c000042', FullName: 'Name 42' }], count: 1 });
      assert.deepEqual(scanned.map((r) => r.count), [1, 1, 1]);
      // A bad filter that pins the key is still the reader path's 400.
      await assert.rejects(query("CustomerId eq 'c1' and FullName eq 3"), (err: Error) => err.name === 'ODataError' && /\$filter/.test(err.message));
    } finally {
      await store.close();
    }
  });

  it('isKeyLookup: an indexed key compared with eq to one string, alone or in an AND', () => {
    const lookup = (entity: Parameters<typeof isKeyLookup>[0], filter: string) => isKeyLookup(entity, parseFilter(filter));
    assert.equal(lookup('Customer', "CustomerId eq 'c1'"), true);
    assert.equal(lookup('Customer', "City eq 'Oslo' and (CustomerId eq 'c1')"), true);
    assert.equal(lookup('Customer_Measure', "CustomerId eq 'c1'"), true);
    assert.equal(lookup('CustomerEnrichment', "CustomerId eq 'c1'"), true);
    assert.equal(lookup('UnifiedActivity', "ActivityId eq 'a1'"), true);
    assert.equal(lookup('UnifiedActivity', "CustomerId eq 'c1' and ActivityType eq 'Purchase'"), true);
    assert.equal(lookup('AlternateKey', "CustomerId eq 'c1'"), true);
    assert.equal(isKeyLookup('Customer', undefined), false, 'no filter: every profile');
    assert.equal(lookup('Customer', "CustomerId ne 'c1'"), false);
    assert.equal(lookup('Customer', "CustomerId gt 'c1'"), false);
    assert.equal(lookup('Customer', "CustomerId eq 'c1' or City eq 'Oslo'"), false, 'an OR may read every profile');
    assert.equal(lookup('Customer', "not (CustomerId eq 'c1')"), false);
    assert.equal(lookup('Customer', "tolower(CustomerId) eq 'c1'"), false, 'a function of the key uses no index');
    assert.equal(lookup('Customer', "City eq 'Oslo'"), false);
    assert.equal(lookup('Customer', "CustomerId in ('c1', 'c2')"), false);
    assert.equal(lookup('AlternateKey', "AlternateValue eq 'x'"), false, 'the key ring is indexed by source and value together');
  });

  it('a reader thread that dies fails only its own queries; the next query gets a new thread', async () => {
    const file = path.join(dir, 'readers-crash.db');
    const store = openSqliteStore({ file });
    await refreshedWithCustomers(store, 40_000);
    await store.close();
    const pool = new ReaderPool(file, 1);
    const thread = () => (pool as unknown as { readers: ({ worker: { terminate(): Promise<number> } } | null)[] }).readers[0];
    // With no scan waiting, lookups by key go to the thread too, never to the caller.
    const notHere = (): never => {
      throw new Error('answered outside the reader threads');
    };
    try {
      const query = (filter: string) =>
        pool.queryEntity(
          'shop',
          'Customer',
          { attributes: { CustomerId: 'string', FullName: 'string' }, filter: parseFilter(filter), orderby: [], top: 10, skip: 0, count: true },
          '2024-06-01T00:00:00.000Z',
          notHere,
        );
      const one = { rows: [{ CustomerId: 'c000007', FullName: 'Name 7' }], count: 1 };
      assert.deepEqual(await query("CustomerId eq 'c000007'"), one);
      // The thread goes away while a query that reads every profile is waiting for it.
      const waiting = query("contains(FullName, 'nobody')");
      await thread()!.worker.terminate();
      await assert.rejects(waiting, /reader thread stopped/);
      assert.equal(thread(), null, 'the dead thread is let go');
      assert.deepEqual(await query("CustomerId eq 'c000007'"), one, 'the next query gets a new thread');
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.queryEntity('shop', 'Customer', { attributes: { CustomerId: 'string' }, orderby: [], top: 1, skip: 0, count: false }, 'x', notHere), /closed/);
  });

  it('abort and pruneGenerations really delete the rows', async () => {
    const file = path.join(dir, 'prune.db');
    const store = openSqliteStore({ file });
    const rows = () => {
      const db = new Database(file, { readonly: true });
      try {
        const n = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n;
        // Per-generation data: the shared table plus each generation's own table.
        const all = (base: string) =>
          (db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND (name = ? OR name LIKE ? || '/%')`).pluck().all(base, base) as string[])
            .reduce((sum, table) => sum + n(table), 0);
        return { generations: n('generations'), customers: all('customers'), keys: all('alternate_keys'), activities: all('activities') };
      } finally {
        db.close();
      }
    };
    const activity = (id: string) => ({
      ActivityId: id, CustomerId: 'c1', ActivityTime: '2024-01-01T00:00:00.000Z', ActivityType: 'T', ActivityTypeDisplay: 'T',
      SourceEntityName: 'E', SourceActivityId: id, DataSourceName: 'S', Title: null, Description: null, Url: null, Icon: null,
      ShowInTimeline: true, Origin: 'batch' as const,
    });
    const fill = async (w: Awaited<ReturnType<typeof store.beginGeneration>>, n: number) => {
      await w.writeCustomers(Array.from({ length: n }, (_, i) => ({ CustomerId: `c${i}` })));
      await w.writeAlternateKeys(Array.from({ length: n }, (_, i) => ({ DataSourceName: 'S', EntityName: 'E', AlternateValue: `k${i}`, CustomerId: `c${i}` })));
      await w.writeActivities(Array.from({ length: n }, (_, i) => activity(`a${i}`)));
    };
    const stages = { stages: [], summary: {}, endedAt: '2024-01-01T00:00:00.000Z' };
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
      let run = (await store.createRun('shop', 'cli')).run;
      const w1 = await store.beginGeneration('shop', run.jobId);
      await fill(w1, 2);
      await w1.commit(stages);
      assert.deepEqual(rows(), { generations: 1, customers: 2, keys: 2, activities: 2 });

      run = (await store.createRun('shop', 'cli')).run;
      const w2 = await store.beginGeneration('shop', run.jobId);
      await fill(w2, 3);
      assert.deepEqual(rows(), { generations: 2, customers: 5, keys: 5, activities: 5 });
      await w2.abort();
      assert.deepEqual(rows(), { generations: 1, customers: 2, keys: 2, activities: 2 });

      const w3 = await store.beginGeneration('shop', run.jobId);
      await fill(w3, 4);
      await w3.commit(stages);
      assert.deepEqual(rows(), { generations: 2, customers: 6, keys: 6, activities: 6 });
      assert.equal(await store.pruneGenerations('shop'), 1);
      assert.deepEqual(rows(), { generations: 1, customers: 4, keys: 4, activities: 4 });

      // Larger than one deletion chunk (5,000 rows a transaction): every chunk goes.
      const w4 = await store.beginGeneration('shop', run.jobId);
      await fill(w4, 12_000);
      assert.deepEqual(rows(), { generations: 2, customers: 12_004, keys: 12_004, activities: 12_004 });
      await w4.abort();
      assert.deepEqual(rows(), { generations: 1, customers: 4, keys: 4, activities: 4 });
    } finally {
      await store.close();
    }
  });
  it('a generation loaded in a thread: enrichment rows move to it, none is kept (or copied) here', async () => {
    const store = openSqliteStore({ file: path.join(tempDir(), 'moved.db'), generationLoading: 'thread' });
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
      const { run } = await store.createRun('shop', 'cli');
      const w = await store.beginGeneration('shop', run.jobId);
      const rows = encodeEnrichments([{ CustomerId: 'c1', EmailDomain: 'a.com' }]);
      const written = w.writeEnrichments(rows);
      // Buffers held here would count as this thread's external memory (see refresh/enrich.ts).
      assert.equal(rows.bytes.byteLength, 0, 'the bytes moved to the thread');
      assert.equal(rows.offsets.length, 0, 'the offsets moved to the thread');
      await written;
      await w.writeCustomers([{ CustomerId: 'c1' }]);
      await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
      assert.deepEqual(await store.enrichment.of('shop', 'c1'), { CustomerId: 'c1', EmailDomain: 'a.com' });
    } finally {
      await store.close();
    }
  });
  it('a generation loaded in a thread: a failed write fails flush and commit with its error; abort leaves no lock behind', async () => {
    const file = path.join(tempDir(), 'thread.db');
    const store = openSqliteStore({ file, generationLoading: 'thread' });
    const stages = { stages: [], summary: {}, endedAt: new Date().toISOString() };
    const tables = () => store.count('shop', 'Customer');
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
      const { run } = await store.createRun('shop', 'cli');
      const good = await store.beginGeneration('shop', run.jobId);
      await good.writeCustomers([{ CustomerId: 'c1', City: 'Paris' }]);
      await good.commit(stages);
      assert.equal(await tables(), 1);

      // A row the table refuses (NOT NULL activity_time): the write was handed over, its failure shows at flush.
      const bad = await store.beginGeneration('shop', run.jobId);
      await bad.writeCustomers([{ CustomerId: 'c2' }]);
      await bad.writeActivities([{ ActivityId: 'a1', CustomerId: 'c2', ActivityTime: null } as never]);
      await assert.rejects(bad.flush(), /NOT NULL constraint failed/);
      await assert.rejects(bad.commit(stages), /NOT NULL constraint failed/);
      await bad.abort();
      // The same CustomerId twice: the key index built at commit refuses it; readers keep generation 1.
      const twice = await store.beginGeneration('shop', run.jobId);
      await twice.writeCustomers([{ CustomerId: 'c3' }, { CustomerId: 'c3' }]);
      await assert.rejects(twice.commit(stages), /UNIQUE constraint failed/);
      await twice.abort();
      assert.deepEqual(await store.getCustomer('shop', 'c1'), { CustomerId: 'c1', City: 'Paris' });
      const db = new Database(file, { readonly: true });
      try {
        const left = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '%/shop/%' AND name NOT LIKE '%/shop/1'`).all();
        assert.deepEqual(left, [], 'the failed generations are gone');
        assert.deepEqual(db.prepare('SELECT generation FROM generations ORDER BY generation').pluck().all(), [1]);
        // Values packed as bytes for the thread are stored as text, nulls as nulls.
        assert.deepEqual(db.prepare('SELECT typeof(customer_id), typeof(data), typeof(source_modified) FROM "customers/shop/1"').raw().all(), [['text', 'text', 'null']]);
      } finally {
        db.close();
      }
      // No thread kept a lock or a transaction: real-time writes and the next generation go through.
      assert.equal((await store.applyRealtime([profileWrite('c1')]))[0].status, 'updated');
      const next = await store.beginGeneration('shop', run.jobId);
      await next.writeCustomers([{ CustomerId: 'c1', City: 'Lyon' }]);
      await next.commit(stages);
      assert.equal(await tables(), 1);
    } finally {
      await store.close();
    }
  });
  it('a refresh of the demo stores the same generation whether it is loaded in a thread or on the store\'s connection', async () => {
    const demo = loadInstanceDefinition(path.resolve(import.meta.dirname, '../../examples/demo/instance.yaml'));
    const refreshed = async (generationLoading: 'thread' | 'inline') => {
      const store = openSqliteStore({ file: path.join(tempDir(), 'demo.db'), generationLoading });
      await store.putInstance({ id: 'demo', name: 'Demo', definition: demo.definition, sourceFile: demo.file, baseDir: demo.baseDir });
      const run = await runRefresh({ store, run: (await store.createRun('demo', 'cli')).run });
      assert.equal(run.status, 'successful', run.error ?? '');
      return { store, run };
    };
    const inline = await refreshed('inline');
    const thread = await refreshed('thread');
    try {
      const dump = async (store: Store) => {
        const out: Record<string, unknown[]> = {};
        for (const entity of ['Customer', 'UnifiedActivity', 'AlternateKey', 'CustomerEnrichment', 'Customer_Measure'] as const) {
          out[entity] = [];
          for await (const batch of store.scan('demo', entity)) out[entity].push(...batch);
        }
        for (const segment of demo.definition.segments ?? []) out[`segment ${segment.name}`] = await store.analytics.segmentMembers('demo', segment.name, { top: 100_000 });
        out.search = await store.search.find('demo', { namePrefix: 'a' }, 1000);
        const attributes = unifiedSchema(resolveInstance(demo.definition, demo.baseDir)).customer.queryTypes;
        const query = { attributes, filter: parseFilter("City eq 'Berlin'"), orderby: [], top: 1000, skip: 0, count: false };
        out.filtered = (await store.queryEntity('demo', 'Customer', query, new Date().toISOString())).rows;
        return out;
      };
      const expected = await dump(inline.store);
      assert.ok(expected.Customer.length > 300 && expected.UnifiedActivity.length > 0 && expected.Customer_Measure.length > 0);
      assert.ok((expected.search as unknown[]).length > 0 && (expected.filtered as unknown[]).length > 0);
      assert.deepEqual(await dump(thread.store), expected);
      // The write stage overlaps the stages after merge: it starts before activities and ends after segments.
      const stage = (name: string) => thread.run.stages.find((s) => s.name === name)!;
      assert.ok(stage('write').startedAt! <= stage('activities').startedAt! && stage('write').endedAt! >= stage('segments').endedAt!);
      assert.equal(stage('write').counts.customers, expected.Customer.length);
      assert.ok(stage('write').counts.searchTerms > 0);
    } finally {
      await inline.store.close();
      await thread.store.close();
    }
  });
  it('while a thread loads a generation, a run update that finds the database locked is kept and written once the lock is free', async () => {
    const file = path.join(tempDir(), 'deferred.db');
    const store = openSqliteStore({ file, generationLoading: 'thread' });
    const other = new Database(file);
    try {
      await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
      const { run } = await store.createRun('shop', 'cli');
      const w = await store.beginGeneration('shop', run.jobId);
      const status = () => other.prepare('SELECT status FROM runs WHERE job_id = ?').pluck().get(run.jobId);
      other.exec('BEGIN IMMEDIATE');
      const t0 = performance.now();
      await store.updateRun('shop', run.jobId, { status: 'running' });
      assert.ok(performance.now() - t0 < 1000, 'did not wait for the lock');
      assert.equal(status(), 'queued');
      other.exec('COMMIT');
      const until = Date.now() + 5000;
      while (status() !== 'running' && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(status(), 'running', 'written once the lock was free');
      // Kept updates are written at the latest when the generation ends.
      other.exec('BEGIN IMMEDIATE');
      await store.updateRun('shop', run.jobId, { error: 'kept' });
      other.exec('COMMIT');
      await w.writeCustomers([{ CustomerId: 'c1' }]);
      await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
      assert.equal(other.prepare('SELECT status FROM runs WHERE job_id = ?').pluck().get(run.jobId), 'successful');
      assert.equal((await store.getRun('shop', run.jobId))?.error, 'kept');
    } finally {
      other.close();
      await store.close();
    }
  });
});
