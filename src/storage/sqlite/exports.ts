// SQLite adapter of the ExportRunStore sub-port.
import type Database from 'better-sqlite3';
import type { ExportRunRecord, ExportRunStore } from '../exports.js';
import { exportRunFromRow as toRun } from '../rows.js';
import type { RefreshClaims } from './coordination.js';

type Row = Record<string, unknown>;

export class SqliteExportRunStore implements ExportRunStore {
  /** nodeId: this store's, recorded on the runs it executes outside a refresh; claims: its refresh claims. */
  constructor(
    private readonly db: Database.Database,
    private readonly nodeId: string,
    private readonly claims: RefreshClaims,
  ) {}

  async createRun(run: ExportRunRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO export_runs (instance_id, run_id, export_name, trigger, job_id, generation, status, target, started_at, ended_at, rows, batches, duration_ms, error, node_id)
         VALUES (@instanceId, @runId, @exportName, @trigger, @jobId, @generation, @status, @target, @startedAt, @endedAt, @rows, @batches, @durationMs, @error, @nodeId)`,
      )
      .run({ ...run, nodeId: run.trigger === 'refresh' ? null : this.nodeId });
  }

  async finishRun(instanceId: string, runId: string, p: Pick<ExportRunRecord, 'status' | 'target' | 'endedAt' | 'rows' | 'batches' | 'durationMs' | 'error'>): Promise<void> {
    this.db
      .prepare(
        `UPDATE export_runs SET status = @status, target = @target, ended_at = @endedAt, rows = @rows, batches = @batches, duration_ms = @durationMs, error = @error
         WHERE instance_id = @instanceId AND run_id = @runId`,
      )
      .run({ status: p.status, target: p.target, endedAt: p.endedAt, rows: p.rows, batches: p.batches, durationMs: p.durationMs, error: p.error, instanceId, runId });
  }

  async getRun(instanceId: string, runId: string): Promise<ExportRunRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM export_runs WHERE instance_id = ? AND run_id = ?').get(instanceId, runId) as Row | undefined;
    return r && toRun(r);
  }

  async listRuns(instanceId: string, exportName?: string, limit = 50): Promise<ExportRunRecord[]> {
    const rows = (
      exportName === undefined
        ? this.db.prepare('SELECT * FROM export_runs WHERE instance_id = ? ORDER BY started_at DESC, rowid DESC LIMIT ?').all(instanceId, limit)
        : this.db
            .prepare('SELECT * FROM export_runs WHERE instance_id = ? AND export_name = ? ORDER BY started_at DESC, rowid DESC LIMIT ?')
            .all(instanceId, exportName, limit)
    ) as Row[];
    return rows.map(toRun);
  }

  /**
   * The same rule as on PostgreSQL, where this store is the only live process: its own runs, and
   * runs inside a refresh it has claimed, are left alone; every other running run lost its process.
   */
  async failInterrupted(reason: string): Promise<number> {
    return this.db
      .prepare(
        `UPDATE export_runs SET status = 'failed', error = ?, ended_at = ?
         WHERE status = 'running' AND NOT (trigger = 'refresh' AND instance_id IN (SELECT value FROM json_each(?))) AND (node_id IS NULL OR node_id <> ?)`,
      )
      .run(reason, new Date().toISOString(), JSON.stringify(this.claims.instances()), this.nodeId).changes;
  }
}
