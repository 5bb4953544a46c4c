// PostgreSQL adapter of the card sub-port. Every statement reads one customer's rows of one
// instance (the legend is read on its own, by instance and generation): no join across customers.
import type pg from 'pg';
import type { FieldSourceLegend } from '../../domain/field-sources.js';
import type { CardStore, TimelineActivity, TimelineQuery } from '../card.js';
import { current, inActivityOrder, one, rows } from './statements.js';

/**
 * Batch activities of the customer, and live real-time ones the batch does not have (yet); binds
 * $1 (instance), $2 (customer) and $3 (now).
 */
const ACTIVITIES = `
  SELECT activity_id, activity_time, data, NULL::text AS caller FROM activities
  WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2
  UNION ALL
  SELECT r.activity_id, r.activity_time, r.data, r.caller FROM realtime_activities r
  WHERE r.instance_id = $1 AND r.customer_id = $2 AND r.valid_until > $3
    AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.instance_id = $1 AND a.generation = ${current(1)} AND a.activity_id = r.activity_id)`;

export class PostgresCardStore implements CardStore {
  constructor(private readonly pool: pg.Pool) {}

  async fieldSources(instanceId: string, customerId: string): Promise<{ legend: FieldSourceLegend; encoded: string } | null> {
    // The generation is read once, so the legend and the customer's string belong together even
    // if a refresh switches generations in between.
    const g = await one(
      this.pool,
      `SELECT g.generation, g.field_source_legend FROM instances i
       JOIN generations g ON g.instance_id = i.id AND g.generation = i.current_generation WHERE i.id = $1`,
      [instanceId],
    );
    if (!g || g.field_source_legend === null) return null;
    const c = await one(this.pool, 'SELECT field_sources FROM customers WHERE instance_id = $1 AND generation = $2 AND customer_id = $3', [
      instanceId,
      g.generation,
      customerId,
    ]);
    if (!c || c.field_sources === null) return null;
    return { legend: g.field_source_legend as FieldSourceLegend, encoded: c.field_sources as string };
  }

  async timeline(instanceId: string, customerId: string, q: TimelineQuery, nowIso: string): Promise<TimelineActivity[]> {
    const where: string[] = [];
    const params: unknown[] = [instanceId, customerId, nowIso];
    if (q.from !== undefined) {
      params.push(q.from);
      where.push(`activity_time >= $${params.length}`);
    }
    if (q.to !== undefined) {
      params.push(q.to);
      where.push(`activity_time < $${params.length}`);
    }
    if (q.types?.length) {
      params.push(q.types);
      where.push(`data->>'ActivityType' = ANY($${params.length}::text[])`);
    }
    params.push(q.top, q.skip);
    const list = await rows(
      this.pool,
      `SELECT data, caller FROM (${ACTIVITIES}) AS a ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY activity_time DESC, activity_id LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return list.map((r) => {
      const a = inActivityOrder(r.data as TimelineActivity);
      if (a.Origin === 'realtime') a.caller = (r.caller as string | null) ?? null;
      return a;
    });
  }

  async activityTypes(instanceId: string, customerId: string, nowIso: string): Promise<string[]> {
    const list = await rows(
      this.pool,
      `SELECT DISTINCT (data->>'ActivityType') COLLATE "C" AS t FROM (${ACTIVITIES}) AS a WHERE data->>'ActivityType' IS NOT NULL ORDER BY t`,
      [instanceId, customerId, nowIso],
    );
    return list.map((r) => r.t as string);
  }
}
