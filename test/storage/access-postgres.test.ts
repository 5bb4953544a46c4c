// The access conformance suite against PostgreSQL, what differs from SQLite (several processes
// writing at once), and migration 3 on keys made before principals existed. Without a server the
// tests are skipped with the reason printed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import type { KeySlot } from '../../src/storage/access.js';
import { postgresMigrations } from '../../src/storage/postgres/migrations.js';
import { openPostgresStore, quoteIdentifier } from '../../src/storage/postgres/store.js';
import type { Role } from '../../src/storage/store.js';
import { accessConformance, assertKeysBeforePrincipalsMigrated, KEYS_BEFORE_PRINCIPALS } from './access-conformance.js';
import { openPostgresOnFreshSchema, postgresUnavailable, POSTGRES_URL, schemasDroppedAfter } from './postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  console.log(`skipping the PostgreSQL access tests: ${unavailable}`);
  describe('access store conformance: postgres', { skip: unavailable }, () => {});
} else {
  accessConformance('postgres', () => openPostgresOnFreshSchema());
}

const T0 = '2026-01-01T00:00:00.000Z';
const key = (id: string, slot: KeySlot, role: Role = 'Viewer') => ({
  id,
  instanceId: 'shop',
  principalId: 'app:crm',
  name: id,
  role,
  prefix: `kdr_${id}`.slice(0, 8),
  hash: `hash-${id}`,
  slot,
  createdAt: T0,
  expiresAt: null,
});

describe('PostgreSQL access adapter specifics', { skip: unavailable || false }, () => {
  const fresh = schemasDroppedAfter();
  // More connections than concurrent calls below: they really run at once.
  const open = async () => openPostgresStore({ connectionString: POSTGRES_URL, schema: await fresh(), maxConnections: 12 });

  it('keys put into one slot by concurrent callers: every call succeeds, one key stays live, each other one was replaced once', async () => {
    const store = await open();
    try {
      await store.access.ensurePrincipal({ id: 'app:crm', kind: 'app', displayName: 'CRM' }, T0);
      for (const round of ['empty slot', 'held slot']) {
        const ids = Array.from({ length: 8 }, (_, i) => `${round === 'empty slot' ? 'a' : 'b'}${i}`);
        const before = (await store.access.listKeys('shop')).map((k) => k.id);
        const replaced = await Promise.all(ids.map((id) => store.access.putKey(key(id, 'primary'), T0)));
        const live = await store.access.listKeys('shop');
        assert.equal(live.length, 1, `${round}: one live key`);
        assert.ok(ids.includes(live[0].id));
        const replacedIds = replaced.filter((k) => k !== undefined).map((k) => k!.id);
        assert.deepEqual([...replacedIds, live[0].id].sort(), [...before, ...ids].sort(), `${round}: each earlier key replaced exactly once`);
        assert.ok(replaced.every((k) => k === undefined || k.revokedAt === T0));
      }
    } finally {
      await store.close();
    }
  });

  it('concurrent role changes of one assignment: one is created, the rest update it, and the live keys end with the final role', async () => {
    const store = await open();
    try {
      await store.access.ensurePrincipal({ id: 'app:crm', kind: 'app', displayName: 'CRM' }, T0);
      await store.access.putKey(key('k1', 'primary'), T0);
      await store.access.putKey(key('k2', 'secondary'), T0);
      const roles: Role[] = ['Viewer', 'Contributor', 'Administrator', 'Viewer', 'Contributor', 'Administrator', 'Viewer', 'Contributor'];
      const outcomes = await Promise.all(roles.map((role, i) => store.access.assignRole('app:crm', 'shop', role, `2026-01-01T00:00:0${i}.000Z`)));
      assert.deepEqual(outcomes.filter((o) => o === 'created').length, 1);
      const assignments = await store.access.listAssignments('shop');
      assert.equal(assignments.length, 1);
      const keys = await store.access.listKeys('shop');
      assert.deepEqual(
        keys.map((k) => k.role),
        [assignments[0].role, assignments[0].role],
      );
      // The server-wide scope is another assignment, even when made at the same time.
      const both = await Promise.all([store.access.assignRole('app:crm', null, 'Administrator', T0), store.access.assignRole('app:crm', 'shop', 'Viewer', T0)]);
      assert.deepEqual(both, ['created', 'updated']);
    } finally {
      await store.close();
    }
  });

  it('migration 3 gives keys from before principals a principal, the highest live role per scope, and slots to the newest two live keys', async () => {
    const schema = await fresh();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${quoteIdentifier(schema)}; SET search_path = ${quoteIdentifier(schema)}`);
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of postgresMigrations.filter((m) => m.version < 3)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [m.version, m.name, T0]);
      }
      for (const row of KEYS_BEFORE_PRINCIPALS) {
        await client.query('INSERT INTO api_keys (id, instance_id, principal_id, name, role, prefix, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', row);
      }
    } finally {
      await client.end();
    }
    const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 2 });
    try {
      await assertKeysBeforePrincipalsMigrated(store.access);
    } finally {
      await store.close();
    }
  });
});
