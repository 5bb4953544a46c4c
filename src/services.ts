// Builds the long-lived services once at start-up; everything else receives them as arguments.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AccessManager, Authenticator } from './api/auth.js';
import { InstanceCatalog } from './api/catalog.js';
import { ExportService } from './exports/service.js';
import { DefinitionEditor } from './api/definition-edits.js';
import { StreamConsumers } from './connect/consumers.js';
import { InProcessChangeFeed, type ChangeFeed } from './realtime/change-feed.js';
import { ClusterEvents } from './realtime/cluster-events.js';
import { PostgresChangeFeed } from './realtime/postgres-change-feed.js';
import { ExpirySweeper } from './realtime/sweeper.js';
import { TelemetryRecorder } from './realtime/telemetry.js';
import { WriteQueue } from './realtime/write-queue.js';
import { inlineExecutor, processExecutor, type RefreshExecutor } from './refresh/executors.js';
import type { RefreshWorkerData } from './refresh/worker.js';
import { RefreshRunner, type RefreshRunnerOptions } from './refresh/runner.js';
import { openPostgresStore } from './storage/postgres/store.js';
import { GROUPS_IN_FLIGHT } from './storage/postgres/realtime-writer.js';
import { openSqliteStore } from './storage/sqlite/store.js';
import type { InstanceRecord, Store } from './storage/store.js';

/** A PostgreSQL database for the store (several nodes may share it); without one, SQLite in the data directory. */
export interface DatabaseOptions {
  /** postgres://user@host:port/database */
  url: string;
  /** Schema of Kindred's tables (default: the connection's search_path, normally public). */
  schema?: string;
}

export interface Services {
  dataDir: string;
  /** Where the store is, for messages: the SQLite file or the PostgreSQL database and schema (no password). */
  storeLocation: string;
  store: Store;
  runner: RefreshRunner;
  /** Runs one refresh where this process runs them (in a process of its own with refreshInOwnProcess). */
  executeRefresh: RefreshExecutor;
  catalog: InstanceCatalog;
  /** API edits of an instance definition (measures, segments), one at a time per instance. */
  definitions: DefinitionEditor;
  feed: ChangeFeed;
  writes: WriteQueue;
  sweeper: ExpirySweeper;
  /** Real-time API telemetry (per-minute cells flushed to the store) and the /metrics counters. */
  telemetry: TelemetryRecorder;
  /** Exports started by hand or on their own schedule (after-refresh exports run in the refresh). */
  exports: ExportService;
  /** Checks API keys (cached; see src/api/auth.ts). */
  auth: Authenticator;
  /** Principals, roles, keys and the audit log. */
  access: AccessManager;
  /** NATS JetStream consumers of the instance definitions (idle until started by serve). */
  consumers: StreamConsumers;
  /** Environment the server was started with (webhook secrets are read from it). */
  env: Record<string, string | undefined>;
  /**
   * Definition and access changes announced by any node (PostgreSQL), and `resync` after this
   * node's listening connection was lost. The catalog and the key cache follow them already.
   */
  cluster: ClusterEvents;
  /** (Re)installs an instance's refresh schedule and its exports' schedules. */
  schedule(instance: InstanceRecord): void;
  /**
   * Installs every instance's schedules now, and again whenever a definition changes through any
   * node (the server does this; other commands run no schedules).
   */
  followSchedules(): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  dataDir: string;
  /** PostgreSQL instead of SQLite in the data directory. */
  database?: DatabaseOptions;
  onProgress?: RefreshRunnerOptions['onProgress'];
  log?: (message: string) => void;
  /** Run each refresh in a process of its own (the server does, so requests are answered meanwhile). */
  refreshInOwnProcess?: boolean;
  /** Run real-time writes in a thread of their own (the server does on SQLite; see storage/sqlite/realtime-writer.ts). */
  realtimeInWorker?: boolean;
  /** SQLite: threads answering the data API's entity queries (the server runs some; see storage/sqlite/reader-pool.ts). */
  readerThreads?: number;
  /** How often expired real-time data is purged (ms); 0 disables the sweeper. */
  sweepIntervalMs?: number;
  /** How often telemetry is written to the store (ms; default 5000); 0: only when read or closed. */
  telemetryFlushMs?: number;
  /** Environment for webhook secrets (default: process.env). */
  env?: Record<string, string | undefined>;
}

export async function openServices(options: ServiceOptions): Promise<Services> {
  const dataDir = path.resolve(options.dataDir);
  const cluster = new ClusterEvents();
  const opened = options.database ? await openPostgres(options.database, cluster, options.log) : await openSqlite(dataDir, options);
  const { store, feed } = opened;
  const executeRefresh = options.refreshInOwnProcess ? processExecutor(store, opened.workerStore) : inlineExecutor(store);
  const runner = new RefreshRunner({ store, onProgress: options.onProgress, log: options.log, execute: executeRefresh });
  const writes = new WriteQueue(store, feed, undefined, opened.groupsInFlight);
  const catalog = new InstanceCatalog(store);
  const sweeper = new ExpirySweeper(store, options.sweepIntervalMs ?? 60_000, options.log);
  const telemetry = new TelemetryRecorder(store.telemetry, { flushMs: options.telemetryFlushMs, log: options.log });
  const exports = new ExportService(store, options.log);
  const auth = new Authenticator(store);
  const consumers = new StreamConsumers({ store, catalog, writes, log: options.log });
  cluster.on((signal) => {
    if (signal.kind === 'instance') catalog.invalidate(signal.instanceId);
    else if (signal.kind === 'access') auth.forgetAll();
    else {
      catalog.clear();
      auth.forgetAll();
    }
  });
  const schedule = (instance: InstanceRecord) => {
    runner.schedule(instance.id, instance.definition.schedule?.cron, instance.definition.schedule?.timezone);
    exports.schedule(instance);
  };
  let stopFollowing: (() => void) | null = null;
  const followSchedules = async () => {
    if (stopFollowing) return;
    const reinstall = async (instanceId?: string) => {
      const instances = instanceId === undefined ? await store.listInstances() : [await store.getInstance(instanceId)];
      for (const i of instances) if (i) schedule(i);
    };
    stopFollowing = cluster.on((signal) => {
      if (signal.kind === 'access') return;
      reinstall(signal.kind === 'instance' ? signal.instanceId : undefined).catch((err: Error) => options.log?.(`installing the schedules again failed: ${err.message}`));
    });
    await reinstall();
  };
  return {
    dataDir,
    storeLocation: opened.location,
    store,
    auth,
    access: new AccessManager(store, auth),
    runner,
    executeRefresh,
    catalog,
    definitions: new DefinitionEditor(store, catalog),
    feed,
    writes,
    sweeper,
    telemetry,
    exports,
    consumers,
    env: options.env ?? process.env,
    cluster,
    schedule,
    followSchedules,
    async close() {
      stopFollowing?.();
      sweeper.stop();
      await consumers.close();
      await exports.close();
      await telemetry.close();
      await runner.close();
      await writes.drain();
      await feed.close();
      await store.close();
    },
  };
}

interface OpenedStore {
  store: Store;
  /** How a refresh's own process opens the same store. */
  workerStore: RefreshWorkerData['store'];
  feed: ChangeFeed;
  location: string;
  /** Real-time groups committing at once at most (WriteQueue maxInFlight); unbounded if absent. */
  groupsInFlight?: number;
}

async function openSqlite(dataDir: string, options: ServiceOptions): Promise<OpenedStore> {
  const file = path.join(dataDir, 'kindred.db');
  const store = openSqliteStore({
    file,
    realtimeWriter: options.realtimeInWorker ? 'worker' : 'inline',
    readerThreads: options.readerThreads,
  });
  // Start the writer thread now (an empty group round-trips once it is up), so the first real-time
  // request does not wait for the thread to load its code.
  if (options.realtimeInWorker) await store.applyRealtime([]);
  return { store, workerStore: { kind: 'sqlite', file }, feed: new InProcessChangeFeed(), location: file };
}

/**
 * PostgreSQL: real-time writes need no thread of their own (the driver is asynchronous), and the
 * change feed hears the other nodes' writes (realtime/postgres-change-feed.ts) under this
 * process's node id, which the store announces its own writes with, and the cluster events.
 */
async function openPostgres(database: DatabaseOptions, events: ClusterEvents, log: ServiceOptions['log']): Promise<OpenedStore> {
  const nodeId = randomUUID();
  const store = await openPostgresStore({ connectionString: database.url, schema: database.schema, nodeId });
  const feed = new PostgresChangeFeed({ connectionString: database.url, schema: database.schema, nodeId, log, events });
  try {
    await feed.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const url = new URL(database.url);
  url.password = '';
  return {
    store,
    workerStore: { kind: 'postgres', connectionString: database.url, schema: database.schema },
    feed,
    location: `${url.toString()}${database.schema ? ` (schema ${database.schema})` : ''}`,
    groupsInFlight: GROUPS_IN_FLIGHT,
  };
}
