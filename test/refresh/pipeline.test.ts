import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadInstanceDefinition } from '../../src/config/load.js';
import type { CustomerRecord } from '../../src/domain/profile.js';
import { runRefresh, type RefreshOptions } from '../../src/refresh/pipeline.js';
import { processExecutor } from '../../src/refresh/executors.js';
import { RefreshRunner } from '../../src/refresh/runner.js';
import type { Store } from '../../src/storage/store.js';
import { openTestStore } from '../storage/test-store.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/tiny');

/** A copy of the tiny fixture in a temp dir, so tests can change source files between refreshes; the store the runner chose. */
async function workspace() {
  const dir = mkdtempSync(path.join(tmpdir(), 'kindred-pipeline-'));
  cpSync(FIXTURE, path.join(dir, 'src'), { recursive: true });
  const opened = await openTestStore(dir, 'kindred_pipeline');
  const { store, workerStore } = opened;
  const file = (name: string) => path.join(dir, 'src', name);
  return {
    dir,
    store,
    workerStore,
    file,
    async apply() {
      const { definition, baseDir } = loadInstanceDefinition(file('instance.yaml'));
      await store.putInstance({ id: definition.id, name: definition.name ?? definition.id, definition, sourceFile: file('instance.yaml'), baseDir });
    },
    async refresh(signal?: AbortSignal, options: Partial<RefreshOptions> = {}) {
      const { run, created } = await store.createRun('tiny', 'cli');
      assert.ok(created);
      return runRefresh({ store, run, signal, ...options });
    },
    append(name: string, lines: string) {
      writeFileSync(file(name), readFileSync(file(name), 'utf8') + lines);
    },
    async customers(): Promise<CustomerRecord[]> {
      const out: CustomerRecord[] = [];
      for await (const batch of store.scan('tiny', 'Customer')) out.push(...(batch as CustomerRecord[]));
      return out;
    },
    async close() {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const byKey = (customers: CustomerRecord[], column: string, key: string) => customers.find((c) => c[column] === key);

describe('refresh of the tiny instance', () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  before(async () => {
    ws = await workspace();
    await ws.apply();
  });
  after(() => ws.close());

  test('unifies records into profiles with merged fields and key columns', async () => {
    const run = await ws.refresh();
    assert.equal(run.status, 'successful', run.error ?? '');
    const customers = await ws.customers();
    // C1+C2 dedupe (same email), C3+L1 match (email), C4, L2, L3 alone.
    assert.equal(customers.length, 5);
    const anna = byKey(customers, 'Shop_Contacts_ContactId', 'C2')!;
    assert.ok(anna, 'C2 wins the dedupe (most recent) and is the key shown');
    assert.equal(anna.FullName, 'Anna Muller', 'winner by mostRecent supplies the name');
    assert.equal(anna.Phone, '(415) 555-2671', 'missing values are filled from the other duplicate');
    const bob = byKey(customers, 'Shop_Contacts_ContactId', 'C3')!;
    assert.equal(bob.Loyalty_Members_LoyaltyId, 'L1');
    assert.equal(bob.FullName, 'Bob Stone', 'importance: the shop name ranks first');
    assert.equal(bob.Tier, 'Gold', 'a field of one source only is carried');
    assert.equal(bob.City, 'New York');
    assert.equal('UpdatedAt' in bob, false, 'excluded fields stay out');
    const keys = await ws.store.alternateKeysOf('tiny', anna.CustomerId);
    assert.deepEqual(keys.map((k) => k.AlternateValue), ['C1', 'C2']);
    assert.equal(await ws.store.count('tiny', 'AlternateKey'), 7, 'every source record is in the key ring');
  });

  test('maps activities through the key ring and reports the unresolved ones', async () => {
    const runs = await ws.store.listRuns('tiny');
    const stage = runs[0].stages.find((s) => s.name === 'activities')!;
    assert.equal(stage.counts.activities, 3);
    assert.equal(stage.counts.setAside, 1);
    assert.match(stage.issues[0].samples[0], /purchases\.csv:4: ContactId 'C9'/);
    const customers = await ws.customers();
    const anna = byKey(customers, 'Shop_Contacts_ContactId', 'C2')!;
    const acts = await ws.store.activitiesOf('tiny', anna.CustomerId);
    assert.deepEqual(acts.map((a) => a.SourceActivityId), ['P2', 'P1'], 'newest first, both duplicates resolved to one profile');
    assert.equal(acts[0].Title, 'Bought Cups');
    assert.equal(acts[0].Url, 'https://shop.example/orders/P2');
    assert.equal(acts[0].Origin, 'batch');
  });

  test('a second refresh on unchanged data keeps every CustomerId and ActivityId', async () => {
    const before = await ws.customers();
    const activitiesBefore: string[] = [];
    for await (const b of ws.store.scan('tiny', 'UnifiedActivity')) activitiesBefore.push(...b.map((a) => a.ActivityId as string));
    const run = await ws.refresh();
    assert.equal(run.status, 'successful');
    assert.equal(run.generation, 2);
    const after = await ws.customers();
    assert.deepEqual(after, before);
    const activitiesAfter: string[] = [];
    for await (const b of ws.store.scan('tiny', 'UnifiedActivity')) activitiesAfter.push(...b.map((a) => a.ActivityId as string));
    assert.deepEqual(activitiesAfter, activitiesBefore);
    const merge = run.stages.find((s) => s.name === 'merge')!;
    assert.equal(merge.counts.idsKept, 5);
    assert.equal(merge.counts.idsCreated, 0);
  });

  test('when profiles merge, the larger keeps its id and the other becomes PreviousCustomerId', async () => {
    const before = await ws.customers();
    const anna = byKey(before, 'Shop_Contacts_ContactId', 'C2')!;
    const dan = byKey(before, 'Loyalty_Members_LoyaltyId', 'L2')!;
    // Dan's loyalty record takes Anna's email: it now matches her (two-record) profile.
    writeFileSync(
      ws.file('loyalty.csv'),
      readFileSync(ws.file('loyalty.csv'), 'utf8').replace('L2,Dan Eve,dan@example.com', 'L2,Dan Eve,anna.mueller@example.com'),
    );
    const run = await ws.refresh();
    assert.equal(run.status, 'successful');
    const after = await ws.customers();
    assert.equal(after.length, 4);
    const merged = after.find((c) => c.Loyalty_Members_LoyaltyId === 'L2')!;
    assert.equal(merged.CustomerId, anna.CustomerId, 'the profile with two records keeps its id');
    assert.equal(merged.PreviousCustomerId, dan.CustomerId);
    assert.equal(await ws.store.findCustomerIdByKey('tiny', 'Loyalty', 'Members', 'L2'), anna.CustomerId);
  });

  test('when a profile splits, the largest part keeps the id', async () => {
    const before = await ws.customers();
    const anna = before.find((c) => c.Loyalty_Members_LoyaltyId === 'L2')!; // C1, C2, L2 together now
    // C1 gets another email: C2 + L2 stay together (2 records), C1 leaves (1 record).
    writeFileSync(
      ws.file('contacts.csv'),
      readFileSync(ws.file('contacts.csv'), 'utf8').replace('C1,Anna Müller,anna.mueller@example.com', 'C1,Anna Müller,anna.other@example.com'),
    );
    const run = await ws.refresh();
    assert.equal(run.status, 'successful');
    const after = await ws.customers();
    const big = byKey(after, 'Shop_Contacts_ContactId', 'C2')!;
    const small = after.find((c) => (c.Shop_Contacts_ContactId as string) === 'C1')!;
    assert.equal(big.CustomerId, anna.CustomerId);
    assert.notEqual(small.CustomerId, anna.CustomerId);
    assert.ok(!before.some((c) => c.CustomerId === small.CustomerId), 'the split-off part gets a new id');
    assert.equal(small.PreviousCustomerId, null, 'an id still in use elsewhere is not listed as previous');
  });

  test('enrich in a worker thread: the same rows, computed while activities … write run, recorded as such', async () => {
    const enrichments = async () => {
      const out: Record<string, unknown>[] = [];
      for await (const b of ws.store.scan('tiny', 'CustomerEnrichment')) out.push(...b);
      return out;
    };
    const inline = await ws.refresh(undefined, { enrichInWorker: false });
    assert.equal(inline.status, 'successful', inline.error ?? '');
    const inlineEnrich = inline.stages.find((s) => s.name === 'enrich')!;
    assert.equal(inlineEnrich.counts.inWorker, 0);
    assert.ok(inlineEnrich.startedAt! >= inline.stages.find((s) => s.name === 'write')!.endedAt!, 'in this thread: after write');
    const before = await enrichments();
    assert.equal(before.length, (await ws.customers()).length);
    assert.ok(before.some((e) => e.PhoneE164 === '+14155552671'));
    const seen: string[] = [];
    const run = await ws.refresh(undefined, { enrichInWorker: true, onStage: (s) => seen.push(`${s.name}:${s.status}`) });
    assert.equal(run.status, 'successful', run.error ?? '');
    assert.deepEqual(await enrichments(), before);
    const stage = (name: string) => run.stages.find((s) => s.name === name)!;
    const enrich = stage('enrich');
    assert.equal(enrich.counts.inWorker, 1);
    assert.equal(enrich.counts.profiles, before.length);
    assert.ok(enrich.startedAt! <= stage('activities').startedAt! && enrich.endedAt! >= stage('write').endedAt!, 'from the end of merge to after write');
    assert.ok(seen.indexOf('enrich:running') < seen.indexOf('activities:running'));
    assert.ok(seen.indexOf('enrich:successful') > seen.indexOf('write:successful'));
  });

  test('ActivityIds worked out in a worker thread during unification: the same activities as in this thread', async () => {
    const activities = async () => {
      const out: Record<string, unknown>[] = [];
      for await (const b of ws.store.scan('tiny', 'UnifiedActivity')) out.push(...b);
      return out.sort((a, b) => (String(a.ActivityId) < String(b.ActivityId) ? -1 : 1));
    };
    const inline = await ws.refresh(undefined, { activityIdsInWorker: false });
    assert.equal(inline.status, 'successful', inline.error ?? '');
    const expected = await activities();
    assert.ok(expected.length > 0);
    const fromWorker = (run: typeof inline) =>
      Object.entries(run.stages.find((s) => s.name === 'activities')!.counts ?? {}).filter(([k]) => k.endsWith(': ActivityIds from the worker'));
    assert.deepEqual(fromWorker(inline), [], 'no worker, nothing to report');
    const ahead = await ws.refresh(undefined, { activityIdsInWorker: true });
    assert.equal(ahead.status, 'successful', ahead.error ?? '');
    assert.deepEqual(await activities(), expected);
    const counted = fromWorker(ahead);
    assert.ok(counted.length > 0 && counted.every(([, n]) => n > 0), `the run record says the ids came from the worker: ${JSON.stringify(counted)}`);
  });

  test('a cancelled refresh stops the enrichment worker with it', async () => {
    const generation = (await ws.store.getInstance('tiny'))!.currentGeneration;
    const controller = new AbortController();
    const run = await ws.refresh(controller.signal, {
      enrichInWorker: true,
      onStage: (s) => s.name === 'activities' && s.status === 'running' && controller.abort(),
    });
    assert.equal(run.status, 'cancelled');
    assert.equal(run.stages.find((s) => s.name === 'activities')!.status, 'cancelled');
    assert.equal(run.stages.find((s) => s.name === 'enrich')!.status, 'cancelled');
    assert.equal((await ws.store.getInstance('tiny'))!.currentGeneration, generation);
  });

  test('a failed refresh changes nothing that readers see', async () => {
    const before = await ws.customers();
    const generation = (await ws.store.getInstance('tiny'))!.currentGeneration;
    const original = readFileSync(ws.file('contacts.csv'), 'utf8');
    writeFileSync(ws.file('contacts.csv'), original.replace('ContactId,FullName', 'Id,FullName'));
    const run = await ws.refresh();
    assert.equal(run.status, 'failed');
    assert.match(run.error!, /Shop\.Contacts: .*contacts\.csv has no column 'ContactId'/);
    assert.equal(run.stages.find((s) => s.name === 'pull')!.status, 'failed');
    assert.equal(run.stages.find((s) => s.name === 'write')!.status, 'skipped');
    assert.equal((await ws.store.getInstance('tiny'))!.currentGeneration, generation);
    assert.deepEqual(await ws.customers(), before);
    writeFileSync(ws.file('contacts.csv'), original);
  });

  test('a cancelled refresh changes nothing and is recorded as cancelled', async () => {
    const generation = (await ws.store.getInstance('tiny'))!.currentGeneration;
    const controller = new AbortController();
    controller.abort();
    const run = await ws.refresh(controller.signal);
    assert.equal(run.status, 'cancelled');
    const stored = await ws.store.getRun('tiny', run.jobId);
    assert.equal(stored!.status, 'cancelled');
    assert.equal((await ws.store.getInstance('tiny'))!.currentGeneration, generation);
  });

  test('bad values are reported with file and line, and the run still succeeds', async () => {
    ws.append('purchases.csv', 'P5,C1,not-a-date,Spoon,abc\n');
    const run = await ws.refresh();
    assert.equal(run.status, 'successful');
    const normalize = run.stages.find((s) => s.name === 'normalize')!;
    const bad = normalize.issues.find((i) => i.message.includes('Shop.Purchases.Total'))!;
    assert.match(bad.samples[0], /purchases\.csv:6: 'abc' is not a number/);
    const activities = run.stages.find((s) => s.name === 'activities')!;
    assert.ok(activities.issues.some((i) => i.message.includes('without a valid PurchasedOn') && i.samples[0].includes('purchases.csv:6')));
  });
});

describe('refresh runner', () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let store: Store;
  before(async () => {
    ws = await workspace();
    store = ws.store;
    await ws.apply();
  });
  after(() => ws.close());

  test('never runs two refreshes of one instance at once', async () => {
    const runner = new RefreshRunner({ store });
    const first = await runner.start('tiny', 'manual');
    const second = await runner.start('tiny', 'manual');
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.run.jobId, first.run.jobId);
    assert.equal((await first.done).status, 'successful');
    const third = await runner.start('tiny', 'manual');
    assert.equal(third.created, true, 'a new run may start once the first has ended');
    await third.done;
    await runner.close();
  });

  test('starts runs from the cron schedule, and stops when the schedule is removed', async () => {
    const runner = new RefreshRunner({ store });
    const before = (await store.listRuns('tiny', 100)).length;
    runner.schedule('tiny', '* * * * * *'); // every second
    assert.ok(runner.nextScheduled('tiny'));
    let scheduled = [] as Awaited<ReturnType<Store['listRuns']>>;
    for (let i = 0; i < 40 && !scheduled.some((r) => r.status === 'successful'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      scheduled = (await store.listRuns('tiny', 100)).filter((r) => r.trigger === 'schedule');
    }
    runner.schedule('tiny', undefined);
    assert.equal(runner.nextScheduled('tiny'), null);
    assert.ok(scheduled.some((r) => r.status === 'successful'), 'a scheduled run completed');
    await runner.close();
    const count = (await store.listRuns('tiny', 100)).length;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await store.listRuns('tiny', 100)).length, count, 'no run starts after the schedule is removed');
    assert.ok(count > before);
  });

  test('runs in a process of its own with the same result, and records a cancelled run there', async () => {
    const runner = new RefreshRunner({ store, execute: processExecutor(store, ws.workerStore) });
    const before = await ws.customers();
    const { done } = await runner.start('tiny', 'manual');
    const run = await done;
    assert.equal(run.status, 'successful', run.error ?? '');
    assert.deepEqual(await ws.customers(), before, 'same data, same ids');
    const second = await runner.start('tiny', 'manual');
    runner.cancel(second.run.jobId);
    const cancelled = await second.done;
    assert.equal(cancelled.status, 'cancelled');
    assert.equal((await store.getRun('tiny', second.run.jobId))!.status, 'cancelled');
    await runner.close();
  });

  test('a refresh process that cannot open the store fails its run, saying why', async () => {
    const runner = new RefreshRunner({ store, execute: processExecutor(store, { kind: 'sqlite', file: '/dev/null/kindred.db' }) });
    const run = await (await runner.start('tiny', 'manual')).done;
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /^refresh process failed: the store could not be opened: .*\/dev\/null/);
    assert.equal((await store.getRun('tiny', run.jobId))!.status, 'failed');
    await runner.close();
  });

  test('cancel stops a running job', async () => {
    const runner = new RefreshRunner({ store });
    const { run, done } = await runner.start('tiny', 'manual');
    assert.equal(runner.cancel(run.jobId), true);
    const ended = await done;
    assert.equal(ended.status, 'cancelled');
    assert.equal(runner.cancel(run.jobId), false, 'an ended job cannot be cancelled');
    await runner.close();
  });
});
