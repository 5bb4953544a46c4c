// Shared by the tests that need PostgreSQL: where it is, whether it answers, fresh schemas.
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { openPostgresStore, quoteIdentifier, type PostgresStore } from '../../src/storage/postgres/store.js';

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

/** A fresh schema; cleanup drops it. */
export async function freshSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `kindred_test_${randomBytes(6).toString('hex')}`;
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


/** A store on a fresh schema; cleanup closes it and drops the schema. */
export async function openFreshPostgresStore(maxConnections = 4): Promise<{ store: PostgresStore; cleanup: () => Promise<void> }> {
  const { schema, drop } = await freshSchema();
  const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections });
  return {
    store,
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
