// The access conformance suite on SQLite, and the migration of keys made before principals existed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { sqliteMigrations } from '../../src/storage/sqlite/migrations.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { accessConformance, assertKeysBeforePrincipalsMigrated, KEYS_BEFORE_PRINCIPALS } from './access-conformance.js';

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
    for (const row of KEYS_BEFORE_PRINCIPALS) insert.run(...row);
    db.close();

    const store = openSqliteStore({ file });
    try {
      await assertKeysBeforePrincipalsMigrated(store.access);
    } finally {
      await store.close();
    }
  });
});
