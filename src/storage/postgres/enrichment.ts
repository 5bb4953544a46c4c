// PostgreSQL adapter of the EnrichmentStore sub-port. Table from migration 6.
import type pg from 'pg';
import { decodeEnrichments, type EncodedEnrichments } from '../../domain/enrich-batch.js';
import type { EnrichmentRecord } from '../../domain/enrich.js';
import type { EnrichmentStore } from '../enrichment.js';
import { copyRows, current, one, run, transaction, type Queryable } from './statements.js';

export class PostgresEnrichmentStore implements EnrichmentStore {
  constructor(private readonly pool: pg.Pool) {}

  async write(instanceId: string, generation: number, rows: EncodedEnrichments): Promise<void> {
    await transaction(this.pool, async (client) => {
      // FOR SHARE: an abort (which deletes the generations row) waits for this write, or this write sees it gone.
      const g = await one(client, 'SELECT status FROM generations WHERE instance_id = $1 AND generation = $2 FOR SHARE', [instanceId, generation]);
      if (g?.status !== 'building') throw new Error(`generation ${generation} of ${instanceId} is not being built`);
      await copyRows(
        client,
        'customer_enrichments',
        [
          { column: 'instance_id', type: 'text', value: instanceId },
          { column: 'generation', type: 'int', value: generation },
        ],
        [
          { column: 'customer_id', type: 'text' },
          { column: 'data', type: 'jsonb' },
        ],
        [...decodeEnrichments(rows)],
      );
    });
  }

  async of(instanceId: string, customerId: string): Promise<EnrichmentRecord | undefined> {
    const r = await one(this.pool, `SELECT data FROM customer_enrichments WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2`, [
      instanceId,
      customerId,
    ]);
    return r?.data as EnrichmentRecord | undefined;
  }

  async count(instanceId: string): Promise<number> {
    const r = await one(this.pool, `SELECT COUNT(*)::int AS n FROM customer_enrichments WHERE instance_id = $1 AND generation = ${current(1)}`, [instanceId]);
    return r!.n as number;
  }

  /** Inside the store's deletion of a generation. */
  async deleteGeneration(client: Queryable, instanceId: string, generation: number): Promise<void> {
    await run(client, 'DELETE FROM customer_enrichments WHERE instance_id = $1 AND generation = $2', [instanceId, generation]);
  }
}
