// Builds the long-lived services once at start-up; everything else receives them as arguments.
import path from 'node:path';
import { RefreshRunner, type RefreshRunnerOptions } from './refresh/runner.js';
import { openSqliteStore } from './storage/sqlite/store.js';
import type { Store } from './storage/store.js';

export interface Services {
  dataDir: string;
  store: Store;
  runner: RefreshRunner;
  close(): Promise<void>;
}

export interface ServiceOptions {
  dataDir: string;
  onProgress?: RefreshRunnerOptions['onProgress'];
  log?: (message: string) => void;
}

export async function openServices(options: ServiceOptions): Promise<Services> {
  const dataDir = path.resolve(options.dataDir);
  const store = openSqliteStore({ file: path.join(dataDir, 'kindred.db') });
  const runner = new RefreshRunner({ store, onProgress: options.onProgress, log: options.log });
  return {
    dataDir,
    store,
    runner,
    async close() {
      await runner.close();
      await store.close();
    },
  };
}
