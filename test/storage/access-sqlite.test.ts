// The access conformance suite on SQLite, and the migration of keys made before principals existed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { sqliteMigrations } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { accessConformance } from './access-conformance.js';

const roots: string[] = [];
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kindred-access-'));
  roots.push(dir);
  return dir;
}

accessConformance('sqlite', async () => {
  const dir = tempDir();
  const store = openSqliteStore({ file: path.join(dir, 'kindred.db') });
  return { store, cleanup: () => store.close() };
});

describe('migration 3 on a database with keys from before principals', () => {
  it('gives each key principal a principal, its highest live role per scope, and slots to its newest two live keys', async () => {
    const file = path.join(tempDir(), 'kindred.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of sqliteMigrations.filter((m) => m.version < 3)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
    }
    const insert = db.prepare(
      'INSERT INTO api_keys (id, instance_id, principal_id, name, role, prefix, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    insert.run('a1', 'shop', 'app:crm', 'crm', 'Viewer', 'kdr_a1', 'h-a1', '2026-01-01', null);
    insert.run('a2', 'shop', 'app:crm', 'crm', 'Contributor', 'kdr_a2', 'h-a2', '2026-01-02', null);
    insert.run('a3', 'shop', 'app:crm', 'crm', 'Viewer', 'kdr_a3', 'h-a3', '2026-01-03', null);
    insert.run('a4', 'shop', 'app:crm', 'crm', 'Administrator', 'kdr_a4', 'h-a4', '2026-01-04', '2026-01-05');
    insert.run('s1', null, 'user:ops@example.com', 'ops', 'Administrator', 'kdr_s1', 'h-s1', '2026-01-01', null);
    db.close();

    const store = openSqliteStore({ file });
    try {
      assert.deepEqual(await store.access.getPrincipal('user:ops@example.com'), { id: 'user:ops@example.com', kind: 'user', displayName: 'ops', createdAt: '2026-01-01' });
      assert.equal((await store.access.getPrincipal('app:crm'))?.kind, 'app');
      assert.equal((await store.access.getAssignment('app:crm', 'shop'))?.role, 'Contributor', 'the highest role of the live keys (a4 is revoked)');
      assert.equal((await store.access.getAssignment('user:ops@example.com', null))?.role, 'Administrator');
      const slots = Object.fromEntries((await store.access.listKeys('shop', { includeRevoked: true })).map((k) => [k.id, k.slot]));
      assert.deepEqual(slots, { a1: null, a2: 'secondary', a3: 'primary', a4: null });
      // The older extra key still works (no slot), and the slots take new keys as usual.
      assert.equal((await store.access.findKeyByHash('h-a1'))?.revokedAt, null);
      const replaced = await store.access.putKey(
        { id: 'a5', instanceId: 'shop', principalId: 'app:crm', name: 'crm', role: 'Contributor', prefix: 'kdr_a5', hash: 'h-a5', slot: 'primary', createdAt: '2026-02-01', expiresAt: null },
        '2026-02-01',
      );
      assert.equal(replaced?.id, 'a3');
    } finally {
      await store.close();
    }
  });
});
