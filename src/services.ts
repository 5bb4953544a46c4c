// Builds the long-lived services once at start-up; everything else receives them as arguments.
import path from 'node:path';
import { AccessManager, Authenticator } from './api/auth.js';
import { InstanceCatalog } from './api/catalog.js';
import { ExportService } from './exports/service.js';
import { DefinitionEditor } from './api/definition-edits.js';
import { StreamConsumers } from './connect/consumers.js';
import { InProcessChangeFeed, type ChangeFeed } from './realtime/change-feed.js';
import { ExpirySweeper } from './realtime/sweeper.js';
import { TelemetryRecorder } from './realtime/telemetry.js';
import { WriteQueue } from './realtime/write-queue.js';
import { workerExecutor } from './refresh/executors.js';
import { RefreshRunner, type RefreshRunnerOptions } from './refresh/runner.js';
import { openSqliteStore } from './storage/sqlite/store.js';
import type { Store } from './storage/store.js';

export interface Services {
  dataDir: string;
  store: Store;
  runner: RefreshRunner;
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
  close(): Promise<void>;
}

export interface ServiceOptions {
  dataDir: string;
  onProgress?: RefreshRunnerOptions['onProgress'];
  log?: (message: string) => void;
  /** Run refreshes in a worker thread (the server does, so requests are answered meanwhile). */
  refreshInWorker?: boolean;
  /** Page cache of the store connection in MiB (the CLI's refresh writes through it). */
  pageCacheMiB?: number;
  /** Run real-time writes in a thread of their own (the server does; see storage/sqlite/realtime-writer.ts). */
  realtimeInWorker?: boolean;
  /** How often expired real-time data is purged (ms); 0 disables the sweeper. */
  sweepIntervalMs?: number;
  /** How often telemetry is written to the store (ms; default 5000); 0: only when read or closed. */
  telemetryFlushMs?: number;
  /** Environment for webhook secrets (default: process.env). */
  env?: Record<string, string | undefined>;
}

export async function openServices(options: ServiceOptions): Promise<Services> {
  const dataDir = path.resolve(options.dataDir);
  const file = path.join(dataDir, 'kindred.db');
  const store = openSqliteStore({ file, pageCacheMiB: options.pageCacheMiB, realtimeWriter: options.realtimeInWorker ? 'worker' : 'inline' });
  // Start the writer thread now (an empty group round-trips once it is up), so the first real-time
  // request does not wait for the thread to load its code.
  if (options.realtimeInWorker) await store.applyRealtime([]);
  const runner = new RefreshRunner({
    store,
    onProgress: options.onProgress,
    log: options.log,
    execute: options.refreshInWorker ? workerExecutor(store, { kind: 'sqlite', file }) : undefined,
  });
  const feed = new InProcessChangeFeed();
  const writes = new WriteQueue(store, feed);
  const catalog = new InstanceCatalog(store);
  const sweeper = new ExpirySweeper(store, options.sweepIntervalMs ?? 60_000, options.log);
  const telemetry = new TelemetryRecorder(store.telemetry, { flushMs: options.telemetryFlushMs, log: options.log });
  const exports = new ExportService(store, options.log);
  const auth = new Authenticator(store);
  const consumers = new StreamConsumers({ store, catalog, writes, log: options.log });
  return {
    dataDir,
    store,
    auth,
    access: new AccessManager(store, auth),
    runner,
    catalog,
    definitions: new DefinitionEditor(store, catalog),
    feed,
    writes,
    sweeper,
    telemetry,
    exports,
    consumers,
    env: options.env ?? process.env,
    async close() {
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
