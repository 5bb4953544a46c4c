// Where an export's rows go. A sink receives the rows in batches and either completes (the
// destination then holds exactly this export) or aborts (the destination keeps what it had).
import type { ColumnType } from '../config/schema.js';

export interface ExportField {
  name: string;
  type: ColumnType;
}

export interface ExportContext {
  instanceId: string;
  exportName: string;
  runId: string;
  generation: number;
  entity: string;
  fields: ExportField[];
  /** The entity's key attributes (upserts match on them). */
  keys: string[];
  signal: AbortSignal;
}

export interface ExportSink {
  /** file, postgres or http and where, for the run record. */
  readonly description: string;
  write(rows: Record<string, unknown>[]): Promise<void>;
  complete(): Promise<void>;
  abort(): Promise<void>;
  /** Batches sent so far (http), or written (others). */
  readonly batches: number;
}
