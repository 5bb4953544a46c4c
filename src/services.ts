// Builds the long-lived services once at start-up; everything else receives them as arguments.
import path from 'node:path';
import { InstanceCatalog } from './api/catalog.js';
import { StreamConsumers } from './connect/consumers.js';
import { InProcessChangeFeed, type ChangeFeed } from './realtime/change-feed.js';
import { ExpirySweeper } from './realtime/sweeper.js';
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
  feed: ChangeFeed;
  writes: WriteQueue;
  sweeper: ExpirySweeper;
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
  /** How often expired real-time data is purged (ms); 0 disables the sweeper. */
  sweepIntervalMs?: number;
  /** Environment for webhook secrets (default: process.env). */
  env?: Record<string, string | undefined>;
}

export async function openServices(options: ServiceOptions): Promise<Services> {
  const dataDir = path.resolve(options.dataDir);
  const file = path.join(dataDir, 'kindred.db');
  const store = openSqliteStore({ file, pageCacheMiB: options.pageCacheMiB });
  const runner = new RefreshRunner({
    store,
    onProgress: options.onProgress,
    log: options.log,
    execute: options.refreshInWorker ? workerExecutor(store, { kind: 'sqlite', file }) : undefined,
  });
  const feed = new InProcessChangeFeed();
  const writes = new WriteQueue(store, feed);
  const sweeper = new ExpirySweeper(store, options.sweepIntervalMs ?? 60_000, options.log);
  const catalog = new InstanceCatalog(store);
  const consumers = new StreamConsumers({ store, catalog, writes, log: options.log });
  return {
    dataDir,
    store,
    runner,
    catalog,
    feed,
    writes,
    sweeper,
    consumers,
    env: options.env ?? process.env,
    async close() {
      sweeper.stop();
      await consumers.close();
      await runner.close();
      await writes.drain();
      await feed.close();
      await store.close();
    },
  };
}
