// SQLite adapter of the analytics sub-port (measures and segments). Tables from migration 5.
import type Database from 'better-sqlite3';
import type { FieldValue } from '../../domain/profile.js';
import type {
  AnalyticsRunSummary,
  AnalyticsStore,
  MeasureHistoryEntry,
  SegmentHistoryEntry,
} from '../analytics.js';
import type { GenerationTables } from './statements.js';

type Row = Record<string, unknown>;

const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';
/** History rows of a generation still being built (or aborted) are not shown. */
const COMMITTED = `NOT EXISTS (SELECT 1 FROM generations g WHERE g.instance_id = h.instance_id AND g.generation = h.generation AND g.status = 'building')`;

export class SqliteAnalyticsStore implements AnalyticsStore {
  constructor(
    private readonly db: Database.Database,
    private readonly tables: GenerationTables,
  ) {}

  async writeRunSummary(instanceId: string, generation: number, jobId: string, computedAt: string, summary: AnalyticsRunSummary): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO analytics_history (instance_id, kind, name, generation, job_id, computed_at, value, count)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const m of summary.measures)
        insert.run(instanceId, 'measure', m.name, generation, jobId, computedAt, JSON.stringify(m.value), m.customersWithValue);
      for (const s of summary.segments) insert.run(instanceId, 'segment', s.name, generation, jobId, computedAt, null, s.size);
    })();
  }

  async measuresOf(instanceId: string, customerId: string): Promise<Record<string, FieldValue> | undefined> {
    const r = this.tables.readCurrent(instanceId, 'customer_measures', (measures) =>
      this.db
        .prepare(`SELECT data FROM ${measures} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`)
        .get({ instanceId, customerId }),
    ) as Row | undefined;
    return r && JSON.parse(r.data as string);
  }

  async segmentsOf(instanceId: string, customerId: string): Promise<string[]> {
    return this.tables.readCurrent(instanceId, 'segment_members', (members) =>
      this.db
        .prepare(`SELECT segment FROM ${members} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId ORDER BY segment`)
        .pluck()
        .all({ instanceId, customerId }),
    ) as string[];
  }

  async segmentMembers(instanceId: string, segment: string, page: { skip?: number; top?: number } = {}): Promise<string[]> {
    return this.tables.readCurrent(instanceId, 'segment_members', (members) =>
      this.db
        .prepare(
          `SELECT customer_id FROM ${members} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND segment = @segment
           ORDER BY customer_id LIMIT @top OFFSET @skip`,
        )
        .pluck()
        .all({ instanceId, segment, top: page.top ?? 100, skip: page.skip ?? 0 }),
    ) as string[];
  }

  async measureHistory(instanceId: string, measure: string, limit = 50): Promise<MeasureHistoryEntry[]> {
    const rows = this.db
      .prepare(
        `SELECT generation, job_id, computed_at, value, count FROM analytics_history h
         WHERE instance_id = ? AND kind = 'measure' AND name = ? AND ${COMMITTED} ORDER BY generation DESC LIMIT ?`,
      )
      .all(instanceId, measure, limit) as Row[];
    return rows.map((r) => ({
      generation: r.generation as number,
      jobId: r.job_id as string,
      computedAt: r.computed_at as string,
      value: r.value === null ? null : (JSON.parse(r.value as string) as FieldValue),
      customersWithValue: (r.count as number | null) ?? null,
    }));
  }

  async segmentHistory(instanceId: string, segment: string, limit = 50): Promise<SegmentHistoryEntry[]> {
    const rows = this.db
      .prepare(
        `SELECT generation, job_id, computed_at, count FROM analytics_history h
         WHERE instance_id = ? AND kind = 'segment' AND name = ? AND ${COMMITTED} ORDER BY generation DESC LIMIT ?`,
      )
      .all(instanceId, segment, limit) as Row[];
    return rows.map((r) => ({ generation: r.generation as number, jobId: r.job_id as string, computedAt: r.computed_at as string, size: r.count as number }));
  }

  /**
   * Inside the store's deletion of a generation, before its `generations` row goes: per-customer rows
   * in the shared tables (generations written before they had tables of their own) always go; the run's history stays when the generation was committed (retired), and goes when
   * it was never committed (an aborted or crashed build).
   */
  deleteGeneration(instanceId: string, generation: number): void {
    this.db.prepare('DELETE FROM customer_measures WHERE instance_id = ? AND generation = ?').run(instanceId, generation);
    this.db.prepare('DELETE FROM segment_members WHERE instance_id = ? AND generation = ?').run(instanceId, generation);
    this.db
      .prepare(
        `DELETE FROM analytics_history AS h WHERE instance_id = ? AND generation = ? AND NOT EXISTS (
           SELECT 1 FROM generations g WHERE g.instance_id = h.instance_id AND g.generation = h.generation AND g.status IN ('live', 'retired'))`,
      )
      .run(instanceId, generation);
  }

  /**
   * SQL for IsMemberOfSegment('name') in a Customer read whose rows come from `src` (see
   * SqliteStore.queryEntity); `members` is the read generation's segment_members table.
   */
  segmentCondition(members: string, placeholder: string): string {
    return `EXISTS (SELECT 1 FROM ${members} m WHERE m.instance_id = @i AND m.generation = @g AND m.segment = ${placeholder} AND m.customer_id = src.customer_id)`;
  }
}

