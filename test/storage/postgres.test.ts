// The Store conformance suite against PostgreSQL, each store on a schema of its own (dropped
// afterwards). Needs a server at KINDRED_TEST_POSTGRES_URL, DATABASE_URL or 127.0.0.1:5432;
// without one the suite is skipped with the reason printed.
import { describe } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore, quoteIdentifier } from '../../src/storage/postgres/store.js';
import { storeConformance, type OpenedStore } from './conformance.js';
import { overlayConformance } from './overlay-conformance.js';

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

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL store tests: ${unavailable}`);
  describe.skip(`Store conformance: postgres (${unavailable})`, () => {});
} else {
  const open = async (): Promise<OpenedStore> => {
    const { schema, drop } = await freshSchema();
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4 });
    return {
      store,
      reopen: () => openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4 }),
      cleanup: async () => {
        await store.close();
        await drop();
      },
    };
  };
  storeConformance('postgres', open);
  overlayConformance('postgres', open);
}
