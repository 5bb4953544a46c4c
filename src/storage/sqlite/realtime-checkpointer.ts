// The checkpointer thread of the real-time writer (realtime-writer.ts): copies the WAL back into
// the database file with PASSIVE checkpoints on a connection of its own, so the writer thread never
// stops for a checkpoint and its two disk syncs. SQLite runs a checkpoint beside a writing
// connection; durability does not depend on it (acknowledged writes are in the synced WAL).
// Messages: 1 to checkpoint now (the writer sends it at most every CHECKPOINT_INTERVAL_MS while
// groups commit), 0 to close.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { RealtimeWorkerData } from './realtime-writer.js';

const port = parentPort!;
const { file } = workerData as RealtimeWorkerData;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');

port.on('message', (m: number) => {
  if (m === 0) {
    db.close();
    process.exit(0);
  }
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failing: the next commit asks again, and connections still checkpoint on their own
    // past their wal_autocheckpoint.
  }
});
