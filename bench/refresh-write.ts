/**
 * Probe of the refresh's write stage: how long SQLite takes to store one generation, and what
 * changes it. Not a fix: it replays the exact rows a refresh produces into fresh databases with
 * the store's schema, under several insert strategies, so the cost can be attributed.
 *
 *   node --max-old-space-size=6144 --import tsx bench/refresh-write.ts [--size 100000] [--variants a,b,...] [--synchronous FULL|NORMAL]
 *
 * Needs the data set of bench/refresh.ts (bench/out/data-<size>-seed42/; run that first).
 * Captures customers / alternate keys / activities by running the real pipeline with a writer that
 * only records the rows, then for each variant writes them as src/refresh/write.ts +
 * src/storage/sqlite/store.ts do (batches of 5,000 rows, one transaction per batch, same SQL).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadInstanceDefinition } from '../src/config/load.js';
import { openSqliteStore } from '../src/storage/sqlite/store.js';
import { sqliteMigrations } from '../src/storage/sqlite/migrations.js';
import { runRefresh } from '../src/refresh/pipeline.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord } from '../src/domain/profile.js';
import type { GenerationWriter, Store } from '../src/storage/store.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (n: string) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const size = Number(opt('size') ?? 100_000);
const dataDir = path.join(ROOT, 'bench', 'out', `data-${size}-seed42`);
const BATCH = 5_000;
/** As src/storage/sqlite/store.ts sets it (FULL since commit 3842281; NORMAL before). */
const synchronous = (opt('synchronous') ?? 'FULL').toUpperCase();

interface Captured {
  customers: CustomerRecord[];
  /** source_modified of each customer (second argument of writeCustomers). */
  modified: (string | null)[];
  keys: AlternateKeyRecord[];
  activities: ActivityRecord[];
}

/** Runs the real refresh on a fresh store, keeping the rows the write stage would store. */
async function capture(): Promise<Captured> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-write-probe-'));
  const store = openSqliteStore({ file: path.join(dir, 'kindred.db') });
  const got: Captured = { customers: [], modified: [], keys: [], activities: [] };
  try {
    const loaded = loadInstanceDefinition(path.join(dataDir, 'instance.yaml'));
    const { definition } = loaded;
    await store.putInstance({ id: definition.id, name: definition.id, definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
    const capturing: Store = Object.create(store, {
      beginGeneration: {
        value: async (instanceId: string, jobId: string): Promise<GenerationWriter> => {
          const real = await store.beginGeneration(instanceId, jobId);
          return {
            generation: real.generation,
            writeCustomers: async (rows, modified) => {
              for (let i = 0; i < rows.length; i++) {
                got.customers.push(rows[i]);
                got.modified.push(modified?.[i] ?? null);
              }
            },
            writeAlternateKeys: async (rows) => void got.keys.push(...rows),
            writeActivities: async (rows) => void got.activities.push(...rows),
            setFieldSourceLegend: async () => {},
            buildSearchTerms: async () => 0,
            indexCustomerAttributes: async () => 0,
            writeCustomerMeasures: (rows) => real.writeCustomerMeasures(rows),
            writeSegmentMembers: (segment, ids) => real.writeSegmentMembers(segment, ids),
            writeEnrichments: (rows) => real.writeEnrichments(rows),
            complete: (part) => real.complete(part),
            flush: () => real.flush(),
            commit: (run) => real.commit(run),
            abort: () => real.abort(),
          };
        },
      },
    });
    const { run } = await store.createRun(definition.id, 'cli');
    const t0 = performance.now();
    const result = await runRefresh({ store: capturing, run });
    if (result.status !== 'successful') throw new Error(`refresh ${result.status}: ${result.error}`);
    const write = result.stages.find((s) => s.name === 'write')!;
    console.log(
      `captured ${got.customers.length} customers, ${got.keys.length} alternate keys, ${got.activities.length} activities ` +
        `(refresh without SQLite inserts: ${((performance.now() - t0) / 1000).toFixed(1)} s, write stage ${write.durationMs} ms)`,
    );
    return got;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Variant {
  name: string;
  /** PRAGMAs after the store's own (WAL, synchronous). */
  pragmas?: string[];
  /** Sort each table's rows by its primary key before inserting. */
  sorted?: boolean;
  /** One transaction for everything instead of one per 5,000-row batch. */
  oneTransaction?: boolean;
  /** Drop the secondary indexes before loading and create them afterwards. */
  indexesAfter?: boolean;
  /** Store customers / activities without the JSON data column (measures JSON.stringify + row size). */
  noJson?: boolean;
}

const VARIANTS: Record<string, Variant> = {
  a: { name: 'as the store does it (5,000-row transactions, default 2 MiB page cache)' },
  b: { name: 'cache_size = 1 GiB', pragmas: ['cache_size = -1048576'] },
  c: { name: 'rows sorted by primary key', sorted: true },
  d: { name: 'secondary indexes created after loading', indexesAfter: true },
  e: { name: 'one transaction', oneTransaction: true },
  f: { name: 'cache 1 GiB + sorted + indexes after', pragmas: ['cache_size = -1048576'], sorted: true, indexesAfter: true },
  g: { name: 'JSON data column left empty (no JSON.stringify)', noJson: true },
  h: { name: 'sorted + indexes after (default cache)', sorted: true, indexesAfter: true },
  i: { name: 'cache 1 GiB + sorted + indexes after + one transaction', pragmas: ['cache_size = -1048576'], sorted: true, indexesAfter: true, oneTransaction: true },
};

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function writeVariant(rows: Captured, v: Variant): Record<string, number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-write-probe-'));
  const file = path.join(dir, 'probe.db');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    for (const p of v.pragmas ?? []) db.pragma(p);
    for (const m of sqliteMigrations) db.exec(m.sql);
    const indexes = ['alternate_keys_customer', 'activities_customer'];
    const indexSql = indexes.map((n) => (db.prepare(`SELECT sql FROM sqlite_master WHERE name = ?`).get(n) as { sql: string }).sql);
    if (v.indexesAfter) for (const n of indexes) db.exec(`DROP INDEX ${n}`);
    const instanceId = 'bench';
    const generation = 1;
    const insertCustomer = db.prepare('INSERT INTO customers (instance_id, generation, customer_id, data, source_modified) VALUES (?, ?, ?, ?, ?)');
    const insertKey = db.prepare('INSERT INTO alternate_keys (instance_id, generation, data_source, entity, alternate_value, customer_id) VALUES (?, ?, ?, ?, ?, ?)');
    const insertActivity = db.prepare('INSERT INTO activities (instance_id, generation, activity_id, customer_id, activity_time, data) VALUES (?, ?, ?, ?, ?, ?)');

    let customers = rows.customers.map((c, i) => ({ c, modified: rows.modified[i] }));
    const u0 = process.resourceUsage();
    const t0 = performance.now();
    let keys = rows.keys;
    let activities = rows.activities;
    if (v.sorted) {
      customers = [...customers].sort((a, b) => cmp(a.c.CustomerId, b.c.CustomerId));
      keys = [...keys].sort((a, b) => cmp(a.DataSourceName, b.DataSourceName) || cmp(a.EntityName, b.EntityName) || cmp(a.AlternateValue, b.AlternateValue));
      activities = [...activities].sort((a, b) => cmp(a.ActivityId, b.ActivityId));
    }
    const tSorted = performance.now();
    const json = (o: object) => (v.noJson ? '' : JSON.stringify(o));
    const c = db.transaction((b: { c: CustomerRecord; modified: string | null }[]) => {
      for (const r of b) insertCustomer.run(instanceId, generation, r.c.CustomerId, json(r.c), r.modified);
    });
    const k = db.transaction((b: AlternateKeyRecord[]) => {
      for (const r of b) insertKey.run(instanceId, generation, r.DataSourceName, r.EntityName, r.AlternateValue, r.CustomerId);
    });
    const a = db.transaction((b: ActivityRecord[]) => {
      for (const r of b) insertActivity.run(instanceId, generation, r.ActivityId, r.CustomerId, r.ActivityTime, json(r));
    });
    const times: Record<string, number> = {};
    const load = () => {
      for (const [name, list, fn] of [
        ['customers', customers, c],
        ['alternateKeys', keys, k],
        ['activities', activities, a],
      ] as const) {
        const t = performance.now();
        for (let i = 0; i < list.length; i += BATCH) (fn as (b: unknown[]) => void)(list.slice(i, i + BATCH));
        times[name] = performance.now() - t;
      }
    };
    if (v.oneTransaction) db.transaction(load)();
    else load();
    const tIdx = performance.now();
    if (v.indexesAfter) for (const sql of indexSql) db.exec(sql);
    const t1 = performance.now();
    const u1 = process.resourceUsage();
    const walBytes = (() => {
      try {
        return statSync(file + '-wal').size;
      } catch {
        return 0;
      }
    })();
    return {
      totalMs: t1 - t0,
      sortMs: tSorted - t0,
      customersMs: times.customers,
      alternateKeysMs: times.alternateKeys,
      activitiesMs: times.activities,
      indexMs: t1 - tIdx,
      cpuUserMs: (u1.userCPUTime - u0.userCPUTime) / 1000,
      cpuSysMs: (u1.systemCPUTime - u0.systemCPUTime) / 1000,
      fsWriteOps: u1.fsWrite - u0.fsWrite,
      fsReadOps: u1.fsRead - u0.fsRead,
      dbMiB: statSync(file).size / 2 ** 20,
      walMiB: walBytes / 2 ** 20,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = await capture();
// JSON.stringify alone, for scale.
{
  const t = performance.now();
  let n = 0;
  for (const r of rows.customers) n += JSON.stringify(r).length;
  for (const r of rows.activities) n += JSON.stringify(r).length;
  console.log(`JSON.stringify of every customer and activity: ${(performance.now() - t).toFixed(0)} ms (${(n / 2 ** 20).toFixed(0)} MiB of JSON)`);
}
const chosen = (opt('variants') ?? Object.keys(VARIANTS).join(',')).split(',');
console.log(`size ${size}; synchronous = ${synchronous}; ${os.availableParallelism()} cores; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const key of chosen) {
  const v = VARIANTS[key];
  if (!v) throw new Error(`unknown variant ${key}`);
  const r = writeVariant(rows, v);
  console.log(
    `${key}. ${v.name.padEnd(72)} ${(r.totalMs / 1000).toFixed(2).padStart(7)} s ` +
      `(customers ${(r.customersMs / 1000).toFixed(2)}, keys ${(r.alternateKeysMs / 1000).toFixed(2)}, activities ${(r.activitiesMs / 1000).toFixed(2)}, ` +
      `sort ${(r.sortMs / 1000).toFixed(2)}, index ${(r.indexMs / 1000).toFixed(2)} s; cpu user ${(r.cpuUserMs / 1000).toFixed(1)} + sys ${(r.cpuSysMs / 1000).toFixed(1)} s; ` +
      `db ${r.dbMiB.toFixed(0)} MiB, wal ${r.walMiB.toFixed(0)} MiB)`,
  );
}
