// PostgreSQL adapter of the UiSessionStore sub-port (table of migration 10). Every node reads the
// same rows, so a session signed in on one node is known to all, and a sign-out ends it on all.
import type pg from 'pg';
import type { UiSessionRecord, UiSessionStore } from '../sessions.js';
import { uiSessionFromRow } from '../rows.js';
import { one, run } from './statements.js';

export class PostgresUiSessionStore implements UiSessionStore {
  constructor(private readonly pool: pg.Pool) {}

  async createSession(s: UiSessionRecord): Promise<void> {
    await run(this.pool, 'INSERT INTO ui_sessions (id_hash, key_hash, created_at, last_seen_at) VALUES ($1, $2, $3, $4)', [s.idHash, s.keyHash, s.createdAt, s.lastSeenAt]);
  }

  async getSession(idHash: string): Promise<UiSessionRecord | undefined> {
    const r = await one(this.pool, 'SELECT * FROM ui_sessions WHERE id_hash = $1', [idHash]);
    return r && uiSessionFromRow(r);
  }

  async touchSession(idHash: string, at: string): Promise<void> {
    await run(this.pool, 'UPDATE ui_sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2', [idHash, at]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await run(this.pool, 'DELETE FROM ui_sessions WHERE id_hash = $1', [idHash]);
  }

  async deleteEndedSessions(seenBefore: string, createdBefore: string): Promise<number> {
    return run(this.pool, 'DELETE FROM ui_sessions WHERE last_seen_at < $1 OR created_at < $2', [seenBefore, createdBefore]);
  }

  async trimSessions(keep: number): Promise<number> {
    return run(this.pool, 'DELETE FROM ui_sessions WHERE id_hash NOT IN (SELECT id_hash FROM ui_sessions ORDER BY last_seen_at DESC, id_hash LIMIT $1)', [keep]);
  }
}
