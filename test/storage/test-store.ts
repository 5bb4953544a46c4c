// Which store the shared test helpers (test/api/helpers.ts, the refresh tests) run on: SQLite in
// the test's temp directory by default, PostgreSQL on a fresh schema when the test runner sets
// KINDRED_TEST_STORE=postgres (the second pass of scripts/run-tests.mjs). Read here, never in src/.
import path from 'node:path';
import type { RefreshWorkerData } from '../../src/refresh/worker.js';
import type { DatabaseOptions } from '../../src/services.js';
import { openPostgresStore } from '../../src/storage/postgres/store.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import type { Store } from '../../src/storage/store.js';
import { POSTGRES_URL, freshSchema } from './postgres-helpers.js';

export type TestStoreKind = 'sqlite' | 'postgres';

export function testStoreKind(): TestStoreKind {
  const kind = process.env.KINDRED_TEST_STORE ?? 'sqlite';
  if (kind !== 'sqlite' && kind !== 'postgres') throw new Error(`KINDRED_TEST_STORE must be sqlite or postgres, not '${kind}'`);
  return kind;
}

/** The database of openServices: none (SQLite in the data dir), or a fresh PostgreSQL schema that drop() drops. */
export async function testDatabase(prefix: string, kind = testStoreKind()): Promise<{ database: DatabaseOptions | undefined; drop: () => Promise<void> }> {
  if (kind === 'sqlite') return { database: undefined, drop: async () => {} };
  const { schema, drop } = await freshSchema(prefix);
  return { database: { url: POSTGRES_URL, schema }, drop };
}

export interface TestStore {
  store: Store;
  /** How a refresh worker thread opens the same store. */
  workerStore: RefreshWorkerData['store'];
  /** Closes the store and drops its schema (the caller removes `dir`). */
  close(): Promise<void>;
}

/** A store for the tests that drive the Store directly: `kindred.db` in `dir`, or a fresh PostgreSQL schema. */
export async function openTestStore(dir: string, prefix: string): Promise<TestStore> {
  if (testStoreKind() === 'sqlite') {
    const file = path.join(dir, 'kindred.db');
    const store = openSqliteStore({ file });
    return { store, workerStore: { kind: 'sqlite', file }, close: () => store.close() };
  }
  const { schema, drop } = await freshSchema(prefix);
  const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4 });
  return {
    store,
    workerStore: { kind: 'postgres', connectionString: POSTGRES_URL, schema },
    async close() {
      await store.close();
      await drop();
    },
  };
}
