// PostgreSQL adapter of the analytics sub-port (measures and segments). Tables from migration 5.
import type pg from 'pg';
import type { FieldValue } from '../../domain/profile.js';
import type {
  AnalyticsRunSummary,
  AnalyticsStore,
  CustomerMeasureRow,
  MeasureHistoryEntry,
  SegmentHistoryEntry,
} from '../analytics.js';
import { copyRows, current, insertUnnest, one, rows, run, type Queryable } from './statements.js';

/** History rows of a generation still being built (or aborted) are not shown. */
const COMMITTED = `NOT EXISTS (SELECT 1 FROM generations g WHERE g.instance_id = h.instance_id AND g.generation = h.generation AND g.status = 'building')`;

const generationColumns = (instanceId: string, generation: number) => [
  { column: 'instance_id', type: 'text', value: instanceId },
  { column: 'generation', type: 'int', value: generation },
];

export class PostgresAnalyticsStore implements AnalyticsStore {
  constructor(private readonly pool: pg.Pool) {}

  // For the GenerationWriter. Rows of a generation being built are invisible to readers, so each
  // batch commits on its own (COPY for the bulk).
  async writeCustomerMeasures(instanceId: string, generation: number, list: CustomerMeasureRow[]): Promise<void> {
    await copyRows(
      this.pool,
      'customer_measures',
      generationColumns(instanceId, generation),
      [
        { column: 'customer_id', type: 'text' },
        { column: 'data', type: 'jsonb' },
      ],
      list.map((r) => [r.CustomerId, JSON.stringify(r)]),
    );
  }

  async writeSegmentMembers(instanceId: string, generation: number, segment: string, customerIds: string[]): Promise<void> {
    await copyRows(
      this.pool,
      'segment_members',
      [...generationColumns(instanceId, generation), { column: 'segment', type: 'text', value: segment }],
      [{ column: 'customer_id', type: 'text' }],
      customerIds.map((id) => [id]),
    );
  }

  async writeRunSummary(instanceId: string, generation: number, jobId: string, computedAt: string, summary: AnalyticsRunSummary): Promise<void> {
    await insertUnnest(
      this.pool,
      'analytics_history',
      [
        ...generationColumns(instanceId, generation),
        { column: 'job_id', type: 'text', value: jobId },
        { column: 'computed_at', type: 'text', value: computedAt },
      ],
      [
        { column: 'kind', type: 'text' },
        { column: 'name', type: 'text' },
        { column: 'value', type: 'jsonb' },
        { column: 'count', type: 'int' },
      ],
      [
        ...summary.measures.map((m) => ['measure', m.name, m.value === null ? null : JSON.stringify(m.value), m.customersWithValue]),
        ...summary.segments.map((s) => ['segment', s.name, null, s.size]),
      ],
    );
  }

  async measuresOf(instanceId: string, customerId: string): Promise<Record<string, FieldValue> | undefined> {
    const r = await one(this.pool, `SELECT data FROM customer_measures WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2`, [
      instanceId,
      customerId,
    ]);
    return r?.data as Record<string, FieldValue> | undefined;
  }

  async segmentsOf(instanceId: string, customerId: string): Promise<string[]> {
    const list = await rows(
      this.pool,
      `SELECT segment FROM segment_members WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2 ORDER BY segment`,
      [instanceId, customerId],
    );
    return list.map((r) => r.segment as string);
  }

  async segmentMembers(instanceId: string, segment: string, page: { skip?: number; top?: number } = {}): Promise<string[]> {
    const list = await rows(
      this.pool,
      `SELECT customer_id FROM segment_members WHERE instance_id = $1 AND generation = ${current(1)} AND segment = $2
       ORDER BY customer_id LIMIT $3 OFFSET $4`,
      [instanceId, segment, page.top ?? 100, page.skip ?? 0],
    );
    return list.map((r) => r.customer_id as string);
  }

  async measureHistory(instanceId: string, measure: string, limit = 50): Promise<MeasureHistoryEntry[]> {
    const list = await rows(
      this.pool,
      `SELECT generation, job_id, computed_at, value, count FROM analytics_history h
       WHERE instance_id = $1 AND kind = 'measure' AND name = $2 AND ${COMMITTED} ORDER BY generation DESC LIMIT $3`,
      [instanceId, measure, limit],
    );
    return list.map((r) => ({
      generation: r.generation as number,
      jobId: r.job_id as string,
      computedAt: r.computed_at as string,
      value: (r.value as FieldValue | null) ?? null,
      customersWithValue: (r.count as number | null) ?? null,
    }));
  }

  async segmentHistory(instanceId: string, segment: string, limit = 50): Promise<SegmentHistoryEntry[]> {
    const list = await rows(
      this.pool,
      `SELECT generation, job_id, computed_at, count FROM analytics_history h
       WHERE instance_id = $1 AND kind = 'segment' AND name = $2 AND ${COMMITTED} ORDER BY generation DESC LIMIT $3`,
      [instanceId, segment, limit],
    );
    return list.map((r) => ({ generation: r.generation as number, jobId: r.job_id as string, computedAt: r.computed_at as string, size: r.count as number }));
  }

  /**
   * Inside the store's deletion of a generation, before its `generations` row goes: per-customer rows
   * always go; the run's history stays when the generation was committed (retired), and goes when
   * it was never committed (an aborted or crashed build).
   */
  async deleteGeneration(client: Queryable, instanceId: string, generation: number): Promise<void> {
    const p = [instanceId, generation];
    await run(client, 'DELETE FROM customer_measures WHERE instance_id = $1 AND generation = $2', p);
    await run(client, 'DELETE FROM segment_members WHERE instance_id = $1 AND generation = $2', p);
    await run(
      client,
      `DELETE FROM analytics_history AS h WHERE instance_id = $1 AND generation = $2 AND NOT EXISTS (
         SELECT 1 FROM generations g WHERE g.instance_id = h.instance_id AND g.generation = h.generation AND g.status IN ('live', 'retired'))`,
      p,
    );
  }

  /**
   * SQL for IsMemberOfSegment('name') in a Customer read whose rows come from `src`, where $1 is
   * the instance and $2 the generation (see PostgresStore.queryEntity).
   */
  segmentCondition(placeholder: string): string {
    return `EXISTS (SELECT 1 FROM segment_members m WHERE m.instance_id = $1 AND m.generation = $2 AND m.segment = ${placeholder}::text AND m.customer_id = src.customer_id)`;
  }
}
