// SQLite adapter of the EnrichmentStore sub-port.
import type Database from 'better-sqlite3';
import type { EnrichmentRecord } from '../../domain/enrich.js';
import type { EnrichmentStore } from '../enrichment.js';

const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';

export class SqliteEnrichmentStore implements EnrichmentStore {
  private readonly insert: Database.Statement;
  private readonly insertMany: (instanceId: string, generation: number, rows: EnrichmentRecord[]) => void;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare('INSERT INTO customer_enrichments (instance_id, generation, customer_id, data) VALUES (?, ?, ?, ?)');
    this.insertMany = db.transaction((instanceId: string, generation: number, rows: EnrichmentRecord[]) => {
      for (const r of rows) this.insert.run(instanceId, generation, r.CustomerId, JSON.stringify(r));
    });
  }

  async write(instanceId: string, generation: number, rows: EnrichmentRecord[]): Promise<void> {
    const g = this.db.prepare(`SELECT status FROM generations WHERE instance_id = ? AND generation = ?`).get(instanceId, generation) as
      | { status: string }
      | undefined;
    if (g?.status !== 'building') throw new Error(`generation ${generation} of ${instanceId} is not being built`);
    this.insertMany(instanceId, generation, rows);
  }

  async of(instanceId: string, customerId: string): Promise<EnrichmentRecord | undefined> {
    const r = this.db
      .prepare(`SELECT data FROM customer_enrichments WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`)
      .get({ instanceId, customerId }) as { data: string } | undefined;
    return r && JSON.parse(r.data);
  }

  async count(instanceId: string): Promise<number> {
    return this.db
      .prepare(`SELECT COUNT(*) FROM customer_enrichments WHERE instance_id = @instanceId AND generation = ${CURRENT}`)
      .pluck()
      .get({ instanceId }) as number;
  }
}
