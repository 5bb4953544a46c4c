// PostgreSQL adapter of the Store port (node-postgres pool). Mirrors sqlite/store.ts statement for
// statement: generations switched atomically at commit, the real-time overlay carried over in the
// same transaction, reads through the overlay.
import { apiKeyFromRow, instanceFromRow, jsonParsed, runFromRow } from '../rows.js';
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { compileFilter, compileOrderBy, type AttributeMap, type AttributeType } from '../../api/odata/sql.js';
import { filterAttributeNames, type FilterNode } from '../../api/odata/filter.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord, FieldValue } from '../../domain/profile.js';
import { type ProfileOverride, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import { newStages, type RunRecord, type StageRecord } from '../../domain/run.js';
import { checkMigrationList } from '../migrations.js';
import type { ApiKeyRecord, EntityQuery, GenerationWriter, InstanceRecord, Page, ProfileView, RefreshClaim, Store, UnifiedEntityName } from '../store.js';
import { PostgresAccessStore } from './access.js';
import { PostgresCardStore } from './card.js';
import { DURABLE } from './durability.js';
import { PostgresSearchStore } from './search.js';
import { PostgresTelemetryStore } from './telemetry.js';
import { postgresMigrations } from './migrations.js';
import { changeChannel, poolRealtimeWriter, type RealtimeWriter } from './realtime-writer.js';
import { announce, claimRefresh, claimSweep, clusterEventChannel, failInterruptedRuns, NodePresence } from './coordination.js';
import { copyRows, current, inActivityOrder, one, rows, run, transaction, type Queryable, type Row } from './statements.js';
import { PostgresAnalyticsStore } from './analytics.js';
import { PostgresEnrichmentStore } from './enrichment.js';
import { PostgresExportRunStore } from './exports.js';
import { PostgresNotificationStore } from './notifications.js';
import { PostgresUiSessionStore } from './sessions.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database */
  connectionString: string;
  /** Schema for Kindred's tables (created if missing); default: the connection's search_path (public). */
  schema?: string;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** This process's id in the change notifications to the other nodes (default: random); its change feed gets the same one. */
  nodeId?: string;
}

const now = () => new Date().toISOString();
const toInstance = (r: Row) => instanceFromRow(r, jsonParsed);
const toRun = (r: Row) => runFromRow(r, jsonParsed);
const toApiKey = apiKeyFromRow;

export const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;




const RUN_COLUMNS = 'instance_id, job_id, status, trigger, submitted_at, started_at, ended_at, error, generation, stages, summary';

/** Opens a pool and brings the schema up to date (several processes may do so at once). */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    ...(options.schema ? { options: `-c search_path=${quoteIdentifier(options.schema)}` } : {}),
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await migrate(pool, options.schema);
  } catch (err) {
    await pool.end();
    throw err;
  }
  // Real-time groups announce their changes on the schema's channel (src/realtime/postgres-change-feed.ts).
  const schema = options.schema ?? ((await one(pool, 'SELECT current_schema() AS s'))?.s as string);
  const nodeId = options.nodeId ?? randomUUID();
  return new PostgresStore(pool, poolRealtimeWriter(pool, { channel: changeChannel(schema), nodeId }), new NodePresence(pool, nodeId), clusterEventChannel(schema));
}

async function migrate(pool: pg.Pool, schema: string | undefined): Promise<void> {
  checkMigrationList(postgresMigrations);
  await transaction(pool, async (client) => {
    // One migrator per schema at a time; the others wait and then find nothing left to do (even
    // CREATE SCHEMA IF NOT EXISTS fails when two run at once).
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('kindred-migrations:' || COALESCE($1, current_schema())))`, [schema ?? null]);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((await rows(client, 'SELECT version FROM schema_migrations')).map((r) => r.version as number));
    for (const m of postgresMigrations) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
    }
  });
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  // Sub-ports (storage/store.ts); the others come with issue 8's second half.
  readonly access: PostgresAccessStore;
  readonly telemetry: PostgresTelemetryStore;
  readonly search: PostgresSearchStore;
  readonly card: PostgresCardStore;
  /** CustomerEnrichment rows per generation. */
  readonly enrichment: PostgresEnrichmentStore;
  /** Measures (Customer_Measure, business values) and segment membership per generation. */
  readonly analytics: PostgresAnalyticsStore;
  /** Recorded export runs. */
  readonly exportRuns: PostgresExportRunStore;
  /** Webhook deliveries and threshold state. */
  readonly notifications: PostgresNotificationStore;
  /** Web UI sessions. */
  readonly sessions: PostgresUiSessionStore;

  constructor(
    private readonly pool: pg.Pool,
    private readonly realtime: RealtimeWriter,
    private readonly presence: NodePresence,
    /** The schema's cluster event channel (coordination.ts): definition and access changes are announced on it. */
    private readonly events: string,
  ) {
    this.access = new PostgresAccessStore(pool, events);
    this.telemetry = new PostgresTelemetryStore(pool);
    this.search = new PostgresSearchStore(pool);
    this.card = new PostgresCardStore(pool);
    this.enrichment = new PostgresEnrichmentStore(pool);
    this.analytics = new PostgresAnalyticsStore(pool);
    this.exportRuns = new PostgresExportRunStore(pool, presence);
    this.notifications = new PostgresNotificationStore(pool);
    this.sessions = new PostgresUiSessionStore(pool);
  }

  async close(): Promise<void> {
    await this.realtime.close();
    await this.presence.close();
    await this.pool.end();
  }

  async putInstance(i: Pick<InstanceRecord, 'id' | 'name' | 'definition' | 'sourceFile' | 'baseDir'>): Promise<'created' | 'updated'> {
    // xmax = 0 only for a freshly inserted row: one statement tells created from updated. Every
    // node hears of the change after COMMIT and drops its cached definition and schedules.
    const r = await transaction(this.pool, async (client) => {
      const upserted = await one(
        client,
        `INSERT INTO instances (id, name, definition, source_file, base_dir, current_generation, created_at, updated_at)
         VALUES ($1, $2, $3::json, $4, $5, NULL, $6, $6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition = excluded.definition,
           source_file = excluded.source_file, base_dir = excluded.base_dir, updated_at = excluded.updated_at
         RETURNING (xmax = 0) AS created`,
        [i.id, i.name, JSON.stringify(i.definition), i.sourceFile, i.baseDir, now()],
      );
      await announce(client, this.events, { kind: 'instance', instanceId: i.id });
      return upserted;
    });
    return r?.created ? 'created' : 'updated';
  }

  async getInstance(id: string): Promise<InstanceRecord | undefined> {
    const r = await one(this.pool, 'SELECT * FROM instances WHERE id = $1', [id]);
    return r && toInstance(r);
  }

  async listInstances(): Promise<InstanceRecord[]> {
    return (await rows(this.pool, 'SELECT * FROM instances ORDER BY id')).map(toInstance);
  }

  async createRun(instanceId: string, trigger: RunRecord['trigger'], options: { scheduledFor?: string } = {}): Promise<{ run: RunRecord; created: boolean }> {
    // The partial unique indexes decide between concurrent callers, in any process: runs_one_active
    // (one active run per instance) and runs_scheduled_slot (one run per scheduled slot).
    const slot = options.scheduledFor ?? null;
    for (;;) {
      const run: RunRecord = {
        jobId: randomUUID(),
        instanceId,
        status: 'queued',
        trigger,
        submittedAt: now(),
        startedAt: null,
        endedAt: null,
        error: null,
        generation: null,
        stages: newStages(),
        summary: {},
      };
      const inserted = await one(
        this.pool,
        `INSERT INTO runs (instance_id, job_id, status, trigger, submitted_at, stages, summary, scheduled_for)
         VALUES ($1, $2, $3, $4, $5, $6::json, '{}', $7) ON CONFLICT DO NOTHING RETURNING job_id`,
        [instanceId, run.jobId, run.status, trigger, run.submittedAt, JSON.stringify(run.stages), slot],
      );
      if (inserted) return { run, created: true };
      const active = await this.activeRun(instanceId);
      // The active run may have finished in between: try again.
      if (active) return { run: active, created: false };
      const ofSlot = slot === null ? undefined : await one(this.pool, `SELECT ${RUN_COLUMNS} FROM runs WHERE instance_id = $1 AND scheduled_for = $2`, [instanceId, slot]);
      if (ofSlot) return { run: toRun(ofSlot), created: false };
    }
  }

  async updateRun(
    instanceId: string,
    jobId: string,
    patch: Partial<Pick<RunRecord, 'status' | 'startedAt' | 'endedAt' | 'error' | 'generation' | 'summary'>> & { stages?: StageRecord[] },
  ): Promise<void> {
    await this.runUpdate(this.pool, instanceId, jobId, patch);
  }

  private async runUpdate(q: Queryable, instanceId: string, jobId: string, patch: Partial<RunRecord>): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [instanceId, jobId];
    const columns: [keyof RunRecord, string][] = [
      ['status', 'status'],
      ['startedAt', 'started_at'],
      ['endedAt', 'ended_at'],
      ['error', 'error'],
      ['generation', 'generation'],
      ['stages', 'stages'],
      ['summary', 'summary'],
    ];
    for (const [key, column] of columns) {
      if (patch[key] === undefined) continue;
      const json = key === 'stages' || key === 'summary';
      params.push(json ? JSON.stringify(patch[key]) : patch[key]);
      sets.push(`${column} = $${params.length}${json ? '::json' : ''}`);
    }
    if (!sets.length) return;
    await run(q, `UPDATE runs SET ${sets.join(', ')} WHERE instance_id = $1 AND job_id = $2`, params);
  }

  async getRun(instanceId: string, jobId: string): Promise<RunRecord | undefined> {
    const r = await one(this.pool, `SELECT ${RUN_COLUMNS} FROM runs WHERE instance_id = $1 AND job_id = $2`, [instanceId, jobId]);
    return r && toRun(r);
  }

  async listRuns(instanceId: string, limit = 50): Promise<RunRecord[]> {
    return (
      await rows(this.pool, `SELECT ${RUN_COLUMNS} FROM runs WHERE instance_id = $1 ORDER BY submitted_at DESC, seq DESC LIMIT $2`, [instanceId, limit])
    ).map(toRun);
  }

  async activeRun(instanceId: string): Promise<RunRecord | undefined> {
    const r = await one(this.pool, `SELECT ${RUN_COLUMNS} FROM runs WHERE instance_id = $1 AND status IN ('queued', 'running')`, [instanceId]);
    return r && toRun(r);
  }

  async failInterruptedRuns(reason: string): Promise<number> {
    return failInterruptedRuns(this.pool, reason, now());
  }

  async claimRefresh(instanceId: string): Promise<RefreshClaim | null> {
    return claimRefresh(this.pool, instanceId);
  }

  async beginGeneration(instanceId: string, jobId: string): Promise<GenerationWriter> {
    const pool = this.pool;
    const generation = await transaction(pool, async (client) => {
      // Numbers are handed out one at a time per instance, by whichever process asks.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('kindred-generation:' || $1))`, [instanceId]);
      const r = (await one(client, 'SELECT COALESCE(MAX(generation), 0) + 1 AS g FROM generations WHERE instance_id = $1', [instanceId])) as Row;
      const g = r.g as number;
      await run(client, `INSERT INTO generations (instance_id, generation, job_id, status, created_at) VALUES ($1, $2, $3, 'building', $4)`, [
        instanceId,
        g,
        jobId,
        now(),
      ]);
      return g;
    });
    const constants = [
      { column: 'instance_id', type: 'text', value: instanceId },
      { column: 'generation', type: 'int', value: generation },
    ];
    // Rows of a generation being built are invisible to readers (they read current_generation), so
    // each batch commits on its own (COPY, the fastest bulk load); commit() is the one transaction that matters.
    const writeCustomers = (list: CustomerRecord[], modified?: (string | null)[], sources?: (string | null)[]) =>
      copyRows(
        pool,
        'customers',
        constants,
        [
          { column: 'customer_id', type: 'text' },
          { column: 'data', type: 'jsonb' },
          { column: 'source_modified', type: 'text' },
          { column: 'field_sources', type: 'text' },
        ],
        list.map((c, i) => [c.CustomerId, JSON.stringify(c), modified?.[i] ?? null, sources?.[i] ?? null]),
      );
    const writeKeys = (list: AlternateKeyRecord[], modified?: (string | null)[]) =>
      copyRows(
        pool,
        'alternate_keys',
        constants,
        [
          { column: 'data_source', type: 'text' },
          { column: 'entity', type: 'text' },
          { column: 'alternate_value', type: 'text' },
          { column: 'customer_id', type: 'text' },
          { column: 'source_modified', type: 'text' },
        ],
        list.map((k, i) => [k.DataSourceName, k.EntityName, k.AlternateValue, k.CustomerId, modified?.[i] ?? null]),
      );
    const writeActivities = (list: ActivityRecord[]) =>
      copyRows(
        pool,
        'activities',
        constants,
        [
          { column: 'activity_id', type: 'text' },
          { column: 'customer_id', type: 'text' },
          { column: 'activity_time', type: 'text' },
          { column: 'data', type: 'jsonb' },
        ],
        list.map((a) => [a.ActivityId, a.CustomerId, a.ActivityTime, JSON.stringify(a)]),
      );
    let finished = false;
    const assertOpen = () => {
      if (finished) throw new Error(`generation ${generation} of ${instanceId} is already committed or aborted`);
    };
    return {
      generation,
      writeCustomers: async (list, modified, sources) => (assertOpen(), writeCustomers(list, modified, sources)),
      setFieldSourceLegend: async (legend) => {
        assertOpen();
        await run(pool, 'UPDATE generations SET field_source_legend = $1::jsonb WHERE instance_id = $2 AND generation = $3', [
          JSON.stringify(legend),
          instanceId,
          generation,
        ]);
      },
      buildSearchTerms: async (spec) => (assertOpen(), this.search.buildTerms(instanceId, generation, spec)),
      indexCustomerAttributes: async (attributes) => (assertOpen(), this.indexCustomerAttributes(instanceId, attributes)),
      writeAlternateKeys: async (list, modified) => (assertOpen(), writeKeys(list, modified)),
      writeActivities: async (list) => (assertOpen(), writeActivities(list)),
      writeCustomerMeasures: async (list) => (assertOpen(), this.analytics.writeCustomerMeasures(instanceId, generation, list)),
      writeSegmentMembers: async (segment, ids) => (assertOpen(), this.analytics.writeSegmentMembers(instanceId, generation, segment, ids)),
      writeEnrichments: async (rows) => (assertOpen(), this.enrichment.write(instanceId, generation, rows)),
      // Indexes are the shared tables' own, kept up by every insert.
      complete: async () => assertOpen(),
      // Every write above is done when its promise resolves.
      flush: async () => assertOpen(),
      commit: async (runResult) => {
        assertOpen();
        await transaction(pool, async (client) => {
          await client.query(DURABLE);
          // FOR UPDATE: real-time groups (FOR SHARE on the same row) finish before the switch or start after it.
          const previous = (await one(client, 'SELECT current_generation AS g FROM instances WHERE id = $1 FOR UPDATE', [instanceId]))?.g as
            | number
            | null
            | undefined;
          await run(client, `UPDATE generations SET status = 'retired' WHERE instance_id = $1 AND status = 'live'`, [instanceId]);
          await run(client, `UPDATE generations SET status = 'live' WHERE instance_id = $1 AND generation = $2`, [instanceId, generation]);
          await run(client, 'UPDATE instances SET current_generation = $1 WHERE id = $2', [generation, instanceId]);
          await this.carryOverlay(client, instanceId, generation, previous ?? null, runResult.remap ?? []);
          await this.runUpdate(client, instanceId, jobId, {
            status: 'successful',
            generation,
            stages: runResult.stages,
            summary: runResult.summary,
            endedAt: runResult.endedAt,
          });
        });
        finished = true;
      },
      abort: async () => {
        if (finished) return;
        finished = true;
        await this.deleteGeneration(instanceId, generation);
      },
    };
  }

  private async deleteGeneration(instanceId: string, generation: number): Promise<void> {
    await transaction(this.pool, async (client) => {
      // Sub-port writes into this generation (FOR SHARE on the row) finish first or see it gone.
      await run(client, 'SELECT 1 FROM generations WHERE instance_id = $1 AND generation = $2 FOR UPDATE', [instanceId, generation]);
      await this.enrichment.deleteGeneration(client, instanceId, generation);
      await this.analytics.deleteGeneration(client, instanceId, generation);
      for (const table of ['customers', 'alternate_keys', 'activities', 'search_terms', 'generations']) {
        await run(client, `DELETE FROM ${table} WHERE instance_id = $1 AND generation = $2`, [instanceId, generation]);
      }
    });
  }

  /**
   * Inside the commit of a new generation: real-time data follows its customer (retired ids map
   * to the profile that absorbed them; source-format activities re-resolve through the new key
   * ring), real-time activities that the batch now brings are dropped, overrides that a newly
   * arrived source record superseded are removed, and real-time data of profiles that no longer
   * exist is removed. Same statements, in the same order, as the SQLite adapter.
   */
  private async carryOverlay(client: pg.PoolClient, instanceId: string, generation: number, previous: number | null, remap: [string, string][]): Promise<void> {
    const moveOverrides = [
      // Where both ids have the attribute, the newer override wins.
      `DELETE FROM profile_overrides AS o WHERE instance_id = $1 AND customer_id = $2 AND EXISTS (
        SELECT 1 FROM profile_overrides n WHERE n.instance_id = $1 AND n.customer_id = $3 AND n.attribute = o.attribute AND n.set_at >= o.set_at)`,
      `DELETE FROM profile_overrides AS n WHERE instance_id = $1 AND customer_id = $3 AND attribute IN (
        SELECT attribute FROM profile_overrides WHERE instance_id = $1 AND customer_id = $2)`,
      'UPDATE profile_overrides SET customer_id = $3 WHERE instance_id = $1 AND customer_id = $2',
    ];
    // A moved activity changes in its stored record (CustomerId) and content hash too, not only in
    // the customer_id column: reads return the record, and a re-post compares with the hash.
    const moveActivities = async (moved: Row[]) => {
      if (!moved.length) return;
      const ids: string[] = [];
      const owners: string[] = [];
      const data: string[] = [];
      for (const r of moved) {
        const a = r.data as ActivityRecord;
        a.CustomerId = r.new as string;
        ids.push(r.activity_id as string);
        owners.push(a.CustomerId);
        data.push(JSON.stringify(a));
      }
      await run(
        client,
        `UPDATE realtime_activities r SET customer_id = u.new, data = u.data::jsonb
         FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, new, data)
         WHERE r.instance_id = $1 AND r.activity_id = u.id`,
        [instanceId, ids, owners, data],
      );
    };
    for (const [oldId, newId] of remap) {
      for (const sql of moveOverrides) await run(client, sql, [instanceId, oldId, newId]);
      await moveActivities(
        await rows(client, 'SELECT activity_id, data, $3::text AS new FROM realtime_activities WHERE instance_id = $1 AND customer_id = $2 AND source_key IS NULL', [
          instanceId,
          oldId,
          newId,
        ]),
      );
    }
    const p = [instanceId, generation];
    await moveActivities(
      await rows(
        client,
        `SELECT r.activity_id, r.data, ak.customer_id AS new FROM realtime_activities r JOIN alternate_keys ak
          ON ak.instance_id = $1 AND ak.generation = $2 AND ak.data_source = r.source_data_source AND ak.entity = r.source_entity
            AND ak.alternate_value = r.source_key
          WHERE r.instance_id = $1 AND r.source_key IS NOT NULL AND ak.customer_id <> r.customer_id`,
        p,
      ),
    );
    await run(
      client,
      `DELETE FROM realtime_activities AS r WHERE instance_id = $1 AND EXISTS (
        SELECT 1 FROM activities a WHERE a.instance_id = $1 AND a.generation = $2 AND a.activity_id = r.activity_id)`,
      p,
    );
    // An override yields to a source record of its profile that arrived with this refresh (new,
    // or with another last-modified time than in the previous generation) and is not older than
    // the override. Record by record: another record of the profile dated later still (in the
    // future, say) hides none. A record that was there unchanged, even if dated in the future,
    // leaves the override alone. Keys of generations written before they had their record's time
    // (migration 13) have none: a record found there counts as unchanged when its profile's
    // newest time was already as late then.
    await run(
      client,
      `DELETE FROM profile_overrides AS o WHERE instance_id = $1 AND EXISTS (
        SELECT 1 FROM alternate_keys k WHERE k.instance_id = $1 AND k.generation = $2 AND k.customer_id = o.customer_id
          AND k.source_modified IS NOT NULL AND k.source_modified >= o.set_at
          AND NOT EXISTS (SELECT 1 FROM alternate_keys pk WHERE pk.instance_id = $1 AND pk.generation = $3
            AND pk.data_source = k.data_source AND pk.entity = k.entity AND pk.alternate_value = k.alternate_value
            AND (pk.source_modified = k.source_modified OR (pk.source_modified IS NULL AND EXISTS (
              SELECT 1 FROM customers prev WHERE prev.instance_id = $1 AND prev.generation = $3
                AND prev.customer_id = pk.customer_id AND prev.source_modified >= k.source_modified)))))`,
      [...p, previous ?? -1],
    );
    for (const table of ['profile_overrides', 'realtime_activities']) {
      await run(
        client,
        `DELETE FROM ${table} AS x WHERE instance_id = $1 AND NOT EXISTS (
          SELECT 1 FROM customers c WHERE c.instance_id = $1 AND c.generation = $2 AND c.customer_id = x.customer_id)`,
        p,
      );
    }
  }

  async applyRealtime(writes: RealtimeWrite[]): Promise<RealtimeResult[]> {
    return this.realtime.apply(writes);
  }

  async getProfile(instanceId: string, customerId: string): Promise<ProfileView | undefined> {
    const r = await one(this.pool, `SELECT data, source_modified FROM customers WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2`, [
      instanceId,
      customerId,
    ]);
    if (!r) return undefined;
    const overrides = (
      await rows(
        this.pool,
        'SELECT attribute, value, caller, set_at, valid_until FROM profile_overrides WHERE instance_id = $1 AND customer_id = $2 ORDER BY attribute',
        [instanceId, customerId],
      )
    ).map(
      (o): ProfileOverride => ({
        customerId,
        attribute: o.attribute as string,
        value: o.value as FieldValue,
        caller: (o.caller as string | null) ?? null,
        setAt: o.set_at as string,
        validUntil: o.valid_until as string,
      }),
    );
    return { customer: r.data as CustomerRecord, sourceModified: (r.source_modified as string | null) ?? null, overrides };
  }

  async getActivity(instanceId: string, activityId: string, nowIso: string): Promise<ActivityRecord | undefined> {
    const batch = await one(this.pool, `SELECT data FROM activities WHERE instance_id = $1 AND generation = ${current(1)} AND activity_id = $2`, [
      instanceId,
      activityId,
    ]);
    if (batch) return inActivityOrder(batch.data as ActivityRecord);
    const rt = await one(this.pool, 'SELECT data FROM realtime_activities WHERE instance_id = $1 AND activity_id = $2 AND valid_until > $3', [
      instanceId,
      activityId,
      nowIso,
    ]);
    return rt && inActivityOrder(rt.data as ActivityRecord);
  }

  async queryEntity(
    instanceId: string,
    entity: UnifiedEntityName,
    query: EntityQuery,
    nowIso: string,
  ): Promise<{ rows: Record<string, unknown>[]; count?: number }> {
    const generation = (await one(this.pool, 'SELECT current_generation AS g FROM instances WHERE id = $1', [instanceId]))?.g as number | null | undefined;
    if (generation == null) return { rows: [], count: query.count ? 0 : undefined };
    const source = SOURCES[entity];
    const attributes: AttributeMap = {};
    for (const [name, type] of Object.entries(query.attributes)) {
      attributes[name] = { sql: source.columns[name] ?? jsonAttribute(name, type), type };
    }
    // $1..$3 are the source's own parameters (instance, generation, now); the filter's follow.
    const baseParams = [instanceId, generation, nowIso];
    const where = compileFilter(query.filter, attributes, {
      segment: entity === 'Customer' ? (name, ctx) => this.analytics.segmentCondition(ctx.param(name)) : undefined,
      placeholder: '$n',
      firstParameterIndex: baseParams.length + 1,
      booleanStyle: 'boolean',
      dialect: 'postgres',
    });
    const order = compileOrderBy(query.orderby, attributes, { tiebreaker: source.key });
    const params = [...baseParams, ...where.params];
    const page = [query.top, query.skip];
    if (entity === 'Customer' && query.filter && (await this.usesFilterIndex(instanceId, generation, query.filter))) {
      return this.queryIndexedCustomers(query, where.where, order, params);
    }
    const result = await this.pool.query({
      text: `${source.from} SELECT ${source.select} FROM src WHERE ${where.where} ${order || `ORDER BY ${source.key}`}
        LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      values: [...params, ...page],
      rowMode: 'array',
    });
    const out = (result.rows as unknown[][]).map((r) => source.toRecord(r, query.attributes));
    let count: number | undefined;
    if (query.count) {
      count = (await one(this.pool, `${source.from} SELECT COUNT(*)::int AS n FROM src WHERE ${where.where}`, params))?.n as number;
    }
    return { rows: out, count };
  }

  /**
   * Customers through the overlay, filtered in two disjoint halves (as the SQLite adapter does): the
   * profiles without a live override of a filtered attribute on their batch row, where the filter
   * index can seek; the few with one patched first. Rows come back patched either way, in the order
   * and with the count of the single overlay view (SOURCES.Customer).
   */
  private async queryIndexedCustomers(
    query: EntityQuery,
    where: string,
    order: string,
    params: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; count?: number }> {
    const live = 'o.instance_id = $1 AND o.customer_id = src.customer_id AND o.valid_until > $3::text';
    const filtered = [...filterAttributeNames(query.filter!)].map(quoteLiteral).join(', ');
    // OFFSET 0 keeps the NOT EXISTS a probe of the overrides' key per matching profile: overrides
    // change all the time, and with statistics that lag behind (a few rows, says the planner) it
    // otherwise joins every match against every override.
    const withOverrides = `src.data || COALESCE((SELECT jsonb_object_agg(o.attribute, o.value) FROM profile_overrides o WHERE ${live}), '{}'::jsonb)`;
    const patched = `CASE WHEN EXISTS (SELECT 1 FROM profile_overrides o WHERE ${live}) THEN ${withOverrides} ELSE src.data END`;
    const batchHalf = `SELECT ${patched} AS data, src.customer_id AS customer_id FROM customers src
      WHERE src.instance_id = $1::text AND src.generation = $2::int AND ${where}
        AND NOT EXISTS (SELECT 1 FROM profile_overrides o WHERE ${live} AND o.attribute IN (${filtered}) OFFSET 0)`;
    const overlayHalf = `SELECT data, customer_id FROM (
        SELECT ${withOverrides} AS data, src.customer_id AS customer_id
        FROM customers src WHERE src.instance_id = $1::text AND src.generation = $2::int AND src.customer_id IN (
          SELECT o.customer_id FROM profile_overrides o WHERE o.instance_id = $1 AND o.valid_until > $3::text AND o.attribute IN (${filtered}))) src
      WHERE ${where}`;
    const limit = `$${params.length + 1}`;
    const offset = `$${params.length + 2}`;
    // In key order each half is cut at the end of the page first: the batch half then stops after
    // that many index entries (the filter index lists a value's profiles in CustomerId order)
    // instead of reading every match of a common value. Another order sorts patched rows, which
    // only the outer query has.
    const halves = query.orderby.length
      ? `${batchHalf} UNION ALL ${overlayHalf}`
      : `(${batchHalf} ORDER BY customer_id LIMIT ${limit}::int + ${offset}::int) UNION ALL (${overlayHalf} ORDER BY customer_id LIMIT ${limit}::int + ${offset}::int)`;
    const result = await this.pool.query({
      text: `SELECT data FROM (${halves}) src ${order || 'ORDER BY customer_id'} LIMIT ${limit} OFFSET ${offset}`,
      values: [...params, query.top, query.skip],
      rowMode: 'array',
    });
    const out = (result.rows as unknown[][]).map((r) => everyAttribute(r, query.attributes));
    const count = query.count
      ? ((await one(this.pool, `SELECT (SELECT COUNT(*) FROM (${batchHalf}) b)::int + (SELECT COUNT(*) FROM (${overlayHalf}) o)::int AS n`, params))?.n as number)
      : undefined;
    return { rows: out, count };
  }

  /**
   * Customers share one table across instances and generations here, so an instance's filter index
   * is one partial expression index per attribute (WHERE instance_id = …), built once and kept up
   * by each generation's COPY; indexes of attributes the definition no longer lists are dropped.
   * Each is tagged with a comment naming instance and attribute, which is how queries find them.
   */
  private async indexCustomerAttributes(instanceId: string, attributes: readonly { name: string; type: AttributeType }[]): Promise<number> {
    const tag = (name: string, type: AttributeType) => `${FILTER_INDEX_TAG}${JSON.stringify([instanceId, name, type])}`;
    const wanted = new Map(attributes.map((a) => [tag(a.name, a.type), a]));
    // CONCURRENTLY: the table is shared, and a plain CREATE INDEX would hold up every other
    // instance's refresh (its COPY into customers) while it builds. A build that failed half-way
    // leaves an invalid index of that name: it is dropped and built again.
    for (const r of await this.filterIndexRows(instanceId)) {
      if (!wanted.has(r.tag) || !r.valid) await run(this.pool, `DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdentifier(r.name)}`);
    }
    for (const [comment, { name, type }] of wanted) {
      const index = `customers_filter_${createHash('sha256').update(comment).digest('hex').slice(0, 24)}`;
      await run(
        this.pool,
        `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdentifier(index)} ON customers (generation, (${jsonAttribute(name, type)}), customer_id) WHERE instance_id = ${quoteLiteral(instanceId)}`,
      );
      await run(this.pool, `COMMENT ON INDEX ${quoteIdentifier(index)} IS ${quoteLiteral(comment)}`);
    }
    // Statistics of the new rows (and of the index expressions): without them the planner takes a
    // just-loaded generation for a few rows and reads it in key order instead of seeking.
    if (wanted.size) await run(this.pool, 'ANALYZE customers');
    this.filterIndexes.delete(instanceId);
    return wanted.size;
  }

  /**
   * The filter indexes of an instance's customers: index name, tag (FILTER_INDEX_TAG + JSON
   * [instance, attribute, type]) and whether it is valid (a failed concurrent build is not).
   */
  private async filterIndexRows(instanceId: string): Promise<{ name: string; tag: string; attribute: string; valid: boolean }[]> {
    const found = await rows(
      this.pool,
      `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS tag, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'customers'::regclass AND obj_description(c.oid, 'pg_class') LIKE $1`,
      [`${FILTER_INDEX_TAG}%`],
    );
    return found
      .map((r) => ({ name: r.name as string, tag: r.tag as string, valid: r.valid as boolean, parsed: JSON.parse((r.tag as string).slice(FILTER_INDEX_TAG.length)) as [string, string, string] }))
      .filter((r) => r.parsed[0] === instanceId)
      .map((r) => ({ name: r.name, tag: r.tag, attribute: r.parsed[1], valid: r.valid }));
  }

  /** Attributes with a filter index, per instance, as of the generation they were looked up for. */
  private readonly filterIndexes = new Map<string, { generation: number; attributes: Set<string> }>();

  private async usesFilterIndex(instanceId: string, generation: number, filter: FilterNode): Promise<boolean> {
    let known = this.filterIndexes.get(instanceId);
    if (!known || known.generation !== generation) {
      // Indexes change only in a refresh's write stage, so once per generation is enough (another node's refresh included).
      known = { generation, attributes: new Set((await this.filterIndexRows(instanceId)).filter((r) => r.valid).map((r) => r.attribute)) };
      this.filterIndexes.set(instanceId, known);
    }
    if (!known.attributes.size) return false;
    for (const name of filterAttributeNames(filter)) if (known.attributes.has(name)) return true;
    return false;
  }

  async sweepExpired(nowIso: string): Promise<{ overrides: number; activities: number }> {
    return transaction(this.pool, async (client) =>
      (await claimSweep(client))
        ? {
            overrides: await run(client, 'DELETE FROM profile_overrides WHERE valid_until <= $1', [nowIso]),
            activities: await run(client, 'DELETE FROM realtime_activities WHERE valid_until <= $1', [nowIso]),
          }
        : { overrides: 0, activities: 0 },
    );
  }

  async pruneGenerations(instanceId: string): Promise<number> {
    const stale = await rows(
      this.pool,
      `SELECT g.generation FROM generations g
       WHERE g.instance_id = $1 AND (g.status = 'retired' OR (g.status = 'building' AND NOT EXISTS (
         SELECT 1 FROM runs r WHERE r.instance_id = g.instance_id AND r.job_id = g.job_id AND r.status IN ('queued', 'running'))))`,
      [instanceId],
    );
    for (const r of stale) await this.deleteGeneration(instanceId, r.generation as number);
    return stale.length;
  }

  async loadPreviousCustomerIds(instanceId: string): Promise<Map<string, string>> {
    const list = await rows(
      this.pool,
      `SELECT customer_id, data->>'PreviousCustomerId' AS prev FROM customers
       WHERE instance_id = $1 AND generation = ${current(1)} AND data->>'PreviousCustomerId' IS NOT NULL`,
      [instanceId],
    );
    return new Map(list.map((r) => [r.customer_id as string, r.prev as string]));
  }

  async getCustomer(instanceId: string, customerId: string): Promise<CustomerRecord | undefined> {
    const r = await one(this.pool, `SELECT data FROM customers WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2`, [instanceId, customerId]);
    return r?.data as CustomerRecord | undefined;
  }

  async findCustomerIdByKey(instanceId: string, dataSource: string, entity: string, key: string): Promise<string | undefined> {
    const r = await one(
      this.pool,
      `SELECT customer_id FROM alternate_keys WHERE instance_id = $1 AND generation = ${current(1)}
       AND data_source = $2 AND entity = $3 AND alternate_value = $4`,
      [instanceId, dataSource, entity, key],
    );
    return r?.customer_id as string | undefined;
  }

  async alternateKeysOf(instanceId: string, customerId: string): Promise<AlternateKeyRecord[]> {
    const list = await rows(
      this.pool,
      `SELECT data_source, entity, alternate_value FROM alternate_keys
       WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2
       ORDER BY data_source, entity, alternate_value`,
      [instanceId, customerId],
    );
    return list.map((r) => ({
      DataSourceName: r.data_source as string,
      EntityName: r.entity as string,
      AlternateValue: r.alternate_value as string,
      CustomerId: customerId,
    }));
  }

  async activitiesOf(instanceId: string, customerId: string, page: Page = {}, nowIso = new Date().toISOString()): Promise<ActivityRecord[]> {
    const list = await rows(
      this.pool,
      `SELECT data FROM (
         SELECT activity_id, activity_time, data FROM activities WHERE instance_id = $1 AND generation = ${current(1)} AND customer_id = $2
         UNION ALL
         SELECT activity_id, activity_time, data FROM realtime_activities WHERE instance_id = $1 AND customer_id = $2 AND valid_until > $3
       ) AS a ORDER BY activity_time DESC, activity_id LIMIT $4 OFFSET $5`,
      [instanceId, customerId, nowIso, page.top ?? 50, page.skip ?? 0],
    );
    return list.map((r) => inActivityOrder(r.data as ActivityRecord));
  }

  async count(instanceId: string, entity: UnifiedEntityName): Promise<number> {
    const table = TABLES[entity].table;
    const r = await one(this.pool, `SELECT COUNT(*)::int AS n FROM ${table} WHERE instance_id = $1 AND generation = ${current(1)}`, [instanceId]);
    return r!.n as number;
  }

  async *scan(instanceId: string, entity: UnifiedEntityName, batchSize = 5000): AsyncIterable<Record<string, unknown>[]> {
    const spec = TABLES[entity];
    const instance = await this.getInstance(instanceId);
    const generation = instance?.currentGeneration;
    if (generation == null) return;
    // Keyset pagination on the primary key: no cursor stays open across yields.
    let after: unknown[] | null = null;
    for (;;) {
      const params: unknown[] = [instanceId, generation, ...(after ?? [])];
      const where: string = after ? `AND (${spec.key.join(', ')}) > (${spec.key.map((_, i) => `$${i + 3}`).join(', ')})` : '';
      params.push(batchSize);
      // Between batches a refresh may have committed and pruned this generation: rows come only while
      // it exists (one snapshot), and an empty page says why when it is gone.
      const result = await this.pool.query({
        text: `SELECT ${[...spec.key, ...spec.select].join(', ')} FROM ${spec.table} WHERE instance_id = $1 AND generation = $2 ${where}
             AND EXISTS (SELECT 1 FROM generations WHERE instance_id = $1 AND generation = $2)
           ORDER BY ${spec.key.join(', ')} LIMIT $${params.length}`,
        values: params,
        rowMode: 'array',
      });
      const list = result.rows as unknown[][];
      if (!list.length && !(await this.pool.query('SELECT 1 FROM generations WHERE instance_id = $1 AND generation = $2', [instanceId, generation])).rowCount)
        throw new Error(`generation ${generation} of instance '${instanceId}' was replaced by a newer refresh while it was read; read it again`);
      if (!list.length) return;
      yield list.map((r) => spec.toRecord(r.slice(spec.key.length), r.slice(0, spec.key.length)));
      after = list[list.length - 1].slice(0, spec.key.length);
      if (list.length < batchSize) return;
    }
  }

  async createApiKey(k: Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    await run(
      this.pool,
      `INSERT INTO api_keys (id, instance_id, principal_id, name, role, prefix, hash, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [k.id, k.instanceId, k.principalId, k.name, k.role, k.prefix, k.hash, k.createdAt, k.expiresAt],
    );
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = await one(this.pool, 'SELECT * FROM api_keys WHERE hash = $1', [hash]);
    return r && toApiKey(r);
  }

  async listApiKeys(instanceId: string | null): Promise<ApiKeyRecord[]> {
    const list =
      instanceId === null
        ? await rows(this.pool, 'SELECT * FROM api_keys WHERE instance_id IS NULL ORDER BY created_at')
        : await rows(this.pool, 'SELECT * FROM api_keys WHERE instance_id = $1 ORDER BY created_at', [instanceId]);
    return list.map(toApiKey);
  }

  async touchApiKey(id: string, at: string): Promise<void> {
    await run(this.pool, 'UPDATE api_keys SET last_used_at = $1 WHERE id = $2', [at, id]);
  }
}

const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;
const jsonKey = quoteLiteral;
/** How the comment of a filter index starts (customers_filter_* indexes, see indexCustomerAttributes). */
const FILTER_INDEX_TAG = 'kindred filterIndex ';

/**
 * An attribute read from a jsonb record as SQLite's json_extract would give it for the attribute's
 * type: text in code point order for strings and date-times, numbers and booleans as such (a
 * value of another JSON kind reads as null).
 */
export function jsonAttribute(name: string, type: AttributeType): string {
  const key = jsonKey(name);
  switch (type) {
    case 'number':
      return `CASE WHEN jsonb_typeof(data->${key}) = 'number' THEN (data->>${key})::numeric END`;
    case 'boolean':
      return `CASE WHEN jsonb_typeof(data->${key}) = 'boolean' THEN (data->>${key})::boolean END`;
    default:
      return `(data->>${key}) COLLATE "C"`;
  }
}

const TABLES: Record<
  UnifiedEntityName,
  { table: string; key: string[]; select: string[]; toRecord: (cols: unknown[], key: unknown[]) => Record<string, unknown> }
> = {
  Customer: { table: 'customers', key: ['customer_id'], select: ['data'], toRecord: (c) => c[0] as Record<string, unknown> },
  UnifiedActivity: { table: 'activities', key: ['activity_id'], select: ['data'], toRecord: (c) => inActivityOrder(c[0] as Record<string, unknown>) },
  AlternateKey: {
    table: 'alternate_keys',
    key: ['data_source', 'entity', 'alternate_value'],
    select: ['customer_id'],
    toRecord: (c, k) => ({ DataSourceName: k[0], EntityName: k[1], AlternateValue: k[2], CustomerId: c[0] }),
  },
  CustomerEnrichment: { table: 'customer_enrichments', key: ['customer_id'], select: ['data'], toRecord: (c) => c[0] as Record<string, unknown> },
  Customer_Measure: { table: 'customer_measures', key: ['customer_id'], select: ['data'], toRecord: (c) => c[0] as Record<string, unknown> },
};

/** A record with every queried attribute listed, null when absent (as in the SQLite adapter). */
function everyAttribute(row: unknown[], attributes: Record<string, unknown>): Record<string, unknown> {
  const data = row[0] as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(attributes)) out[name] = data[name] ?? null;
  return out;
}

/** A per-customer table of the batch, read without the overlay. */
const batchOnly = (table: string) => ({
  from: `WITH src AS (SELECT customer_id, data FROM ${table} WHERE instance_id = $1::text AND generation = $2::int AND $3::text IS NOT NULL)`,
  select: 'data',
  key: 'customer_id',
  columns: { CustomerId: 'customer_id' },
  toRecord: everyAttribute,
});

/**
 * How each unified entity is read through the overlay; `from` binds $1 (instance), $2 (generation)
 * and $3 (now). Customer applies the overrides that have not expired (a refresh removes those that
 * newer source data superseded); UnifiedActivity adds live real-time activities that the batch
 * does not have (yet).
 */
const SOURCES: Record<
  UnifiedEntityName,
  {
    from: string;
    select: string;
    key: string;
    columns: Record<string, string>;
    toRecord: (row: unknown[], attributes: Record<string, unknown>) => Record<string, unknown>;
  }
> = {
  Customer: {
    from: `WITH src AS (
      SELECT c.customer_id, CASE WHEN EXISTS (SELECT 1 FROM profile_overrides o WHERE o.instance_id = c.instance_id AND o.customer_id = c.customer_id)
        THEN c.data || COALESCE((SELECT jsonb_object_agg(o.attribute, o.value) FROM profile_overrides o
              WHERE o.instance_id = c.instance_id AND o.customer_id = c.customer_id AND o.valid_until > $3::text), '{}'::jsonb)
        ELSE c.data END AS data
      FROM customers c WHERE c.instance_id = $1::text AND c.generation = $2::int)`,
    select: 'data',
    key: 'customer_id',
    columns: { CustomerId: 'customer_id' },
    toRecord: everyAttribute,
  },
  UnifiedActivity: {
    from: `WITH src AS (
      SELECT activity_id, customer_id, activity_time, data FROM activities WHERE instance_id = $1::text AND generation = $2::int
      UNION ALL
      SELECT r.activity_id, r.customer_id, r.activity_time, r.data FROM realtime_activities r
      WHERE r.instance_id = $1 AND r.valid_until > $3::text
        AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.instance_id = $1 AND a.generation = $2 AND a.activity_id = r.activity_id))`,
    select: 'data',
    key: 'activity_id',
    columns: { ActivityId: 'activity_id', CustomerId: 'customer_id', ActivityTime: 'activity_time' },
    toRecord: (row) => inActivityOrder(row[0] as Record<string, unknown>),
  },
  AlternateKey: {
    from: `WITH src AS (SELECT data_source, entity, alternate_value, customer_id FROM alternate_keys
      WHERE instance_id = $1::text AND generation = $2::int AND $3::text IS NOT NULL)`,
    select: 'data_source, entity, alternate_value, customer_id',
    key: 'data_source, entity, alternate_value',
    columns: { DataSourceName: 'data_source', EntityName: 'entity', AlternateValue: 'alternate_value', CustomerId: 'customer_id' },
    toRecord: (row) => ({ DataSourceName: row[0], EntityName: row[1], AlternateValue: row[2], CustomerId: row[3] }),
  },
  // Enrichments come from the batch only: real-time updates never change them.
  CustomerEnrichment: batchOnly('customer_enrichments'),
  // Measures come from the batch only: real-time updates never change them.
  Customer_Measure: batchOnly('customer_measures'),
};
