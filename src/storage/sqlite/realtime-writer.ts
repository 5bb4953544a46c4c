// Where real-time writes run. Both writers commit on a connection of their own with
// synchronous=NORMAL and resolve only once the WAL is synced (durability.ts), so an acknowledged
// write is on disk either way:
// - inline: in this thread; simple, used by the CLI and most tests;
// - worker: in a thread of its own (the server). SQLite work and waits for locks held by a
//   running refresh then never stop the event loop, and the inserts of one group run while the
//   main thread parses and validates the next requests. WAL checkpoints run in a third thread
//   (realtime-checkpointer.ts), so the writer thread does not stop for them either.
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { RealtimeResult, RealtimeWrite } from '../../domain/realtime.js';
import { startModuleWorker } from '../../workers.js';
import { WalSync } from './durability.js';
import { decodeResults, encodeWrites, RealtimeApplier, type AppliedGroup, type EncodedWrite } from './realtime-apply.js';

export interface RealtimeWriter {
  /** Applies the writes in one transaction; resolves once they are on disk. */
  apply(writes: RealtimeWrite[]): Promise<RealtimeResult[]>;
  close(): Promise<void>;
}

/** How long a write waits for the write lock in this thread (inline: it stops everything else here). */
const INLINE_BUSY_TIMEOUT_MS = 5_000;
/**
 * How long a write waits for the write lock in the writer thread, where waiting stops nothing else. A
 * refresh of a million records holds the lock for 4 s or more while it builds an index (BENCHMARKS.md,
 * "Where the remaining gaps are"); the writes of that moment wait it out instead of failing with 503.
 */
export const WORKER_BUSY_TIMEOUT_MS = 30_000;

/** The real-time connection: its commits do not wait for the disk; callers await WalSync instead. */
export function openRealtimeConnection(file: string, busyTimeoutMs = INLINE_BUSY_TIMEOUT_MS): Database.Database {
  const db = new Database(file);
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('synchronous = NORMAL');
  return db;
}

export function inlineRealtimeWriter(file: string, wal = new WalSync(`${file}-wal`)): RealtimeWriter {
  const db = openRealtimeConnection(file);
  const applier = new RealtimeApplier(db);
  return {
    async apply(writes) {
      // The transaction runs (and commits) now, synchronously; the promise resolves once it is on disk.
      const results = applier.apply(writes);
      await wal.sync();
      return results;
    },
    async close() {
      wal.close();
      db.close();
    },
  };
}

export interface RealtimeWorkerData {
  file: string;
}

export type RealtimeWorkerRequest = { id: number; writes: EncodedWrite[] };
export type RealtimeWorkerReply = { id: number; applied: AppliedGroup } | { id: number; error: string };

/**
 * The writer thread's group commit (realtime-worker.ts runs one; tests drive one directly): applies
 * the groups that arrive in one turn of the event loop in one transaction and answers each once
 * the WAL is synced; groups that arrive while a transaction or a sync runs commit together next
 * and share the next sync.
 */
export class GroupCommitter {
  /** Groups received and not answered yet. */
  pending = 0;
  /** Groups received in this turn of the event loop, committed together by applyArrived. */
  private arrived: RealtimeWorkerRequest[] = [];

  constructor(
    private readonly applier: RealtimeApplier,
    private readonly wal: WalSync,
    private readonly reply: (r: RealtimeWorkerReply) => void,
    /** Called after each answer (the thread exits once closing and nothing is pending). */
    private readonly answered: () => void = () => {},
  ) {}

  receive(m: RealtimeWorkerRequest): void {
    this.pending++;
    this.arrived.push(m);
    if (this.arrived.length === 1) setImmediate(() => this.applyArrived());
  }

  /** One group on its own: its result, or the error that rolled it back. */
  private applyOne(m: RealtimeWorkerRequest): AppliedGroup | Error {
    try {
      return this.applier.applyEncoded(m.writes);
    } catch (err) {
      return err as Error;
    }
  }

  /**
   * The arrived groups in one transaction: a commit per turn instead of per group (each commit
   * rewrites the pages its writes share, such as the table's last page). Should that transaction
   * fail, each group runs on its own, so one group's error fails only its own writes.
   */
  private applyArrived(): void {
    const groups = this.arrived;
    this.arrived = [];
    let results: (AppliedGroup | Error)[];
    if (groups.length === 1) results = [this.applyOne(groups[0])];
    else {
      try {
        const all = this.applier.applyEncoded(groups.flatMap((m) => m.writes));
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
        results = groups.map((m) => this.applyOne(m));
      }
    }
    // Committed (or failed) now; answered once the WAL is on disk.
    const synced = results.some((r) => !(r instanceof Error)) ? this.wal.sync() : Promise.resolve();
    groups.forEach((m, i) => {
      const r = results[i];
      if (r instanceof Error) {
        this.reply({ id: m.id, error: r.message });
        this.pending--;
        return;
      }
      synced
        .then(
          () => this.reply({ id: m.id, applied: r }),
          (err: Error) => this.reply({ id: m.id, error: `the write was not synced to disk: ${err.message}` }),
        )
        .finally(() => {
          this.pending--;
          this.answered();
        });
    });
    this.answered();
  }
}

/**
 * Least time between two checkpoints: pages changed again meanwhile (the last page of each
 * customer's index range, the table's last page) are copied once, not once per group, and a
 * stream of single writes costs a few messages a second, not one per group.
 */
const CHECKPOINT_INTERVAL_MS = 250;

/** Started on the first write; if the thread dies, pending writes fail and the next write starts a new one. */
export function workerRealtimeWriter(file: string): RealtimeWriter {
  let worker: Worker | null = null;
  let checkpointer: Worker | null = null;
  let checkpointDue: NodeJS.Timeout | null = null;
  /** A checkpoint follows every commit within CHECKPOINT_INTERVAL_MS. */
  const scheduleCheckpoint = () => {
    if (checkpointDue) return;
    checkpointDue = setTimeout(() => {
      checkpointDue = null;
      checkpointer?.postMessage(1);
    }, CHECKPOINT_INTERVAL_MS);
    checkpointDue.unref();
  };
  let nextId = 1;
  const pending = new Map<number, { writes: RealtimeWrite[]; resolve: (r: RealtimeResult[]) => void; reject: (e: Error) => void }>();
  const failAll = (message: string) => {
    for (const p of pending.values()) p.reject(new Error(message));
    pending.clear();
  };
  const start = (): Worker => {
    const w = startModuleWorker(new URL('./realtime-worker.js', import.meta.url), { file } satisfies RealtimeWorkerData);
    w.on('message', (m: RealtimeWorkerReply) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (!pending.size) w.unref();
      if ('error' in m) p.reject(new Error(m.error));
      else {
        scheduleCheckpoint();
        p.resolve(decodeResults(p.writes, m.applied));
      }
    });
    w.on('error', (err) => {
      worker = null;
      failAll(`real-time writer failed: ${err.message}`);
    });
    w.on('exit', (code) => {
      if (worker === w) worker = null;
      failAll(`real-time writer stopped (exit code ${code})`);
    });
    // An idle thread must not keep the process alive; one with writes in flight does.
    w.unref();
    return w;
  };
  const startCheckpointer = (): Worker => {
    const c = startModuleWorker(new URL('./realtime-checkpointer.js', import.meta.url), { file } satisfies RealtimeWorkerData);
    // If it fails, connections checkpoint on their own (wal_autocheckpoint); the next write starts a new one.
    const gone = () => {
      if (checkpointer === c) checkpointer = null;
    };
    c.on('error', gone);
    c.on('exit', gone);
    c.unref();
    return c;
  };
  return {
    apply(writes) {
      worker ??= start();
      checkpointer ??= startCheckpointer();
      const id = nextId++;
      const w = worker;
      const encoded = encodeWrites(writes);
      return new Promise((resolve, reject) => {
        pending.set(id, { writes, resolve, reject });
        w.ref();
        w.postMessage({ id, writes: encoded } satisfies RealtimeWorkerRequest);
      });
    },
    async close() {
      const w = worker;
      const c = checkpointer;
      worker = null;
      checkpointer = null;
      if (checkpointDue) clearTimeout(checkpointDue);
      checkpointDue = null;
      // Everything sent has been answered (the write queue drains first); the threads close their connections.
      if (w) {
        await new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
          w.ref();
          w.postMessage({ id: 0, writes: [] } satisfies RealtimeWorkerRequest);
        });
      }
      if (c) {
        await new Promise<void>((resolve) => {
          c.once('exit', () => resolve());
          c.ref();
          c.postMessage(0);
        });
      }
    },
  };
}
