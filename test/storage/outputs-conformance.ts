// Conformance suite of the enrichment, export-run and notification sub-ports, through the Store
// port only: every adapter must pass it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { encodeEnrichments } from '../../src/domain/enrich-batch.js';
import { newStages } from '../../src/domain/run.js';
import type { ExportRunRecord } from '../../src/storage/exports.js';
import type { DeliveryRecord } from '../../src/storage/notifications.js';
import type { Store } from '../../src/storage/store.js';
import type { OpenedStore } from './conformance.js';

const DEFINITION = {
  id: 'shop',
  dataSources: [{ name: 'Shop', type: 'csv', entities: [{ name: 'Contacts', path: 'c.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'Shop.Contacts' }] },
} as InstanceDefinition;


const QUERY = { attributes: { CustomerId: 'string' as const, EmailDomain: 'string' as const }, orderby: [], top: 100, skip: 0, count: true };

export function outputsConformance(name: string, open: () => Promise<OpenedStore>): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const opened = await open();
    try {
      await opened.store.putInstance({ id: 'shop', name: 'Shop', definition: DEFINITION, sourceFile: 'shop.yaml', baseDir: '/tmp' });
      await fn(opened.store);
    } finally {
      await opened.cleanup();
    }
  };

  async function generation(store: Store, domains: Record<string, string>, finish: 'commit' | 'abort' | 'leave' = 'commit') {
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.writeCustomers(Object.keys(domains).map((CustomerId) => ({ CustomerId })));
    await store.enrichment.write('shop', w.generation, encodeEnrichments(Object.entries(domains).map(([CustomerId, EmailDomain]) => ({ CustomerId, EmailDomain }))));
    if (finish === 'commit') await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
    if (finish === 'abort') {
      await w.abort();
      await store.updateRun('shop', run.jobId, { status: 'failed' });
    }
    return w;
  }

  describe(`${name}: enrichment sub-port`, () => {
    it(
      'rows are invisible until their generation commits, then readers switch at once',
      withStore(async (store) => {
        await generation(store, { c1: 'a.com', c2: 'b.com' });
        const building = await generation(store, { c1: 'new.com', c3: 'c.com' }, 'leave');
        assert.equal((await store.enrichment.of('shop', 'c1'))?.EmailDomain, 'a.com');
        assert.equal(await store.enrichment.of('shop', 'c3'), undefined);
        assert.equal(await store.enrichment.count('shop'), 2);
        await building.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
        assert.deepEqual(await store.enrichment.of('shop', 'c1'), { CustomerId: 'c1', EmailDomain: 'new.com' });
        assert.equal(await store.enrichment.of('shop', 'c2'), undefined);
        const read = await store.queryEntity('shop', 'CustomerEnrichment', QUERY, new Date().toISOString());
        assert.deepEqual(read, { rows: [{ CustomerId: 'c1', EmailDomain: 'new.com' }, { CustomerId: 'c3', EmailDomain: 'c.com' }], count: 2 });
        const scanned: Record<string, unknown>[] = [];
        for await (const batch of store.scan('shop', 'CustomerEnrichment', 1)) scanned.push(...batch);
        assert.deepEqual(scanned.map((r) => r.CustomerId), ['c1', 'c3']);
      }),
    );

    it(
      'rows handed to the generation writer while it writes other parts are visible with its commit; after abort it refuses them',
      withStore(async (store) => {
        const batch = (ids: string[]) => encodeEnrichments(ids.map((CustomerId) => ({ CustomerId, EmailDomain: `${CustomerId}.com` })));
        const { run } = await store.createRun('shop', 'cli');
        const w = await store.beginGeneration('shop', run.jobId);
        // Not one after another: enrichments arrive while the write stage writes its rows.
        await Promise.all([
          w.writeEnrichments(batch(['c1', 'c2'])),
          w.writeCustomers([{ CustomerId: 'c1' }, { CustomerId: 'c2' }, { CustomerId: 'c3' }]),
          w.writeEnrichments(batch(['c3'])),
          w.writeAlternateKeys([{ DataSourceName: 'Shop', EntityName: 'Contacts', AlternateValue: '1', CustomerId: 'c1' }]),
        ]);
        assert.equal(await store.enrichment.count('shop'), 0, 'nothing visible before the commit');
        await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
        const read = await store.queryEntity('shop', 'CustomerEnrichment', QUERY, new Date().toISOString());
        assert.deepEqual(read.rows, ['c1', 'c2', 'c3'].map((CustomerId) => ({ CustomerId, EmailDomain: `${CustomerId}.com` })));
        const aborted = await store.beginGeneration('shop', run.jobId);
        await aborted.abort();
        await assert.rejects(aborted.writeEnrichments(batch(['c9'])), /already committed or aborted/);
        assert.equal(await store.enrichment.count('shop'), 3);
      }),
    );

    it(
      'an aborted generation leaves the enrichments as they were, and its rows are gone',
      withStore(async (store) => {
        await generation(store, { c1: 'a.com' });
        const aborted = await generation(store, { c1: 'x.com' }, 'abort');
        assert.equal((await store.enrichment.of('shop', 'c1'))?.EmailDomain, 'a.com');
        await assert.rejects(store.enrichment.write('shop', aborted.generation, encodeEnrichments([{ CustomerId: 'c9' }])), /not being built/);
      }),
    );

    it(
      'pruned generations take their enrichments with them',
      withStore(async (store) => {
        await generation(store, { c1: 'a.com' });
        await generation(store, { c1: 'b.com' });
        assert.equal(await store.pruneGenerations('shop'), 1);
        await generation(store, { c1: 'c.com' });
        assert.equal(await store.enrichment.count('shop'), 1);
        assert.equal((await store.enrichment.of('shop', 'c1'))?.EmailDomain, 'c.com');
      }),
    );
  });

  describe(`${name}: export runs and notification deliveries`, () => {
    const run = (over: Partial<ExportRunRecord>): ExportRunRecord => ({
      runId: 'r1',
      instanceId: 'shop',
      exportName: 'csv',
      trigger: 'manual',
      jobId: null,
      generation: 1,
      status: 'running',
      target: 'file out/csv.csv',
      startedAt: '2026-11-29T10:00:00.000Z',
      endedAt: null,
      rows: 0,
      batches: 0,
      durationMs: null,
      error: null,
      ...over,
    });

    it(
      'export runs: recorded, finished, listed newest first per export; interrupted ones fail',
      withStore(async (store) => {
        await store.exportRuns.createRun(run({}));
        // r2 and r3 ran inside a refresh that nobody holds any more: interrupted. (A run this store
        // executes itself is live: coordination-conformance.ts.)
        await store.exportRuns.createRun(run({ runId: 'r2', trigger: 'refresh', jobId: 'j1', startedAt: '2026-11-29T11:00:00.000Z' }));
        await store.exportRuns.createRun(run({ runId: 'r3', trigger: 'refresh', jobId: 'j1', exportName: 'other', startedAt: '2026-11-29T12:00:00.000Z' }));
        await store.exportRuns.finishRun('shop', 'r1', { status: 'successful', target: 'file /abs/csv.csv', endedAt: '2026-11-29T10:00:01.000Z', rows: 42, batches: 1, durationMs: 1000, error: null });
        assert.deepEqual(await store.exportRuns.getRun('shop', 'r1'), run({ status: 'successful', target: 'file /abs/csv.csv', endedAt: '2026-11-29T10:00:01.000Z', rows: 42, batches: 1, durationMs: 1000 }));
        assert.deepEqual((await store.exportRuns.listRuns('shop', 'csv')).map((r) => r.runId), ['r2', 'r1']);
        assert.deepEqual((await store.exportRuns.listRuns('shop')).map((r) => r.runId), ['r3', 'r2', 'r1']);
        assert.deepEqual((await store.exportRuns.listRuns('shop', undefined, 1)).map((r) => r.runId), ['r3']);
        assert.equal(await store.exportRuns.failInterrupted('server stopped'), 2);
        const r2 = await store.exportRuns.getRun('shop', 'r2');
        assert.equal(r2?.status, 'failed');
        assert.equal(r2?.error, 'server stopped');
        assert.equal(await store.exportRuns.getRun('shop', 'missing'), undefined);
      }),
    );

    it(
      'deliveries: recorded pending, updated per attempt; threshold values swapped',
      withStore(async (store) => {
        const d: DeliveryRecord = {
          deliveryId: 'd1',
          instanceId: 'shop',
          notification: 'ops',
          event: 'refreshSucceeded',
          payload: { event: 'refreshSucceeded', run: { jobId: 'j' } },
          status: 'pending',
          attempts: 0,
          responseStatus: null,
          lastError: null,
          createdAt: '2026-11-29T10:00:00.000Z',
          updatedAt: '2026-11-29T10:00:00.000Z',
        };
        await store.notifications.createDelivery(d);
        await store.notifications.createDelivery({ ...d, deliveryId: 'd2', notification: 'other', createdAt: '2026-11-29T11:00:00.000Z' });
        await store.notifications.updateDelivery('shop', 'd1', { status: 'failed', attempts: 3, responseStatus: 500, lastError: 'HTTP 500', updatedAt: '2026-11-29T10:00:05.000Z' });
        assert.deepEqual(await store.notifications.getDelivery('shop', 'd1'), { ...d, status: 'failed', attempts: 3, responseStatus: 500, lastError: 'HTTP 500', updatedAt: '2026-11-29T10:00:05.000Z' });
        assert.deepEqual((await store.notifications.listDeliveries('shop')).map((x) => x.deliveryId), ['d2', 'd1']);
        assert.deepEqual((await store.notifications.listDeliveries('shop', 'ops')).map((x) => x.deliveryId), ['d1']);
        assert.equal(await store.notifications.swapThresholdValue('shop', 'ops', 'segment:Gold', 3, 't1'), undefined);
        assert.equal(await store.notifications.swapThresholdValue('shop', 'ops', 'segment:Gold', 5, 't2'), 3);
        assert.equal(await store.notifications.swapThresholdValue('shop', 'other', 'segment:Gold', 9, 't2'), undefined, 'per notification');
        assert.equal(await store.notifications.swapThresholdValue('shop', 'ops', 'segment:Gold', 1.5, 't3'), 5);
      }),
    );
  });
}
