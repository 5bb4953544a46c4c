// SQLite adapter of the EnrichmentStore sub-port. A generation's rows live in its own table
// (GENERATION_TABLES); generations written before that, in the shared customer_enrichments.
import type Database from 'better-sqlite3';
import { encodedRowCount, type EncodedEnrichments } from '../../domain/enrich-batch.js';
import type { EnrichmentRecord } from '../../domain/enrich.js';
import type { EnrichmentStore } from '../enrichment.js';
import { BulkInsert, cachedStatement, CURRENT, type GenerationTables } from './statements.js';

/** The insert of a generation's enrichment rows into `table` (its own table, or the shared one). */
export const enrichmentInsert = (db: Database.Database, table: string, instanceId: string, generation: number): BulkInsert =>
  new BulkInsert(db, table, instanceId, generation, ['customer_id', 'data'], ['CAST(? AS TEXT)', 'CAST(? AS TEXT)']);

/** Appends encoded rows in one transaction; returns how many. */
export function insertEnrichments(db: Database.Database, insert: BulkInsert, rows: EncodedEnrichments): number {
  // The UTF-8 bytes go in as they are (a blob read as text): no string is made of them here.
  const { bytes, offsets } = rows;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = encodedRowCount(rows);
  db.transaction(() =>
    insert.run(count, (i, out, at) => {
      out[at] = buffer.subarray(offsets[2 * i], offsets[2 * i + 1]);
      out[at + 1] = buffer.subarray(offsets[2 * i + 1], offsets[2 * i + 2]);
    }),
  )();
  return count;
}

export class SqliteEnrichmentStore implements EnrichmentStore {
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly tables: GenerationTables,
  ) {}

  async write(instanceId: string, generation: number, rows: EncodedEnrichments): Promise<void> {
    const g = this.stmt(`SELECT status FROM generations WHERE instance_id = ? AND generation = ?`).get(instanceId, generation) as
      | { status: string }
      | undefined;
    if (g?.status !== 'building') throw new Error(`generation ${generation} of ${instanceId} is not being built`);
    const table = this.tables.table('customer_enrichments', instanceId, generation);
    insertEnrichments(this.db, enrichmentInsert(this.db, table, instanceId, generation), rows);
  }

  async of(instanceId: string, customerId: string): Promise<EnrichmentRecord | undefined> {
    const r = this.tables.readCurrent(instanceId, 'customer_enrichments', (table) =>
      this.stmt(`SELECT data FROM ${table} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`).get({
        instanceId,
        customerId,
      }),
    ) as { data: string } | undefined;
    return r && JSON.parse(r.data);
  }

  async count(instanceId: string): Promise<number> {
    return this.tables.readCurrent(instanceId, 'customer_enrichments', (table) =>
      this.stmt(`SELECT COUNT(*) FROM ${table} WHERE instance_id = @instanceId AND generation = ${CURRENT}`).pluck().get({ instanceId }),
    ) as number;
  }

  private stmt(sql: string): Database.Statement {
    return cachedStatement(this.db, this.stmts, sql);
  }
}
