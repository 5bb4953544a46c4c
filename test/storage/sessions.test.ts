// The web UI sessions conformance suite on SQLite and on PostgreSQL (skipped, with the reason
// printed, without a server).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { openPostgresOnFreshSchema, postgresUnavailable } from './postgres-helpers.js';
import { sessionsConformance } from './sessions-conformance.js';

sessionsConformance('sqlite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kindred-sessions-'));
  const store = openSqliteStore({ file: path.join(dir, 'kindred.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the PostgreSQL sessions conformance suite: ${unavailable}`);
else sessionsConformance('postgres', () => openPostgresOnFreshSchema());
