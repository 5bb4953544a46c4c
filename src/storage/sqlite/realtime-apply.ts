// Applies real-time writes to SQLite: the statements of the real-time write path, on whichever
// connection runs them (the store's own for an in-memory database, a dedicated one in this thread,
// or one in the real-time writer thread, realtime-writer.ts).
//
// Writes travel in a compact form (EncodedWrite): an activity is the row to insert, its JSON
// already made, and the answer is one status code per write (AppliedGroup). A $batch of 10,000
// activities then costs the writer thread only its SQL, and copying it to and from the thread
// copies strings, not 10,000 activity objects each way.
import type Database from 'better-sqlite3';
import type { ActivityRecord } from '../../domain/profile.js';
import { sameActivityContent, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import { cachedStatement, GenerationTables } from './statements.js';

type ProfileWrite = Extract<RealtimeWrite, { kind: 'profile' }>;

/** An activity write as the parameters of the INSERT into realtime_activities, in column order. */
export type ActivityRow = [
  instanceId: string,
  activityId: string,
  customerId: string,
  activityTime: string,
  validUntil: string,
  caller: string | null,
  createdAt: string,
  sourceDataSource: string | null,
  sourceEntity: string | null,
  sourceKey: string | null,
  data: string,
];
const INSTANCE = 0;
const ACTIVITY_ID = 1;
const CUSTOMER_ID = 2;
const CREATED_AT = 6;
const DATA = 10;

/** The columns of realtime_activities in ActivityRow's order. */
const ACTIVITY_COLUMNS = 'instance_id, activity_id, customer_id, activity_time, valid_until, caller, created_at, source_data_source, source_entity, source_key, data';
const ACTIVITY_PARAMETERS = ACTIVITY_COLUMNS.split(',').map(() => '?').join(', ');

/** A write as the applier takes it: an activity as its row, a profile update as it is. */
export type EncodedWrite = ActivityRow | ProfileWrite;

/** What happened to each write of a group, in order; `stored` holds the stored JSON of replayed activities by index. */
export interface AppliedGroup {
  statuses: Uint8Array;
  stored: Record<number, string>;
}

const CREATED = 0;
const REPLAYED = 1;
const CONFLICT = 2;
const CUSTOMER_NOT_FOUND = 3;
const UPDATED = 4;

export function encodeWrites(writes: readonly RealtimeWrite[]): EncodedWrite[] {
  return writes.map((w): EncodedWrite => {
    if (w.kind === 'profile') return w;
    const a = w.activity;
    const s = w.sourceCustomer;
    return [
      w.instanceId,
      a.ActivityId,
      a.CustomerId,
      a.ActivityTime,
      a.ValidUntil as string,
      w.caller,
      w.createdAt,
      s?.dataSource ?? null,
      s?.entity ?? null,
      s?.key ?? null,
      w.json ?? JSON.stringify(a),
    ];
  });
}

/** The results of `writes` from what the applier answered for their encoded form. */
export function decodeResults(writes: readonly RealtimeWrite[], applied: AppliedGroup): RealtimeResult[] {
  return writes.map((w, i): RealtimeResult => {
    switch (applied.statuses[i]) {
      case UPDATED:
        return { status: 'updated', customerId: (w as ProfileWrite).customerId, validUntil: (w as ProfileWrite).validUntil };
      case CUSTOMER_NOT_FOUND:
        return { status: 'customerNotFound', customerId: w.kind === 'profile' ? w.customerId : w.activity.CustomerId };
      case CREATED:
        return { status: 'created', activity: (w as Extract<RealtimeWrite, { kind: 'activity' }>).activity };
      case REPLAYED:
        return { status: 'replayed', activity: JSON.parse(applied.stored[i]) as ActivityRecord };
      default:
        return { status: 'conflict', activityId: (w as Extract<RealtimeWrite, { kind: 'activity' }>).activity.ActivityId };
    }
  });
}

export class RealtimeApplier {
  private readonly stmts: ReturnType<typeof prepareStatements>;
  /** Each generation's customers and activities are in tables of their own (GenerationTables); one statement per table. */
  private readonly batchStmts = new Map<string, Database.Statement>();
  private readonly tables: GenerationTables;

  constructor(private readonly db: Database.Database) {
    this.stmts = prepareStatements(db);
    this.tables = new GenerationTables(db);
  }

  /** The writes in one transaction (each succeeds or fails on its own); committed when this returns. */
  apply(writes: RealtimeWrite[]): RealtimeResult[] {
    return decodeResults(writes, this.applyEncoded(encodeWrites(writes)));
  }

  /** Encoded writes in one transaction (each succeeds or fails on its own); committed when this returns. */
  applyEncoded(writes: readonly EncodedWrite[]): AppliedGroup {
    return this.db
      .transaction((): AppliedGroup => {
        const statuses = new Uint8Array(writes.length);
        const stored: Record<number, string> = {};
        // The transaction holds the write lock, so neither the current generation nor the
        // customers in it change until it ends: each is looked up once per group.
        const group = new GroupLookups(this.stmts, (instanceId, generation) => this.generationStatements(instanceId, generation));
        for (let i = 0; i < writes.length; i++) {
          const w = writes[i];
          if (Array.isArray(w)) {
            const replay = this.applyActivity(w, group);
            if (typeof replay === 'string') {
              statuses[i] = REPLAYED;
              stored[i] = replay;
            } else statuses[i] = replay;
          } else statuses[i] = this.applyProfile(w, group);
        }
        return { statuses, stored };
      })
      .immediate();
  }

  /** The statements that read a generation's own tables (their names depend on it). */
  private generationStatements(instanceId: string, generation: number): GenerationStatements {
    const customers = this.tables.table('customers', instanceId, generation);
    const activities = this.tables.table('activities', instanceId, generation);
    const statement = (sql: string) => cachedStatement(this.db, this.batchStmts, sql);
    return {
      generation,
      customerExists: statement(`SELECT 1 FROM ${customers} WHERE instance_id = ? AND generation = ? AND customer_id = ?`).pluck(),
      batchActivity: statement(`SELECT data FROM ${activities} WHERE instance_id = ? AND generation = ? AND activity_id = ?`).pluck(),
    };
  }

  private applyProfile(w: ProfileWrite, group: GroupLookups): number {
    if (!group.customerExists(w.instanceId, w.customerId)) return CUSTOMER_NOT_FOUND;
    for (const [attribute, value] of Object.entries(w.changes)) {
      this.stmts.upsertOverride.run(w.instanceId, w.customerId, attribute, JSON.stringify(value), w.caller, w.setAt, w.validUntil);
    }
    return UPDATED;
  }

  /** The status, or the stored JSON of the activity when the write is a replay of it. */
  private applyActivity(row: ActivityRow, group: GroupLookups): number | string {
    const instanceId = row[INSTANCE];
    const activityId = row[ACTIVITY_ID];
    if (!group.customerExists(instanceId, row[CUSTOMER_ID])) return CUSTOMER_NOT_FOUND;
    // The customer exists, so the instance has a generation.
    const tables = group.statements(instanceId)!;
    // Inside the write transaction: the generation and its table cannot change under this read.
    const batch = tables.batchActivity.get(instanceId, tables.generation, activityId) as string | undefined;
    if (batch !== undefined) {
      // The refresh already brought this activity: re-sending the same record is a replay, not a conflict.
      return sameStoredContent(batch, row[DATA]) ? batch : CONFLICT;
    }
    // Insert first: a new ActivityId (the common case) costs one statement; only a repeated one is read back.
    if (this.stmts.insertActivity.run(row).changes === 1) return CREATED;
    const stored = this.stmts.storedActivity.get(instanceId, activityId) as { data: string; valid_until: string };
    // An expired activity that the sweeper has not purged yet is gone for readers: publish anew.
    if (stored.valid_until <= row[CREATED_AT]) {
      this.stmts.deleteActivity.run(instanceId, activityId);
      this.stmts.insertActivity.run(row);
      return CREATED;
    }
    return sameStoredContent(stored.data, row[DATA]) ? stored.data : CONFLICT;
  }
}

/** Two stored forms (JSON) of one ActivityId: equal text, or else the same content. */
function sameStoredContent(storedJson: string, postedJson: string): boolean {
  return storedJson === postedJson || sameActivityContent(JSON.parse(storedJson) as ActivityRecord, JSON.parse(postedJson) as ActivityRecord);
}

function prepareStatements(db: Database.Database) {
  return {
    generation: db.prepare('SELECT current_generation FROM instances WHERE id = ?').pluck(),
    upsertOverride: db.prepare(
      `INSERT INTO profile_overrides (instance_id, customer_id, attribute, value, caller, set_at, valid_until)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (instance_id, customer_id, attribute) DO UPDATE SET value = excluded.value, caller = excluded.caller,
         set_at = excluded.set_at, valid_until = excluded.valid_until`,
    ),
    insertActivity: db.prepare(`INSERT INTO realtime_activities (${ACTIVITY_COLUMNS}) VALUES (${ACTIVITY_PARAMETERS}) ON CONFLICT (instance_id, activity_id) DO NOTHING`),
    storedActivity: db.prepare('SELECT data, valid_until FROM realtime_activities WHERE instance_id = ? AND activity_id = ?'),
    deleteActivity: db.prepare('DELETE FROM realtime_activities WHERE instance_id = ? AND activity_id = ?'),
  };
}

/** The statements on one generation's tables, looked up once per group. */
interface GenerationStatements {
  generation: number;
  customerExists: Database.Statement;
  batchActivity: Database.Statement;
}

/** Lookups that stay true for the length of one transaction: current generations, their statements, and existing customers. */
class GroupLookups {
  /** By instance: the current generation's statements, or null if the instance has no generation. */
  private readonly generations = new Map<string, GenerationStatements | null>();
  /** Whether each customer exists, by instance. */
  private readonly customers = new Map<string, Map<string, boolean>>();

  constructor(
    private readonly stmts: ReturnType<typeof prepareStatements>,
    private readonly statementsOf: (instanceId: string, generation: number) => GenerationStatements,
  ) {}

  statements(instanceId: string): GenerationStatements | null {
    let g = this.generations.get(instanceId);
    if (g === undefined) {
      const generation = (this.stmts.generation.get(instanceId) as number | null | undefined) ?? null;
      this.generations.set(instanceId, (g = generation === null ? null : this.statementsOf(instanceId, generation)));
    }
    return g;
  }

  customerExists(instanceId: string, customerId: string): boolean {
    let known = this.customers.get(instanceId);
    if (!known) this.customers.set(instanceId, (known = new Map()));
    let exists = known.get(customerId);
    if (exists === undefined) {
      const tables = this.statements(instanceId);
      known.set(customerId, (exists = tables !== null && tables.customerExists.get(instanceId, tables.generation, customerId) !== undefined));
    }
    return exists;
  }
}
