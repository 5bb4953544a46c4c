// Runs one refresh in a process of its own (executors.ts, processExecutor), started with the
// refresh's V8 flags. It opens its own connection to the same store; progress and the final run
// go back as IPC messages. If the parent goes away, the process ends at once, as a thread of the
// parent would have: the unfinished generation is thrown away, and the node's lock on the run
// (docs/running-at-scale.md) never outlives the node.
import type { RunRecord, StageRecord } from '../domain/run.js';
import { openPostgresStore } from '../storage/postgres/store.js';
import { openSqliteStore } from '../storage/sqlite/store.js';
import type { Store } from '../storage/store.js';
import { useDefaultHeapFlagsForNewThreads } from '../workers.js';
import { REFRESH_PAGE_CACHE_MIB, runRefresh } from './pipeline.js';

export interface RefreshWorkerData {
  store: { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string; schema?: string };
  run: RunRecord;
}

export type RefreshWorkerRequest = { type: 'start'; data: RefreshWorkerData } | { type: 'cancel' };

export type RefreshWorkerMessage =
  | { type: 'progress'; stage: string; done: number; total: number }
  | { type: 'stage'; stage: StageRecord }
  | { type: 'done'; run: RunRecord }
  | { type: 'error'; message: string };

const send = (m: RefreshWorkerMessage): Promise<void> =>
  new Promise((resolve) => {
    if (process.connected) process.send!(m, undefined, undefined, () => resolve());
    else resolve();
  });

async function refresh(data: RefreshWorkerData, controller: AbortController): Promise<void> {
  let store: Store;
  try {
    store =
      data.store.kind === 'sqlite'
        ? openSqliteStore({ file: data.store.file, pageCacheMiB: REFRESH_PAGE_CACHE_MIB })
        : await openPostgresStore({ connectionString: data.store.connectionString, schema: data.store.schema, maxConnections: 4 });
  } catch (err) {
    await send({ type: 'error', message: `the store could not be opened: ${(err as Error).message}` });
    process.exit(1);
  }
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
        void send({ type: 'progress', stage, done, total });
      },
      onStage: (stage) => void send({ type: 'stage', stage }),
    });
    await send({ type: 'done', run });
  } catch (err) {
    await send({ type: 'error', message: (err as Error).message });
  } finally {
    await store.close();
    process.exit(0);
  }
}

// The heap flags this process was started with are the refresh's: the generation writer and
// enrich threads it starts get V8's defaults.
useDefaultHeapFlagsForNewThreads();
const controller = new AbortController();
process.on('message', (m: RefreshWorkerRequest) => {
  if (m.type === 'cancel') controller.abort();
  else void refresh(m.data, controller);
});
// Ctrl-C reaches the whole process group: the parent decides (it sends cancel). A termination
// request cancels the run, which then ends the process.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => controller.abort());
process.on('disconnect', () => process.exit(1));
