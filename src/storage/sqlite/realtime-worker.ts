// The real-time writer thread (realtime-writer.ts): applies each group of writes in a transaction
// as it arrives and answers once the WAL is synced; groups that arrive while a sync runs commit
// meanwhile and share the next sync. A message with id 0 closes it.
import { parentPort, workerData } from 'node:worker_threads';
import { WalSync } from './durability.js';
import { RealtimeApplier } from './realtime-apply.js';
import { openRealtimeConnection, type RealtimeWorkerData, type RealtimeWorkerReply, type RealtimeWorkerRequest } from './realtime-writer.js';

/** 40 MiB of 4 KiB pages. */
const BACKSTOP_CHECKPOINT_PAGES = 10_000;

const port = parentPort!;
const { file } = workerData as RealtimeWorkerData;
const db = openRealtimeConnection(file);
// Checkpoints are the checkpointer thread's job (realtime-checkpointer.ts); this connection runs
// one only if the WAL grows this far all the same (the checkpointer lagging or gone).
db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
const applier = new RealtimeApplier(db);
const wal = new WalSync(`${file}-wal`);
let open = 0;
let closing = false;

const finish = () => {
  if (closing && open === 0) {
    wal.close();
    db.close();
    process.exit(0);
  }
};

port.on('message', (m: RealtimeWorkerRequest) => {
  if (m.id === 0) {
    closing = true;
    finish();
    return;
  }
  let applied;
  try {
    applied = applier.applyEncoded(m.writes);
  } catch (err) {
    port.postMessage({ id: m.id, error: (err as Error).message } satisfies RealtimeWorkerReply);
    return;
  }
  open++;
  wal.sync().then(
    () => port.postMessage({ id: m.id, applied } satisfies RealtimeWorkerReply),
    (err: Error) => port.postMessage({ id: m.id, error: `the write was not synced to disk: ${err.message}` } satisfies RealtimeWorkerReply),
  ).finally(() => {
    open--;
    finish();
  });
});
