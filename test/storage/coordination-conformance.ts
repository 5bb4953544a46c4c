// Several processes on one database, through the Store port: the refresh claim, interrupted runs,
// scheduled slots. Every adapter runs it; `reopen` gives a second process's store (PostgreSQL: its
// own pool and connections) or, without it, the same store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { ExportRunRecord } from '../../src/storage/exports.js';
import type { Store } from '../../src/storage/store.js';
import type { OpenedStore } from './conformance.js';

const TIMEOUT = { timeout: 20_000 };

const definition = (id: string) =>
  ({
    id,
    dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
    unification: { matching: [{ entity: 'S.E' }] },
  }) as InstanceDefinition;

export function coordinationConformance(name: string, open: () => Promise<OpenedStore>): void {
  const withStores = (fn: (first: Store, second: Store) => Promise<void>) => async () => {
    const opened = await open();
    const second = opened.reopen ? await opened.reopen() : opened.store;
    try {
      for (const id of ['shop', 'other']) await opened.store.putInstance({ id, name: id, definition: definition(id), sourceFile: 'x.yaml', baseDir: '/tmp' });
      await fn(opened.store, second);
    } finally {
      if (second !== opened.store) await second.close();
      await opened.cleanup();
    }
  };

  describe(`Store coordination: ${name}`, () => {
    it('one refresh claim per instance at a time, across stores, until released', TIMEOUT, withStores(async (first, second) => {
      const claim = await first.claimRefresh('shop');
      assert.ok(claim, 'a free claim is granted');
      assert.equal(await second.claimRefresh('shop'), null, 'held by the first');
      assert.equal(await first.claimRefresh('shop'), null, 'not twice by the same store either');
      const other = await second.claimRefresh('other');
      assert.ok(other, 'claims are per instance');
      await claim.release();
      const again = await second.claimRefresh('shop');
      assert.ok(again, 'free again once released');
      await again.release();
      await other.release();
    }));

    it('failInterruptedRuns fails unclaimed active runs and leaves a claimed one alone', TIMEOUT, withStores(async (first, second) => {
      const claim = (await first.claimRefresh('shop'))!;
      const live = (await first.createRun('shop', 'api')).run;
      await first.updateRun('shop', live.jobId, { status: 'running', startedAt: new Date().toISOString() });
      const orphan = (await first.createRun('other', 'api')).run;
      // A store started later (a second node, or the first one restarting) cleans up.
      assert.equal(await second.failInterruptedRuns('node gone'), 1);
      assert.equal((await second.getRun('shop', live.jobId))?.status, 'running');
      const failed = await second.getRun('other', orphan.jobId);
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.error, 'node gone');
      await claim.release();
      // Released without recording an end: the holder is gone, and so is the run.
      assert.equal(await second.failInterruptedRuns('node gone'), 1);
      assert.equal((await second.getRun('shop', live.jobId))?.status, 'failed');
    }));

    it("exportRuns.failInterrupted leaves a live process's runs alone (its own, and those inside a refresh it has claimed) and fails the rest", TIMEOUT, withStores(async (first, second) => {
      const exportRun = (runId: string, instanceId: string, trigger: ExportRunRecord['trigger']): ExportRunRecord => ({
        runId,
        instanceId,
        exportName: 'daily',
        trigger,
        jobId: trigger === 'refresh' ? 'job-1' : null,
        generation: 1,
        status: 'running',
        target: 'file out.csv',
        startedAt: new Date().toISOString(),
        endedAt: null,
        rows: 0,
        batches: 0,
        durationMs: null,
        error: null,
      });
      const claim = (await first.claimRefresh('shop'))!;
      await first.exportRuns.createRun(exportRun('manual-live', 'shop', 'manual'));
      await first.exportRuns.createRun(exportRun('in-claimed-refresh', 'shop', 'refresh'));
      await first.exportRuns.createRun(exportRun('in-unclaimed-refresh', 'other', 'refresh'));
      assert.equal(await second.exportRuns.failInterrupted('node gone'), 1);
      const status = async (instanceId: string, runId: string) => (await second.exportRuns.getRun(instanceId, runId))?.status;
      assert.deepEqual(
        [await status('shop', 'manual-live'), await status('shop', 'in-claimed-refresh'), await status('other', 'in-unclaimed-refresh')],
        ['running', 'running', 'failed'],
      );
      await claim.release();
      assert.equal(await second.exportRuns.failInterrupted('node gone'), 1, 'the refresh ended without recording its exports');
      assert.equal(await status('shop', 'in-claimed-refresh'), 'failed');
      assert.equal(await status('shop', 'manual-live'), 'running', 'its process is still alive');
    }));

    it('a scheduled slot runs once, even after its run ended', TIMEOUT, withStores(async (first, second) => {
      const slot = '2026-12-01T03:00:00.000Z';
      const made = await first.createRun('shop', 'schedule', { scheduledFor: slot });
      assert.equal(made.created, true);
      const concurrent = await second.createRun('shop', 'schedule', { scheduledFor: slot });
      assert.deepEqual([concurrent.created, concurrent.run.jobId], [false, made.run.jobId]);
      await first.updateRun('shop', made.run.jobId, { status: 'successful', endedAt: new Date().toISOString() });
      const late = await second.createRun('shop', 'schedule', { scheduledFor: slot });
      assert.deepEqual([late.created, late.run.jobId, late.run.status], [false, made.run.jobId, 'successful']);
      const next = await second.createRun('shop', 'schedule', { scheduledFor: '2026-12-01T04:00:00.000Z' });
      assert.equal(next.created, true, 'the next slot runs');
      await second.updateRun('shop', next.run.jobId, { status: 'successful', endedAt: new Date().toISOString() });
      assert.equal((await first.createRun('other', 'schedule', { scheduledFor: slot })).created, true, 'slots are per instance');
      assert.equal((await first.createRun('shop', 'api')).created, true, 'runs without a slot are not limited');
    }));
  });
}
