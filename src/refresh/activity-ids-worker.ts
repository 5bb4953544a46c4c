// ActivityIds in a thread of their own (see activity-ids.ts): for each entity asked for, the ids of
// its rows' keys, ACTIVITY_ID_LENGTH characters each, one after another in one string (which
// reaches the refresh's thread as one object: a million strings would each be serialized and
// allocated there).
import { parentPort } from 'node:worker_threads';
import { activityIdFor } from '../domain/profile.js';
import { ACTIVITY_ID_LENGTH } from './activity-ids.js';

export interface ActivityIdsRequest {
  instanceId: string;
  dataSource: string;
  entity: string;
  keys: string[];
}

export type ActivityIdsReply = { ids: string } | { error: string };

const port = parentPort!;
port.on('message', ({ instanceId, dataSource, entity, keys }: ActivityIdsRequest) => {
  try {
    const out = Buffer.allocUnsafe(keys.length * ACTIVITY_ID_LENGTH);
    for (let i = 0; i < keys.length; i++) out.write(activityIdFor(instanceId, dataSource, entity, keys[i]), i * ACTIVITY_ID_LENGTH, 'latin1');
    port.postMessage({ ids: out.toString('latin1') } satisfies ActivityIdsReply);
  } catch (err) {
    port.postMessage({ error: (err as Error).message } satisfies ActivityIdsReply);
  }
});
