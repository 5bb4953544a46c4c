// Shared by the tests that need PostgreSQL: where it is, whether it answers, fresh schemas.
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { openPostgresStore, quoteIdentifier, type PostgresStore } from '../../src/storage/postgres/store.js';
import type { OpenedStore } from './conformance.js';

export const POSTGRES_URL = process.env.KINDRED_TEST_POSTGRES_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** null when the server answers, else why the PostgreSQL tests are skipped. */
export async function postgresUnavailable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL does not answer at ${POSTGRES_URL.replace(/\/\/[^@]*@/, '//')}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A fresh schema named `<prefix>_<random>` (a prefix per test file tells leftovers apart); drop() drops it. */
export async function freshSchema(prefix = 'kindred_test'): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A store on a fresh schema, for the conformance suites; cleanup closes it and drops the schema. */
export async function openPostgresOnFreshSchema(prefix = 'kindred_test'): Promise<OpenedStore<PostgresStore>> {
  const { schema, drop } = await freshSchema(prefix);
  const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4 });
  return {
    store,
    reopen: () => openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4 }),
    cleanup: async () => {
      await store.close();
      await drop();
    },
  };
}

/** Fresh schema names for the tests of one describe block, all dropped after it. */
export function schemasDroppedAfter(): () => Promise<string> {
  const schemas: { drop: () => Promise<void> }[] = [];
  after(async () => {
    for (const s of schemas) await s.drop();
  });
  return async () => {
    const s = await freshSchema();
    schemas.push(s);
    return s.schema;
  };
}

/**
 * Resolves once a session waits for a lock that `client` holds, in a statement containing
 * `queryContains` (or once `settled()` says the waiter finished without waiting).
 */
export async function untilWaitingForLock(client: pg.Client, queryContains: string, settled: () => boolean = () => false): Promise<void> {
  while (!settled()) {
    // Inside a transaction pg_stat_activity is a snapshot: take a new one each time.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const waiting = await client.query(
      `SELECT 1 FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid)) AND position($1 in query) > 0`,
      [queryContains],
    );
    if (waiting.rowCount) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A plain client on a schema, to look at (or lock) tables directly. */
export async function schemaClient(schema: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${quoteIdentifier(schema)}` });
  await client.connect();
  return client;
}
