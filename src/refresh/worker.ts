// Runs one refresh in a worker thread, so the server's event loop keeps answering real-time
// requests while unification works through millions of records. The worker opens its own
// connection to the same store; progress and the final run go back as messages.
import { parentPort, workerData } from 'node:worker_threads';
import type { RunRecord, StageRecord } from '../domain/run.js';
import { openPostgresStore } from '../storage/postgres/store.js';
import { openSqliteStore } from '../storage/sqlite/store.js';
import type { Store } from '../storage/store.js';
import { REFRESH_PAGE_CACHE_MIB, runRefresh } from './pipeline.js';

export interface RefreshWorkerData {
  store: { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string; schema?: string };
  run: RunRecord;
}

export type RefreshWorkerMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | { type: 'stage'; stage: StageRecord }
  | { type: 'done'; run: RunRecord }
  | { type: 'error'; message: string };

async function main(): Promise<void> {
  const port = parentPort!;
  const data = workerData as RefreshWorkerData;
  const store: Store =
    data.store.kind === 'sqlite'
      ? openSqliteStore({ file: data.store.file, pageCacheMiB: REFRESH_PAGE_CACHE_MIB })
      : await openPostgresStore({ connectionString: data.store.connectionString, schema: data.store.schema, maxConnections: 4 });
  const controller = new AbortController();
  port.on('message', (m: { type: string }) => {
    if (m.type === 'cancel') controller.abort();
  });
  let last = 0;
  try {
    const run = await runRefresh({
      store,
      run: data.run,
      signal: controller.signal,
      onProgress: (stage, done, total) => {
        const now = Date.now();
        if (now - last < 200) return;
        last = now;
        port.postMessage({ type: 'progress', stage, done, total } satisfies RefreshWorkerMessage);
      },
      onStage: (stage) => port.postMessage({ type: 'stage', stage } satisfies RefreshWorkerMessage),
    });
    port.postMessage({ type: 'done', run } satisfies RefreshWorkerMessage);
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error).message } satisfies RefreshWorkerMessage);
  } finally {
    await store.close();
    port.close();
  }
}

void main();
