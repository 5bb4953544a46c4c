// PostgreSQL adapter of the ExportRunStore sub-port. Table from migration 6 (node_id: migration 10).
import type pg from 'pg';
import type { ExportRunRecord, ExportRunStore } from '../exports.js';
import { exportRunFromRow as toRun } from '../rows.js';
import { failInterruptedExportRuns, type NodePresence } from './coordination.js';
import { one, rows, run } from './statements.js';

const COLUMNS = 'instance_id, run_id, export_name, trigger, job_id, generation, status, target, started_at, ended_at, rows, batches, duration_ms, error';

export class PostgresExportRunStore implements ExportRunStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly presence: NodePresence,
  ) {}

  /**
   * A run inside a refresh is covered by the refresh lock; any other run names this process's node,
   * whose lock is held first, so no other process takes the run for one of a dead process.
   */
  async createRun(r: ExportRunRecord): Promise<void> {
    const nodeId = r.trigger === 'refresh' ? null : this.presence.nodeId;
    if (nodeId) await this.presence.ensure();
    await run(
      this.pool,
      `INSERT INTO export_runs (${COLUMNS}, node_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [r.instanceId, r.runId, r.exportName, r.trigger, r.jobId, r.generation, r.status, r.target, r.startedAt, r.endedAt, r.rows, r.batches, r.durationMs, r.error, nodeId],
    );
  }

  async finishRun(instanceId: string, runId: string, p: Pick<ExportRunRecord, 'status' | 'target' | 'endedAt' | 'rows' | 'batches' | 'durationMs' | 'error'>): Promise<void> {
    await run(
      this.pool,
      `UPDATE export_runs SET status = $3, target = $4, ended_at = $5, rows = $6, batches = $7, duration_ms = $8, error = $9
       WHERE instance_id = $1 AND run_id = $2`,
      [instanceId, runId, p.status, p.target, p.endedAt, p.rows, p.batches, p.durationMs, p.error],
    );
  }

  async getRun(instanceId: string, runId: string): Promise<ExportRunRecord | undefined> {
    const r = await one(this.pool, `SELECT ${COLUMNS} FROM export_runs WHERE instance_id = $1 AND run_id = $2`, [instanceId, runId]);
    return r && toRun(r);
  }

  async listRuns(instanceId: string, exportName?: string, limit = 50): Promise<ExportRunRecord[]> {
    const list =
      exportName === undefined
        ? await rows(this.pool, `SELECT ${COLUMNS} FROM export_runs WHERE instance_id = $1 ORDER BY started_at DESC, seq DESC LIMIT $2`, [instanceId, limit])
        : await rows(
            this.pool,
            `SELECT ${COLUMNS} FROM export_runs WHERE instance_id = $1 AND export_name = $2 ORDER BY started_at DESC, seq DESC LIMIT $3`,
            [instanceId, exportName, limit],
          );
    return list.map(toRun);
  }

  async failInterrupted(reason: string): Promise<number> {
    return failInterruptedExportRuns(this.pool, reason, new Date().toISOString());
  }
}
