// A reader thread of the SQLite store (reader-pool.ts): answers entity queries on a connection of
// its own that may not write.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteReader } from './store.js';
import type { ReaderReply, ReaderRequest, ReaderWorkerData } from './reader-pool.js';

const port = parentPort!;
const { file } = workerData as ReaderWorkerData;
const store = openSqliteReader(file);

port.on('message', (m: ReaderRequest) => {
  store.queryEntity(m.instanceId, m.entity, m.query, m.nowIso).then(
    (result) => port.postMessage({ id: m.id, result } satisfies ReaderReply),
    (err: Error) => port.postMessage({ id: m.id, error: err.message } satisfies ReaderReply),
  );
});
