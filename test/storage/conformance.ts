// The Store conformance suite: every adapter (SQLite now, PostgreSQL later) must pass it.
// It talks to the store only through the Store port, so it says nothing about tables or SQL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord } from '../../src/domain/profile.js';
import { STAGE_NAMES, newStages, type StageRecord } from '../../src/domain/run.js';
import type { ApiKeyRecord, GenerationWriter, Store } from '../../src/storage/store.js';


export interface OpenedStore<S extends Store = Store> {
  /** A store on a fresh, empty database. */
  store: S;
  /** Closes the store and removes the database. */
  cleanup: () => Promise<void>;
  /**
   * Optional: opens another store on the same database (running the migrations again), as a
   * second process or a restart would. The suite closes what it returns.
   */
  reopen?: () => Promise<S>;
}

const DEFINITION = {
  id: 'shop',
  dataSources: [{ name: 'Shop', type: 'csv', entities: [{ name: 'Contacts', path: 'c.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'Shop.Contacts' }] },
} as InstanceDefinition;

/** A store call that never settles fails its test instead of hanging the run. */
const TIMEOUT = { timeout: 20_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function customer(id: string, extra: Partial<CustomerRecord> = {}): CustomerRecord {
  return { CustomerId: id, PreviousCustomerId: null, FullName: `Name of ${id}`, Shop_Contacts_Id: `k-${id}`, ...extra };
}

function key(customerId: string, value: string, dataSource = 'Shop', entity = 'Contacts'): AlternateKeyRecord {
  return { DataSourceName: dataSource, EntityName: entity, AlternateValue: value, CustomerId: customerId };
}

function activity(id: string, customerId: string, time: string): ActivityRecord {
  return {
    ActivityId: id,
    CustomerId: customerId,
    ActivityTime: time,
    ActivityType: 'Purchase',
    ActivityTypeDisplay: 'Purchase',
    SourceEntityName: 'Purchases',
    SourceActivityId: `src-${id}`,
    DataSourceName: 'Shop',
    Title: `Bought ${id}`,
    Description: null,
    Url: null,
    Icon: 'cart',
    ShowInTimeline: true,
    Origin: 'batch',
  };
}

function finishedStages(): StageRecord[] {
  return newStages().map((s, i) => ({
    ...s,
    status: 'successful',
    startedAt: `2024-01-01T00:00:0${i}.000Z`,
    endedAt: `2024-01-01T00:00:0${i}.500Z`,
    durationMs: 500,
    counts: { recordsIn: 10 + i },
    issues: i === 0 ? [{ message: 'bad row', count: 2, samples: ['c.csv:3', 'c.csv:9'] }] : [],
  }));
}

function apiKey(id: string, instanceId: string | null, createdAt: string, extra: Partial<ApiKeyRecord> = {}): Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'> {
  return {
    id,
    instanceId,
    principalId: `user-${id}`,
    name: `key ${id}`,
    role: 'Viewer',
    prefix: `kd_${id}`.slice(0, 8),
    hash: `hash-${id}`.padEnd(64, '0'),
    createdAt,
    expiresAt: null,
    ...extra,
  };
}

const keyOrder = (a: AlternateKeyRecord, b: AlternateKeyRecord) =>
  `${a.DataSourceName}/${a.EntityName}/${a.AlternateValue}`.localeCompare(`${b.DataSourceName}/${b.EntityName}/${b.AlternateValue}`);

/** Gathers a scan's batches; a scan that never ends fails instead of looping forever (no timer could stop it). */
async function collect(iter: AsyncIterable<Record<string, unknown>[]>, maxBatches = 1000): Promise<Record<string, unknown>[][]> {
  const batches: Record<string, unknown>[][] = [];
  for await (const b of iter) {
    batches.push(b);
    assert.ok(batches.length <= maxBatches, `scan returned more than ${maxBatches} batches: it does not advance`);
  }
  return batches;
}

export function storeConformance(name: string, open: () => Promise<OpenedStore>): void {
  /** Runs `fn` against a fresh store and always cleans up. */
  const withStore = (fn: (store: Store, opened: OpenedStore) => Promise<void>) => async () => {
    const opened = await open();
    try {
      await fn(opened.store, opened);
    } finally {
      await opened.cleanup();
    }
  };

  async function addInstance(store: Store, id = 'shop'): Promise<void> {
    await store.putInstance({ id, name: `Instance ${id}`, definition: { ...DEFINITION, id }, sourceFile: `/defs/${id}.yaml`, baseDir: '/defs' });
  }

  /** Creates a run, writes one generation with `fill` and commits it; returns the generation number and job id. */
  async function commitGeneration(
    store: Store,
    instanceId: string,
    fill: (w: GenerationWriter) => Promise<void>,
  ): Promise<{ generation: number; jobId: string }> {
    const { run, created } = await store.createRun(instanceId, 'cli');
    assert.equal(created, true);
    const w = await store.beginGeneration(instanceId, run.jobId);
    await fill(w);
    await w.commit({ stages: finishedStages(), summary: { profiles: 1 }, endedAt: new Date().toISOString() });
    return { generation: w.generation, jobId: run.jobId };
  }

  async function keysOf(store: Store, instanceId: string): Promise<AlternateKeyRecord[]> {
    return (await collect(store.scan(instanceId, 'AlternateKey'))).flat() as unknown as AlternateKeyRecord[];
  }

  async function customersOf(store: Store, instanceId: string): Promise<Record<string, unknown>[]> {
    return (await collect(store.scan(instanceId, 'Customer'))).flat();
  }

  describe(`Store conformance: ${name}`, () => {
    describe('opening', () => {
      it('reports its dialect', TIMEOUT, withStore(async (store) => {
        assert.ok(store.dialect === 'sqlite' || store.dialect === 'postgres');
      }));

      it('running the migrations again on the same database is harmless and keeps the data', TIMEOUT, withStore(async (store, opened) => {
        await addInstance(store);
        const { jobId } = await commitGeneration(store, 'shop', (w) => w.writeCustomers([customer('c1')]));
        assert.ok(opened.reopen, `${name}: provide reopen() so that migrations can be checked for idempotence`);
        const again = await opened.reopen();
        try {
          const third = await opened.reopen();
          await third.close();
          assert.equal((await again.getInstance('shop'))?.name, 'Instance shop');
          assert.deepEqual(await again.getCustomer('shop', 'c1'), customer('c1'));
          assert.equal((await again.getRun('shop', jobId))?.status, 'successful');
          // The second connection writes, the first reads.
          await addInstance(again, 'other');
          assert.equal((await store.getInstance('other'))?.id, 'other');
        } finally {
          await again.close();
        }
      }));
    });

    describe('instances', () => {
      it('putInstance creates, then updates, keeping createdAt', TIMEOUT, withStore(async (store) => {
        assert.equal(await store.getInstance('shop'), undefined);
        assert.deepEqual(await store.listInstances(), []);
        const created = await store.putInstance({ id: 'shop', name: 'Shop', definition: DEFINITION, sourceFile: '/a/shop.yaml', baseDir: '/a' });
        assert.equal(created, 'created');
        const first = await store.getInstance('shop');
        assert.ok(first);
        assert.equal(first.id, 'shop');
        assert.equal(first.name, 'Shop');
        assert.deepEqual(first.definition, DEFINITION);
        assert.equal(first.sourceFile, '/a/shop.yaml');
        assert.equal(first.baseDir, '/a');
        assert.equal(first.currentGeneration, null);
        assert.ok(!Number.isNaN(Date.parse(first.createdAt)));
        assert.equal(first.updatedAt, first.createdAt);

        await sleep(5);
        const changed = { ...DEFINITION, name: 'Renamed' };
        assert.equal(await store.putInstance({ id: 'shop', name: 'Shop 2', definition: changed, sourceFile: '/b/shop.yaml', baseDir: '/b' }), 'updated');
        const second = await store.getInstance('shop');
        assert.ok(second);
        assert.equal(second.name, 'Shop 2');
        assert.deepEqual(second.definition, changed);
        assert.equal(second.sourceFile, '/b/shop.yaml');
        assert.equal(second.baseDir, '/b');
        assert.equal(second.createdAt, first.createdAt);
        assert.ok(Date.parse(second.updatedAt) > Date.parse(first.updatedAt), 'updatedAt moves on');

        await addInstance(store, 'another');
        assert.deepEqual((await store.listInstances()).map((i) => i.id).sort(), ['another', 'shop']);
      }));

      it('updating an instance keeps its current generation', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const { generation } = await commitGeneration(store, 'shop', (w) => w.writeCustomers([customer('c1')]));
        assert.equal(await store.putInstance({ id: 'shop', name: 'Renamed', definition: DEFINITION, sourceFile: '/x.yaml', baseDir: '/' }), 'updated');
        assert.equal((await store.getInstance('shop'))?.currentGeneration, generation);
        assert.deepEqual(await store.getCustomer('shop', 'c1'), customer('c1'));
      }));
    });

    describe('runs', () => {
      it('createRun queues a run with pending stages', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const before = Date.now();
        const { run, created } = await store.createRun('shop', 'api');
        assert.equal(created, true);
        assert.equal(run.instanceId, 'shop');
        assert.equal(run.status, 'queued');
        assert.equal(run.trigger, 'api');
        assert.ok(Date.parse(run.submittedAt) >= before - 1000);
        assert.equal(run.startedAt, null);
        assert.equal(run.endedAt, null);
        assert.equal(run.error, null);
        assert.equal(run.generation, null);
        assert.deepEqual(run.summary, {});
        assert.deepEqual(
          run.stages.map((s) => [s.name, s.status]),
          STAGE_NAMES.map((n) => [n, 'pending']),
        );
        assert.deepEqual(await store.getRun('shop', run.jobId), run);
        assert.deepEqual(await store.activeRun('shop'), run);
      }));

      it('createRun refuses a second active run for the same instance only', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        await addInstance(store, 'other');
        const first = await store.createRun('shop', 'cli');
        assert.equal(first.created, true);

        const second = await store.createRun('shop', 'schedule');
        assert.equal(second.created, false);
        assert.equal(second.run.jobId, first.run.jobId, 'returns the active run');
        assert.equal(second.run.trigger, 'cli');

        // Still refused while running.
        await store.updateRun('shop', first.run.jobId, { status: 'running', startedAt: new Date().toISOString() });
        const third = await store.createRun('shop', 'api');
        assert.equal(third.created, false);
        assert.equal(third.run.jobId, first.run.jobId);
        assert.equal(third.run.status, 'running');

        // Another instance is independent.
        const other = await store.createRun('other', 'cli');
        assert.equal(other.created, true);
        assert.notEqual(other.run.jobId, first.run.jobId);
        assert.equal((await store.activeRun('other'))?.jobId, other.run.jobId);
        assert.equal((await store.activeRun('shop'))?.jobId, first.run.jobId);
        assert.equal((await store.listRuns('shop')).length, 1);
      }));

      it('createRun allows a new run once the active one has finished', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        for (const status of ['successful', 'failed', 'cancelled'] as const) {
          const { run, created } = await store.createRun('shop', 'cli');
          assert.equal(created, true, `after a ${status} run`);
          await store.updateRun('shop', run.jobId, { status, endedAt: new Date().toISOString() });
          assert.equal(await store.activeRun('shop'), undefined);
        }
        const next = await store.createRun('shop', 'cli');
        assert.equal(next.created, true);
        assert.equal((await store.listRuns('shop')).length, 4);
      }));

      it('concurrent createRun calls create exactly one run', TIMEOUT, withStore(async (store, opened) => {
        await addInstance(store);
        const stores = [store];
        if (opened.reopen) stores.push(await opened.reopen());
        try {
          const results = await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % stores.length].createRun('shop', 'api')));
          assert.equal(results.filter((r) => r.created).length, 1);
          assert.equal(new Set(results.map((r) => r.run.jobId)).size, 1);
          assert.equal((await store.listRuns('shop')).length, 1);
        } finally {
          for (const s of stores.slice(1)) await s.close();
        }
      }));

      it('updateRun changes only the fields given', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const { run } = await store.createRun('shop', 'cli');
        const startedAt = '2024-05-01T10:00:00.000Z';
        await store.updateRun('shop', run.jobId, { status: 'running', startedAt });
        let got = await store.getRun('shop', run.jobId);
        assert.equal(got?.status, 'running');
        assert.equal(got?.startedAt, startedAt);
        assert.equal(got?.endedAt, null);
        assert.deepEqual(got?.stages, run.stages);

        const stages = finishedStages();
        stages[6] = { ...stages[6], status: 'failed', error: 'disk full' };
        await store.updateRun('shop', run.jobId, {
          status: 'failed',
          endedAt: '2024-05-01T10:05:00.000Z',
          error: 'disk full',
          stages,
          summary: { profiles: 3, activities: 0 },
        });
        got = await store.getRun('shop', run.jobId);
        assert.deepEqual(got, {
          ...run,
          status: 'failed',
          startedAt,
          endedAt: '2024-05-01T10:05:00.000Z',
          error: 'disk full',
          stages,
          summary: { profiles: 3, activities: 0 },
        });

        // An explicit null clears a field; an empty patch changes nothing.
        await store.updateRun('shop', run.jobId, { error: null });
        await store.updateRun('shop', run.jobId, {});
        got = await store.getRun('shop', run.jobId);
        assert.equal(got?.error, null);
        assert.equal(got?.status, 'failed');
      }));

      it('getRun needs the right instance and job', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        await addInstance(store, 'other');
        const { run } = await store.createRun('shop', 'cli');
        assert.equal(await store.getRun('shop', 'no-such-job'), undefined);
        assert.equal(await store.getRun('other', run.jobId), undefined);
        assert.deepEqual(await store.listRuns('other'), []);
        assert.equal(await store.activeRun('other'), undefined);
      }));

      it('listRuns returns the newest first, up to the limit', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        await addInstance(store, 'other');
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const { run } = await store.createRun('shop', 'cli');
          ids.push(run.jobId);
          await store.updateRun('shop', run.jobId, { status: 'successful', endedAt: new Date().toISOString() });
          await store.createRun('other', 'cli').then(({ run: o }) => store.updateRun('other', o.jobId, { status: 'failed' }));
          await sleep(3); // distinct submission times
        }
        const newestFirst = [...ids].reverse();
        assert.deepEqual((await store.listRuns('shop')).map((r) => r.jobId), newestFirst);
        assert.deepEqual((await store.listRuns('shop', 2)).map((r) => r.jobId), newestFirst.slice(0, 2));
        const runs = await store.listRuns('shop');
        assert.ok(runs.every((r) => r.instanceId === 'shop' && r.status === 'successful'));
      }));

      it('failInterruptedRuns fails queued and running runs of every instance', TIMEOUT, withStore(async (store) => {
        await addInstance(store, 'a');
        await addInstance(store, 'b');
        await addInstance(store, 'c');
        const done = (await store.createRun('a', 'cli')).run;
        await store.updateRun('a', done.jobId, { status: 'successful', endedAt: '2024-01-01T00:00:00.000Z' });
        const queued = (await store.createRun('a', 'cli')).run;
        const running = (await store.createRun('b', 'api')).run;
        await store.updateRun('b', running.jobId, { status: 'running', startedAt: new Date().toISOString() });

        assert.equal(await store.failInterruptedRuns('server stopped'), 2);
        for (const [instance, run] of [['a', queued], ['b', running]] as const) {
          const got = await store.getRun(instance, run.jobId);
          assert.equal(got?.status, 'failed');
          assert.equal(got?.error, 'server stopped');
          assert.ok(got?.endedAt && !Number.isNaN(Date.parse(got.endedAt)));
          assert.equal(await store.activeRun(instance), undefined);
        }
        const untouched = await store.getRun('a', done.jobId);
        assert.equal(untouched?.status, 'successful');
        assert.equal(untouched?.error, null);
        assert.equal(untouched?.endedAt, '2024-01-01T00:00:00.000Z');

        assert.equal(await store.failInterruptedRuns('again'), 0);
        assert.equal((await store.createRun('a', 'cli')).created, true);
      }));
    });

    describe('generations', () => {
      it('nothing is visible before the first commit', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        assert.equal(await store.getCustomer('shop', 'c1'), undefined);
        assert.equal(await store.count('shop', 'Customer'), 0);
        assert.deepEqual(await collect(store.scan('shop', 'Customer')), []);
        assert.deepEqual(await keysOf(store, 'shop'), []);
        assert.equal((await store.loadPreviousCustomerIds('shop')).size, 0);
        // Unknown instances read as empty rather than failing.
        assert.equal(await store.getCustomer('nobody', 'c1'), undefined);
        assert.equal(await store.count('nobody', 'AlternateKey'), 0);
        assert.deepEqual(await collect(store.scan('nobody', 'UnifiedActivity')), []);
      }));

      it('written data stays invisible until commit, which switches atomically and records the run', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const { run } = await store.createRun('shop', 'cli');
        await store.updateRun('shop', run.jobId, { status: 'running', startedAt: '2024-02-01T00:00:00.000Z' });
        const w = await store.beginGeneration('shop', run.jobId);
        assert.equal(typeof w.generation, 'number');
        const customers = [
          customer('c1', { Age: 41, Vip: true, City: null }),
          customer('c2', { PreviousCustomerId: 'old-2' }),
        ];
        await w.writeCustomers(customers);
        await w.writeAlternateKeys([key('c1', 'k1'), key('c2', 'k2'), key('c2', 'L9', 'Loyalty', 'Members'), key('c3', 'k1', 'Crm', 'Contacts')]);
        await w.writeActivities([activity('a1', 'c1', '2024-01-01T10:00:00.000Z')]);

        const invisible = async () => {
          assert.equal(await store.getCustomer('shop', 'c1'), undefined);
          assert.equal(await store.count('shop', 'Customer'), 0);
          assert.equal(await store.count('shop', 'AlternateKey'), 0);
          assert.equal(await store.count('shop', 'UnifiedActivity'), 0);
          assert.deepEqual(await collect(store.scan('shop', 'Customer')), []);
          assert.deepEqual(await collect(store.scan('shop', 'AlternateKey')), []);
          assert.equal(await store.findCustomerIdByKey('shop', 'Shop', 'Contacts', 'k1'), undefined);
          assert.deepEqual(await store.alternateKeysOf('shop', 'c2'), []);
          assert.deepEqual(await store.activitiesOf('shop', 'c1'), []);
          assert.deepEqual(await keysOf(store, 'shop'), []);
          assert.equal((await store.loadPreviousCustomerIds('shop')).size, 0);
          assert.equal((await store.getInstance('shop'))?.currentGeneration, null);
        };
        await invisible();
        // Writing in several calls is fine and still invisible.
        await w.writeCustomers([customer('c3')]);
        await invisible();

        const stages = finishedStages();
        const endedAt = '2024-02-01T00:01:00.000Z';
        await w.commit({ stages, summary: { profiles: 3, alternateKeys: 4, activities: 1 }, endedAt });

        assert.equal((await store.getInstance('shop'))?.currentGeneration, w.generation);
        assert.deepEqual(await store.getCustomer('shop', 'c1'), customers[0], 'values of every kind round-trip');
        assert.deepEqual(await store.getCustomer('shop', 'c2'), customers[1]);
        assert.equal(await store.count('shop', 'Customer'), 3);
        assert.equal(await store.count('shop', 'AlternateKey'), 4);
        assert.equal(await store.count('shop', 'UnifiedActivity'), 1);
        assert.equal(await store.findCustomerIdByKey('shop', 'Shop', 'Contacts', 'k1'), 'c1');
        assert.equal(await store.findCustomerIdByKey('shop', 'Crm', 'Contacts', 'k1'), 'c3', 'same entity name and key in another data source');
        assert.equal(await store.findCustomerIdByKey('shop', 'Loyalty', 'Members', 'L9'), 'c2');
        assert.equal(await store.findCustomerIdByKey('shop', 'Loyalty', 'Members', 'k1'), undefined, 'data source and entity count');
        assert.deepEqual(
          (await store.alternateKeysOf('shop', 'c2')).sort(keyOrder),
          [key('c2', 'L9', 'Loyalty', 'Members'), key('c2', 'k2')].sort(keyOrder),
        );
        assert.deepEqual(await store.activitiesOf('shop', 'c1'), [activity('a1', 'c1', '2024-01-01T10:00:00.000Z')]);

        const recorded = await store.getRun('shop', run.jobId);
        assert.deepEqual(recorded, {
          ...run,
          status: 'successful',
          startedAt: '2024-02-01T00:00:00.000Z',
          endedAt,
          generation: w.generation,
          stages,
          summary: { profiles: 3, alternateKeys: 4, activities: 1 },
        });
        assert.equal(await store.activeRun('shop'), undefined);
      }));

      it('a writer is finished after commit: writing or committing again fails, abort changes nothing', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        await w.writeCustomers([customer('c1')]);
        await w.commit({ stages: finishedStages(), summary: {}, endedAt: new Date().toISOString() });
        await assert.rejects(() => w.writeCustomers([customer('c2')]));
        await assert.rejects(() => w.commit({ stages: finishedStages(), summary: {}, endedAt: new Date().toISOString() }));
        await w.abort();
        assert.equal((await store.getInstance('shop'))?.currentGeneration, w.generation);
        assert.deepEqual((await customersOf(store, 'shop')).map((c) => c.CustomerId), ['c1']);
        assert.equal((await store.getRun('shop', run.jobId))?.status, 'successful');
      }));

      it('abort leaves the previous generation visible and throws the new rows away', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const first = await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1'), customer('c2')]);
          await w.writeAlternateKeys([key('c1', 'k1'), key('c2', 'k2')]);
          await w.writeActivities([activity('a1', 'c1', '2024-01-01T00:00:00.000Z')]);
        });

        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        assert.notEqual(w.generation, first.generation);
        await w.writeCustomers([customer('c1', { FullName: 'Changed' }), customer('c9')]);
        await w.writeAlternateKeys([key('c9', 'k1'), key('c9', 'k9')]);
        await w.writeActivities([activity('a9', 'c9', '2024-06-01T00:00:00.000Z')]);
        await w.abort();
        await assert.rejects(() => w.writeCustomers([customer('c10')]), Error, 'an aborted writer refuses writes');
        await store.updateRun('shop', run.jobId, { status: 'failed', error: 'boom', endedAt: new Date().toISOString() });

        const check = async () => {
          assert.equal((await store.getInstance('shop'))?.currentGeneration, first.generation);
          assert.deepEqual(await store.getCustomer('shop', 'c1'), customer('c1'));
          assert.equal(await store.getCustomer('shop', 'c9'), undefined);
          assert.equal(await store.count('shop', 'Customer'), 2);
          assert.equal(await store.count('shop', 'AlternateKey'), 2);
          assert.equal(await store.count('shop', 'UnifiedActivity'), 1);
          assert.equal(await store.findCustomerIdByKey('shop', 'Shop', 'Contacts', 'k1'), 'c1');
          assert.equal(await store.findCustomerIdByKey('shop', 'Shop', 'Contacts', 'k9'), undefined);
        };
        await check();
        assert.equal(await store.pruneGenerations('shop'), 0, 'nothing of the aborted generation is left to prune');
        await check();
        assert.equal((await store.getRun('shop', run.jobId))?.status, 'failed');

        // The next generation holds exactly what it was given: no leftovers of the aborted one.
        const third = await commitGeneration(store, 'shop', async (w3) => {
          await w3.writeCustomers([customer('c5')]);
          await w3.writeAlternateKeys([key('c5', 'k5')]);
        });
        assert.equal((await store.getInstance('shop'))?.currentGeneration, third.generation);
        assert.deepEqual((await customersOf(store, 'shop')).map((c) => c.CustomerId), ['c5']);
        assert.deepEqual(await keysOf(store, 'shop'), [key('c5', 'k5')]);
        assert.equal(await store.count('shop', 'UnifiedActivity'), 0);
        assert.deepEqual(await store.activitiesOf('shop', 'c9'), []);
      }));

      it('a second generation replaces the first for readers; pruneGenerations removes the old one', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const first = await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1'), customer('c2')]);
          await w.writeAlternateKeys([key('c1', 'k1'), key('c2', 'k2')]);
          await w.writeActivities([activity('a1', 'c1', '2024-01-01T00:00:00.000Z')]);
        });
        const second = await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1', { FullName: 'New name' }), customer('c3', { PreviousCustomerId: 'c2' })]);
          await w.writeAlternateKeys([key('c1', 'k1'), key('c3', 'k2'), key('c3', 'k3')]);
          await w.writeActivities([activity('a1', 'c1', '2024-01-01T00:00:00.000Z'), activity('a2', 'c3', '2024-02-01T00:00:00.000Z')]);
        });
        assert.ok(second.generation > first.generation, 'generation numbers increase');

        const check = async () => {
          assert.equal((await store.getInstance('shop'))?.currentGeneration, second.generation);
          assert.equal((await store.getCustomer('shop', 'c1'))?.FullName, 'New name');
          assert.equal(await store.getCustomer('shop', 'c2'), undefined);
          assert.equal(await store.count('shop', 'Customer'), 2);
          assert.equal(await store.count('shop', 'AlternateKey'), 3);
          assert.equal(await store.count('shop', 'UnifiedActivity'), 2);
          assert.equal(await store.findCustomerIdByKey('shop', 'Shop', 'Contacts', 'k2'), 'c3');
          assert.deepEqual((await customersOf(store, 'shop')).map((c) => c.CustomerId), ['c1', 'c3']);
        };
        await check();
        // Both runs stay recorded as successful with their own generations.
        assert.equal((await store.getRun('shop', first.jobId))?.generation, first.generation);
        assert.equal((await store.getRun('shop', second.jobId))?.generation, second.generation);

        assert.equal(await store.pruneGenerations('shop'), 1);
        await check();
        assert.equal(await store.pruneGenerations('shop'), 0);
      }));

      it('pruneGenerations keeps a generation being built for an active run and removes crashed builds', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const live = await commitGeneration(store, 'shop', (w) => w.writeCustomers([customer('c1')]));

        // A build in progress (its run is active) is kept.
        const { run } = await store.createRun('shop', 'cli');
        await store.updateRun('shop', run.jobId, { status: 'running' });
        const building = await store.beginGeneration('shop', run.jobId);
        await building.writeCustomers([customer('c2')]);
        assert.equal(await store.pruneGenerations('shop'), 0);
        await building.writeCustomers([customer('c3')]);
        await building.commit({ stages: finishedStages(), summary: {}, endedAt: new Date().toISOString() });
        assert.deepEqual((await customersOf(store, 'shop')).map((c) => c.CustomerId), ['c2', 'c3']);
        assert.equal(await store.pruneGenerations('shop'), 1, 'the first generation is retired now');
        assert.notEqual(live.generation, building.generation);

        // A build whose run died without aborting is a leftover.
        const crashed = (await store.createRun('shop', 'cli')).run;
        const leftover = await store.beginGeneration('shop', crashed.jobId);
        await leftover.writeCustomers([customer('c4')]);
        await leftover.flush();
        assert.equal(await store.failInterruptedRuns('crashed'), 1);
        assert.equal(await store.pruneGenerations('shop'), 1);
        assert.equal((await store.getInstance('shop'))?.currentGeneration, building.generation);
        assert.deepEqual((await customersOf(store, 'shop')).map((c) => c.CustomerId), ['c2', 'c3']);

        // And the next build starts clean.
        await commitGeneration(store, 'shop', (w) => w.writeCustomers([customer('c5')]));
        assert.deepEqual((await customersOf(store, 'shop')).map((c) => c.CustomerId), ['c5']);
      }));

      it('instances have their own generations and data', TIMEOUT, withStore(async (store) => {
        await addInstance(store, 'a');
        await addInstance(store, 'b');
        await commitGeneration(store, 'a', async (w) => {
          await w.writeCustomers([customer('c1', { FullName: 'In A' })]);
          await w.writeAlternateKeys([key('c1', 'k1')]);
        });
        assert.equal((await store.getInstance('b'))?.currentGeneration, null);
        assert.equal(await store.getCustomer('b', 'c1'), undefined);
        await commitGeneration(store, 'b', async (w) => {
          await w.writeCustomers([customer('c1', { FullName: 'In B' }), customer('c2')]);
          await w.writeAlternateKeys([key('c2', 'k1')]);
        });
        assert.equal((await store.getCustomer('a', 'c1'))?.FullName, 'In A');
        assert.equal((await store.getCustomer('b', 'c1'))?.FullName, 'In B');
        assert.equal(await store.count('a', 'Customer'), 1);
        assert.equal(await store.count('b', 'Customer'), 2);
        assert.equal(await store.findCustomerIdByKey('a', 'Shop', 'Contacts', 'k1'), 'c1');
        assert.equal(await store.findCustomerIdByKey('b', 'Shop', 'Contacts', 'k1'), 'c2');
        assert.equal(await store.pruneGenerations('a'), 0);
        assert.equal(await store.pruneGenerations('b'), 0);
      }));
    });

    describe('key ring', () => {
      it('the key ring (scan of AlternateKey) and loadPreviousCustomerIds read the current generation', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        await addInstance(store, 'other');
        const gen1Keys = [key('c1', 'k1'), key('c2', 'k2'), key('c1', 'L1', 'Loyalty', 'Members')];
        await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1', { PreviousCustomerId: 'p1' }), customer('c2')]);
          await w.writeAlternateKeys(gen1Keys);
        });
        await commitGeneration(store, 'other', async (w) => {
          await w.writeCustomers([customer('x1', { PreviousCustomerId: 'px' })]);
          await w.writeAlternateKeys([key('x1', 'kx')]);
        });
        assert.deepEqual((await keysOf(store, 'shop')).sort(keyOrder), [...gen1Keys].sort(keyOrder));
        assert.deepEqual([...(await store.loadPreviousCustomerIds('shop'))], [['c1', 'p1']]);

        // While the next generation is being built, the current one is still what is read.
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        const gen2Keys = [key('c3', 'k1'), key('c3', 'k2')];
        await w.writeCustomers([customer('c3', { PreviousCustomerId: 'c1' }), customer('c4', { PreviousCustomerId: 'c2' })]);
        await w.writeAlternateKeys(gen2Keys);
        assert.deepEqual((await keysOf(store, 'shop')).sort(keyOrder), [...gen1Keys].sort(keyOrder));
        assert.deepEqual([...(await store.loadPreviousCustomerIds('shop'))], [['c1', 'p1']]);

        await w.commit({ stages: finishedStages(), summary: {}, endedAt: new Date().toISOString() });
        assert.deepEqual((await keysOf(store, 'shop')).sort(keyOrder), gen2Keys);
        const previous = await store.loadPreviousCustomerIds('shop');
        assert.deepEqual(
          [...previous].sort(),
          [
            ['c3', 'c1'],
            ['c4', 'c2'],
          ],
        );
        assert.deepEqual([...(await store.loadPreviousCustomerIds('other'))], [['x1', 'px']]);
      }));
    });

    describe('reading', () => {
      it('scan pages through more rows than one batch, in key order, without duplicates', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const ids = Array.from({ length: 10 }, (_, i) => `c${String(i).padStart(2, '0')}`);
        // Written out of order, in several calls.
        const shuffled = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4].map((i) => ids[i]);
        await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers(shuffled.slice(0, 4).map((id) => customer(id)));
          await w.writeCustomers(shuffled.slice(4).map((id) => customer(id)));
          await w.writeAlternateKeys(shuffled.map((id) => key(id, `k-${id}`)));
          await w.writeActivities(shuffled.map((id, i) => activity(`a-${id}`, id, `2024-01-0${1 + (i % 9)}T00:00:00.000Z`)));
        });

        const batches = await collect(store.scan('shop', 'Customer', 3));
        assert.deepEqual(
          batches.map((b) => b.length),
          [3, 3, 3, 1],
        );
        const rows = batches.flat();
        assert.deepEqual(rows.map((r) => r.CustomerId), ids);
        assert.deepEqual(rows, ids.map((id) => customer(id)), 'whole records');

        const keyBatches = await collect(store.scan('shop', 'AlternateKey', 3));
        assert.deepEqual(
          keyBatches.map((b) => b.length),
          [3, 3, 3, 1],
        );
        assert.deepEqual(keyBatches.flat(), ids.map((id) => key(id, `k-${id}`)));

        const activityBatches = await collect(store.scan('shop', 'UnifiedActivity', 4));
        assert.deepEqual(
          activityBatches.map((b) => b.length),
          [4, 4, 2],
        );
        assert.deepEqual(activityBatches.flat().map((a) => a.ActivityId), ids.map((id) => `a-${id}`));

        // An exact multiple of the batch size gives no empty batch at the end.
        const five = await collect(store.scan('shop', 'Customer', 5));
        assert.deepEqual(
          five.map((b) => b.length),
          [5, 5],
        );
        // The default batch size returns everything.
        assert.equal((await collect(store.scan('shop', 'Customer'))).flat().length, 10);
      }));

      it('scan says so when a refresh replaced and pruned the generation between two batches', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const ids = ['c1', 'c2', 'c3'];
        const { generation } = await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers(ids.map((id) => customer(id)));
          await w.writeAlternateKeys(ids.map((id) => key(id, `k-${id}`)));
        });
        for (const entity of ['Customer', 'AlternateKey'] as const) {
          const pages = store.scan('shop', entity, 1)[Symbol.asyncIterator]();
          assert.equal(((await pages.next()).value as unknown[]).length, 1);
          const newer = await commitGeneration(store, 'shop', async (w) => {
            await w.writeCustomers(ids.map((id) => customer(id)));
            await w.writeAlternateKeys(ids.map((id) => key(id, `k-${id}`)));
          });
          assert.equal(await store.pruneGenerations('shop'), 1);
          await assert.rejects(pages.next(), new RegExp(`generation ${entity === 'Customer' ? generation : generation + 1} of instance 'shop' was replaced by a newer refresh`));
          assert.equal(newer.generation, (await store.getInstance('shop'))!.currentGeneration);
        }
      }));

      it('scan over alternate keys orders by data source, entity and value', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const keys = [key('c1', 'b', 'Shop', 'Contacts'), key('c1', 'a', 'Shop', 'Contacts'), key('c2', 'a', 'Loyalty', 'Members'), key('c2', 'a', 'Shop', 'Accounts')];
        await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1'), customer('c2')]);
          await w.writeAlternateKeys(keys);
        });
        const rows = (await collect(store.scan('shop', 'AlternateKey', 1))).flat();
        assert.deepEqual(rows, [
          key('c2', 'a', 'Loyalty', 'Members'),
          key('c2', 'a', 'Shop', 'Accounts'),
          key('c1', 'a', 'Shop', 'Contacts'),
          key('c1', 'b', 'Shop', 'Contacts'),
        ]);
      }));

      it('activitiesOf returns a customer\'s activities newest first, with paging', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        const times = ['2024-03-05T08:00:00.000Z', '2023-12-31T23:59:59.000Z', '2024-03-05T09:30:00.000Z', '2024-01-15T12:00:00.000Z', '2024-02-29T00:00:00.000Z'];
        const mine = times.map((t, i) => activity(`a${i}`, 'c1', t));
        await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1'), customer('c2')]);
          await w.writeActivities([...mine, activity('other', 'c2', '2025-01-01T00:00:00.000Z')]);
        });
        const newestFirst = [...mine].sort((a, b) => b.ActivityTime.localeCompare(a.ActivityTime));
        assert.deepEqual(newestFirst.map((a) => a.ActivityId), ['a2', 'a0', 'a4', 'a3', 'a1']);

        assert.deepEqual(await store.activitiesOf('shop', 'c1'), newestFirst, 'whole records, newest first');
        assert.deepEqual(await store.activitiesOf('shop', 'c1', { top: 2 }), newestFirst.slice(0, 2));
        assert.deepEqual(await store.activitiesOf('shop', 'c1', { skip: 2, top: 2 }), newestFirst.slice(2, 4));
        assert.deepEqual(await store.activitiesOf('shop', 'c1', { skip: 4, top: 2 }), newestFirst.slice(4));
        assert.deepEqual(await store.activitiesOf('shop', 'c1', { skip: 5 }), []);
        assert.deepEqual(await store.activitiesOf('shop', 'c1', { skip: 1 }), newestFirst.slice(1));
        assert.deepEqual((await store.activitiesOf('shop', 'c2')).map((a) => a.ActivityId), ['other']);
        assert.deepEqual(await store.activitiesOf('shop', 'nobody'), []);
      }));

      it('alternateKeysOf lists the keys of one customer', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        await commitGeneration(store, 'shop', async (w) => {
          await w.writeCustomers([customer('c1'), customer('c2')]);
          await w.writeAlternateKeys([key('c1', 'k1'), key('c2', 'k2'), key('c1', 'L1', 'Loyalty', 'Members')]);
        });
        assert.deepEqual((await store.alternateKeysOf('shop', 'c1')).sort(keyOrder), [key('c1', 'L1', 'Loyalty', 'Members'), key('c1', 'k1')].sort(keyOrder));
        assert.deepEqual(await store.alternateKeysOf('shop', 'c2'), [key('c2', 'k2')]);
        assert.deepEqual(await store.alternateKeysOf('shop', 'c3'), []);
      }));
    });

    describe('API keys', () => {
      it('create, find by hash, list and touch', TIMEOUT, withStore(async (store) => {
        await addInstance(store);
        await addInstance(store, 'other');
        const server = apiKey('k0', null, '2024-01-01T00:00:00.000Z', { role: 'Administrator', expiresAt: '2030-01-01T00:00:00.000Z' });
        const late = apiKey('k2', 'shop', '2024-03-01T00:00:00.000Z', { role: 'Contributor' });
        const early = apiKey('k1', 'shop', '2024-02-01T00:00:00.000Z');
        const foreign = apiKey('k3', 'other', '2024-02-15T00:00:00.000Z');
        for (const k of [server, late, early, foreign]) await store.createApiKey(k);

        assert.deepEqual(await store.findApiKeyByHash(late.hash), { ...late, lastUsedAt: null, revokedAt: null });
        assert.deepEqual(await store.findApiKeyByHash(server.hash), { ...server, lastUsedAt: null, revokedAt: null });
        assert.equal(await store.findApiKeyByHash('0'.repeat(64)), undefined);

        assert.deepEqual((await store.listApiKeys('shop')).map((k) => k.id), ['k1', 'k2'], 'oldest first');
        assert.deepEqual((await store.listApiKeys('other')).map((k) => k.id), ['k3']);
        assert.deepEqual((await store.listApiKeys(null)).map((k) => k.id), ['k0'], 'null lists server-wide keys only');
        assert.deepEqual(await store.listApiKeys('nobody'), []);

        await store.touchApiKey('k1', '2024-04-01T12:00:00.000Z');
        assert.equal((await store.findApiKeyByHash(early.hash))?.lastUsedAt, '2024-04-01T12:00:00.000Z');
        assert.equal((await store.findApiKeyByHash(late.hash))?.lastUsedAt, null, 'only that key');
        await store.touchApiKey('k1', '2024-04-02T12:00:00.000Z');
        assert.equal((await store.listApiKeys('shop'))[0].lastUsedAt, '2024-04-02T12:00:00.000Z');
        await store.touchApiKey('no-such-key', '2024-04-02T12:00:00.000Z');
      }));

      it('refuses a second key with the same hash', TIMEOUT, withStore(async (store) => {
        await store.createApiKey(apiKey('k1', null, '2024-01-01T00:00:00.000Z'));
        await assert.rejects(() => store.createApiKey({ ...apiKey('k2', null, '2024-01-02T00:00:00.000Z'), hash: apiKey('k1', null, '').hash }));
        assert.equal((await store.findApiKeyByHash(apiKey('k1', null, '').hash))?.id, 'k1');
        assert.deepEqual((await store.listApiKeys(null)).map((k) => k.id), ['k1']);
      }));
    });
  });
}
