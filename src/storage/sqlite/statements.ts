// Shared by the SQLite adapter's files: the prepared-statement cache and SQL fragments.
import type Database from 'better-sqlite3';

export type Row = Record<string, unknown>;

/** The generation readers see, for statements that bind @instanceId. */
export const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';

const STATEMENT_CACHE = 500;

/** Prepared statements by SQL, least recently used dropped first (filters make many shapes). */
export function cachedStatement(db: Database.Database, cache: Map<string, Database.Statement>, sql: string): Database.Statement {
  let s = cache.get(sql);
  if (s) {
    cache.delete(sql);
  } else {
    s = db.prepare(sql);
    if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
  }
  cache.set(sql, s);
  return s;
}
