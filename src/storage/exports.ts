// Sub-port of the Store: the recorded runs of exports (status and counts, per export).
export type ExportRunStatus = 'running' | 'successful' | 'failed';
export type ExportTrigger = 'refresh' | 'schedule' | 'manual';

export interface ExportRunRecord {
  runId: string;
  instanceId: string;
  exportName: string;
  trigger: ExportTrigger;
  /** The refresh job whose generation was exported (trigger 'refresh'). */
  jobId: string | null;
  generation: number | null;
  status: ExportRunStatus;
  /** file, postgres or http, and where: for people reading the run. */
  target: string;
  startedAt: string;
  endedAt: string | null;
  rows: number;
  batches: number;
  durationMs: number | null;
  error: string | null;
}

export interface ExportRunStore {
  createRun(run: ExportRunRecord): Promise<void>;
  finishRun(instanceId: string, runId: string, patch: Pick<ExportRunRecord, 'status' | 'target' | 'endedAt' | 'rows' | 'batches' | 'durationMs' | 'error'>): Promise<void>;
  getRun(instanceId: string, runId: string): Promise<ExportRunRecord | undefined>;
  /** Newest first. */
  listRuns(instanceId: string, exportName?: string, limit?: number): Promise<ExportRunRecord[]>;
  /** Runs left running by a process that died are marked failed; returns how many. */
  failInterrupted(reason: string): Promise<number>;
}
