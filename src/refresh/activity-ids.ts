// ActivityIds depend only on a source row's key, so for large activity entities they are worked
// out while unification runs: in a worker thread, on the core that the single-threaded stages
// before merge leave idle. At 1M records (1.3M activities) their SHA-256 otherwise took some 2.5 s
// of the refresh thread after merge, where it shares 2 cores with the generation writer and enrich.
import type { Worker } from 'node:worker_threads';
import type { ResolvedInstance } from '../config/resolve.js';
import { activityIdFor } from '../domain/profile.js';
import { startModuleWorker } from '../workers.js';
import type { TypedEntityRows } from './context.js';
import type { ActivityIdsReply, ActivityIdsRequest } from './activity-ids-worker.js';

/** Characters of an ActivityId (a UUID). */
export const ACTIVITY_ID_LENGTH = 36;

/** An activity entity of fewer rows keeps its ids to the activities stage: a worker's start-up would cost more than it saves. */
export const ACTIVITY_IDS_WORKER_MIN_ROWS = 20_000;

/** ActivityIds worked out ahead, per activity entity. */
export interface ActivityIdsAhead {
  /**
   * The ids of `entityRef`'s rows, row i's at characters [36 i, 36 i + 36), or null: none were
   * worked out ahead (small entity, a separate activity key, a failed worker).
   */
  of(entityRef: string): Promise<string | null>;
  /** Whether the worker was asked for `entityRef`'s ids (when `of` then gives null, the stage fell back to hashing). */
  asked(entityRef: string): boolean;
  /** Ends the worker; ids not there yet come as null. */
  stop(): void;
}

const NONE: ActivityIdsAhead = { of: async () => null, asked: () => false, stop: () => {} };

/**
 * Starts working out the ids of the activity entities' rows (the typed rows of normalize, whose
 * order the stages up to activities keep). `worker`: true or false forces it; by default only
 * entities of ACTIVITY_IDS_WORKER_MIN_ROWS rows or more.
 */
export function startActivityIds(instance: ResolvedInstance, typed: Map<string, TypedEntityRows>, worker?: boolean): ActivityIdsAhead {
  if (worker === false) return NONE;
  const wanted = instance.activities.flatMap((def) => {
    const data = typed.get(def.entity);
    // With a key column of its own (not the entity's key), the id's key is not in data.keys.
    if (!data || def.primaryKey !== data.entity.primaryKey) return [];
    if (worker === undefined && data.rows.length < ACTIVITY_IDS_WORKER_MIN_ROWS) return [];
    return [{ ref: def.entity, request: { instanceId: instance.id, dataSource: data.entity.dataSource, entity: data.entity.name, keys: data.keys } }];
  });
  if (!wanted.length) return NONE;
  let thread: Worker | null = startModuleWorker(new URL('./activity-ids-worker.js', import.meta.url), null);
  const pending: ((ids: string | null) => void)[] = [];
  const results = new Map<string, Promise<string | null>>();
  const stop = () => {
    void thread?.terminate();
    thread = null;
    for (const resolve of pending.splice(0)) resolve(null);
  };
  // Replies come in the order of the requests; anything wrong means: work them out as you go.
  thread.on('message', (reply: ActivityIdsReply) => {
    pending.shift()?.('ids' in reply ? reply.ids : null);
    if (!pending.length) stop();
  });
  thread.on('error', stop);
  thread.on('exit', stop);
  for (const { ref, request } of wanted) {
    results.set(ref, new Promise((resolve) => pending.push(resolve)));
    thread.postMessage(request satisfies ActivityIdsRequest);
  }
  return {
    of: async (ref) => {
      const ids = (await results.get(ref)) ?? null;
      const data = typed.get(ref);
      return ids !== null && data && matchesRows(ids, data, instance.id) ? ids : null;
    },
    asked: (ref) => results.has(ref),
    stop,
  };
}

/**
 * The ids fit the rows as they are now: as many, and the first, middle and last one are those of
 * their row's key. A stage that reordered the rows would otherwise give activities wrong ids.
 */
function matchesRows(ids: string, data: TypedEntityRows, instanceId: string): boolean {
  const n = data.keys.length;
  if (ids.length !== n * ACTIVITY_ID_LENGTH) return false;
  for (const i of n ? [0, n >> 1, n - 1] : []) {
    const expected = activityIdFor(instanceId, data.entity.dataSource, data.entity.name, String(data.rows[i][data.entity.primaryKeyIndex] ?? '').trim());
    if (ids.substring(i * ACTIVITY_ID_LENGTH, (i + 1) * ACTIVITY_ID_LENGTH) !== expected) return false;
  }
  return true;
}
