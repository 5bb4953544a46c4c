// SQLite adapter of the card sub-port.
import type Database from 'better-sqlite3';
import type { FieldSourceLegend } from '../../domain/field-sources.js';
import type { CardStore, TimelineActivity, TimelineQuery } from '../card.js';
import type { GenerationTables } from './statements.js';

const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';

/** Batch activities of the customer, and live real-time ones the batch does not have (yet). */
const activitiesOf = (activities: string) => `
  SELECT activity_id, activity_time, data, NULL AS caller FROM ${activities}
  WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId
  UNION ALL
  SELECT r.activity_id, r.activity_time, r.data, r.caller FROM realtime_activities r
  WHERE r.instance_id = @instanceId AND r.customer_id = @customerId AND r.valid_until > @now
    AND NOT EXISTS (SELECT 1 FROM ${activities} a WHERE a.instance_id = @instanceId AND a.generation = ${CURRENT} AND a.activity_id = r.activity_id)`;

export class SqliteCardStore implements CardStore {
  constructor(
    private readonly db: Database.Database,
    private readonly tables: GenerationTables,
  ) {}

  async fieldSources(instanceId: string, customerId: string): Promise<{ legend: FieldSourceLegend; encoded: string } | null> {
    const r = this.tables.readCurrent(instanceId, 'customers', (customers) =>
      this.db
        .prepare(
          `SELECT c.field_sources, g.field_source_legend FROM ${customers} c
           JOIN generations g ON g.instance_id = c.instance_id AND g.generation = c.generation
           WHERE c.instance_id = @instanceId AND c.generation = ${CURRENT} AND c.customer_id = @customerId`,
        )
        .get({ instanceId, customerId }),
    ) as { field_sources: string | null; field_source_legend: string | null } | undefined;
    if (!r || r.field_sources === null || r.field_source_legend === null) return null;
    return { legend: JSON.parse(r.field_source_legend), encoded: r.field_sources };
  }

  async timeline(instanceId: string, customerId: string, q: TimelineQuery, nowIso: string): Promise<TimelineActivity[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { instanceId, customerId, now: nowIso, top: q.top, skip: q.skip };
    if (q.from !== undefined) {
      where.push('activity_time >= @from');
      params.from = q.from;
    }
    if (q.to !== undefined) {
      where.push('activity_time < @to');
      params.to = q.to;
    }
    if (q.types?.length) {
      where.push(`json_extract(data, '$.ActivityType') IN (${q.types.map((_, i) => `@type${i}`).join(', ')})`);
      q.types.forEach((t, i) => (params[`type${i}`] = t));
    }
    const rows = this.tables.readCurrent(instanceId, 'activities', (activities) =>
      this.db
        .prepare(
          `SELECT data, caller FROM (${activitiesOf(activities)}) ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY activity_time DESC, activity_id LIMIT @top OFFSET @skip`,
        )
        .all(params),
    ) as { data: string; caller: string | null }[];
    return rows.map((r) => {
      const a = JSON.parse(r.data) as TimelineActivity;
      if (a.Origin === 'realtime') a.caller = r.caller;
      return a;
    });
  }

  async activityTypes(instanceId: string, customerId: string, nowIso: string): Promise<string[]> {
    return (
      this.tables.readCurrent(instanceId, 'activities', (activities) =>
        this.db
          .prepare(`SELECT DISTINCT json_extract(data, '$.ActivityType') AS t FROM (${activitiesOf(activities)}) WHERE t IS NOT NULL ORDER BY t`)
          .pluck()
          .all({ instanceId, customerId, now: nowIso }),
      ) as string[]
    ).map(String);
  }
}
