// Applies real-time writes to PostgreSQL: the statements of the real-time write path, in one
// transaction per group (realtime-writer.ts) on a client of the pool.
//
// Set-based: a group costs the same few statements whatever its size (one lock of the instance
// rows, one lookup of customers and batch activities, one upsert of overrides, one insert of
// activities), because every statement is a round trip to the server and a real-time node spends
// its time waiting for them, not in them. The results are those of applying the writes one by one,
// in order: the rare cases that depend on order (an ActivityId posted twice in the group, or already
// stored) are worked out here from what the statements returned.
import pg from 'pg';
import type { ActivityRecord } from '../../domain/profile.js';
import { sameActivityContent, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import { rows, type Row } from './statements.js';

const { escapeLiteral } = pg;

type ActivityWrite = Extract<RealtimeWrite, { kind: 'activity' }>;

/** A real-time activity as stored (or as a write of this group left it). */
interface StoredActivity {
  data: ActivityRecord;
  validUntil: string;
}

/** One profile_overrides row: the last write of the group to the attribute. */
interface OverrideRow {
  instanceId: string;
  customerId: string;
  attribute: string;
  value: string;
  caller: string | null;
  setAt: string;
  validUntil: string;
}

/** A map key for a pair of texts (PostgreSQL text never holds NUL). */
const pair = (a: string, b: string) => `${a}\u0000${b}`;

/** Orders rows by key before a multi-row write: concurrent groups then lock shared rows in the same order and never deadlock. */
const byKey = <T>(list: T[], keyOf: (t: T) => string): T[] => list.sort((x, y) => (keyOf(x) < keyOf(y) ? -1 : keyOf(x) > keyOf(y) ? 1 : 0));

const activityKey = (w: ActivityWrite) => pair(w.instanceId, w.activity.ActivityId);

const storedOf = (w: ActivityWrite): StoredActivity => ({ data: w.activity, validUntil: w.activity.ValidUntil as string });

export class RealtimeApplier {
  constructor(private readonly client: pg.PoolClient) {}

  /**
   * The writes, in the caller's transaction; each succeeds or fails on its own. `begin` (statements
   * without parameters, such as BEGIN) is sent with the first statement, saving a round trip.
   */
  async apply(writes: RealtimeWrite[], begin = ''): Promise<RealtimeResult[]> {
    const generations = await this.lockGenerations(writes, begin);
    const { customers, batch } = await this.lookUp(writes, generations);
    const results: RealtimeResult[] = new Array(writes.length);
    const overrides = new Map<string, OverrideRow>();
    /** Activity writes that reach realtime_activities, in order, with their places in the group. */
    const pending: { index: number; write: ActivityWrite }[] = [];
    writes.forEach((w, i) => {
      const customerId = w.kind === 'profile' ? w.customerId : w.activity.CustomerId;
      if (!customers.has(pair(w.instanceId, customerId))) {
        results[i] = { status: 'customerNotFound', customerId };
      } else if (w.kind === 'profile') {
        // A later write to the same attribute replaces the earlier one, as it would one by one.
        for (const [attribute, value] of Object.entries(w.changes)) {
          overrides.set(`${pair(w.instanceId, w.customerId)}\u0000${attribute}`, {
            instanceId: w.instanceId,
            customerId: w.customerId,
            attribute,
            value: JSON.stringify(value),
            caller: w.caller,
            setAt: w.setAt,
            validUntil: w.validUntil,
          });
        }
        results[i] = { status: 'updated', customerId: w.customerId, validUntil: w.validUntil };
      } else {
        const stored = batch.get(activityKey(w));
        // The refresh already brought this activity: re-sending the same record is a replay, not a conflict.
        if (stored) results[i] = sameActivityContent(stored, w.activity) ? { status: 'replayed', activity: stored } : { status: 'conflict', activityId: w.activity.ActivityId };
        else pending.push({ index: i, write: w });
      }
    });
    await this.upsertOverrides([...overrides.values()]);
    await this.storeActivities(pending, results);
    return results;
  }

  /**
   * The current generation per instance of the group, read with FOR SHARE before anything else: a
   * refresh switching generations (FOR UPDATE of the instance row) waits for the group, and the
   * group for it, as the one-writer SQLite transaction does. Statements after this one see the
   * generation it returns (READ COMMITTED takes a new snapshot per statement).
   */
  private async lockGenerations(writes: RealtimeWrite[], begin: string): Promise<Map<string, number>> {
    const ids = [...new Set(writes.map((w) => w.instanceId))].sort();
    // Literals, not parameters: several statements in one query need the simple protocol (whose
    // text ends at a NUL, which no PostgreSQL text can hold anyway).
    if (ids.some((id) => id.includes('\u0000'))) throw new Error('an instance id holds a NUL character');
    const sent = await this.client.query(
      `${begin ? `${begin}; ` : ''}SELECT id, current_generation AS g FROM instances WHERE id IN (${ids.map(escapeLiteral).join(', ')}) ORDER BY id FOR SHARE`,
    );
    const found = (Array.isArray(sent) ? sent.at(-1) : sent).rows as Row[];
    const generations = new Map<string, number>();
    for (const r of found) if (r.g !== null) generations.set(r.id as string, r.g as number);
    return generations;
  }

  /** Which customers of the group exist in the current generation, and which of its ActivityIds that generation has (with their records). */
  private async lookUp(writes: RealtimeWrite[], generations: Map<string, number>): Promise<{ customers: Set<string>; batch: Map<string, ActivityRecord> }> {
    const customers = new Map<string, [string, number, string]>();
    const activities = new Map<string, [string, number, string]>();
    for (const w of writes) {
      const g = generations.get(w.instanceId);
      if (g === undefined) continue;
      const customerId = w.kind === 'profile' ? w.customerId : w.activity.CustomerId;
      customers.set(pair(w.instanceId, customerId), [w.instanceId, g, customerId]);
      if (w.kind === 'activity') activities.set(activityKey(w), [w.instanceId, g, w.activity.ActivityId]);
    }
    const result = { customers: new Set<string>(), batch: new Map<string, ActivityRecord>() };
    if (!customers.size) return result;
    const columns = (m: Map<string, [string, number, string]>) => [0, 1, 2].map((c) => [...m.values()].map((t) => t[c]));
    const found = await rows(
      this.client,
      `SELECT 'c' AS kind, c.instance_id, c.customer_id AS id, NULL::jsonb AS data
         FROM unnest($1::text[], $2::int[], $3::text[]) AS u(instance_id, generation, id)
         JOIN customers c ON c.instance_id = u.instance_id AND c.generation = u.generation AND c.customer_id = u.id
       UNION ALL
       SELECT 'a', a.instance_id, a.activity_id, a.data
         FROM unnest($4::text[], $5::int[], $6::text[]) AS u(instance_id, generation, id)
         JOIN activities a ON a.instance_id = u.instance_id AND a.generation = u.generation AND a.activity_id = u.id`,
      [...columns(customers), ...columns(activities)],
    );
    for (const r of found) {
      if (r.kind === 'c') result.customers.add(pair(r.instance_id as string, r.id as string));
      else result.batch.set(pair(r.instance_id as string, r.id as string), r.data as ActivityRecord);
    }
    return result;
  }

  private async upsertOverrides(overrides: OverrideRow[]): Promise<void> {
    if (!overrides.length) return;
    byKey(overrides, (o) => `${pair(o.instanceId, o.customerId)}\u0000${o.attribute}`);
    const column = <K extends keyof OverrideRow>(k: K) => overrides.map((o) => o[k]);
    await this.client.query(
      `INSERT INTO profile_overrides (instance_id, customer_id, attribute, value, caller, set_at, valid_until)
       SELECT u.instance_id, u.customer_id, u.attribute, u.value::jsonb, u.caller, u.set_at, u.valid_until
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
           AS u(instance_id, customer_id, attribute, value, caller, set_at, valid_until)
       ON CONFLICT (instance_id, customer_id, attribute) DO UPDATE SET value = excluded.value, caller = excluded.caller,
         set_at = excluded.set_at, valid_until = excluded.valid_until`,
      [column('instanceId'), column('customerId'), column('attribute'), column('value'), column('caller'), column('setAt'), column('validUntil')],
    );
  }

  /**
   * The activity writes `pending` (in order; their customers exist and the batch does not have their
   * ActivityIds): the first write of each ActivityId is inserted unless one is
   * stored; the others, and the first ones that found one stored, are then decided in order against
   * what the writes before them left: replayed (same content), conflict, or created anew when the
   * stored one has expired (the sweeper has not purged it yet; it is gone for readers).
   */
  private async storeActivities(pending: { index: number; write: ActivityWrite }[], results: RealtimeResult[]): Promise<void> {
    if (!pending.length) return;
    const first = new Map<string, ActivityWrite>();
    for (const { write } of pending) if (!first.has(activityKey(write))) first.set(activityKey(write), write);
    const inserted = await this.insertActivities([...first.values()], false);
    const state = new Map<string, StoredActivity>();
    const repeated = [...first.keys()].filter((k) => !inserted.has(k));
    if (repeated.length) for (const [k, stored] of await this.storedActivities(repeated)) state.set(k, stored);
    /** Keys whose stored row gives way to a write of this group, with the last such write. */
    const replaced = new Map<string, ActivityWrite>();
    for (const { index: i, write: w } of pending) {
      const k = activityKey(w);
      if (first.get(k) === w && inserted.has(k)) {
        state.set(k, storedOf(w));
        results[i] = { status: 'created', activity: w.activity };
        continue;
      }
      const stored = state.get(k);
      // Expired, or purged by the sweeper since the insert found it: publish anew.
      if (!stored || stored.validUntil <= w.createdAt) {
        state.set(k, storedOf(w));
        replaced.set(k, w);
        results[i] = { status: 'created', activity: w.activity };
        continue;
      }
      results[i] = sameActivityContent(stored.data, w.activity) ? { status: 'replayed', activity: stored.data } : { status: 'conflict', activityId: w.activity.ActivityId };
    }
    if (replaced.size) await this.insertActivities([...replaced.values()], true);
  }

  /**
   * Inserts real-time activities (one per ActivityId); returns the keys of those inserted. Without
   * `replace`, an ActivityId already stored is left alone; with it, the stored row is overwritten.
   */
  private async insertActivities(list: ActivityWrite[], replace: boolean): Promise<Set<string>> {
    byKey(list, activityKey);
    const column = (f: (w: ActivityWrite) => unknown) => list.map(f);
    const inserted = await rows(
      this.client,
      `INSERT INTO realtime_activities (instance_id, activity_id, customer_id, activity_time, valid_until, caller, created_at,
         source_data_source, source_entity, source_key, data)
       SELECT u.instance_id, u.activity_id, u.customer_id, u.activity_time, u.valid_until, u.caller, u.created_at,
         u.source_data_source, u.source_entity, u.source_key, u.data::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
           AS u(instance_id, activity_id, customer_id, activity_time, valid_until, caller, created_at, source_data_source, source_entity, source_key, data)
       ON CONFLICT (instance_id, activity_id) ${
         replace
           ? `DO UPDATE SET customer_id = excluded.customer_id, activity_time = excluded.activity_time, valid_until = excluded.valid_until,
                caller = excluded.caller, created_at = excluded.created_at,
                source_data_source = excluded.source_data_source, source_entity = excluded.source_entity, source_key = excluded.source_key, data = excluded.data`
           : 'DO NOTHING'
       }
       RETURNING instance_id, activity_id`,
      [
        column((w) => w.instanceId),
        column((w) => w.activity.ActivityId),
        column((w) => w.activity.CustomerId),
        column((w) => w.activity.ActivityTime),
        column((w) => w.activity.ValidUntil),
        column((w) => w.caller),
        column((w) => w.createdAt),
        column((w) => w.sourceCustomer?.dataSource ?? null),
        column((w) => w.sourceCustomer?.entity ?? null),
        column((w) => w.sourceCustomer?.key ?? null),
        column((w) => w.json ?? JSON.stringify(w.activity)),
      ],
    );
    return new Set(inserted.map((r) => pair(r.instance_id as string, r.activity_id as string)));
  }

  /** The stored real-time activities of the keys (pairs of instance and ActivityId). */
  private async storedActivities(keys: string[]): Promise<Map<string, StoredActivity>> {
    const split = keys.map((k) => k.split('\u0000'));
    const found = await rows(
      this.client,
      `SELECT r.instance_id, r.activity_id, r.data, r.valid_until
         FROM unnest($1::text[], $2::text[]) AS u(instance_id, activity_id)
         JOIN realtime_activities r ON r.instance_id = u.instance_id AND r.activity_id = u.activity_id`,
      [split.map((s) => s[0]), split.map((s) => s[1])],
    );
    return new Map(
      found.map((r) => [
        pair(r.instance_id as string, r.activity_id as string),
        { data: r.data as ActivityRecord, validUntil: r.valid_until as string },
      ]),
    );
  }
}
