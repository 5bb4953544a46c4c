// Applies real-time writes to SQLite: the statements of the real-time write path, on whichever
// connection runs them (the store's own for an in-memory database, a dedicated one in this thread,
// or one in the real-time writer thread, realtime-writer.ts).
import type Database from 'better-sqlite3';
import type { ActivityRecord } from '../../domain/profile.js';
import { activityContentHash, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import { cachedStatement, CURRENT, GenerationTables, type Row } from './statements.js';

export class RealtimeApplier {
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly tables: GenerationTables;

  constructor(private readonly db: Database.Database) {
    this.tables = new GenerationTables(db);
  }

  /** The writes in one transaction (each succeeds or fails on its own); committed when this returns. */
  apply(writes: RealtimeWrite[]): RealtimeResult[] {
    return this.db.transaction(() => writes.map((w) => this.applyOne(w))).immediate();
  }

  private stmt(sql: string): Database.Statement {
    return cachedStatement(this.db, this.stmts, sql);
  }

  private applyOne(w: RealtimeWrite): RealtimeResult {
    if (w.kind === 'profile') {
      const exists = this.stmt(`SELECT 1 FROM customers WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`).get({
        instanceId: w.instanceId,
        customerId: w.customerId,
      });
      if (!exists) return { status: 'customerNotFound', customerId: w.customerId };
      const upsert = this.stmt(
        `INSERT INTO profile_overrides (instance_id, customer_id, attribute, value, caller, set_at, valid_until)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (instance_id, customer_id, attribute) DO UPDATE SET value = excluded.value, caller = excluded.caller,
           set_at = excluded.set_at, valid_until = excluded.valid_until`,
      );
      for (const [attribute, value] of Object.entries(w.changes)) {
        upsert.run(w.instanceId, w.customerId, attribute, JSON.stringify(value), w.caller, w.setAt, w.validUntil);
      }
      return { status: 'updated', customerId: w.customerId, validUntil: w.validUntil };
    }
    const a = w.activity;
    const exists = this.stmt(`SELECT 1 FROM customers WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`).get({
      instanceId: w.instanceId,
      customerId: a.CustomerId,
    });
    if (!exists) return { status: 'customerNotFound', customerId: a.CustomerId };
    // Inside the write transaction of apply(): the generation cannot change under this read.
    const activities = this.tables.currentTable(w.instanceId, 'activities');
    const batch = this.stmt(`SELECT data FROM ${activities} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND activity_id = @activityId`).get({
      instanceId: w.instanceId,
      activityId: a.ActivityId,
    }) as Row | undefined;
    if (batch) {
      // The refresh already brought this activity: re-sending the same record is a replay, not a conflict.
      const stored = JSON.parse(batch.data as string) as ActivityRecord;
      return activityContentHash(stored) === w.contentHash ? { status: 'replayed', activity: stored } : { status: 'conflict', activityId: a.ActivityId };
    }
    // Insert first: a new ActivityId (the common case) costs one statement; only a repeated one is read back.
    if (this.insertRealtimeActivity(w)) return { status: 'created', activity: a };
    const stored = this.stmt('SELECT content_hash, data, valid_until FROM realtime_activities WHERE instance_id = ? AND activity_id = ?').get(
      w.instanceId,
      a.ActivityId,
    ) as Row;
    // An expired activity that the sweeper has not purged yet is gone for readers: publish anew.
    if ((stored.valid_until as string) <= w.createdAt) {
      this.stmt('DELETE FROM realtime_activities WHERE instance_id = ? AND activity_id = ?').run(w.instanceId, a.ActivityId);
      this.insertRealtimeActivity(w);
      return { status: 'created', activity: a };
    }
    return stored.content_hash === w.contentHash
      ? { status: 'replayed', activity: JSON.parse(stored.data as string) }
      : { status: 'conflict', activityId: a.ActivityId };
  }

  /** Inserts a real-time activity unless one with its ActivityId is stored; true if inserted. */
  private insertRealtimeActivity(w: Extract<RealtimeWrite, { kind: 'activity' }>): boolean {
    const a = w.activity;
    return (
      this.stmt(
        `INSERT INTO realtime_activities (instance_id, activity_id, customer_id, activity_time, valid_until, content_hash, caller, created_at,
           source_data_source, source_entity, source_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (instance_id, activity_id) DO NOTHING`,
      ).run(
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
      ).changes === 1
    );
  }
}
