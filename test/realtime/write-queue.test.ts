// The write queue with a bound on the groups committing at once (as on PostgreSQL): writes that
// arrive while the bound is reached wait and commit together in the next group; every write is
// answered with its own result, and drain() waits for the held-back ones too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { RealtimeResult, RealtimeWrite } from '../../src/domain/realtime.js';
import { InProcessChangeFeed } from '../../src/realtime/change-feed.js';
import { WriteQueue } from '../../src/realtime/write-queue.js';
import type { PostgresStore } from '../../src/storage/postgres/store.js';
import type { Store } from '../../src/storage/store.js';
import { openPostgresOnFreshSchema, postgresUnavailable } from '../storage/postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the write queue tests: ${unavailable}`);

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

const patch = (customerId: string, n: number): RealtimeWrite => ({
  kind: 'profile',
  instanceId: 'shop',
  customerId,
  changes: { Points: n },
  caller: null,
  setAt: new Date().toISOString(),
  validUntil: new Date(Date.now() + 3_600_000).toISOString(),
});

describe('WriteQueue with at most N groups in flight', { skip: unavailable ?? false }, () => {
  let store: PostgresStore;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ store, cleanup } = await openPostgresOnFreshSchema());
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/tmp' });
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.writeCustomers([{ CustomerId: 'c1' }, { CustomerId: 'c2' }]);
    await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
  });
  after(() => cleanup?.());

  it('holds writes back while two groups commit, then commits them together; each gets its own result', async () => {
    const groups: number[] = [];
    let committing = 0;
    let most = 0;
    // The real store, counting the groups it is handed and how many commit at once.
    const counted = Object.create(store) as Store;
    counted.applyRealtime = async (writes) => {
      groups.push(writes.length);
      most = Math.max(most, ++committing);
      try {
        return await store.applyRealtime(writes);
      } finally {
        committing--;
      }
    };
    const queue = new WriteQueue(counted, new InProcessChangeFeed(), 2000, 2);
    const answers: Promise<RealtimeResult>[] = [];
    // 20 turns of the event loop with 10 writes each: unbounded, that would be 20 groups.
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 10; i++) answers.push(queue.submit(patch(i === 9 ? 'nobody' : i % 2 ? 'c1' : 'c2', turn * 10 + i)));
      await new Promise((r) => setImmediate(r));
    }
    await queue.drain();
    const results = await Promise.all(answers);
    assert.equal(results.length, 200);
    results.forEach((r, n) => assert.equal(r.status, n % 10 === 9 ? 'customerNotFound' : 'updated', `write ${n}`));
    assert.equal(most, 2, 'two groups commit at once, never more');
    assert.equal(groups.reduce((a, b) => a + b, 0), 200);
    assert.ok(groups.length < 20, `held-back writes share groups (groups: ${groups.join(', ')})`);
    // Groups in flight at once may commit in either order (their requests were concurrent): the
    // stored value is that of one of the last groups, not necessarily of the last write submitted.
    const [stored] = (await store.getProfile('shop', 'c1'))?.overrides ?? [];
    assert.ok(typeof stored?.value === 'number' && stored.value % 10 !== 9 && stored.value % 2 === 1, `c1 holds one of its writes (${stored?.value})`);
  });
});
