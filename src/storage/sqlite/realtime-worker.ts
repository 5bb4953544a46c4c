// The real-time writer thread (realtime-writer.ts): applies the groups of writes that arrive in one
// turn of its event loop in one transaction and answers each once the WAL is synced; groups that
// arrive while a transaction or a sync runs commit together next and share the next sync. A
// message with id 0 closes it.
import { parentPort, workerData } from 'node:worker_threads';
import { WalSync } from './durability.js';
import { RealtimeApplier, type AppliedGroup } from './realtime-apply.js';
import { openRealtimeConnection, WORKER_BUSY_TIMEOUT_MS, type RealtimeWorkerData, type RealtimeWorkerReply, type RealtimeWorkerRequest } from './realtime-writer.js';

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
const applier = new RealtimeApplier(db);
const wal = new WalSync(`${file}-wal`);
/** Groups received and not answered yet. */
let open = 0;
let closing = false;
/** Groups received in this turn of the event loop, committed together by applyArrived. */
let arrived: RealtimeWorkerRequest[] = [];

const finish = () => {
  if (closing && open === 0) {
    wal.close();
    db.close();
    process.exit(0);
  }
};

/** One group on its own: its result, or the error that rolled it back. */
function applyOne(m: RealtimeWorkerRequest): AppliedGroup | Error {
  try {
    return applier.applyEncoded(m.writes);
  } catch (err) {
    return err as Error;
  }
}

/**
 * The arrived groups in one transaction: a commit per turn instead of per group (each commit
 * rewrites the pages its writes share, such as the table's last page). Should that transaction
 * fail, each group runs on its own, so one group's error fails only its own writes.
 */
function applyArrived(): void {
  const groups = arrived;
  arrived = [];
  let results: (AppliedGroup | Error)[];
  if (groups.length === 1) results = [applyOne(groups[0])];
  else {
    try {
      const all = applier.applyEncoded(groups.flatMap((m) => m.writes));
      let offset = 0;
      results = groups.map((m) => {
        const n = m.writes.length;
        const stored: Record<number, string> = {};
        for (const i in all.stored) {
          const at = Number(i) - offset;
          if (at >= 0 && at < n) stored[at] = all.stored[i];
        }
        const group: AppliedGroup = { statuses: all.statuses.slice(offset, offset + n), stored };
        offset += n;
        return group;
      });
    } catch {
      results = groups.map(applyOne);
    }
  }
  // Committed (or failed) now; answered once the WAL is on disk.
  const synced = results.some((r) => !(r instanceof Error)) ? wal.sync() : Promise.resolve();
  groups.forEach((m, i) => {
    const r = results[i];
    if (r instanceof Error) {
      port.postMessage({ id: m.id, error: r.message } satisfies RealtimeWorkerReply);
      open--;
      return;
    }
    synced
      .then(
        () => port.postMessage({ id: m.id, applied: r } satisfies RealtimeWorkerReply),
        (err: Error) => port.postMessage({ id: m.id, error: `the write was not synced to disk: ${err.message}` } satisfies RealtimeWorkerReply),
      )
      .finally(() => {
        open--;
        finish();
      });
  });
  finish();
}

port.on('message', (m: RealtimeWorkerRequest) => {
  if (m.id === 0) {
    closing = true;
    finish();
    return;
  }
  open++;
  arrived.push(m);
  if (arrived.length === 1) setImmediate(applyArrived);
});
