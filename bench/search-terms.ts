/**
 * Cost of building the customer search terms of one generation (GenerationWriter.buildSearchTerms),
 * SQLite (one INSERT ... SELECT, folding in SQL with a JavaScript function for unusual names)
 * against PostgreSQL (customers read a page at a time, folded in JavaScript, bulk inserted), on the
 * same synthetic customers in the same run. Needs PostgreSQL (KINDRED_TEST_POSTGRES_URL or
 * 127.0.0.1:5432); its run uses a schema of its own, dropped afterwards.
 *
 *   node --import tsx bench/search-terms.ts [customers=100000] [rounds=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InstanceDefinition } from '../src/config/schema.js';
import type { CustomerRecord } from '../src/domain/profile.js';
import type { SearchSpec } from '../src/domain/search-terms.js';
import { openPostgresStore } from '../src/storage/postgres/store.js';
import { openSqliteStore } from '../src/storage/sqlite/store.js';
import type { GenerationWriter } from '../src/storage/store.js';
import { freshSchema, POSTGRES_URL } from '../test/storage/postgres-helpers.js';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const FIRST = ['John', 'Jane', 'José', 'Zoë', 'Łukasz', 'Søren', 'Ana', 'François', 'Mohammed', 'Émilie', 'Björn', 'Li'];
const LAST = ['Smith', 'Ångström', "O'Brien", 'Müller', 'García', 'Nguyen', 'Doe', 'Kowalski', 'Dupont', 'White'];
const customers: CustomerRecord[] = Array.from({ length: N }, (_, i) => ({
  CustomerId: `c${String(i).padStart(8, '0')}`,
  FullName: `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}${i % 5 === 0 ? ' Jr' : ''}`,
  Email: `User.${i}@Example.com`,
  Phone: i % 3 === 0 ? null : `(415) 555-${String(i % 10000).padStart(4, '0')}`,
}));
const spec: SearchSpec = { nameFields: ['FullName'], emailFields: ['Email'], phoneFields: ['Phone'], phoneRegion: 'US' };
const definition = {
  id: 'bench',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

interface Opened {
  putInstance: (i: { id: string; name: string; definition: InstanceDefinition; sourceFile: string; baseDir: string }) => Promise<unknown>;
  createRun: (id: string, t: 'cli') => Promise<{ run: { jobId: string } }>;
  beginGeneration: (id: string, job: string) => Promise<GenerationWriter>;
  updateRun: (id: string, job: string, patch: { status: 'failed' }) => Promise<void>;
  close: () => Promise<void>;
}

/** Milliseconds of buildSearchTerms per round (each round a new generation of the same customers). */
async function measure(store: Opened): Promise<{ ms: number[]; terms: number }> {
  await store.putInstance({ id: 'bench', name: 'bench', definition, sourceFile: 'x', baseDir: '/' });
  const ms: number[] = [];
  let terms = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const { run } = await store.createRun('bench', 'cli');
    const w = await store.beginGeneration('bench', run.jobId);
    for (let i = 0; i < N; i += 5000) await w.writeCustomers(customers.slice(i, i + 5000));
    const t0 = performance.now();
    terms = await w.buildSearchTerms(spec);
    ms.push(performance.now() - t0);
    await w.abort();
    await store.updateRun('bench', run.jobId, { status: 'failed' });
  }
  return { ms, terms };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(path.join(os.tmpdir(), 'kindred-search-bench-'));
const { schema, drop } = await freshSchema();
try {
  const sqlite = openSqliteStore({ file: path.join(dir, 'kindred.db') });
  const s = await measure(sqlite).finally(() => sqlite.close());
  const postgres = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
  const p = await measure(postgres).finally(() => postgres.close());
  console.log(`${N} customers, ${ROUNDS} rounds (median; machine shared, numbers noisy)`);
  console.log(`sqlite    ${s.terms} terms  ${median(s.ms).toFixed(0)} ms  [${s.ms.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`postgres  ${p.terms} terms  ${median(p.ms).toFixed(0)} ms  [${p.ms.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`postgres / sqlite: ${(median(p.ms) / median(s.ms)).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await drop();
}
