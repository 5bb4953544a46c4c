// Grouped commits for real-time writes: the writes that arrive in one turn of the event loop form
// one transaction, and the store shares each sync to disk among all groups committed before it
// started (storage/sqlite/durability.ts). Groups are pipelined: while one group waits for the
// disk, the next one commits. A request is answered only after its group is on disk.
import type { RealtimeResult, RealtimeWrite } from '../domain/realtime.js';
import type { Store } from '../storage/store.js';
import type { Change, ChangeFeed } from './change-feed.js';

interface Pending {
  write: RealtimeWrite;
  resolve: (r: RealtimeResult) => void;
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
  ) {}

  submit(write: RealtimeWrite): Promise<RealtimeResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      this.schedule();
    });
  }

  /** Several writes in one group (a $batch): results in order. */
  submitAll(writes: RealtimeWrite[]): Promise<RealtimeResult[]> {
    return Promise.all(writes.map((w) => this.submit(w)));
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
    if (!this.pending.length) return;
    const group = this.pending.splice(0, this.maxGroup);
    if (this.pending.length) this.schedule();
    this.inFlight++;
    try {
      const results = await this.store.applyRealtime(group.map((p) => p.write));
      const changes: Change[] = [];
      const at = new Date().toISOString();
      results.forEach((r, i) => {
        const w = group[i].write;
        if (r.status === 'updated' && w.kind === 'profile')
          changes.push({ instanceId: w.instanceId, customerId: w.customerId, kind: 'profile', at, attributes: Object.keys(w.changes), validUntil: w.validUntil });
        else if (r.status === 'created')
          changes.push({ instanceId: w.instanceId, customerId: r.activity.CustomerId, kind: 'activity', at, activityId: r.activity.ActivityId, validUntil: r.activity.ValidUntil ?? undefined });
        group[i].resolve(r);
      });
      if (changes.length) this.feed.publish(changes);
    } catch (err) {
      for (const p of group) p.reject(err);
    } finally {
      this.inFlight--;
    }
  }

  /** Waits for queued writes to commit (shutdown). */
  async drain(): Promise<void> {
    while (this.pending.length || this.inFlight) await new Promise((r) => setImmediate(r));
  }
}
