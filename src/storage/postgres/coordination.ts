// Several Kindred processes on one database: who executes an instance's refresh, which runs lost
// their process, and who sweeps expired real-time data. PostgreSQL advisory locks decide; a
// session lock belongs to a connection, so a process that dies (or loses its connection) frees
// its locks without anyone cleaning up.
//
// Advisory locks are per database, not per schema: every key carries the schema's name, so two
// Kindred schemas in one database (tests, staging beside production) never block each other.
import pg from 'pg';
import type { RefreshClaim } from '../store.js';
import { one, rows, run, transaction } from './statements.js';

/** The two 32-bit keys of an instance's refresh lock, for a statement that binds the instance id as $n. */
const refreshLockKeys = (n: number) => `hashtext('kindred-refresh:' || current_schema()), hashtext($${n})`;

/**
 * Takes the refresh lock of an instance on a connection of its own, held until release() (or
 * until this process or its connection dies); null when another connection holds it.
 */
export async function claimRefresh(pool: pg.Pool, instanceId: string): Promise<RefreshClaim | null> {
  const client = new pg.Client({ ...pool.options, keepAlive: true });
  // A lost connection has lost the lock; the run goes on and records its end through the pool.
  client.on('error', () => {});
  await client.connect();
  try {
    const r = await one(client, `SELECT pg_try_advisory_lock(${refreshLockKeys(1)}) AS locked`, [instanceId]);
    if (r?.locked) return { release: () => client.end().catch(() => {}) };
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  await client.end().catch(() => {});
  return null;
}

/**
 * Fails the queued and running runs whose refresh lock is free: their process is gone (a process
 * that executes a run holds the lock from before the run was created until it ended). Runs that
 * another live process executes are left alone.
 */
export async function failInterruptedRuns(pool: pg.Pool, reason: string, endedAt: string): Promise<number> {
  return transaction(pool, async (client) => {
    const active = await rows(client, `SELECT instance_id, job_id FROM runs WHERE status IN ('queued', 'running') FOR UPDATE`);
    let failed = 0;
    for (const r of active) {
      // Held until this transaction ends, so no process claims the instance while its run is failed.
      const free = await one(client, `SELECT pg_try_advisory_xact_lock(${refreshLockKeys(1)}) AS locked`, [r.instance_id]);
      if (!free?.locked) continue;
      failed += await run(client, `UPDATE runs SET status = 'failed', error = $1, ended_at = $2 WHERE instance_id = $3 AND job_id = $4`, [
        reason,
        endedAt,
        r.instance_id,
        r.job_id,
      ]);
    }
    return failed;
  });
}

/** True when this transaction may sweep: one process sweeps at a time, the others skip their turn. */
export async function claimSweep(client: pg.PoolClient): Promise<boolean> {
  const r = await one(client, `SELECT pg_try_advisory_xact_lock(hashtext('kindred-sweep:' || current_schema())) AS locked`);
  return Boolean(r?.locked);
}
