// The analytics sub-port conformance suite against PostgreSQL, each store on a schema of its own
// (dropped afterwards). Without a server the suite is skipped with the reason printed.
import { describe } from 'node:test';
import { analyticsConformance } from './analytics-conformance.js';
import { openPostgresOnFreshSchema, postgresUnavailable } from './postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL analytics tests: ${unavailable}`);
  describe('Analytics conformance: postgres', { skip: unavailable }, () => {});
} else {
  analyticsConformance('postgres', () => openPostgresOnFreshSchema('kindred_test_analytics'));
}
