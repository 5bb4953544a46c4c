// Entity queries (the data API's lists: $filter, $orderby, $count, $search) in threads of their
// own. better-sqlite3 runs a query synchronously, so on the main thread a filter that reads every
// profile (80 ms at 60,000 profiles, over a second at a million) would stop every other request
// for that long, real-time writes included. A reader thread holds its own connection; in WAL
// mode it sees every commit made before its query starts, so a read after an acknowledged write
// still sees that write.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { FilterNode } from '../../api/odata/filter.js';
import { attributesByName, checkFilter, compileOrderBy } from '../../api/odata/sql.js';
import { startModuleWorker } from '../../workers.js';
import type { EntityQuery, UnifiedEntityName } from '../store.js';

export interface ReaderWorkerData {
  file: string;
}

export type ReaderRequest = { id: number; instanceId: string; entity: UnifiedEntityName; query: EntityQuery; nowIso: string };
export type ReaderReply = { id: number; result: { rows: Record<string, unknown>[]; count?: number } } | { id: number; error: string };

type QueryResult = { rows: Record<string, unknown>[]; count?: number };

interface Reader {
  worker: Worker;
  pending: Map<number, { resolve: (r: QueryResult) => void; reject: (e: Error) => void; scan: boolean }>;
  /** Pending queries that are not lookups by key: any of them may read every profile. */
  scans: number;
}

/**
 * Attributes whose value alone finds a few rows through an index of the generation's tables (and of
 * the real-time overlay): a filter that compares one of them with `eq` reads only those rows.
 */
const INDEXED_KEYS: Record<UnifiedEntityName, readonly string[]> = {
  Customer: ['CustomerId'],
  Customer_Measure: ['CustomerId'],
  CustomerEnrichment: ['CustomerId'],
  UnifiedActivity: ['ActivityId', 'CustomerId'],
  AlternateKey: ['CustomerId'],
};

/**
 * Whether the filter pins an indexed key to one value (`CustomerId eq '…'`, alone or AND-ed with
 * anything else). Such a query costs an index seek and the rows of one customer at most, so it may
 * run on the caller's thread rather than wait behind a scan queued in a reader, which takes a second
 * at a million profiles.
 */
export function isKeyLookup(entity: UnifiedEntityName, filter: FilterNode | undefined): boolean {
  if (!filter) return false;
  if (filter.kind === 'and') return filter.operands.some((o) => isKeyLookup(entity, o));
  return (
    filter.kind === 'comparison' &&
    filter.operator === 'eq' &&
    filter.left.kind === 'attribute' &&
    filter.right.type === 'string' &&
    INDEXED_KEYS[entity].includes(filter.left.name)
  );
}

/** One reader per core but one (the main thread and the real-time writer need the rest), at least one. */
export const defaultReaderThreads = (): number => Math.max(1, availableParallelism() - 1);

export class ReaderPool {
  private readonly readers: (Reader | null)[];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly file: string,
    size: number,
  ) {
    this.readers = Array.from({ length: Math.max(1, size) }, () => null);
    // Started now, so the first query does not wait for a thread to load its code.
    for (let i = 0; i < this.readers.length; i++) this.readers[i] = this.start(i);
  }

  /**
   * What Store.queryEntity answers, read in a reader thread. The query is checked here first, so
   * that a bad $filter or $orderby is the same 400 as on the main thread (an ODataError cannot
   * cross to another thread as itself).
   *
   * A lookup by key (isKeyLookup) goes to a reader with no other kind of query waiting; when every
   * reader has one, which may be a scan of a second or more, `answerHere` answers it on this thread
   * at once instead. Lookups alone still use the readers' cores.
   */
  queryEntity(instanceId: string, entity: UnifiedEntityName, query: EntityQuery, nowIso: string, answerHere: () => QueryResult): Promise<QueryResult> {
    const attributes = attributesByName(query.attributes);
    if (query.filter) checkFilter(query.filter, attributes);
    compileOrderBy(query.orderby, attributes);
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const scan = !isKeyLookup(entity, query.filter);
    const reader = this.leastBusy(scan);
    if (!reader) {
      try {
        return Promise.resolve(answerHere());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const id = this.nextId++;
    if (scan) reader.scans++;
    return new Promise((resolve, reject) => {
      reader.pending.set(id, { resolve, reject, scan });
      reader.worker.ref();
      reader.worker.postMessage({ id, instanceId, entity, query, nowIso } satisfies ReaderRequest);
    });
  }

  /**
   * The reader with the fewest queries waiting (started on first use; a dead one is replaced); for
   * a lookup, only among readers with no scan waiting, and null if there is none.
   */
  private leastBusy(scan: boolean): Reader | null {
    let best = -1;
    for (let i = 0; i < this.readers.length; i++) {
      const r = this.readers[i];
      if (!r) {
        best = i;
        break;
      }
      if (!scan && r.scans > 0) continue;
      if (best < 0 || r.pending.size < this.readers[best]!.pending.size) best = i;
    }
    if (best < 0) return null;
    return (this.readers[best] ??= this.start(best));
  }

  private start(slot: number): Reader {
    const worker = startModuleWorker(new URL('./reader-worker.js', import.meta.url), { file: this.file } satisfies ReaderWorkerData);
    const reader: Reader = { worker, pending: new Map(), scans: 0 };
    const fail = (message: string) => {
      if (this.readers[slot] === reader) this.readers[slot] = null;
      for (const p of reader.pending.values()) p.reject(new Error(message));
      reader.pending.clear();
      reader.scans = 0;
    };
    worker.on('message', (m: ReaderReply) => {
      const p = reader.pending.get(m.id);
      if (!p) return;
      reader.pending.delete(m.id);
      if (p.scan) reader.scans--;
      // An idle reader must not keep the process alive.
      if (!reader.pending.size) worker.unref();
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    worker.on('error', (err) => fail(`reader thread failed: ${err.message}`));
    worker.on('exit', (code) => fail(`reader thread stopped (exit code ${code})`));
    worker.unref();
    return reader;
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.readers.filter((r): r is Reader => r !== null);
    this.readers.fill(null);
    await Promise.all(running.map((r) => r.worker.terminate()));
  }
}
