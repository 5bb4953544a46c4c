// The real-time writer thread (realtime-writer.ts): its connection and a GroupCommitter, which
// commits the groups that arrive together in one transaction and answers each once the WAL is
// synced. A message with id 0 closes it.
import { parentPort, workerData } from 'node:worker_threads';
import { WalSync } from './durability.js';
import { RealtimeApplier } from './realtime-apply.js';
import { GroupCommitter, openRealtimeConnection, WORKER_BUSY_TIMEOUT_MS, type RealtimeWorkerData, type RealtimeWorkerRequest } from './realtime-writer.js';

/**
 * 200 MiB of 4 KiB pages. Under a stream of writes the checkpointer (PASSIVE, beside the writer)
 * never quite catches up, so the WAL grows until this backstop, where the writer copies what is
 * left and the WAL starts over. At 40 MiB that came several times a second under $batch load:
 * 16 % of the writer's CPU and the stalls behind single-write p99 of 15 ms (8 ms at 200 MiB;
 * BENCHMARKS.md, "Real-time writes: no content hash, a larger WAL backstop"). The WAL file keeps
 * its largest size on disk.
 */
const BACKSTOP_CHECKPOINT_PAGES = 50_000;

const port = parentPort!;
const { file } = workerData as RealtimeWorkerData;
const db = openRealtimeConnection(file, WORKER_BUSY_TIMEOUT_MS);
// Checkpoints are the checkpointer thread's job (realtime-checkpointer.ts); this connection runs
// one only if the WAL grows this far all the same (the checkpointer lagging or gone).
db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
const wal = new WalSync(`${file}-wal`);
let closing = false;

const finish = () => {
  if (closing && committer.pending === 0) {
    wal.close();
    db.close();
    process.exit(0);
  }
};
const committer = new GroupCommitter(new RealtimeApplier(db), wal, (r) => port.postMessage(r), finish);

port.on('message', (m: RealtimeWorkerRequest) => {
  if (m.id === 0) {
    closing = true;
    finish();
    return;
  }
  committer.receive(m);
});
