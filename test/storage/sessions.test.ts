// The web UI sessions conformance suite on SQLite and on PostgreSQL (skipped, with the reason
// printed, without a server).
import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { openPostgresOnFreshSchema, postgresUnavailable } from './postgres-helpers.js';
import { sessionsConformance } from './sessions-conformance.js';

sessionsConformance('sqlite', () => openSqliteOnTempDir('kindred-sessions-'));

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the PostgreSQL sessions conformance suite: ${unavailable}`);
else sessionsConformance('postgres', () => openPostgresOnFreshSchema());
