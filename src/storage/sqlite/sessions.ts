// SQLite adapter of the UiSessionStore sub-port (table of migration 10).
import type Database from 'better-sqlite3';
import type { UiSessionRecord, UiSessionStore } from '../sessions.js';
import { uiSessionFromRow } from '../rows.js';

export class SqliteUiSessionStore implements UiSessionStore {
  constructor(private readonly db: Database.Database) {}

  async createSession(s: UiSessionRecord): Promise<void> {
    this.db.prepare('INSERT INTO ui_sessions (id_hash, key_hash, created_at, last_seen_at) VALUES (?, ?, ?, ?)').run(s.idHash, s.keyHash, s.createdAt, s.lastSeenAt);
  }

  async getSession(idHash: string): Promise<UiSessionRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM ui_sessions WHERE id_hash = ?').get(idHash) as Record<string, unknown> | undefined;
    return r && uiSessionFromRow(r);
  }

  async touchSession(idHash: string, at: string): Promise<void> {
    this.db.prepare('UPDATE ui_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?').run(at, idHash, at);
  }

  async deleteSession(idHash: string): Promise<void> {
    this.db.prepare('DELETE FROM ui_sessions WHERE id_hash = ?').run(idHash);
  }

  async deleteEndedSessions(seenBefore: string, createdBefore: string): Promise<number> {
    return this.db.prepare('DELETE FROM ui_sessions WHERE last_seen_at < ? OR created_at < ?').run(seenBefore, createdBefore).changes;
  }

  async trimSessions(keep: number): Promise<number> {
    return this.db
      .prepare('DELETE FROM ui_sessions WHERE id_hash NOT IN (SELECT id_hash FROM ui_sessions ORDER BY last_seen_at DESC, id_hash LIMIT ?)')
      .run(keep).changes;
  }
}
