// The telemetry, search and card conformance suite against PostgreSQL, each store on a schema of
// its own; without a server the suite is skipped with the reason printed.
import { describe } from 'node:test';
import { openPostgresStore } from '../../src/storage/postgres/store.js';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from './postgres-helpers.js';
import { uiSubportConformance } from './ui-conformance.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL telemetry, search and card tests: ${unavailable}`);
  describe('postgres: telemetry, search and card sub-ports', { skip: unavailable }, () => {});
} else {
  uiSubportConformance('postgres', async () => {
    const { schema, drop } = await freshSchema();
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await drop();
      },
    };
  });
}
