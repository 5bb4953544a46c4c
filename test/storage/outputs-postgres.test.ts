// The enrichment, export-run and notification sub-port conformance suite against PostgreSQL, each
// store on a schema of its own (dropped afterwards). Without a server the suite is skipped with the
// reason printed.
import { describe } from 'node:test';
import { outputsConformance } from './outputs-conformance.js';
import { openPostgresOnFreshSchema, postgresUnavailable } from './postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL output sub-port tests: ${unavailable}`);
  describe('postgres: enrichment, export runs and notifications', { skip: unavailable }, () => {});
} else {
  outputsConformance('postgres', () => openPostgresOnFreshSchema('kindred_test_outputs'));
}
