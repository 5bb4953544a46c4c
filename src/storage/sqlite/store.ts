// SQLite adapter of the Store port (better-sqlite3, WAL). Synchronous underneath; the port is
// async so that the PostgreSQL adapter can share it.
import { apiKeyFromRow, instanceFromRow, jsonText, runFromRow } from '../rows.js';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { compileFilter, compileOrderBy, type AttributeMap } from '../../api/odata/sql.js';
import { filterAttributeNames, type FilterNode } from '../../api/odata/filter.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord, FieldValue } from '../../domain/profile.js';
import { type ProfileOverride, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import { newStages, type RunRecord, type StageRecord } from '../../domain/run.js';
import { checkMigrationList } from '../migrations.js';
import type { ApiKeyRecord, EntityQuery, GenerationPart, GenerationWriter, InstanceRecord, Page, ProfileView, RefreshClaim, Store, UnifiedEntityName } from '../store.js';
import { RefreshClaims } from './coordination.js';
import { RealtimeApplier } from './realtime-apply.js';
import { ReaderPool } from './reader-pool.js';
import { GENERATION_BUSY_TIMEOUT_MS, GenerationLoad, LOADED_COLUMNS, RowPacker, type LoadedTable } from './generation-load.js';
import { GenerationThread, LoadQueue, type RunLoadStep } from './generation-thread.js';
import { inlineRealtimeWriter, workerRealtimeWriter, type RealtimeWriter } from './realtime-writer.js';
import {
  cachedStatement,
  CURRENT,
  FILTER_INDEX_PREFIX,
  GENERATION_TABLES,
  GenerationTables,
  isGenerationTable,
  jsonAttribute,
  ownTableName,
  type GenerationTableName,
  type Row,
} from './statements.js';
import type { CardStore } from '../card.js';
import type { TelemetryStore } from '../telemetry.js';
import { SqliteAnalyticsStore } from './analytics.js';
import { SqliteCardStore } from './card.js';
import { SqliteEnrichmentStore } from './enrichment.js';
import { SqliteExportRunStore } from './exports.js';
import { sqliteMigrations } from './migrations.js';
import { SqliteNotificationStore } from './notifications.js';
import { SqliteSearchStore } from './search.js';
import { SqliteTelemetryStore } from './telemetry.js';
import { SqliteAccessStore } from './access.js';
import { SqliteUiSessionStore } from './sessions.js';


export interface SqliteStoreOptions {
  /** Database file, or ':memory:'. */
  file: string;
  /**
   * Page cache of this connection in MiB (default: SQLite's 2 MiB). A refresh writing millions of
   * rows wants a large one; the real-time connection must not have one: with a large cache every
   * commit spends longer truncating it, and commits slow down as the database grows.
   */
  pageCacheMiB?: number;
  /**
   * Where real-time writes run: 'inline' (default) on a connection in this thread, or 'worker' in
   * a thread of their own (the server: SQLite work and lock waits stay off the event loop).
   */
  realtimeWriter?: 'inline' | 'worker';
  /**
   * Threads that answer queryEntity (the data API's lists) on connections of their own, so that a
   * filter reading every profile does not stop the event loop (reader-pool.ts). 0 (default): in
   * this thread. Not for ':memory:'.
   */
  readerThreads?: number;
  /**
   * Where a refresh loads a new generation's tables: in a thread of its own with its own connection
   * ('thread': the refresh computes its next stage meanwhile), on this connection ('inline'), or
   * 'auto' (default): in a thread from GENERATION_THREAD_MIN_ROWS expected rows on. Always inline
   * for ':memory:'.
   */
  generationLoading?: 'auto' | 'thread' | 'inline';
}

const BUSY_TIMEOUT_MS = 5000;
/** How soon a run update deferred by a busy generation thread is tried again. */
const DEFERRED_RUN_RETRY_MS = 100;
/** The table that holds each part of a generation. */
const PART_TABLES: Record<GenerationPart, GenerationTableName> = {
  customers: 'customers',
  alternateKeys: 'alternate_keys',
  activities: 'activities',
  measures: 'customer_measures',
  segments: 'segment_members',
};
/**
 * From this many rows (customers and alternate keys) on, a generation is loaded by a thread of its
 * own. Below, the overlap saves little and costs the server more than it gives: at 100k records
 * (163k rows) the refresh took 6.7 instead of 7.4 s on an idle machine, but under real-time load
 * (the soak) it took as long either way, while real-time writes during refreshes went from p50 9 /
 * p99 322 ms to 31 / 520 ms and the server's RSS from about 1.2 to 2.1 GiB (BENCHMARKS.md). At 1M
 * records (1.6M rows) the thread is what brings the refresh from about 112 to 77–80 s.
 */
export const GENERATION_THREAD_MIN_ROWS = 500_000;
/** Batches handed to a generation thread and not yet written, at most: bounds the memory they hold. */
const GENERATION_QUEUE_WINDOW = 3;

const now = () => new Date().toISOString();
/** Rows deleted per transaction when a generation goes (deleteGeneration). */
const DELETE_CHUNK = 5000;

/** Lets other work (and other connections' transactions) run between two chunks. */
const yieldToOthers = () => new Promise<void>((resolve) => setImmediate(resolve));
const toInstance = (r: Row) => instanceFromRow(r, jsonText);
const toRun = (r: Row) => runFromRow(r, jsonText);
const toApiKey = apiKeyFromRow;

export function openSqliteStore(options: SqliteStoreOptions): Store {
  if (options.file !== ':memory:') mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
  const db = new Database(options.file);
  db.pragma('journal_mode = WAL');
  // FULL: every commit of this connection is synced to disk before it returns.
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (options.pageCacheMiB) db.pragma(`cache_size = ${-Math.round(options.pageCacheMiB * 1024)}`);
  migrate(db);
  if (options.file === ':memory:') return new SqliteStore(db, null, null, null);
  // Real-time writes get a connection of their own (realtime-writer.ts), in this thread or in one
  // of their own.
  const file = path.resolve(options.file);
  return new SqliteStore(
    db,
    options.realtimeWriter === 'worker' ? workerRealtimeWriter(file) : inlineRealtimeWriter(file),
    options.readerThreads ? new ReaderPool(file, options.readerThreads) : null,
    { file, pageCacheMiB: options.pageCacheMiB, mode: options.generationLoading ?? 'auto' },
  );
}

/** The store as a reader thread uses it: an existing (migrated) database, a connection that may not write. */
export function openSqliteReader(file: string): Pick<Store, 'queryEntity' | 'close'> {
  const db = new Database(file);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('query_only = ON');
  return new SqliteStore(db, null, null, null);
}

function migrate(db: Database.Database): void {
  checkMigrationList(sqliteMigrations);
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => r.version as number));
  for (const m of sqliteMigrations) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, now());
    })();
  }
}

class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly tables: GenerationTables;
  readonly telemetry: TelemetryStore;
  readonly search: SqliteSearchStore;
  readonly card: CardStore;

  readonly enrichment: SqliteEnrichmentStore;
  readonly analytics: SqliteAnalyticsStore;
  readonly exportRuns: SqliteExportRunStore;
  readonly notifications: SqliteNotificationStore;
  /** Web UI sessions. */
  readonly sessions: SqliteUiSessionStore;
  /** Real-time writes on the store's own connection: only for an in-memory database. */
  private readonly sameConnection: RealtimeApplier | null;

  readonly access: SqliteAccessStore;
  private readonly refreshClaims = new RefreshClaims();
  /** Generation threads loading now (beginGeneration), and the run updates deferred meanwhile (updateRun). */
  private generationThreads = 0;
  private readonly deferredRunUpdates = new Map<string, { instanceId: string; jobId: string; patch: Partial<RunRecord> }>();
  private deferredRunRetry: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database.Database,
    /** Where real-time writes run (null for an in-memory database: one connection, synced commits). */
    private readonly realtime: RealtimeWriter | null,
    /** Where queryEntity runs, if not in this thread. */
    private readonly readers: ReaderPool | null,
    /** Where new generations are loaded (null: on this connection). */
    private readonly generationLoading: { file: string; pageCacheMiB: number | undefined; mode: 'auto' | 'thread' | 'inline' } | null,
  ) {
    this.sameConnection = realtime ? null : new RealtimeApplier(db);
    this.tables = new GenerationTables(db);
    this.access = new SqliteAccessStore(db);
    this.telemetry = new SqliteTelemetryStore(db);
    this.search = new SqliteSearchStore(db, this.tables);
    this.card = new SqliteCardStore(db, this.tables);
    this.enrichment = new SqliteEnrichmentStore(db, this.tables);
    this.exportRuns = new SqliteExportRunStore(db, randomUUID(), this.refreshClaims);
    this.notifications = new SqliteNotificationStore(db);
    this.sessions = new SqliteUiSessionStore(db);
    this.analytics = new SqliteAnalyticsStore(db, this.tables);
  }

  private stmt(sql: string): Database.Statement {
    return cachedStatement(this.db, this.stmts, sql);
  }

  async close(): Promise<void> {
    if (this.deferredRunRetry) clearTimeout(this.deferredRunRetry);
    await this.realtime?.close();
    await this.readers?.close();
    this.db.close();
  }

  async putInstance(i: Pick<InstanceRecord, 'id' | 'name' | 'definition' | 'sourceFile' | 'baseDir'>): Promise<'created' | 'updated'> {
    const t = now();
    const existing = this.stmt('SELECT id FROM instances WHERE id = ?').get(i.id);
    this.stmt(
      `INSERT INTO instances (id, name, definition, source_file, base_dir, current_generation, created_at, updated_at)
       VALUES (@id, @name, @definition, @sourceFile, @baseDir, NULL, @t, @t)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition = excluded.definition,
         source_file = excluded.source_file, base_dir = excluded.base_dir, updated_at = excluded.updated_at`,
    ).run({ id: i.id, name: i.name, definition: JSON.stringify(i.definition), sourceFile: i.sourceFile, baseDir: i.baseDir, t });
    return existing ? 'updated' : 'created';
  }

  async getInstance(id: string): Promise<InstanceRecord | undefined> {
    const r = this.stmt('SELECT * FROM instances WHERE id = ?').get(id) as Row | undefined;
    return r && toInstance(r);
  }

  async listInstances(): Promise<InstanceRecord[]> {
    return (this.stmt('SELECT * FROM instances ORDER BY id').all() as Row[]).map(toInstance);
  }

  async createRun(instanceId: string, trigger: RunRecord['trigger'], options: { scheduledFor?: string } = {}): Promise<{ run: RunRecord; created: boolean }> {
    return this.db.transaction(() => {
      const active = this.stmt(`SELECT * FROM runs WHERE instance_id = ? AND status IN ('queued', 'running')`).get(instanceId) as
        | Row
        | undefined;
      if (active) return { run: toRun(active), created: false };
      // A slot runs once (runs_scheduled_slot), even when its run ended before another timer fired.
      const ofSlot =
        options.scheduledFor === undefined
          ? undefined
          : (this.stmt('SELECT * FROM runs WHERE instance_id = ? AND scheduled_for = ?').get(instanceId, options.scheduledFor) as Row | undefined);
      if (ofSlot) return { run: toRun(ofSlot), created: false };
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
      this.stmt(
        `INSERT INTO runs (instance_id, job_id, status, trigger, submitted_at, stages, summary, scheduled_for)
         VALUES (?, ?, ?, ?, ?, ?, '{}', ?)`,
      ).run(instanceId, run.jobId, run.status, trigger, run.submittedAt, JSON.stringify(run.stages), options.scheduledFor ?? null);
      return { run, created: true };
    }).immediate();
  }

  async updateRun(
    instanceId: string,
    jobId: string,
    patch: Partial<Pick<RunRecord, 'status' | 'startedAt' | 'endedAt' | 'error' | 'generation' | 'summary'>> & { stages?: StageRecord[] },
  ): Promise<void> {
    if (!this.generationThreads) {
      this.writeDeferredRunUpdates();
      this.runUpdate(instanceId, jobId, patch);
      return;
    }
    // While a thread loads a generation it may hold the write lock for seconds (an index over a
    // million rows): the run's progress must not stop the refresh that reports it. It is kept,
    // merged with later updates of the same run, and written as soon as the lock is free.
    const key = `${instanceId}\u0000${jobId}`;
    const earlier = this.deferredRunUpdates.get(key);
    this.deferredRunUpdates.set(key, { instanceId, jobId, patch: { ...earlier?.patch, ...patch } });
    this.tryDeferredRunUpdates();
  }

  /** Writes the deferred run updates if the write lock is free now; else tries again shortly. */
  private tryDeferredRunUpdates(): void {
    if (!this.deferredRunUpdates.size) return;
    const timeout = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma('busy_timeout = 0');
    try {
      this.writeDeferredRunUpdates();
    } catch {
      // Busy (or failing): kept and tried again; the generation's end writes them with waiting,
      // and an error that persists shows there.
      this.deferredRunRetry ??= setTimeout(() => {
        this.deferredRunRetry = null;
        this.tryDeferredRunUpdates();
      }, DEFERRED_RUN_RETRY_MS);
      this.deferredRunRetry.unref();
    } finally {
      this.db.pragma(`busy_timeout = ${timeout}`);
    }
  }

  /** Writes the deferred run updates, in the order they came, waiting for the lock as any write does. */
  private writeDeferredRunUpdates(): void {
    for (const [key, u] of this.deferredRunUpdates) {
      this.runUpdate(u.instanceId, u.jobId, u.patch);
      this.deferredRunUpdates.delete(key);
    }
  }

  private runUpdate(instanceId: string, jobId: string, patch: Partial<RunRecord>): void {
    const sets: string[] = [];
    const params: Row = { instanceId, jobId };
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
      sets.push(`${column} = @${key}`);
      params[key] = key === 'stages' || key === 'summary' ? JSON.stringify(patch[key]) : patch[key];
    }
    if (!sets.length) return;
    this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE instance_id = @instanceId AND job_id = @jobId`).run(params);
  }

  async getRun(instanceId: string, jobId: string): Promise<RunRecord | undefined> {
    const r = this.stmt('SELECT * FROM runs WHERE instance_id = ? AND job_id = ?').get(instanceId, jobId) as Row | undefined;
    return r && toRun(r);
  }

  async listRuns(instanceId: string, limit = 50): Promise<RunRecord[]> {
    return (this.stmt('SELECT * FROM runs WHERE instance_id = ? ORDER BY submitted_at DESC, rowid DESC LIMIT ?').all(instanceId, limit) as Row[]).map(
      toRun,
    );
  }

  async activeRun(instanceId: string): Promise<RunRecord | undefined> {
    const r = this.stmt(`SELECT * FROM runs WHERE instance_id = ? AND status IN ('queued', 'running')`).get(instanceId) as Row | undefined;
    return r && toRun(r);
  }

  async failInterruptedRuns(reason: string): Promise<number> {
    const claimed = JSON.stringify(this.refreshClaims.instances());
    return this.stmt(
      `UPDATE runs SET status = 'failed', error = ?, ended_at = ? WHERE status IN ('queued', 'running') AND instance_id NOT IN (SELECT value FROM json_each(?))`,
    ).run(reason, now(), claimed).changes;
  }

  async claimRefresh(instanceId: string): Promise<RefreshClaim | null> {
    return this.refreshClaims.claim(instanceId);
  }

  async beginGeneration(instanceId: string, jobId: string, options: { expectedRows?: number } = {}): Promise<GenerationWriter> {
    const db = this.db;
    const generation = db.transaction(() => {
      const r = this.stmt('SELECT COALESCE(MAX(generation), 0) + 1 AS g FROM generations WHERE instance_id = ?').get(instanceId) as Row;
      const g = r.g as number;
      this.stmt(`INSERT INTO generations (instance_id, generation, job_id, status, created_at) VALUES (?, ?, ?, 'building', ?)`).run(
        instanceId,
        g,
        jobId,
        now(),
      );
      // Created with the generations row: a crash leaves both or neither, and prune drops both.
      for (const [base, spec] of Object.entries(GENERATION_TABLES)) {
        db.exec(`CREATE TABLE ${ownTableName(base as GenerationTableName, instanceId, g)} (${spec.columns})${spec.withoutRowid ? ' WITHOUT ROWID' : ''}`);
      }
      return g;
    }).immediate();
    // Rows written before commit need no sync: an unfinished generation is thrown away after a
    // crash anyway. The switch itself (commit) is synced. WAL keeps the file consistent either way.
    db.pragma('synchronous = NORMAL');
    // A large generation is loaded by a thread of its own, a batch at a time behind the caller.
    const loading = this.generationLoading;
    const inThread =
      loading !== null && (loading.mode === 'thread' || (loading.mode === 'auto' && (options.expectedRows ?? 0) >= GENERATION_THREAD_MIN_ROWS));
    const thread = inThread ? new GenerationThread({ file: loading.file, instanceId, generation, pageCacheMiB: loading.pageCacheMiB }) : null;
    // This connection's own writes meanwhile (the run's progress) may wait for a step of the
    // thread that holds the write lock for seconds (a filter index over millions of profiles).
    if (thread) {
      db.pragma(`busy_timeout = ${GENERATION_BUSY_TIMEOUT_MS}`);
      this.generationThreads++;
    }
    let threadOpen = thread !== null;
    const threadDone = async () => {
      if (!threadOpen) return;
      threadOpen = false;
      await thread?.close();
      if (--this.generationThreads === 0) db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.writeDeferredRunUpdates();
    };
    let load: GenerationLoad | null = null;
    const run: RunLoadStep = thread ? thread.run : async (step) => (load ??= new GenerationLoad(db, instanceId, generation)).apply(step);
    const queue = new LoadQueue(run, GENERATION_QUEUE_WINDOW);
    // The last batch's size per table, to size the next one's buffer.
    const batchBytes = new Map<LoadedTable, number>();
    const rows = (table: LoadedTable, count: number, pack: (i: number, packer: RowPacker) => void) => {
      const packer = new RowPacker(count * LOADED_COLUMNS[table].length, Math.ceil((batchBytes.get(table) ?? 0) * 1.25));
      for (let i = 0; i < count; i++) pack(i, packer);
      const packed = packer.packed();
      batchBytes.set(table, packed.bytes.byteLength);
      return queue.push({ kind: 'rows', table, rows: packed });
    };
    let finished = false;
    const assertOpen = () => {
      if (finished) throw new Error(`generation ${generation} of ${instanceId} is already committed or aborted`);
    };
    return {
      generation,
      writeCustomers: async (list, modified, sources) => {
        assertOpen();
        await rows('customers', list.length, (i, packer) => {
          packer.add(list[i].CustomerId);
          packer.add(JSON.stringify(list[i]));
          packer.add(modified?.[i]);
          packer.add(sources?.[i]);
        });
      },
      setFieldSourceLegend: async (legend) => {
        assertOpen();
        this.stmt('UPDATE generations SET field_source_legend = ? WHERE instance_id = ? AND generation = ?').run(JSON.stringify(legend), instanceId, generation);
      },
      buildSearchTerms: async (spec) => (assertOpen(), queue.result({ kind: 'searchTerms', spec })),
      indexCustomerAttributes: async (attributes) => (assertOpen(), queue.result({ kind: 'filterIndex', attributes: attributes.map((a) => a.name) })),
      writeAlternateKeys: async (list, modified) => {
        assertOpen();
        await rows('alternate_keys', list.length, (i, packer) => {
          const k = list[i];
          packer.add(k.DataSourceName);
          packer.add(k.EntityName);
          packer.add(k.AlternateValue);
          packer.add(k.CustomerId);
          packer.add(modified?.[i]);
        });
      },
      writeActivities: async (list) => {
        assertOpen();
        await rows('activities', list.length, (i, packer) => {
          const a = list[i];
          packer.add(a.ActivityId);
          packer.add(a.CustomerId);
          packer.add(a.ActivityTime);
          packer.add(JSON.stringify(a));
        });
      },
      writeCustomerMeasures: async (list) => {
        assertOpen();
        await rows('customer_measures', list.length, (i, packer) => {
          packer.add(list[i].CustomerId);
          packer.add(JSON.stringify(list[i]));
        });
      },
      writeSegmentMembers: async (segment, customerIds) => {
        assertOpen();
        await rows('segment_members', customerIds.length, (i, packer) => {
          packer.add(segment);
          packer.add(customerIds[i]);
        });
      },
      // Behind the caller, like search terms: the rows arrive while other parts are written.
      writeEnrichments: async (encoded) => {
        assertOpen();
        await queue.result({ kind: 'enrichments', rows: encoded });
      },
      complete: async (part) => (assertOpen(), queue.push({ kind: 'indexes', tables: [PART_TABLES[part]] })),
      flush: async () => (assertOpen(), queue.drain()),
      commit: async (run) => {
        assertOpen();
        // The secondary indexes, in one sorted pass each, where the rows were loaded; then that
        // connection goes, before this one switches readers to the generation.
        await queue.drain();
        await queue.result({ kind: 'indexes' });
        await threadDone();
        db.pragma('synchronous = FULL');
        db.transaction(() => {
          const previous = (this.stmt('SELECT current_generation AS g FROM instances WHERE id = ?').get(instanceId) as Row | undefined)?.g as
            | number
            | null;
          this.stmt(`UPDATE generations SET status = 'retired' WHERE instance_id = ? AND status = 'live'`).run(instanceId);
          this.stmt(`UPDATE generations SET status = 'live' WHERE instance_id = ? AND generation = ?`).run(instanceId, generation);
          this.stmt('UPDATE instances SET current_generation = ? WHERE id = ?').run(generation, instanceId);
          this.carryOverlay(instanceId, generation, previous ?? null, run.remap ?? []);
          this.runUpdate(instanceId, jobId, { status: 'successful', generation, stages: run.stages, summary: run.summary, endedAt: run.endedAt });
        }).immediate();
        finished = true;
      },
      abort: async () => {
        if (finished) return;
        finished = true;
        // The thread finishes the step it is in and closes its connection (it holds no lock after).
        await queue.drain().catch(() => {});
        await threadDone();
        db.pragma('synchronous = FULL');
        await this.deleteGeneration(instanceId, generation);
      },
    };
  }

  /**
   * Deletes a generation's rows a few thousand at a time, each chunk its own transaction, so the
   * write lock is never held for long: real-time writes (another connection, or the writer thread)
   * wait for one chunk, not for hundreds of thousands of rows. The generations row goes last, so a
   * crash half-way leaves the rest findable by pruneGenerations.
   */
  private async deleteGeneration(instanceId: string, generation: number): Promise<void> {
    // The shared tables hold generations written before they had tables of their own.
    for (const table of ['customers', 'alternate_keys', 'activities', 'search_terms', 'customer_enrichments']) {
      const key = this.keyColumnsOf(table);
      const chunk = this.stmt(
        `DELETE FROM ${table} WHERE instance_id = ? AND generation = ? AND (${key}) IN
           (SELECT ${key} FROM ${table} WHERE instance_id = ? AND generation = ? LIMIT ${DELETE_CHUNK})`,
      );
      while (chunk.run(instanceId, generation, instanceId, generation).changes > 0) await yieldToOthers();
    }
    // One table a transaction: dropping a 1M-customer generation's tables takes seconds in all.
    for (const base of Object.keys(GENERATION_TABLES)) {
      this.db.exec(`DROP TABLE IF EXISTS ${ownTableName(base as GenerationTableName, instanceId, generation)}`);
      await yieldToOthers();
    }
    this.db.transaction(() => {
      this.analytics.deleteGeneration(instanceId, generation);
      this.stmt('DELETE FROM generations WHERE instance_id = ? AND generation = ?').run(instanceId, generation);
    })();
  }

  /** Whether `table` (as SQL names it: a shared table, or a generation's own from ownTableName) has `column`. */
  private hasColumn(table: string, column: string): boolean {
    return this.stmt(`SELECT * FROM ${table} LIMIT 0`).columns().some((c) => c.name === column);
  }

  /** The primary key columns of a unified-data table after (instance_id, generation). */
  private keyColumnsOf(table: string): string {
    const columns = (this.stmt('SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').all(table) as Row[])
      .map((r) => r.name as string)
      .filter((name) => name !== 'instance_id' && name !== 'generation');
    return columns.join(', ');
  }

  /**
   * Inside the commit of a new generation: real-time data follows its customer (retired ids map
   * to the profile that absorbed them; source-format activities re-resolve through the new key
   * ring), real-time activities that the batch now brings are dropped, overrides that a newly
   * arrived source record superseded are removed, and real-time data of profiles that no longer
   * exist is removed.
   */
  private carryOverlay(instanceId: string, generation: number, previous: number | null, remap: [string, string][]): void {
    const moveOverrides = [
      // Where both ids have the attribute, the newer override wins.
      this.stmt(`DELETE FROM profile_overrides AS o WHERE instance_id = @i AND customer_id = @old AND EXISTS (
        SELECT 1 FROM profile_overrides n WHERE n.instance_id = @i AND n.customer_id = @new AND n.attribute = o.attribute AND n.set_at >= o.set_at)`),
      this.stmt(`DELETE FROM profile_overrides AS n WHERE instance_id = @i AND customer_id = @new AND attribute IN (
        SELECT attribute FROM profile_overrides WHERE instance_id = @i AND customer_id = @old)`),
      this.stmt('UPDATE profile_overrides SET customer_id = @new WHERE instance_id = @i AND customer_id = @old'),
    ];
    // A moved activity changes in its stored record (CustomerId) too, not only in the customer_id
    // column: reads return the record, and a re-post is compared with it.
    const moveActivity = this.stmt('UPDATE realtime_activities SET customer_id = @new, data = @data WHERE instance_id = @i AND activity_id = @id');
    const moveActivities = (rows: Row[]) => {
      for (const r of rows) {
        const a = JSON.parse(r.data as string) as ActivityRecord;
        a.CustomerId = r.new as string;
        moveActivity.run({ i: instanceId, id: r.activity_id, new: r.new, data: JSON.stringify(a) });
      }
    };
    const retiredActivities = this.stmt(
      'SELECT activity_id, data, @new AS new FROM realtime_activities WHERE instance_id = @i AND customer_id = @old AND source_key IS NULL',
    );
    for (const [oldId, newId] of remap) {
      for (const st of moveOverrides) st.run({ i: instanceId, old: oldId, new: newId });
      moveActivities(retiredActivities.all({ i: instanceId, old: oldId, new: newId }) as Row[]);
    }
    const p = { i: instanceId, g: generation };
    const keys = this.tables.table('alternate_keys', instanceId, generation);
    const activities = this.tables.table('activities', instanceId, generation);
    const customers = this.tables.table('customers', instanceId, generation);
    const previousCustomers = previous === null ? 'customers' : this.tables.table('customers', instanceId, previous);
    moveActivities(
      this.stmt(`SELECT r.activity_id, r.data, ak.customer_id AS new FROM realtime_activities r JOIN ${keys} ak
        ON ak.instance_id = @i AND ak.generation = @g AND ak.data_source = r.source_data_source AND ak.entity = r.source_entity
          AND ak.alternate_value = r.source_key
        WHERE r.instance_id = @i AND r.source_key IS NOT NULL AND ak.customer_id <> r.customer_id`).all(p) as Row[],
    );
    this.stmt(`DELETE FROM realtime_activities AS r WHERE instance_id = @i AND EXISTS (
      SELECT 1 FROM ${activities} a WHERE a.instance_id = @i AND a.generation = @g AND a.activity_id = r.activity_id)`).run(p);
    // An override yields to a source record of its profile that arrived with this refresh (new,
    // or with another last-modified time than in the previous generation) and is not older than
    // the override. Record by record: another record of the profile dated later still (in the
    // future, say) hides none. A record that was there unchanged, even if dated in the future,
    // leaves the override alone. The keys of generations written before they had their record's
    // time have none (no column): a record found there counts as unchanged when its profile's
    // newest time was already as late then.
    const previousKeys = previous === null ? 'alternate_keys' : this.tables.table('alternate_keys', instanceId, previous);
    const previousModified = this.hasColumn(previousKeys, 'source_modified') ? 'pk.source_modified' : 'NULL';
    this.stmt(`DELETE FROM profile_overrides AS o WHERE instance_id = @i AND EXISTS (
      SELECT 1 FROM ${keys} k WHERE k.instance_id = @i AND k.generation = @g AND k.customer_id = o.customer_id
        AND k.source_modified IS NOT NULL AND k.source_modified >= o.set_at
        AND NOT EXISTS (SELECT 1 FROM ${previousKeys} pk WHERE pk.instance_id = @i AND pk.generation = @prev
          AND pk.data_source = k.data_source AND pk.entity = k.entity AND pk.alternate_value = k.alternate_value
          AND (${previousModified} = k.source_modified OR (${previousModified} IS NULL AND EXISTS (
            SELECT 1 FROM ${previousCustomers} prev WHERE prev.instance_id = @i AND prev.generation = @prev
              AND prev.customer_id = pk.customer_id AND prev.source_modified >= k.source_modified)))))`).run({
      ...p,
      prev: previous ?? -1,
    });
    for (const table of ['profile_overrides', 'realtime_activities']) {
      this.stmt(`DELETE FROM ${table} AS x WHERE instance_id = @i AND NOT EXISTS (
        SELECT 1 FROM ${customers} c WHERE c.instance_id = @i AND c.generation = @g AND c.customer_id = x.customer_id)`).run(p);
    }
  }

  async applyRealtime(writes: RealtimeWrite[]): Promise<RealtimeResult[]> {
    return this.realtime ? this.realtime.apply(writes) : this.sameConnection!.apply(writes);
  }

  async getProfile(instanceId: string, customerId: string): Promise<ProfileView | undefined> {
    const r = this.tables.readCurrent(instanceId, 'customers', (customers) =>
      this.stmt(
        `SELECT data, source_modified FROM ${customers} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`,
      ).get({ instanceId, customerId }),
    ) as Row | undefined;
    if (!r) return undefined;
    const overrides = (
      this.stmt('SELECT attribute, value, caller, set_at, valid_until FROM profile_overrides WHERE instance_id = ? AND customer_id = ? ORDER BY attribute').all(
        instanceId,
        customerId,
      ) as Row[]
    ).map(
      (o): ProfileOverride => ({
        customerId,
        attribute: o.attribute as string,
        value: JSON.parse(o.value as string) as FieldValue,
        caller: (o.caller as string | null) ?? null,
        setAt: o.set_at as string,
        validUntil: o.valid_until as string,
      }),
    );
    return { customer: JSON.parse(r.data as string), sourceModified: (r.source_modified as string | null) ?? null, overrides };
  }

  async getActivity(instanceId: string, activityId: string, nowIso: string): Promise<ActivityRecord | undefined> {
    const batch = this.tables.readCurrent(instanceId, 'activities', (activities) =>
      this.stmt(`SELECT data FROM ${activities} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND activity_id = @activityId`).get({
        instanceId,
        activityId,
      }),
    ) as Row | undefined;
    if (batch) return JSON.parse(batch.data as string);
    const rt = this.stmt('SELECT data FROM realtime_activities WHERE instance_id = ? AND activity_id = ? AND valid_until > ?').get(
      instanceId,
      activityId,
      nowIso,
    ) as Row | undefined;
    return rt && JSON.parse(rt.data as string);
  }

  async queryEntity(
    instanceId: string,
    entity: UnifiedEntityName,
    query: EntityQuery,
    nowIso: string,
  ): Promise<{ rows: Record<string, unknown>[]; count?: number }> {
    // One read transaction: the generation and its tables cannot be switched and dropped in between.
    const here = () => this.db.transaction(() => this.queryGeneration(instanceId, entity, query, nowIso))();
    // In reader threads; a lookup by key that would wait behind a scan there is answered here.
    return this.readers ? this.readers.queryEntity(instanceId, entity, query, nowIso, here) : here();
  }

  private queryGeneration(instanceId: string, entity: UnifiedEntityName, query: EntityQuery, nowIso: string): { rows: Record<string, unknown>[]; count?: number } {
    const generation = this.tables.current(instanceId);
    if (generation == null) return { rows: [], count: query.count ? 0 : undefined };
    const source = SOURCES[entity];
    const from = source.from((base) => this.tables.table(base, instanceId, generation));
    const attributes: AttributeMap = {};
    for (const [name, type] of Object.entries(query.attributes)) {
      attributes[name] = { sql: source.columns[name] ?? jsonAttribute(name), type };
    }
    const where = compileFilter(query.filter, attributes, {
      segment:
        entity === 'Customer' ? (name, ctx) => this.analytics.segmentCondition(this.tables.table('segment_members', instanceId, generation), ctx.param(name)) : undefined,
    });
    const order = compileOrderBy(query.orderby, attributes, { tiebreaker: source.key });
    const baseParams = source.params(instanceId, generation, nowIso);
    if (entity === 'Customer' && query.filter && this.usesFilterIndex(instanceId, generation, query.filter)) {
      return this.queryIndexedCustomers(this.tables.table('customers', instanceId, generation), where, query, order, baseParams);
    }
    const rows = this.stmt(`${from} SELECT ${source.select} FROM src WHERE ${where.where} ${order || `ORDER BY ${source.key}`} LIMIT ? OFFSET ?`)
      .raw()
      .all(...where.params, query.top, query.skip, baseParams) as unknown[][];
    const out = rows.map((r) => source.toRecord(r, query.attributes));
    let count: number | undefined;
    if (query.count) {
      const c = this.stmt(`${from} SELECT COUNT(*) FROM src WHERE ${where.where}`).pluck().get(...where.params, baseParams);
      count = c as number;
    }
    return { rows: out, count };
  }

  /** Attributes with a filter index in a generation's customers table (asked once per generation). */
  private filterIndexes: { instanceId: string; generation: number; attributes: Set<string> }[] = [];

  private usesFilterIndex(instanceId: string, generation: number, filter: FilterNode): boolean {
    let known = this.filterIndexes.find((f) => f.instanceId === instanceId && f.generation === generation);
    if (!known) {
      const prefix = `customers/${instanceId}/${generation}/${FILTER_INDEX_PREFIX}`;
      const names = this.stmt(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?`).pluck().all(`customers/${instanceId}/${generation}`) as string[];
      known = { instanceId, generation, attributes: new Set(names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length))) };
      // One entry per instance: the current generation is the one read.
      this.filterIndexes = [...this.filterIndexes.filter((f) => f.instanceId !== instanceId), known];
    }
    if (!known.attributes.size) return false;
    for (const name of filterAttributeNames(filter)) if (known.attributes.has(name)) return true;
    return false;
  }

  /**
   * Customers through the overlay, filtered in two disjoint halves that together give what the
   * single overlay view (SOURCES.Customer) gives, in the same order. A filter reads only the
   * attributes it names, so for a profile with no live override of any of them it may as well
   * read the batch row, where a filter index can seek; only profiles whose override changes a
   * filtered attribute (few) are patched before filtering. The rows returned are patched either way.
   */
  private queryIndexedCustomers(
    customers: string,
    where: { where: string; params: unknown[] },
    query: EntityQuery,
    order: string,
    baseParams: Record<string, unknown>,
  ): { rows: Record<string, unknown>[]; count?: number } {
    const live = 'o.instance_id = @i AND o.customer_id = src.customer_id AND o.valid_until > @now';
    const filtered = [...filterAttributeNames(query.filter!)].map((n) => `'${n.replace(/'/g, "''")}'`).join(', ');
    const withOverrides = `(SELECT json_patch(src.data, json_group_object(o.attribute, json(o.value))) FROM profile_overrides o WHERE ${live})`;
    const patched = `CASE WHEN EXISTS (SELECT 1 FROM profile_overrides o WHERE ${live}) THEN ${withOverrides} ELSE src.data END`;
    const batchHalf = `SELECT ${patched} AS data, src.customer_id AS customer_id FROM ${customers} src
      WHERE src.instance_id = @i AND src.generation = @g AND ${where.where}
        AND NOT EXISTS (SELECT 1 FROM profile_overrides o WHERE ${live} AND o.attribute IN (${filtered}))`;
    const overlayHalf = `SELECT data, customer_id FROM (
        SELECT ${withOverrides} AS data, src.customer_id AS customer_id
        FROM ${customers} src WHERE src.instance_id = @i AND src.generation = @g AND src.customer_id IN (
          SELECT o.customer_id FROM profile_overrides o WHERE o.instance_id = @i AND o.valid_until > @now AND o.attribute IN (${filtered}))) src
      WHERE ${where.where}`;
    const both = [...where.params, ...where.params];
    // In key order, SQLite merges the two ordered halves and stops at the page's end; another
    // order sorts the matches (few, when the index is selective).
    const sql = query.orderby.length
      ? `SELECT data FROM (${batchHalf} UNION ALL ${overlayHalf}) ${order} LIMIT ? OFFSET ?`
      : `${batchHalf} UNION ALL ${overlayHalf} ORDER BY 2 LIMIT ? OFFSET ?`;
    const rows = this.stmt(sql).raw().all(...both, query.top, query.skip, baseParams) as unknown[][];
    const out = rows.map((r) => SOURCES.Customer.toRecord(r, query.attributes));
    const count = query.count
      ? (this.stmt(`SELECT (SELECT COUNT(*) FROM (${batchHalf})) + (SELECT COUNT(*) FROM (${overlayHalf}))`).pluck().get(...both, baseParams) as number)
      : undefined;
    return { rows: out, count };
  }

  async sweepExpired(nowIso: string): Promise<{ overrides: number; activities: number }> {
    return this.db.transaction(() => ({
      overrides: this.stmt('DELETE FROM profile_overrides WHERE valid_until <= ?').run(nowIso).changes,
      activities: this.stmt('DELETE FROM realtime_activities WHERE valid_until <= ?').run(nowIso).changes,
    }))();
  }

  async pruneGenerations(instanceId: string): Promise<number> {
    const stale = this.stmt(
      `SELECT g.generation FROM generations g
       WHERE g.instance_id = ? AND (g.status = 'retired' OR (g.status = 'building' AND NOT EXISTS (
         SELECT 1 FROM runs r WHERE r.instance_id = g.instance_id AND r.job_id = g.job_id AND r.status IN ('queued', 'running'))))`,
    ).all(instanceId) as Row[];
    for (const r of stale) await this.deleteGeneration(instanceId, r.generation as number);
    return stale.length;
  }

  async loadPreviousCustomerIds(instanceId: string): Promise<Map<string, string>> {
    const rows = this.tables.readCurrent(instanceId, 'customers', (customers) =>
      this.stmt(
        `SELECT customer_id, json_extract(data, '$.PreviousCustomerId') AS prev FROM ${customers}
         WHERE instance_id = @instanceId AND generation = ${CURRENT} AND json_extract(data, '$.PreviousCustomerId') IS NOT NULL`,
      ).all({ instanceId }),
    ) as Row[];
    return new Map(rows.map((r) => [r.customer_id as string, r.prev as string]));
  }

  async getCustomer(instanceId: string, customerId: string): Promise<CustomerRecord | undefined> {
    const r = this.tables.readCurrent(instanceId, 'customers', (customers) =>
      this.stmt(`SELECT data FROM ${customers} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId`).get({
        instanceId,
        customerId,
      }),
    ) as Row | undefined;
    return r && JSON.parse(r.data as string);
  }

  async findCustomerIdByKey(instanceId: string, dataSource: string, entity: string, key: string): Promise<string | undefined> {
    const r = this.tables.readCurrent(instanceId, 'alternate_keys', (keys) =>
      this.stmt(
        `SELECT customer_id FROM ${keys} WHERE instance_id = @instanceId AND generation = ${CURRENT}
         AND data_source = @dataSource AND entity = @entity AND alternate_value = @key`,
      ).get({ instanceId, dataSource, entity, key }),
    ) as Row | undefined;
    return r?.customer_id as string | undefined;
  }

  async alternateKeysOf(instanceId: string, customerId: string): Promise<AlternateKeyRecord[]> {
    const rows = this.tables.readCurrent(instanceId, 'alternate_keys', (keys) =>
      this.stmt(
        `SELECT data_source, entity, alternate_value FROM ${keys}
         WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId
         ORDER BY data_source, entity, alternate_value`,
      ).all({ instanceId, customerId }),
    ) as Row[];
    return rows.map((r) => ({
      DataSourceName: r.data_source as string,
      EntityName: r.entity as string,
      AlternateValue: r.alternate_value as string,
      CustomerId: customerId,
    }));
  }

  async activitiesOf(instanceId: string, customerId: string, page: Page = {}, nowIso = new Date().toISOString()): Promise<ActivityRecord[]> {
    const rows = this.tables.readCurrent(instanceId, 'activities', (activities) =>
      this.stmt(
        `SELECT data FROM (
           SELECT activity_id, activity_time, data FROM ${activities} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND customer_id = @customerId
           UNION ALL
           SELECT activity_id, activity_time, data FROM realtime_activities WHERE instance_id = @instanceId AND customer_id = @customerId AND valid_until > @now
         ) ORDER BY activity_time DESC, activity_id LIMIT @top OFFSET @skip`,
      ).all({ instanceId, customerId, now: nowIso, top: page.top ?? 50, skip: page.skip ?? 0 }),
    ) as Row[];
    return rows.map((r) => JSON.parse(r.data as string));
  }

  async count(instanceId: string, entity: UnifiedEntityName): Promise<number> {
    const count = (table: string) =>
      this.stmt(`SELECT COUNT(*) FROM ${table} WHERE instance_id = @instanceId AND generation = ${CURRENT}`).pluck().get({ instanceId }) as number;
    const base = TABLES[entity].table;
    return isGenerationTable(base) ? this.tables.readCurrent(instanceId, base, count) : count(base);
  }

  async *scan(instanceId: string, entity: UnifiedEntityName, batchSize = 5000): AsyncIterable<Record<string, unknown>[]> {
    const spec = TABLES[entity];
    const instance = await this.getInstance(instanceId);
    const generation = instance?.currentGeneration;
    if (generation == null) return;
    // Keyset pagination on the primary key: no statement stays open across awaits.
    let after: unknown[] | null = null;
    const table = isGenerationTable(spec.table) ? this.tables.table(spec.table, instanceId, generation) : spec.table;
    for (;;) {
      const where: string = after ? `AND (${spec.key.join(', ')}) > (${spec.key.map(() => '?').join(', ')})` : '';
      // Between batches a refresh may have committed and pruned this generation (its own tables
      // dropped): say so rather than fail on a missing table or return a partial entity.
      const rows = this.db.transaction(() => {
        if (!this.stmt('SELECT 1 FROM generations WHERE instance_id = ? AND generation = ?').get(instanceId, generation))
          throw new Error(`generation ${generation} of instance '${instanceId}' was replaced by a newer refresh while it was read; read it again`);
        return this.db
          .prepare(
            `SELECT ${[...spec.key, ...spec.select].join(', ')} FROM ${table} WHERE instance_id = ? AND generation = ? ${where}
             ORDER BY ${spec.key.join(', ')} LIMIT ?`,
          )
          .raw()
          .all(instanceId, generation, ...(after ?? []), batchSize) as unknown[][];
      })();
      if (!rows.length) return;
      yield rows.map((r) => spec.toRecord(r.slice(spec.key.length), r.slice(0, spec.key.length)));
      after = rows[rows.length - 1].slice(0, spec.key.length);
      if (rows.length < batchSize) return;
    }
  }

  async createApiKey(k: Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    this.stmt(
      `INSERT INTO api_keys (id, instance_id, principal_id, name, role, prefix, hash, created_at, expires_at)
       VALUES (@id, @instanceId, @principalId, @name, @role, @prefix, @hash, @createdAt, @expiresAt)`,
    ).run(k);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.stmt('SELECT * FROM api_keys WHERE hash = ?').get(hash) as Row | undefined;
    return r && toApiKey(r);
  }

  async listApiKeys(instanceId: string | null): Promise<ApiKeyRecord[]> {
    const rows = (
      instanceId === null
        ? this.stmt('SELECT * FROM api_keys WHERE instance_id IS NULL ORDER BY created_at').all()
        : this.stmt('SELECT * FROM api_keys WHERE instance_id = ? ORDER BY created_at').all(instanceId)
    ) as Row[];
    return rows.map(toApiKey);
  }

  async touchApiKey(id: string, at: string): Promise<void> {
    this.stmt('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(at, id);
  }
}

const TABLES: Record<
  UnifiedEntityName,
  { table: string; key: string[]; select: string[]; toRecord: (cols: unknown[], key: unknown[]) => Record<string, unknown> }
> = {
  Customer: { table: 'customers', key: ['customer_id'], select: ['data'], toRecord: (c) => JSON.parse(c[0] as string) },
  UnifiedActivity: { table: 'activities', key: ['activity_id'], select: ['data'], toRecord: (c) => JSON.parse(c[0] as string) },
  AlternateKey: {
    table: 'alternate_keys',
    key: ['data_source', 'entity', 'alternate_value'],
    select: ['customer_id'],
    toRecord: (c, k) => ({ DataSourceName: k[0], EntityName: k[1], AlternateValue: k[2], CustomerId: c[0] }),
  },
  CustomerEnrichment: { table: 'customer_enrichments', key: ['customer_id'], select: ['data'], toRecord: (c) => JSON.parse(c[0] as string) },
  Customer_Measure: { table: 'customer_measures', key: ['customer_id'], select: ['data'], toRecord: (c) => JSON.parse(c[0] as string) },
};

/**
 * How each unified entity is read through the overlay. `from` uses named parameters (@i, @g,
 * @now); the compiled filter and paging use anonymous ones. Customer applies the overrides that
 * have not expired (a refresh removes those that newer source data superseded); UnifiedActivity adds live real-time activities that
 * the batch does not have (yet).
 */
const SOURCES: Record<
  UnifiedEntityName,
  {
    /** `table` names the generation's own tables. */
    from: (table: (base: GenerationTableName) => string) => string;
    params: (instanceId: string, generation: number, nowIso: string) => Record<string, unknown>;
    select: string;
    key: string;
    columns: Record<string, string>;
    toRecord: (row: unknown[], attributes: Record<string, unknown>) => Record<string, unknown>;
  }
> = {
  Customer: {
    from: (table) => `WITH src AS (
      SELECT c.customer_id, CASE WHEN EXISTS (SELECT 1 FROM profile_overrides o WHERE o.instance_id = c.instance_id AND o.customer_id = c.customer_id)
        THEN (SELECT json_patch(c.data, json_group_object(o.attribute, json(o.value))) FROM profile_overrides o
              WHERE o.instance_id = c.instance_id AND o.customer_id = c.customer_id AND o.valid_until > @now)
        ELSE c.data END AS data
      FROM ${table('customers')} c WHERE c.instance_id = @i AND c.generation = @g)`,
    params: (i, g, now) => ({ i, g, now }),
    select: 'data',
    key: 'customer_id',
    columns: { CustomerId: 'customer_id' },
    // json_patch drops attributes set to null; every attribute is listed, null when absent.
    toRecord: (row, attributes) => {
      const data = JSON.parse(row[0] as string) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(attributes)) out[name] = data[name] ?? null;
      return out;
    },
  },
  UnifiedActivity: {
    from: (table) => `WITH src AS (
      SELECT activity_id, customer_id, activity_time, data FROM ${table('activities')} WHERE instance_id = @i AND generation = @g
      UNION ALL
      SELECT r.activity_id, r.customer_id, r.activity_time, r.data FROM realtime_activities r
      WHERE r.instance_id = @i AND r.valid_until > @now
        AND NOT EXISTS (SELECT 1 FROM ${table('activities')} a WHERE a.instance_id = @i AND a.generation = @g AND a.activity_id = r.activity_id))`,
    params: (i, g, now) => ({ i, g, now }),
    select: 'data',
    key: 'activity_id',
    columns: { ActivityId: 'activity_id', CustomerId: 'customer_id', ActivityTime: 'activity_time' },
    toRecord: (row) => JSON.parse(row[0] as string),
  },
  AlternateKey: {
    from: (table) => `WITH src AS (SELECT data_source, entity, alternate_value, customer_id FROM ${table('alternate_keys')} WHERE instance_id = @i AND generation = @g AND @now IS NOT NULL)`,
    params: (i, g, now) => ({ i, g, now }),
    select: 'data_source, entity, alternate_value, customer_id',
    key: 'data_source, entity, alternate_value',
    columns: { DataSourceName: 'data_source', EntityName: 'entity', AlternateValue: 'alternate_value', CustomerId: 'customer_id' },
    toRecord: (row) => ({ DataSourceName: row[0], EntityName: row[1], AlternateValue: row[2], CustomerId: row[3] }),
  },
  // Enrichments come from the batch only: real-time updates never change them.
  CustomerEnrichment: {
    from: (table) => `WITH src AS (SELECT customer_id, data FROM ${table('customer_enrichments')} WHERE instance_id = @i AND generation = @g AND @now IS NOT NULL)`,
    params: (i, g, now) => ({ i, g, now }),
    select: 'data',
    key: 'customer_id',
    columns: { CustomerId: 'customer_id' },
    toRecord: (row, attributes) => {
      const data = JSON.parse(row[0] as string) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(attributes)) out[name] = data[name] ?? null;
      return out;
    },
  },
  // Measures come from the batch only: real-time updates never change them.
  Customer_Measure: {
    from: (table) => `WITH src AS (SELECT customer_id, data FROM ${table('customer_measures')} WHERE instance_id = @i AND generation = @g AND @now IS NOT NULL)`,
    params: (i, g, now) => ({ i, g, now }),
    select: 'data',
    key: 'customer_id',
    columns: { CustomerId: 'customer_id' },
    toRecord: (row, attributes) => {
      const data = JSON.parse(row[0] as string) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(attributes)) out[name] = data[name] ?? null;
      return out;
    },
  },
};
