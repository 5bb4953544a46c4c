// Where real-time writes run on PostgreSQL: one transaction per group (the write queue's grouped
// commit) on a client of the pool, committed with synchronous_commit on, so the promise resolves
// only once the group is durable ("2xx only after commit"). No thread of its own is needed: the
// work happens in the server and the driver is asynchronous, so the event loop never waits.
import type pg from 'pg';
import type { RealtimeResult, RealtimeWrite } from '../../domain/realtime.js';
import { DURABLE } from './durability.js';
import { RealtimeApplier } from './realtime-apply.js';
import { transaction } from './statements.js';

export interface RealtimeWriter {
  /** Applies the writes in one transaction; resolves once they are committed durably. */
  apply(writes: RealtimeWrite[]): Promise<RealtimeResult[]>;
  close(): Promise<void>;
}

export function poolRealtimeWriter(pool: pg.Pool): RealtimeWriter {
  return {
    async apply(writes) {
      if (!writes.length) return [];
      return transaction(pool, async (client) => {
        await client.query(DURABLE);
        return new RealtimeApplier(client).apply(writes);
      });
    },
    async close() {
      // The pool belongs to the store, which ends it.
    },
  };
}
