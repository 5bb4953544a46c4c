// The checkpointer thread of the real-time writer (realtime-writer.ts): copies the WAL back into
// the database file with PASSIVE checkpoints on a connection of its own, so the writer thread never
// stops for a checkpoint and its two disk syncs. SQLite runs a checkpoint beside a writing
// connection; durability does not depend on it (acknowledged writes are in the synced WAL).
// Messages: 1 after each committed group (a checkpoint follows within CHECKPOINT_INTERVAL_MS),
// 0 to close.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { RealtimeWorkerData } from './realtime-writer.js';

/**
 * Least time between two checkpoints: pages changed again meanwhile (the last page of each
 * customer's index range, the table's last page) are copied once, not once per group.
 */
const CHECKPOINT_INTERVAL_MS = 250;

const port = parentPort!;
const { file } = workerData as RealtimeWorkerData;
const db = new Database(file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
let timer: NodeJS.Timeout | null = null;
let lastRun = 0;

function checkpoint(): void {
  timer = null;
  lastRun = Date.now();
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failing: the next commit asks again, and connections still checkpoint on their own
    // past their wal_autocheckpoint.
  }
}

port.on('message', (m: number) => {
  if (m === 0) {
    if (timer) clearTimeout(timer);
    db.close();
    process.exit(0);
  }
  if (timer) return;
  timer = setTimeout(checkpoint, Math.max(0, lastRun + CHECKPOINT_INTERVAL_MS - Date.now()));
});
