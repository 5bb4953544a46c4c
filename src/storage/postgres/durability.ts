// Durable commits on PostgreSQL. SQLite needs its own WAL sync (sqlite/durability.ts); here the
// server makes a commit durable before COMMIT returns as long as synchronous_commit is on (its
// default) and fsync is on. Every transaction that carries an acknowledgement (a real-time group, a
// generation switch) sets synchronous_commit = on for itself, so a database or role configured with
// it off cannot weaken the "2xx only after commit" promise.
import type pg from 'pg';

export const DURABLE = "SET LOCAL synchronous_commit = 'on'";

/** Says whether the server syncs commits at all (fsync off loses acknowledged writes on a crash). */
export async function durabilityWarning(pool: pg.Pool): Promise<string | null> {
  const r = await pool.query('SHOW fsync');
  return r.rows[0]?.fsync === 'off' ? 'PostgreSQL runs with fsync = off: acknowledged writes can be lost on a crash' : null;
}
