// Grouped commits for real-time writes: the writes that arrive in one turn of the event loop form
// one transaction, and the store shares each sync to disk among all groups committed before it
// started (storage/sqlite/durability.ts). Groups are pipelined: while one group waits for the
// disk, the next one commits. A request is answered only after its group is on disk.
//
// A store may bound the groups committing at once (maxInFlight; PostgreSQL does): writes that
// arrive meanwhile wait and form the next, larger group when one finishes. Unbounded, every turn of
// the event loop starts a group of its own, and on a busy node those tiny groups queue for the
// connection pool, each costing the same round trips and commit as a large one. Groups in flight
// at once may commit in either order (PostgreSQL: each is a transaction of its own); their requests
// were concurrent. A request answered before another is submitted always commits before it.
import type { RealtimeResult, RealtimeWrite } from '../domain/realtime.js';
import type { Store } from '../storage/store.js';
import { changesOf } from '../domain/changes.js';
import type { ChangeFeed } from './change-feed.js';

/** One request's writes: they commit together, in one transaction, never split across groups. */
interface Pending {
  writes: RealtimeWrite[];
  resolve: (r: RealtimeResult[]) => void;
  reject: (e: unknown) => void;
}

export class WriteQueue {
  private pending: Pending[] = [];
  private scheduled = false;
  /** Groups committed or committing whose results are not delivered yet. */
  private inFlight = 0;

  constructor(
    private readonly store: Store,
    private readonly feed: ChangeFeed,
    private readonly maxGroup = 2000,
    /** Groups committing at once at most (Infinity: a group per turn of the event loop). */
    private readonly maxInFlight = Infinity,
  ) {}

  submit(write: RealtimeWrite): Promise<RealtimeResult> {
    return this.submitAll([write]).then((r) => r[0]);
  }

  /**
   * Several writes (a $batch): results in order. They are committed in the same transaction, so an
   * error answer means none of them was stored (a group may exceed maxGroup for one large $batch).
   */
  submitAll(writes: RealtimeWrite[]): Promise<RealtimeResult[]> {
    if (!writes.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ writes, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Let the requests of this turn of the event loop join the group.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (!this.pending.length || this.inFlight >= this.maxInFlight) return;
    // Whole requests only, up to maxGroup writes (at least one request).
    let take = 0;
    let size = 0;
    while (take < this.pending.length && (take === 0 || size + this.pending[take].writes.length <= this.maxGroup)) size += this.pending[take++].writes.length;
    const group = this.pending.splice(0, take);
    const writes = group.length === 1 ? group[0].writes : group.flatMap((p) => p.writes);
    if (this.pending.length) this.schedule();
    this.inFlight++;
    try {
      const results = await this.store.applyRealtime(writes);
      const changes = changesOf(writes, results, new Date().toISOString());
      let offset = 0;
      for (const p of group) {
        p.resolve(group.length === 1 ? results : results.slice(offset, offset + p.writes.length));
        offset += p.writes.length;
      }
      if (changes.length) this.feed.publish(changes);
    } catch (err) {
      for (const p of group) p.reject(err);
    } finally {
      this.inFlight--;
      // Writes held back by maxInFlight go now.
      if (this.pending.length) this.schedule();
    }
  }

  /** Waits for queued writes to commit (shutdown). */
  async drain(): Promise<void> {
    while (this.pending.length || this.inFlight) await new Promise((r) => setImmediate(r));
  }
}
