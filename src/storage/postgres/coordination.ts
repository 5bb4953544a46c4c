// Several Kindred processes on one database: who executes an instance's refresh, which runs lost
// their process, and who sweeps expired real-time data. PostgreSQL advisory locks decide; a
// session lock belongs to a connection, so a process that dies (or loses its connection) frees
// its locks without anyone cleaning up.
//
// Advisory locks are per database, not per schema: every key carries the schema's name, so two
// Kindred schemas in one database (tests, staging beside production) never block each other.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { encodeClusterEvent, type ClusterEvent } from '../../domain/cluster-events.js';
import type { RefreshClaim } from '../store.js';
import { one, rows, run, transaction, type Queryable } from './statements.js';

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

/** The two 32-bit keys of a process's node lock (NodePresence), for a statement that binds the node id as $n. */
const nodeLockKeys = (n: number) => `hashtext('kindred-node:' || current_schema()), hashtext($${n})`;

/**
 * A process's node lock, held on a connection of its own from before it records its first export
 * run until it closes: while held, its running export runs are its own business; once its process
 * dies (or the connection is lost), any process may fail them. Taken again if the connection drops.
 */
export class NodePresence {
  private client: pg.Client | null = null;
  private holding: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    readonly nodeId: string,
  ) {}

  /** Resolves once the lock is held (at once when it already is). */
  ensure(): Promise<void> {
    this.holding ??= this.take().catch((err: unknown) => {
      this.holding = null;
      throw err;
    });
    return this.holding;
  }

  private async take(): Promise<void> {
    const client = new pg.Client({ ...this.pool.options, keepAlive: true });
    client.on('error', () => {});
    client.on('end', () => {
      if (this.client !== client) return;
      this.client = null;
      this.holding = null;
      if (!this.closed) {
        this.retry = setTimeout(() => void this.ensure().catch(() => {}), 1000);
        this.retry.unref();
      }
    });
    await client.connect();
    try {
      // Waits only while failInterruptedExportRuns briefly holds it (this node id is this process's alone).
      await client.query(`SELECT pg_advisory_lock(${nodeLockKeys(1)})`, [this.nodeId]);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}

/**
 * Fails the running export runs whose process is gone: a run inside a refresh when the instance's
 * refresh lock is free, another run when its node's lock is free (or it names no node). Runs of
 * live processes are left alone.
 */
export async function failInterruptedExportRuns(pool: pg.Pool, reason: string, endedAt: string): Promise<number> {
  return transaction(pool, async (client) => {
    const running = await rows(client, `SELECT instance_id, run_id, trigger, node_id FROM export_runs WHERE status = 'running' FOR UPDATE`);
    let failed = 0;
    for (const r of running) {
      const free =
        r.trigger === 'refresh'
          ? await one(client, `SELECT pg_try_advisory_xact_lock(${refreshLockKeys(1)}) AS locked`, [r.instance_id])
          : r.node_id === null
            ? { locked: true }
            : await one(client, `SELECT pg_try_advisory_xact_lock(${nodeLockKeys(1)}) AS locked`, [r.node_id]);
      if (!free?.locked) continue;
      failed += await run(client, `UPDATE export_runs SET status = 'failed', error = $1, ended_at = $2 WHERE instance_id = $3 AND run_id = $4`, [
        reason,
        endedAt,
        r.instance_id,
        r.run_id,
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

/** The NOTIFY channel of a schema's cluster events (domain/cluster-events.ts); every node listens to it. */
export function clusterEventChannel(schema: string): string {
  return `kindred_events_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

/** Tells every node about a change; inside the change's transaction, so it is heard after COMMIT and never for a rollback. */
export async function announce(q: Queryable, channel: string, event: ClusterEvent): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [channel, encodeClusterEvent(event)]);
}
