// Applies real-time writes to PostgreSQL: the statements of the real-time write path, in one
// transaction per group (realtime-writer.ts) on a client of the pool.
import type pg from 'pg';
import type { ActivityRecord } from '../../domain/profile.js';
import { activityContentHash, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import { one, run, type Row } from './statements.js';

export class RealtimeApplier {
  /**
   * The current generation per instance, read once per group with FOR SHARE: a refresh switching
   * generations (FOR UPDATE of the instance row) waits for the group, and the group for it, as the
   * one-writer SQLite transaction does.
   */
  private readonly generations = new Map<string, number | null>();

  constructor(private readonly client: pg.PoolClient) {}

  /** The writes, in the caller's transaction; each succeeds or fails on its own. */
  async apply(writes: RealtimeWrite[]): Promise<RealtimeResult[]> {
    const results: RealtimeResult[] = [];
    for (const w of writes) results.push(await this.applyOne(w));
    return results;
  }

  private async generation(instanceId: string): Promise<number | null> {
    if (this.generations.has(instanceId)) return this.generations.get(instanceId)!;
    const r = await one(this.client, 'SELECT current_generation AS g FROM instances WHERE id = $1 FOR SHARE', [instanceId]);
    const g = (r?.g as number | null | undefined) ?? null;
    this.generations.set(instanceId, g);
    return g;
  }

  private async customerExists(instanceId: string, customerId: string): Promise<boolean> {
    const g = await this.generation(instanceId);
    if (g === null) return false;
    return !!(await one(this.client, 'SELECT 1 FROM customers WHERE instance_id = $1 AND generation = $2 AND customer_id = $3', [instanceId, g, customerId]));
  }

  private async applyOne(w: RealtimeWrite): Promise<RealtimeResult> {
    if (w.kind === 'profile') {
      if (!(await this.customerExists(w.instanceId, w.customerId))) return { status: 'customerNotFound', customerId: w.customerId };
      const entries = Object.entries(w.changes);
      if (entries.length) {
        await run(
          this.client,
          `INSERT INTO profile_overrides (instance_id, customer_id, attribute, value, caller, set_at, valid_until)
           SELECT $1, $2, u.attribute, u.value::jsonb, $3, $4, $5 FROM unnest($6::text[], $7::text[]) AS u(attribute, value)
           ON CONFLICT (instance_id, customer_id, attribute) DO UPDATE SET value = excluded.value, caller = excluded.caller,
             set_at = excluded.set_at, valid_until = excluded.valid_until`,
          [w.instanceId, w.customerId, w.caller, w.setAt, w.validUntil, entries.map((e) => e[0]), entries.map((e) => JSON.stringify(e[1]))],
        );
      }
      return { status: 'updated', customerId: w.customerId, validUntil: w.validUntil };
    }
    const a = w.activity;
    if (!(await this.customerExists(w.instanceId, a.CustomerId))) return { status: 'customerNotFound', customerId: a.CustomerId };
    const batch = await one(this.client, 'SELECT data FROM activities WHERE instance_id = $1 AND generation = $2 AND activity_id = $3', [
      w.instanceId,
      await this.generation(w.instanceId),
      a.ActivityId,
    ]);
    if (batch) {
      // The refresh already brought this activity: re-sending the same record is a replay, not a conflict.
      const stored = batch.data as ActivityRecord;
      return activityContentHash(stored) === w.contentHash ? { status: 'replayed', activity: stored } : { status: 'conflict', activityId: a.ActivityId };
    }
    // Insert first: a new ActivityId (the common case) costs one statement; only a repeated one is read back.
    if (await this.insertRealtimeActivity(w)) return { status: 'created', activity: a };
    const stored = (await one(this.client, 'SELECT content_hash, data, valid_until FROM realtime_activities WHERE instance_id = $1 AND activity_id = $2', [
      w.instanceId,
      a.ActivityId,
    ])) as Row;
    // An expired activity that the sweeper has not purged yet is gone for readers: publish anew.
    if ((stored.valid_until as string) <= w.createdAt) {
      await run(this.client, 'DELETE FROM realtime_activities WHERE instance_id = $1 AND activity_id = $2', [w.instanceId, a.ActivityId]);
      await this.insertRealtimeActivity(w);
      return { status: 'created', activity: a };
    }
    return stored.content_hash === w.contentHash
      ? { status: 'replayed', activity: stored.data as ActivityRecord }
      : { status: 'conflict', activityId: a.ActivityId };
  }

  /** Inserts a real-time activity unless one with its ActivityId is stored; true if inserted. */
  private async insertRealtimeActivity(w: Extract<RealtimeWrite, { kind: 'activity' }>): Promise<boolean> {
    const a = w.activity;
    const inserted = await run(
      this.client,
      `INSERT INTO realtime_activities (instance_id, activity_id, customer_id, activity_time, valid_until, content_hash, caller, created_at,
         source_data_source, source_entity, source_key, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
       ON CONFLICT (instance_id, activity_id) DO NOTHING`,
      [
        w.instanceId,
        a.ActivityId,
        a.CustomerId,
        a.ActivityTime,
        a.ValidUntil,
        w.contentHash,
        w.caller,
        w.createdAt,
        w.sourceCustomer?.dataSource ?? null,
        w.sourceCustomer?.entity ?? null,
        w.sourceCustomer?.key ?? null,
        JSON.stringify(a),
      ],
    );
    return inserted === 1;
  }
}
