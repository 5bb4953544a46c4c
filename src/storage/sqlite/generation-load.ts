// Loading a new generation's own tables (GENERATION_TABLES): rows appended in batches, the search
// terms, the filter indexes, and at commit the secondary indexes. The steps run on the connection
// that loads the generation: the store's own for small generations, or that of a thread of their
// own (generation-worker.ts), so that a large refresh computes its next stage while SQLite writes
// what the last one produced.
import type Database from 'better-sqlite3';
import type { EncodedEnrichments } from '../../domain/enrich-batch.js';
import { enrichmentInsert, insertEnrichments } from './enrichment.js';
import type { SearchSpec } from '../../domain/search-terms.js';
import { SqliteSearchStore } from './search.js';
import {
  BulkInsert,
  FILTER_INDEX_PREFIX,
  GENERATION_TABLES,
  GenerationTables,
  jsonAttribute,
  ownIndexName,
  ownTableName,
  type GenerationTableName,
} from './statements.js';

/** Tables loaded row by row, and the values each row gives (after instance_id and generation), in order. */
export const LOADED_COLUMNS = {
  customers: ['customer_id', 'data', 'source_modified', 'field_sources'],
  alternate_keys: ['data_source', 'entity', 'alternate_value', 'customer_id', 'source_modified'],
  activities: ['activity_id', 'customer_id', 'activity_time', 'data'],
  customer_measures: ['customer_id', 'data'],
  segment_members: ['segment', 'customer_id'],
} as const satisfies Partial<Record<GenerationTableName, readonly string[]>>;

export type LoadedTable = keyof typeof LOADED_COLUMNS;

/**
 * Text values (or nulls) of rows, one after another, packed for another thread: their UTF-8 bytes
 * in one buffer (moved to the thread, not copied), and where each value ends, or for a null
 * `-1 - position`. A batch is one allocation instead of a string per value, so the values die
 * young here and the thread makes no strings of them (they are bound as blobs read as text).
 */
export interface PackedRows {
  bytes: Uint8Array;
  ends: Int32Array;
}

/**
 * Buffer's own UTF-8 writer (Node has it on every Buffer; write() calls it after checking its
 * arguments): a third of the packing time went into those checks, for millions of values.
 */
type Utf8Writable = Buffer & { utf8Write(value: string, offset: number): number };

/** Packs text values one after another (see PackedRows). */
export class RowPacker {
  private buffer: Buffer;
  private position = 0;
  private readonly ends: Int32Array;
  private count = 0;

  constructor(values: number, bytesHint: number) {
    this.ends = new Int32Array(values);
    // Not from Buffer's shared pool (under 4 KiB): the buffer is moved to another thread.
    this.buffer = Buffer.allocUnsafeSlow(Math.max(bytesHint, 64 * 1024));
  }

  add(value: string | null | undefined): void {
    if (value === null || value === undefined) {
      this.ends[this.count++] = -1 - this.position;
      return;
    }
    // At most 3 UTF-8 bytes per UTF-16 unit: write() must never cut a value short.
    const need = this.position + value.length * 3;
    if (need > this.buffer.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.buffer.length * 2));
      this.buffer.copy(bigger, 0, 0, this.position);
      this.buffer = bigger;
    }
    this.position += (this.buffer as Utf8Writable).utf8Write(value, this.position);
    this.ends[this.count++] = this.position;
  }

  packed(): PackedRows {
    return { bytes: new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.position), ends: this.ends };
  }
}

/**
 * How long the store's connection, and a generation thread's, wait for the write lock while a thread
 * loads a generation: another refresh's index build may hold it for seconds, and failing for that
 * would be worse than waiting.
 */
export const GENERATION_BUSY_TIMEOUT_MS = 120_000;

/** One step of loading a generation. Plain data: it may cross to another thread. */
export type LoadStep =
  /** The rows one after another, LOADED_COLUMNS[table].length values each; one transaction. */
  | { kind: 'rows'; table: LoadedTable; rows: PackedRows }
  /** Enrichment rows (moved to the thread, like packed rows); one transaction. */
  | { kind: 'enrichments'; rows: EncodedEnrichments }
  | { kind: 'searchTerms'; spec: SearchSpec }
  | { kind: 'filterIndex'; attributes: string[] }
  /**
   * The secondary indexes of these tables (default: all), one sorted pass each, and planner
   * statistics where filters need them; tables indexed before are left as they are.
   */
  | { kind: 'indexes'; tables?: GenerationTableName[] };

export class GenerationLoad {
  private readonly inserts = new Map<LoadedTable, BulkInsert>();
  private enrichmentInsert: BulkInsert | undefined;
  private readonly search: SqliteSearchStore;
  private filterIndexed = false;
  private readonly indexed = new Set<GenerationTableName>();

  constructor(
    private readonly db: Database.Database,
    private readonly instanceId: string,
    private readonly generation: number,
  ) {
    this.search = new SqliteSearchStore(db, new GenerationTables(db));
  }

  /** Runs one step; returns how many rows or indexes it made. */
  async apply(step: LoadStep): Promise<number> {
    switch (step.kind) {
      case 'rows':
        return this.insertRows(step.table, step.rows);
      case 'enrichments':
        return this.insertEnrichments(step.rows);
      case 'searchTerms':
        return this.search.buildTerms(this.instanceId, this.generation, step.spec);
      case 'filterIndex':
        // Built here, in the write stage (its time shows there), with the planner statistics that
        // make SQLite pick them once the key index is there too.
        for (const name of step.attributes) {
          this.db.exec(
            `CREATE INDEX ${ownIndexName('customers', this.instanceId, this.generation, `${FILTER_INDEX_PREFIX}${name}`)} ON ${this.own('customers')} (instance_id, generation, ${jsonAttribute(name)}, customer_id)`,
          );
        }
        this.filterIndexed = step.attributes.length > 0;
        this.analyzeCustomers();
        return step.attributes.length;
      case 'indexes':
        return this.createIndexes(step.tables ?? (Object.keys(GENERATION_TABLES) as GenerationTableName[]));
    }
  }

  private insertRows(table: LoadedTable, rows: PackedRows): number {
    const columns = LOADED_COLUMNS[table];
    let insert = this.inserts.get(table);
    if (!insert) {
      insert = new BulkInsert(this.db, this.own(table), this.instanceId, this.generation, columns, columns.map(() => 'CAST(? AS TEXT)'));
      this.inserts.set(table, insert);
    }
    const width = columns.length;
    const count = rows.ends.length / width;
    const bytes = Buffer.from(rows.bytes.buffer, rows.bytes.byteOffset, rows.bytes.byteLength);
    const { ends } = rows;
    // fill() is called for rows 0, 1, 2, … in turn: the values are read in order.
    let value = 0;
    let position = 0;
    this.db.transaction(() =>
      insert.run(count, (_i, out, at) => {
        for (let c = 0; c < width; c++) {
          const end = ends[value++];
          if (end < 0) {
            out[at + c] = null;
            position = -1 - end;
          } else {
            out[at + c] = bytes.subarray(position, end);
            position = end;
          }
        }
      }),
    )();
    return count;
  }

  private insertEnrichments(rows: EncodedEnrichments): number {
    this.enrichmentInsert ??= enrichmentInsert(this.db, this.own('customer_enrichments'), this.instanceId, this.generation);
    return insertEnrichments(this.db, this.enrichmentInsert, rows);
  }

  private createIndexes(tables: GenerationTableName[]): number {
    let made = 0;
    for (const table of tables) {
      if (this.indexed.has(table)) continue;
      for (const [name, index] of Object.entries(GENERATION_TABLES[table].indexes)) {
        this.db.exec(`CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${ownIndexName(table, this.instanceId, this.generation, name)} ON ${this.own(table)} ${index.columns}`);
        made++;
      }
      this.indexed.add(table);
      if (table === 'customers') this.analyzeCustomers();
    }
    return made;
  }

  /**
   * Without statistics SQLite prefers reading customers in key order (no sort) over a filter
   * index. Sampled ones (analysis_limit) say nothing: every prefix looks alike. A full ANALYZE of
   * the table reads each index once (about 1 ms per 1,000 profiles): once the key index and the
   * filter indexes are there.
   */
  private analyzeCustomers(): void {
    if (this.filterIndexed && this.indexed.has('customers')) this.db.exec(`ANALYZE ${this.own('customers')}`);
  }

  private own(base: GenerationTableName): string {
    return ownTableName(base, this.instanceId, this.generation);
  }
}
