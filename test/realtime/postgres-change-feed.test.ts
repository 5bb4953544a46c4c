// The shared change feed on PostgreSQL: two stores with their feeds on one schema stand for two
// nodes. A write committed through one reaches the other's subscribers once, the writer's own
// subscribers once, rolled-back or refused writes reach nobody, and a dropped listening connection
// comes back by itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { Change } from '../../src/domain/changes.js';
import type { RealtimeWrite } from '../../src/domain/realtime.js';
import { ClusterEvents, type ClusterSignal } from '../../src/realtime/cluster-events.js';
import { PostgresChangeFeed } from '../../src/realtime/postgres-change-feed.js';
import { WriteQueue } from '../../src/realtime/write-queue.js';
import { changeChannel } from '../../src/storage/postgres/realtime-writer.js';
import { openPostgresStore, type PostgresStore } from '../../src/storage/postgres/store.js';
import type { Store } from '../../src/storage/store.js';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from '../storage/postgres-helpers.js';

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the PostgreSQL change feed tests: ${unavailable}`);

const definition = {
  id: 'shop',
  dataSources: [{ name: 'S', type: 'csv', entities: [{ name: 'E', path: 'e.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'S.E' }] },
} as InstanceDefinition;

const profileWrite = (customerId: string, city: string): RealtimeWrite => ({
  kind: 'profile',
  instanceId: 'shop',
  customerId,
  changes: { City: city },
  caller: 'test',
  setAt: new Date().toISOString(),
  validUntil: new Date(Date.now() + 3_600_000).toISOString(),
});

/** Resolves with the first `n` changes the listener hears, or rejects after `ms`. */
function collect(feed: PostgresChangeFeed, n: number, ms = 1000): { heard: Change[]; done: Promise<Change[]> } {
  const heard: Change[] = [];
  const done = new Promise<Change[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`heard ${heard.length} of ${n} changes within ${ms} ms`)), ms);
    feed.subscribe('shop', undefined, (c) => {
      heard.push(c);
      if (heard.length === n) {
        clearTimeout(timer);
        resolve(heard);
      }
    });
  });
  return { heard, done };
}

interface Node {
  store: PostgresStore;
  feed: PostgresChangeFeed;
  writes: WriteQueue;
  /** The cluster signals the node heard. */
  signals: ClusterSignal[];
  missed: number;
}

describe('PostgreSQL change feed across nodes', { skip: unavailable ?? false }, () => {
  let schema: string;
  let drop: () => Promise<void>;
  const nodes: Node[] = [];
  const logs: string[] = [];

  before(async () => {
    ({ schema, drop } = await freshSchema());
    for (const nodeId of ['node-a', 'node-b']) {
      const store = await openPostgresStore({ connectionString: POSTGRES_URL, schema, maxConnections: 4, nodeId });
      const events = new ClusterEvents();
      const feed = new PostgresChangeFeed({ connectionString: POSTGRES_URL, schema, nodeId, log: (m) => logs.push(`${nodeId}: ${m}`), reconnectMs: 50, events });
      await feed.start();
      const node: Node = { store, feed, writes: new WriteQueue(store as unknown as Store, feed), signals: [], missed: 0 };
      events.on((signal) => node.signals.push(signal));
      feed.onMissed(() => node.missed++);
      nodes.push(node);
    }
    const [{ store }] = nodes;
    await store.putInstance({ id: 'shop', name: 'Shop', definition, sourceFile: 'x.yaml', baseDir: '/tmp' });
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.writeCustomers(Array.from({ length: 300 }, (_, i) => ({ CustomerId: `c${i}`, City: 'Oslo' })));
    await w.commit({ stages: [], summary: {}, endedAt: new Date().toISOString() });
  });

  after(async () => {
    for (const n of nodes) {
      await n.feed.close();
      await n.store.close();
    }
    await drop?.();
  });

  it('a write on one node reaches the other node once, and its own subscribers once', async () => {
    const [a, b] = nodes;
    const onB = collect(b.feed, 1);
    const onA = collect(a.feed, 1);
    const [result] = await a.writes.submitAll([profileWrite('c1', 'Bergen')]);
    assert.equal(result.status, 'updated');
    const [change] = await onB.done;
    assert.deepEqual([change.customerId, change.kind, change.attributes], ['c1', 'profile', ['City']]);
    await onA.done;
    // Long enough for an echo of A's own notification to have arrived.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(onA.heard.length, 1, 'the writing node delivers once');
    assert.equal(onB.heard.length, 1);
  });

  it('a group larger than one NOTIFY payload arrives whole; refused writes are not announced', async () => {
    const [a, b] = nodes;
    const writes = Array.from({ length: 300 }, (_, i) => profileWrite(`c${i}`, `City ${i}`));
    writes.push(profileWrite('nobody', 'x'));
    const onB = collect(b.feed, 300, 3000);
    const results = await a.writes.submitAll(writes);
    assert.equal(results.at(-1)?.status, 'customerNotFound');
    const heard = await onB.done;
    assert.deepEqual(heard.map((c) => c.customerId), writes.slice(0, 300).map((w) => (w as { customerId: string }).customerId));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(onB.heard.length, 300);
  });

  it('a write whose transaction rolls back is announced to nobody', async () => {
    const [a, b] = nodes;
    const onB = collect(b.feed, 1, 500);
    // A group that fails in the database (an instance id the text column refuses) rolls back whole.
    await assert.rejects(a.store.applyRealtime([profileWrite('c1', 'Ghost'), { ...profileWrite('c2', 'x'), instanceId: 'bad\u0000id' }]));
    await assert.rejects(onB.done, /heard 0 of 1/);
  });

  it('definition and access changes are announced to every node after COMMIT, and a rolled-back one to none', async () => {
    const [a, b] = nodes;
    b.signals.length = 0;
    await a.store.putInstance({ id: 'other', name: 'Other', definition: { ...definition, id: 'other' }, sourceFile: 'x.yaml', baseDir: '/tmp' });
    await a.store.access.ensurePrincipal({ id: 'app:crm', kind: 'app', displayName: 'CRM' }, new Date().toISOString());
    await a.store.access.assignRole('app:crm', 'other', 'Viewer', new Date().toISOString());
    const key = { id: 'k1', instanceId: 'other', principalId: 'app:crm', name: 'crm', role: 'Viewer' as const, slot: 'primary' as const, prefix: 'kdr_crm1', hash: 'crm-hash', createdAt: new Date().toISOString(), expiresAt: null };
    await a.store.access.putKey(key, new Date().toISOString());
    // A key change the database refuses (the hash is taken) rolls back and announces nothing.
    await assert.rejects(a.store.access.putKey({ ...key, id: 'k2', slot: 'secondary' }, new Date().toISOString()));
    const deadline = Date.now() + 5000;
    while (b.signals.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(b.signals, [{ kind: 'instance', instanceId: 'other' }, { kind: 'access' }, { kind: 'access' }]);
  });

  it('a dropped listening connection reconnects, tells its feeds and caches they may have missed changes, and later writes are heard', async () => {
    const [a, b] = nodes;
    const missedBefore = b.missed;
    b.signals.length = 0;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`, [changeChannel(schema)]);
      assert.equal(killed.rowCount, 2, 'both listening connections found');
    } finally {
      await admin.end();
    }
    // Writes go on while the feeds reconnect; once B listens again it hears the next ones.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const onB = collect(b.feed, 1, 500);
      await a.writes.submitAll([profileWrite('c2', `Try ${Date.now()}`)]);
      try {
        await onB.done;
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
    assert.ok(logs.some((m) => m.startsWith('node-b: change feed: the listening connection dropped')), logs.join('\n'));
    assert.equal(b.missed, missedBefore + 1, 'subscribers were told once');
    assert.deepEqual(b.signals, [{ kind: 'resync' }]);
  });
});
