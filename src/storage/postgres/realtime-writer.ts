// Where real-time writes run on PostgreSQL: one transaction per group (the write queue's grouped
// commit) on a client of the pool, committed with synchronous_commit on, so the promise resolves
// only once the group is durable ("2xx only after commit"). No thread of its own is needed: the
// work happens in the server and the driver is asynchronous, so the event loop never waits.
//
// Other nodes learn of the group through NOTIFY, sent inside the same transaction: PostgreSQL
// delivers it to every listening node after the commit and never for a group that rolled back
// (src/realtime/postgres-change-feed.ts listens).
import { createHash } from 'node:crypto';
import pg from 'pg';
import { changesOf, encodeChangeMessages } from '../../domain/changes.js';
import type { RealtimeResult, RealtimeWrite } from '../../domain/realtime.js';
import { DURABLE } from './durability.js';
import { RealtimeApplier } from './realtime-apply.js';

/**
 * Real-time groups a node commits at once on PostgreSQL (the write queue's maxInFlight). A group
 * costs a few round trips and one commit whatever its size, so writes that arrive while groups are
 * committing are better off waiting for the next group than starting one each; a few groups at once
 * overlap one group's commit with the next one's statements, and leave the rest of the pool (10
 * connections) to reads.
 */
export const GROUPS_IN_FLIGHT = 4;

const { escapeLiteral } = pg;

export interface RealtimeWriter {
  /** Applies the writes in one transaction; resolves once they are committed durably. */
  apply(writes: RealtimeWrite[]): Promise<RealtimeResult[]>;
  close(): Promise<void>;
}

/** Where a node announces its committed changes to the other nodes. */
export interface ChangeAnnouncement {
  /** The NOTIFY channel of the schema (changeChannel). */
  channel: string;
  /** This node: its own listener skips what it announced (the write queue served its subscribers). */
  nodeId: string;
}

/** The NOTIFY channel of a schema's change feed (channels are per database; schemas must not hear each other). */
export function changeChannel(schema: string): string {
  return `kindred_changes_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

export function poolRealtimeWriter(pool: pg.Pool, announce?: ChangeAnnouncement): RealtimeWriter {
  return {
    async apply(writes) {
      if (!writes.length) return [];
      // Four round trips whatever the group's size (five when it mixes profiles and activities):
      // the transaction starts in the applier's first statement, and the announcement travels with
      // COMMIT (simple protocol, several statements in one query).
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        const results = await new RealtimeApplier(client).apply(writes, `BEGIN; ${DURABLE}`);
        let announcement = '';
        if (announce) {
          const messages = encodeChangeMessages(announce.nodeId, changesOf(writes, results, new Date().toISOString()));
          if (messages.length) announcement = `SELECT pg_notify(${escapeLiteral(announce.channel)}, m) FROM unnest(ARRAY[${messages.map(escapeLiteral).join(', ')}]) AS m; `;
        }
        await client.query(`${announcement}COMMIT`);
        return results;
      } catch (err) {
        // A connection that cannot even roll back is discarded, not returned to the pool.
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      // The pool belongs to the store, which ends it.
    },
  };
}
