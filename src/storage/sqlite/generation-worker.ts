// The thread that loads one generation (see generation-load.ts): its own connection to the store's
// file, steps in the order they arrive, an answer per step. A `close` message closes the
// connection after the steps before it, so the thread never leaves a lock or a transaction behind.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { GENERATION_BUSY_TIMEOUT_MS, GenerationLoad, type LoadStep } from './generation-load.js';

export interface GenerationWorkerData {
  file: string;
  instanceId: string;
  generation: number;
  pageCacheMiB: number | undefined;
}

export type GenerationWorkerRequest = { id: number; step: LoadStep } | { id: number; close: true };
export type GenerationWorkerReply = { id: number; result: number } | { id: number; error: string };

const data = workerData as GenerationWorkerData;
const port = parentPort!;
const db = new Database(data.file);
db.pragma(`busy_timeout = ${GENERATION_BUSY_TIMEOUT_MS}`);
// As on the store's connection while a generation is built: an unfinished generation is thrown
// away after a crash anyway, and the commit (on the store's connection) syncs the WAL.
db.pragma('synchronous = NORMAL');
if (data.pageCacheMiB) db.pragma(`cache_size = ${-Math.round(data.pageCacheMiB * 1024)}`);
const load = new GenerationLoad(db, data.instanceId, data.generation);

let queue = Promise.resolve();
port.on('message', (m: GenerationWorkerRequest) => {
  queue = queue.then(async () => {
    if ('close' in m) {
      db.close();
      port.postMessage({ id: m.id, result: 0 } satisfies GenerationWorkerReply);
      port.close();
      return;
    }
    try {
      port.postMessage({ id: m.id, result: await load.apply(m.step) } satisfies GenerationWorkerReply);
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message } satisfies GenerationWorkerReply);
    }
  });
});
