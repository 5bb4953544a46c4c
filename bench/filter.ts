/**
 * How long a Customer `$filter` takes on the store (SQLite, or PostgreSQL), with and without the filter index
 * (the instance definition's `filterIndex`), against a key lookup measured in the same run.
 *
 *   node --import tsx bench/filter.ts [--records 100000] [--index City,Email,LastName] [--repeat 20]
 *        [--results-file FILE] [--database-url postgres://…] [--keep (leave the PostgreSQL schemas)]
 *
 * Generates (or reuses) bench/out/data-N-seed42, refreshes it into two fresh stores (one without,
 * one with the index), sets real-time overrides on 1 % of the profiles (the overlay must be read
 * on every query), then times each query through Store.queryEntity, as the data API calls it:
 * the median of --repeat runs. Without an index, a filter reads every profile (a scan); with
 * it, an index seek. Query results must be the same in both stores, or the run fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveInstance } from '../src/config/resolve.js';
import { unifiedSchema } from '../src/domain/unified-schema.js';
import { parseFilter } from '../src/api/odata/filter.js';
import { runRefresh, REFRESH_PAGE_CACHE_MIB } from '../src/refresh/pipeline.js';
import { openSqliteStore } from '../src/storage/sqlite/store.js';
import { openPostgresStore } from '../src/storage/postgres/store.js';
import pg from 'pg';
import type { Store } from '../src/storage/store.js';
import type { RealtimeWrite } from '../src/domain/realtime.js';
import { fmtInt } from './children.js';
import { generatedInstance } from './data.js';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const records = Number(option('records') ?? 100_000);
const indexed = (option('index') ?? 'City,Email,LastName').split(',').filter(Boolean);
const repeat = Number(option('repeat') ?? 20);
/** --database-url: the two stores are PostgreSQL schemas (kindred_bench_filter_*) instead of SQLite files. */
const databaseUrl = option('database-url');
const log = (msg: string) => console.log(`[${(performance.now() / 1000).toFixed(1).padStart(6)} s] ${msg}`);

const loaded = await generatedInstance(records, log);
const work = mkdtempSync(path.join(os.tmpdir(), 'kindred-filter-'));

async function openStore(name: string): Promise<Store> {
  if (!databaseUrl) return openSqliteStore({ file: path.join(work, `${name}.db`), pageCacheMiB: REFRESH_PAGE_CACHE_MIB });
  const schema = `kindred_bench_filter_${name}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  return openPostgresStore({ connectionString: databaseUrl, schema, maxConnections: 4 });
}

async function refreshed(name: string, filterIndex: string[]): Promise<{ store: Store; ms: number; indexMs: number | null }> {
  const store = await openStore(name);
  const definition = { ...loaded.definition, ...(filterIndex.length ? { filterIndex } : {}) };
  await store.putInstance({ id: definition.id, name: definition.id, definition, sourceFile: loaded.file, baseDir: loaded.baseDir });
  const { run } = await store.createRun(definition.id, 'cli');
  const t0 = performance.now();
  const result = await runRefresh({ store, run });
  const ms = performance.now() - t0;
  if (result.status !== 'successful') throw new Error(`refresh ${result.status}: ${result.error}`);
  const write = result.stages.find((s) => s.name === 'write');
  const indexMs = (write?.counts as Record<string, number> | undefined)?.filterIndexMs ?? null;
  log(`${name}: refreshed in ${(ms / 1000).toFixed(1)} s${indexMs !== null ? ` (filter index ${fmtInt(indexMs)} ms)` : ''}`);
  return { store, ms, indexMs };
}

const plain = await refreshed('plain', []);
const withIndex = await refreshed('indexed', indexed);
const instanceId = loaded.definition.id;
const schema = unifiedSchema(resolveInstance(loaded.definition, loaded.baseDir));
const attributes = schema.customer.queryTypes;

// Values to look for: the most and the least frequent City, one existing email and last name.
const all = await plain.store.queryEntity(instanceId, 'Customer', { attributes, orderby: [], top: 1_000_000_000, skip: 0, count: false }, new Date().toISOString());
const customers = all.rows;
const frequency = new Map<string, number>();
for (const c of customers) if (typeof c.City === 'string') frequency.set(c.City, (frequency.get(c.City) ?? 0) + 1);
const byFrequency = [...frequency].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
const [commonCity, commonCount] = byFrequency[0];
const [rareCity, rareCount] = byFrequency[byFrequency.length - 1];
// A profile from the middle with an email, a last name and a city.
const sample = customers
  .slice(Math.floor(customers.length / 2))
  .find((c) => typeof c.Email === 'string' && typeof c.LastName === 'string' && typeof c.City === 'string') as Record<string, string>;
log(`${fmtInt(customers.length)} profiles; City '${commonCity}' × ${fmtInt(commonCount)}, '${rareCity}' × ${rareCount}`);

// Real-time overrides on 1 % of the profiles, the same in both stores: some move a profile to the rare city.
const until = new Date(Date.now() + 3_600_000).toISOString();
const overrides = customers.filter((_, i) => i % 100 === 7).map((c, i): RealtimeWrite => ({
  kind: 'profile',
  instanceId,
  customerId: c.CustomerId as string,
  changes: i % 2 ? ({ City: rareCity } as Record<string, string>) : { LastName: 'Overridden' },
  caller: 'bench',
  setAt: new Date().toISOString(),
  validUntil: until,
}));
for (const s of [plain.store, withIndex.store]) await s.applyRealtime(overrides);

const q = (text: string) => parseFilter(text);
const esc = (s: string) => s.replace(/'/g, "''");
const queries: { name: string; filter: ReturnType<typeof q>; count?: boolean; top?: number }[] = [
  { name: `CustomerId eq (key lookup, the baseline)`, filter: q(`CustomerId eq '${esc(sample.CustomerId)}'`) },
  { name: `City eq rare ('${rareCity}'), $top=10`, filter: q(`City eq '${esc(rareCity)}'`), top: 10 },
  { name: `City eq common ('${commonCity}'), $top=10`, filter: q(`City eq '${esc(commonCity)}'`), top: 10 },
  { name: `City eq common, $top=1000`, filter: q(`City eq '${esc(commonCity)}'`), top: 1000 },
  { name: `City eq (no such city), $top=10`, filter: q(`City eq 'Nowhere at all'`), top: 10 },
  { name: `City eq common, $count`, filter: q(`City eq '${esc(commonCity)}'`), top: 1, count: true },
  { name: `Email eq`, filter: q(`Email eq '${esc(sample.Email)}'`) },
  { name: `LastName eq and City eq`, filter: q(`LastName eq '${esc(sample.LastName)}' and City eq '${esc(sample.City)}'`) },
  { name: `City in (rare, no such city)`, filter: q(`City in ('${esc(rareCity)}', 'Nowhere at all')`) },
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const results: { query: string; rows: number; count?: number; plainMs: number; indexedMs: number }[] = [];
for (const query of queries) {
  const run = async (store: Store) => {
    const times: number[] = [];
    let out!: Awaited<ReturnType<Store['queryEntity']>>;
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      out = await store.queryEntity(
        instanceId,
        'Customer',
        { attributes, filter: query.filter, orderby: [], top: query.top ?? 100, skip: 0, count: query.count ?? false },
        new Date().toISOString(),
      );
      times.push(performance.now() - t);
    }
    return { ms: median(times), out };
  };
  const a = await run(plain.store);
  const b = await run(withIndex.store);
  if (JSON.stringify(a.out) !== JSON.stringify(b.out)) throw new Error(`${query.name}: the indexed store answered differently`);
  results.push({ query: query.name, rows: a.out.rows.length, count: a.out.count, plainMs: a.ms, indexedMs: b.ms });
  log(`${query.name}: ${a.out.rows.length} rows${a.out.count !== undefined ? ` (count ${a.out.count})` : ''}; scan ${a.ms.toFixed(2)} ms, indexed ${b.ms.toFixed(2)} ms`);
}

for (const s of [plain.store, withIndex.store]) await s.close();
rmSync(work, { recursive: true, force: true });
if (databaseUrl && !argv.includes('--keep')) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  for (const name of ['plain', 'indexed']) await client.query(`DROP SCHEMA IF EXISTS "kindred_bench_filter_${name}" CASCADE`);
  await client.end();
}

const baseline = results[0].indexedMs;
console.log(`\n${databaseUrl ? 'PostgreSQL' : 'SQLite'}: ${fmtInt(records)} customer records, ${fmtInt(customers.length)} profiles, ${fmtInt(overrides.length)} with a real-time override; filter index on ${indexed.join(', ')}; median of ${repeat}`);
console.log(`refresh: ${(plain.ms / 1000).toFixed(1)} s without the index, ${(withIndex.ms / 1000).toFixed(1)} s with it${withIndex.indexMs !== null ? ` (building it: ${fmtInt(withIndex.indexMs)} ms)` : ''}\n`);
console.log('| query | rows | no index ms | indexed ms | indexed / key lookup |');
console.log('|:--|--:|--:|--:|--:|');
for (const r of results) {
  console.log(`| ${r.query} | ${fmtInt(r.rows)}${r.count !== undefined ? ` (count ${fmtInt(r.count)})` : ''} | ${r.plainMs.toFixed(2)} | ${r.indexedMs.toFixed(2)} | ${(r.indexedMs / baseline).toFixed(1)}× |`);
}
const out = option('results-file');
if (out) writeFileSync(out, JSON.stringify({ store: databaseUrl ? 'postgres' : 'sqlite', records, profiles: customers.length, overrides: overrides.length, indexed, repeat, refreshMs: { plain: plain.ms, indexed: withIndex.ms, index: withIndex.indexMs }, results }, null, 2));

