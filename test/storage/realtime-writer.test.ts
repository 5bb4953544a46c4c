// Real-time writes in the writer thread (the server's mode): the same outcomes as in-thread writes,
// visible to the store's own connection as soon as they resolve, on disk across reopening.
import assert from 'node:assert/strict';
import { fdatasync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { ActivityRecord } from '../../src/domain/profile.js';
import { prepareProfileUpdate, prepareUnifiedActivity } from '../../src/realtime/ingest.js';
import { unifiedSchema } from '../../src/domain/unified-schema.js';
import { resolveInstance } from '../../src/config/resolve.js';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { WalSync, type SyncFile } from '../../src/storage/sqlite/durability.js';
import { GroupCommitter, inlineRealtimeWriter, openRealtimeConnection, type RealtimeWorkerReply } from '../../src/storage/sqlite/realtime-writer.js';
import { encodeWrites, RealtimeApplier } from '../../src/storage/sqlite/realtime-apply.js';
import type { RealtimeWrite } from '../../src/domain/realtime.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kindred-rt-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }, { name: 'City' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

const ctx = { instanceId: 'shop', now: Date.now(), caller: 'pos' };
function activity(id: string, customerId: string, title = 'hello'): RealtimeWrite {
  const o = prepareUnifiedActivity(ctx, { ActivityId: id, CustomerId: customerId, ActivityTime: '2026-01-01T10:00:00Z', ActivityType: 'Visit', Title: title });
  assert.ok(o.ok);
  return o.value;
}

/** The instance with one refreshed customer, c1. */
async function withCustomerC1(store: ReturnType<typeof openSqliteStore>): Promise<void> {
  await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
  const { run } = await store.createRun('shop', 'cli');
  const w = await store.beginGeneration('shop', run.jobId);
  await w.writeCustomers([{ CustomerId: 'c1', City: 'Oslo' }]);
  await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
}

describe('real-time writer thread', () => {
  it('applies writes with the same outcomes, visible at once and after reopening', async () => {
    const file = path.join(dir, 'k.db');
    const store = openSqliteStore({ file, realtimeWriter: 'worker' });
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: dir });
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.writeCustomers([{ CustomerId: 'c1', City: 'Oslo' }, { CustomerId: 'c2', City: 'Bergen' }]);
    await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });

    const schema = unifiedSchema(resolveInstance(definition, dir));
    const patch = prepareProfileUpdate(schema, ctx, 'c1', { City: 'Trondheim' });
    assert.ok(patch.ok, JSON.stringify(patch));
    const results = await store.applyRealtime([
      patch.value,
      activity('a1', 'c1'),
      activity('a1', 'c1'),
      activity('a1', 'c1', 'changed'),
      activity('a2', 'nobody'),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['updated', 'created', 'replayed', 'conflict', 'customerNotFound'],
    );
    // Read back on the store's own connection right after the promise resolved.
    const now = new Date().toISOString();
    assert.equal((await store.getProfile('shop', 'c1'))?.overrides[0]?.value, 'Trondheim');
    assert.equal((await store.getActivity('shop', 'a1', now))?.Title, 'hello');

    // Many groups in flight at once: each resolves with its own results.
    const groups = await Promise.all(Array.from({ length: 40 }, (_, g) => store.applyRealtime([activity(`g${g}-1`, 'c2'), activity(`g${g}-2`, 'c2')])));
    assert.ok(groups.every((r) => r.length === 2 && r.every((x) => x.status === 'created')));
    await store.close();

    const again = openSqliteStore({ file });
    try {
      const list = await again.activitiesOf('shop', 'c2', { top: 1000 }, new Date().toISOString());
      assert.equal(list.length, 80);
      assert.equal(((await again.getActivity('shop', 'a1', now)) as ActivityRecord).CustomerId, 'c1');
    } finally {
      await again.close();
    }
  });

  it('a write that fails in the thread rejects, and later writes still work', async () => {
    const file = path.join(dir, 'k2.db');
    const store = openSqliteStore({ file, realtimeWriter: 'worker' });
    try {
      // An instance without a generation: the customer cannot exist.
      const [r] = await store.applyRealtime([activity('x', 'c1')]);
      assert.equal(r.status, 'customerNotFound');
      // A value the structured clone cannot carry is refused before it reaches the thread.
      await assert.rejects(store.applyRealtime([{ ...activity('y', 'c1'), caller: (() => 1) as unknown as string }]));
      const [again] = await store.applyRealtime([activity('z', 'c1')]);
      assert.equal(again.status, 'customerNotFound');
    } finally {
      await store.close();
    }
  });

  it('groups that arrive together commit together, yet each gets its own results and only a failing one fails', async () => {
    const file = path.join(dir, 'k4.db');
    const store = openSqliteStore({ file, realtimeWriter: 'worker' });
    try {
      await withCustomerC1(store);
      // Sent in one turn: the thread receives them together. A caller SQLite cannot bind makes
      // the middle group throw inside the thread's transaction.
      const unbindable = { ...activity('m-bad', 'c1'), caller: { not: 'text' } as unknown as string };
      const settled = await Promise.allSettled([
        store.applyRealtime([activity('m1', 'c1', 'first'), activity('m2', 'c1')]),
        store.applyRealtime([activity('m3', 'c1'), unbindable]),
        store.applyRealtime([activity('m4', 'c1'), activity('m1', 'c1', 'first'), activity('m2', 'c1', 'other')]),
      ]);
      assert.equal(settled[1].status, 'rejected');
      assert.ok(settled[0].status === 'fulfilled' && settled[2].status === 'fulfilled');
      assert.deepEqual(settled[0].value.map((r) => r.status), ['created', 'created']);
      assert.deepEqual(settled[2].value.map((r) => r.status), ['created', 'replayed', 'conflict']);
      const replay = settled[2].value[1];
      assert.ok(replay.status === 'replayed' && replay.activity.ActivityId === 'm1' && replay.activity.Title === 'first');
      const now = new Date().toISOString();
      // The failing group stored nothing, not even its valid write.
      assert.equal(await store.getActivity('shop', 'm3', now), undefined);
      assert.equal((await store.getActivity('shop', 'm4', now))?.ActivityId, 'm4');
    } finally {
      await store.close();
    }
  });

  it('waits out a write lock held longer than 5 s, as a large refresh holds it to build an index, instead of failing', async () => {
    const file = path.join(dir, 'k5.db');
    const store = openSqliteStore({ file, realtimeWriter: 'worker' });
    const holder = new Database(file);
    try {
      await withCustomerC1(store);
      holder.exec('BEGIN IMMEDIATE');
      // Settled either way, so an early failure is reported below rather than as an unhandled rejection.
      const outcome = store.applyRealtime([activity('during-lock', 'c1')]).then(
        (results) => ({ results }),
        (error: Error) => ({ error }),
      );
      await new Promise((r) => setTimeout(r, 6_000));
      holder.exec('COMMIT');
      const settled = await outcome;
      assert.ok('results' in settled, `the write failed: ${'error' in settled ? settled.error.message : ''}`);
      assert.equal(settled.results[0].status, 'created');
      const stored = await store.queryEntity('shop', 'UnifiedActivity', { attributes: { ActivityId: 'string' }, orderby: [], top: 10, skip: 0, count: false }, new Date().toISOString());
      assert.deepEqual(stored.rows.map((r) => r.ActivityId), ['during-lock']);
    } finally {
      holder.close();
      await store.close();
    }
  });

  it('copies the WAL back into the database in the checkpointer thread, not in the writer', async () => {
    const file = path.join(dir, 'k3.db');
    const store = openSqliteStore({ file, realtimeWriter: 'worker' });
    try {
      await withCustomerC1(store);
      // About 2,000 pages of WAL: past SQLite's default autocheckpoint, short of the writer's backstop.
      const padding = 'x'.repeat(3000);
      for (let g = 0; g < 20; g++) {
        const results = await store.applyRealtime(Array.from({ length: 100 }, (_, i) => activity(`p${g}-${i}`, 'c1', `${padding}${g}-${i}`)));
        assert.ok(results.every((r) => r.status === 'created'));
      }
      // A checkpoint follows the last commit within a quarter of a second. The WAL index (-shm)
      // tells without touching anything: mxFrame frames in the WAL, nBackfill of them copied back.
      const walState = () => {
        const shm = readFileSync(`${file}-shm`);
        return { frames: shm.readUInt32LE(16), copied: shm.readUInt32LE(96) };
      };
      const written = walState().frames;
      assert.ok(written > 1000, `the WAL holds ${written} frames`);
      let state = walState();
      for (let tries = 0; tries < 40 && state.copied < state.frames; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        state = walState();
      }
      assert.equal(state.copied, state.frames, 'every frame of the WAL is in the database file');
    } finally {
      await store.close();
    }
  });
});

/**
 * The WAL's fdatasync calls, held until the test lets each go: release() runs the real
 * fdatasync, fail() answers with a disk error instead.
 */
class HeldSyncs {
  readonly calls: { release: () => void; fail: (message: string) => void }[] = [];
  readonly syncFile: SyncFile = (fd, callback) => {
    this.calls.push({
      release: () => fdatasync(fd, callback),
      fail: (message) => callback(Object.assign(new Error(message), { code: 'EIO' })),
    });
  };
}

/** Whether a promise has settled, after giving it a few turns of the event loop to do so. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 30));
  return settled;
}

describe('an acknowledged write is on disk: answers wait for the WAL sync', () => {
  it('a sync resolves only after an fdatasync that started after the call', async () => {
    const file = path.join(dir, 'sync1.db');
    const store = openSqliteStore({ file });
    try {
      await withCustomerC1(store); // the WAL file exists once something committed
      const held = new HeldSyncs();
      const wal = new WalSync(`${file}-wal`, held.syncFile);
      const first = wal.sync();
      assert.equal(held.calls.length, 1);
      assert.equal(await settledYet(first), false, 'not synced before the fdatasync returns');
      // Commits made while that fdatasync runs may have missed it: they wait for the next one.
      const second = wal.sync();
      const third = wal.sync();
      assert.equal(held.calls.length, 1, 'one fdatasync at a time');
      held.calls[0].release();
      await first;
      assert.equal(await settledYet(second), false, 'a sync asked for during a running fdatasync waits for another');
      assert.equal(held.calls.length, 2, 'the next fdatasync starts once the running one ends, shared by every waiting caller');
      held.calls[1].release();
      await Promise.all([second, third]);
      wal.close();
    } finally {
      await store.close();
    }
  });

  it('the in-thread writer answers only once its commit is synced, and fails when the sync fails', async () => {
    const file = path.join(dir, 'sync2.db');
    const store = openSqliteStore({ file });
    const held = new HeldSyncs();
    const writer = inlineRealtimeWriter(file, new WalSync(`${file}-wal`, held.syncFile));
    try {
      await withCustomerC1(store);
      const applied = writer.apply([activity('synced-1', 'c1')]);
      assert.equal(await settledYet(applied), false, 'no answer while the WAL is not synced');
      assert.equal(held.calls.length, 1);
      held.calls[0].release();
      assert.deepEqual((await applied).map((r) => r.status), ['created']);

      const failing = writer.apply([activity('synced-2', 'c1')]);
      assert.equal(await settledYet(failing), false);
      held.calls[1].fail('I/O error');
      await assert.rejects(failing, /I\/O error/);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it("the writer thread's group commit answers only once the WAL is synced, and answers an error when the sync fails", async () => {
    const file = path.join(dir, 'sync3.db');
    const store = openSqliteStore({ file });
    const db = openRealtimeConnection(file);
    const held = new HeldSyncs();
    const wal = new WalSync(`${file}-wal`, held.syncFile);
    const replies: RealtimeWorkerReply[] = [];
    const committer = new GroupCommitter(new RealtimeApplier(db), wal, (r) => replies.push(r));
    const turn = () => new Promise((r) => setTimeout(r, 30));
    try {
      await withCustomerC1(store);
      // Two groups in one turn: one transaction, one sync, two answers.
      committer.receive({ id: 1, writes: encodeWrites([activity('g-1', 'c1')]) });
      committer.receive({ id: 2, writes: encodeWrites([activity('g-2', 'c1'), activity('g-3', 'nobody')]) });
      await turn();
      assert.equal(held.calls.length, 1, 'one fdatasync for both groups');
      assert.equal(replies.length, 0, 'committed, but not answered before the WAL is on disk');
      assert.equal(committer.pending, 2);
      held.calls[0].release();
      await turn();
      assert.deepEqual(replies.map((r) => r.id), [1, 2]);
      assert.ok(replies.every((r): boolean => 'applied' in r));
      assert.equal(committer.pending, 0);

      committer.receive({ id: 3, writes: encodeWrites([activity('g-4', 'c1')]) });
      await turn();
      assert.equal(replies.length, 2);
      held.calls[1].fail('I/O error');
      await turn();
      const failed = replies[2];
      assert.ok(failed.id === 3 && 'error' in failed && /not synced to disk: I\/O error/.test(failed.error), JSON.stringify(failed));
    } finally {
      wal.close();
      db.close();
      await store.close();
    }
  });
});
