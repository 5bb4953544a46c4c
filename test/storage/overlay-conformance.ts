// The real-time overlay part of the Store port, for every adapter: real-time writes, reads through
// the overlay (getProfile, getActivity, activitiesOf, queryEntity with OData filters), what a
// refresh commit does to real-time data (carryOverlay) and expiry. Port calls only, no SQL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceDefinition } from '../../src/config/schema.js';
import { parseFilter } from '../../src/api/odata/filter.js';
import { parseOrderBy } from '../../src/api/odata/options.js';
import type { AttributeType } from '../../src/api/odata/sql.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord, FieldValue } from '../../src/domain/profile.js';
import { type RealtimeWrite } from '../../src/domain/realtime.js';
import { newStages } from '../../src/domain/run.js';
import type { GenerationWriter, Store } from '../../src/storage/store.js';
import type { OpenedStore } from './conformance.js';

const TIMEOUT = { timeout: 20_000 };
const NOW = '2026-01-10T00:00:00.000Z';
const LATER = '2026-01-20T00:00:00.000Z';
const UNTIL = '2026-01-15T00:00:00.000Z';

const DEFINITION = {
  id: 'shop',
  dataSources: [{ name: 'Shop', type: 'csv', entities: [{ name: 'Contacts', path: 'c.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'Shop.Contacts' }] },
} as InstanceDefinition;

const CUSTOMER_ATTRIBUTES: Record<string, AttributeType> = {
  CustomerId: 'string',
  FullName: 'string',
  City: 'string',
  Points: 'number',
  Vip: 'boolean',
  Birth: 'datetime',
};
const ACTIVITY_ATTRIBUTES: Record<string, AttributeType> = { ActivityId: 'string', CustomerId: 'string', ActivityTime: 'datetime', Title: 'string' };

function customer(id: string, extra: Partial<CustomerRecord> = {}): CustomerRecord {
  return { CustomerId: id, PreviousCustomerId: null, FullName: `Name of ${id}`, ...extra };
}

const key = (customerId: string, value: string): AlternateKeyRecord => ({ DataSourceName: 'Shop', EntityName: 'Contacts', AlternateValue: value, CustomerId: customerId });

function activity(id: string, customerId: string, time: string, origin: 'batch' | 'realtime' = 'batch'): ActivityRecord {
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
    Icon: null,
    ShowInTimeline: true,
    Origin: origin,
    ...(origin === 'realtime' ? { ValidUntil: UNTIL } : {}),
  };
}

function profileWrite(customerId: string, changes: Record<string, FieldValue>, setAt = NOW, validUntil = UNTIL): RealtimeWrite {
  return { kind: 'profile', instanceId: 'shop', customerId, changes, caller: 'tester', setAt, validUntil };
}

function activityWrite(a: ActivityRecord, createdAt = NOW, sourceCustomer?: { dataSource: string; entity: string; key: string }): RealtimeWrite {
  return { kind: 'activity', instanceId: 'shop', activity: a, caller: 'tester', createdAt, ...(sourceCustomer ? { sourceCustomer } : {}) };
}

export function overlayConformance(name: string, open: () => Promise<OpenedStore<Store>>): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const opened = await open();
    try {
      await opened.store.putInstance({ id: 'shop', name: 'Shop', definition: DEFINITION, sourceFile: '/shop.yaml', baseDir: '/' });
      await fn(opened.store);
    } finally {
      await opened.cleanup();
    }
  };

  async function refresh(store: Store, fill: (w: GenerationWriter) => Promise<void>, remap?: [string, string][]): Promise<void> {
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await fill(w);
    await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString(), remap });
  }

  const customers = (store: Store, filter?: string, orderby = '', extra: { top?: number; skip?: number; count?: boolean } = {}) =>
    store.queryEntity(
      'shop',
      'Customer',
      { attributes: CUSTOMER_ATTRIBUTES, filter: filter ? parseFilter(filter) : undefined, orderby: orderby ? parseOrderBy(orderby) : [], top: extra.top ?? 100, skip: extra.skip ?? 0, count: extra.count ?? false },
      NOW,
    );
  const ids = async (store: Store, filter?: string, orderby = '') => (await customers(store, filter, orderby)).rows.map((r) => r.CustomerId);

  describe(`Store overlay conformance: ${name}`, () => {
    it('profile writes: stored as overrides, applied by queryEntity until they expire, unknown customers refused', TIMEOUT, withStore(async (store) => {
      await refresh(store, (w) => w.writeCustomers([customer('c1', { City: 'Oslo' }), customer('c2', { City: 'Bergen' })], ['2026-01-01T00:00:00.000Z', null]));
      const results = await store.applyRealtime([
        profileWrite('c1', { City: 'Paris', Points: 7, FullName: null }),
        profileWrite('nobody', { City: 'X' }),
        profileWrite('c2', { Vip: true }, NOW, '2026-01-09T00:00:00.000Z'),
      ]);
      assert.deepEqual(results, [
        { status: 'updated', customerId: 'c1', validUntil: UNTIL },
        { status: 'customerNotFound', customerId: 'nobody' },
        { status: 'updated', customerId: 'c2', validUntil: '2026-01-09T00:00:00.000Z' },
      ]);
      const view = await store.getProfile('shop', 'c1');
      assert.deepEqual(view?.customer, customer('c1', { City: 'Oslo' }), 'the batch record is unchanged');
      assert.equal(view?.sourceModified, '2026-01-01T00:00:00.000Z');
      assert.deepEqual(
        view?.overrides.map((o) => [o.attribute, o.value, o.caller, o.setAt, o.validUntil]),
        [
          ['City', 'Paris', 'tester', NOW, UNTIL],
          ['FullName', null, 'tester', NOW, UNTIL],
          ['Points', 7, 'tester', NOW, UNTIL],
        ],
      );
      assert.equal(await store.getProfile('shop', 'nobody'), undefined);

      const { rows, count } = await customers(store, undefined, '', { count: true });
      assert.equal(count, 2);
      assert.deepEqual(rows, [
        { CustomerId: 'c1', FullName: null, City: 'Paris', Points: 7, Vip: null, Birth: null },
        // c2's override expired before NOW: the batch value counts.
        { CustomerId: 'c2', FullName: 'Name of c2', City: 'Bergen', Points: null, Vip: null, Birth: null },
      ]);
      assert.deepEqual(await ids(store, "City eq 'Paris'"), ['c1']);
      assert.deepEqual(await ids(store, "City eq 'Oslo'"), []);
      assert.deepEqual(await ids(store, 'FullName eq null'), ['c1']);
      assert.deepEqual(await ids(store, 'Vip eq true'), []);

      // A later write replaces the attribute's override.
      await store.applyRealtime([profileWrite('c1', { City: 'Rome' }, '2026-01-10T01:00:00.000Z')]);
      assert.deepEqual(await ids(store, "City eq 'Rome'"), ['c1']);
      assert.equal((await store.getProfile('shop', 'c1'))?.overrides.length, 3);

      assert.deepEqual(await store.sweepExpired(NOW), { overrides: 1, activities: 0 });
      assert.deepEqual(await store.sweepExpired(LATER), { overrides: 3, activities: 0 });
      assert.deepEqual((await store.getProfile('shop', 'c1'))?.overrides, []);
    }));

    it('queryEntity compiles filters with the same semantics on every adapter', TIMEOUT, withStore(async (store) => {
      await refresh(store, (w) =>
        w.writeCustomers([
          customer('c1', { FullName: 'Ada Lovelace', City: 'London', Points: 10, Vip: true, Birth: '1815-12-10T00:00:00.000Z' }),
          customer('c2', { FullName: 'ÉMILE Zola', City: 'Paris', Points: 2.5, Vip: false, Birth: '1840-04-02T00:00:00.000Z' }),
          customer('c3', { FullName: 'alan 100%_done', City: null, Points: -3 }),
          customer('c4', { FullName: 'Zed', City: 'london', Points: 100 }),
        ]),
      );
      assert.deepEqual(await ids(store, 'Points gt 5'), ['c1', 'c4'], 'numbers compare numerically, not as text');
      assert.deepEqual(await ids(store, 'Points le 2.5'), ['c2', 'c3']);
      assert.deepEqual(await ids(store, 'Vip eq true'), ['c1']);
      assert.deepEqual(await ids(store, 'Vip ne true'), ['c2', 'c3', 'c4'], 'ne includes nulls');
      assert.deepEqual(await ids(store, 'not (Vip eq true)'), ['c2', 'c3', 'c4']);
      assert.deepEqual(await ids(store, "City eq 'London'"), ['c1'], 'eq is case-sensitive');
      assert.deepEqual(await ids(store, "City ne 'London'"), ['c2', 'c3', 'c4']);
      assert.deepEqual(await ids(store, 'City eq null'), ['c3']);
      assert.deepEqual(await ids(store, "City in ('Paris', null)"), ['c2', 'c3']);
      assert.deepEqual(await ids(store, "contains(City, 'LOND')"), ['c1', 'c4'], 'contains folds ASCII letters');
      assert.deepEqual(await ids(store, "startswith(FullName, 'émile')"), [], 'only ASCII letters fold');
      assert.deepEqual(await ids(store, "startswith(FullName, 'ÉMILE')"), ['c2']);
      assert.deepEqual(await ids(store, "contains(FullName, '%_')"), ['c3'], 'wildcards match literally');
      assert.deepEqual(await ids(store, "contains(FullName, '0_')"), []);
      assert.deepEqual(await ids(store, "tolower(FullName) eq 'Émile zola'"), ['c2'], 'tolower lowers ASCII letters only');
      assert.deepEqual(await ids(store, "City gt 'London'"), ['c2', 'c4'], 'strings compare by code point (lowercase after uppercase)');
      assert.deepEqual(await ids(store, 'Birth lt 1830-01-01T00:00:00Z'), ['c1']);
      assert.deepEqual(await ids(store, "Birth ge '1840-04-02T00:00:00Z'"), ['c2']);
      assert.deepEqual(await ids(store, "CustomerId in ('c2', 'c4') or Points lt 0"), ['c2', 'c3', 'c4']);

      assert.deepEqual(await ids(store, undefined, 'City'), ['c3', 'c1', 'c2', 'c4'], 'nulls first ascending, code point order');
      assert.deepEqual(await ids(store, undefined, 'City desc'), ['c4', 'c2', 'c1', 'c3'], 'nulls last descending');
      assert.deepEqual(await ids(store, undefined, 'Points desc'), ['c4', 'c1', 'c2', 'c3']);
      assert.deepEqual(await ids(store, undefined, 'Vip desc,FullName'), ['c1', 'c2', 'c4', 'c3'], "'Zed' before 'alan': code point order");
      const page = await customers(store, 'Points gt 0', 'Points', { top: 2, skip: 1, count: true });
      assert.deepEqual(page.rows.map((r) => r.CustomerId), ['c1', 'c4']);
      assert.equal(page.count, 3);

      const keys = await store.queryEntity(
        'shop',
        'AlternateKey',
        { attributes: { DataSourceName: 'string', EntityName: 'string', AlternateValue: 'string', CustomerId: 'string' }, orderby: [], top: 10, skip: 0, count: true },
        NOW,
      );
      assert.deepEqual(keys, { rows: [], count: 0 });
    }));

    it('a filter index (filterIndex) changes no answer: overrides, expiry, null, ordering, paging and counts as without it', TIMEOUT, withStore(async (store) => {
      const cities = ['Oslo', 'Bergen', null, 'Oslo', 'Trondheim', 'Oslo', "O'Hare"];
      const rows = Array.from({ length: 40 }, (_, i) =>
        customer(`c${String(i).padStart(2, '0')}`, { City: cities[i % cities.length], Points: i % 9, FullName: i % 5 === 0 ? null : `Name ${i % 4}` }),
      );
      const fill = async (w: GenerationWriter, index: boolean) => {
        await w.writeCustomers(rows);
        if (index) {
          const attributes = [{ name: 'City', type: 'string' }, { name: 'Points', type: 'number' }, { name: 'FullName', type: 'string' }] as const;
          assert.equal(await w.indexCustomerAttributes(attributes), 3);
        }
      };
      await refresh(store, (w) => fill(w, false));
      await store.applyRealtime([
        profileWrite('c00', { City: 'Paris' }), // moves out of Oslo
        profileWrite('c01', { City: 'Oslo' }), // moves into Oslo
        profileWrite('c03', { Points: 99 }), // stays in Oslo, another attribute changes
        profileWrite('c05', { City: null }), // Oslo to no city
        profileWrite('c07', { City: 'Oslo' }, NOW, '2026-01-09T00:00:00.000Z'), // expired: stays in its batch city
        profileWrite('c10', { FullName: 'Oslo Person', City: 'Bergen' }),
      ]);
      const queries: [filter: string, orderby: string, extra: { top?: number; skip?: number; count?: boolean }][] = [
        ["City eq 'Oslo'", '', { count: true }],
        ["City eq 'Oslo'", 'Points desc', {}],
        ["City eq 'Oslo'", '', { top: 3, skip: 2, count: true }],
        ["City eq 'Oslo' and Points gt 3", '', {}],
        ["City in ('Oslo', 'Bergen')", 'Points desc,FullName', { count: true }],
        ["City ne 'Oslo'", '', { count: true }],
        ["not (City eq 'Oslo')", '', {}],
        ['City eq null', '', { count: true }],
        ["startswith(City, 'O')", '', {}],
        ["City eq 'O''Hare'", '', {}],
        ["City eq 'Oslo' or FullName eq 'Oslo Person'", '', {}],
        ['Points ge 7', 'City', { count: true }],
        ["FullName eq 'Name 1' and City eq 'Bergen'", '', {}],
        ["City eq 'Nowhere'", '', { count: true }],
      ];
      const answers = async () => Promise.all(queries.map(([f, o, extra]) => customers(store, f, o, extra)));
      const scanned = await answers();
      // The same customers, now with the index; the overrides are carried over to the new generation.
      await refresh(store, (w) => fill(w, true));
      const indexed = await answers();
      queries.forEach(([f, o, extra], i) => assert.deepEqual(indexed[i], scanned[i], `${f} ${o} ${JSON.stringify(extra)}`));
      // And both are right.
      const oslo = scanned[0];
      // Oslo in the batch: every i with i % 7 in (0, 3, 5); c00, c05 and c10 moved away, c01 moved in, c07's move expired.
      assert.deepEqual(oslo.rows.map((r) => r.CustomerId), ['c01', 'c03', 'c07', 'c12', 'c14', 'c17', 'c19', 'c21', 'c24', 'c26', 'c28', 'c31', 'c33', 'c35', 'c38']);
      assert.equal(oslo.count, 15);
      assert.equal(oslo.rows.find((r) => r.CustomerId === 'c03')?.Points, 99, 'rows come back with their overrides applied');
      assert.deepEqual(scanned[2].rows.map((r) => r.CustomerId), ['c07', 'c12', 'c14']);
      assert.ok(scanned[7].rows.some((r) => r.CustomerId === 'c05'), 'an override to null counts as null');
      assert.ok(!scanned[7].rows.some((r) => r.CustomerId === 'c07'));
      assert.deepEqual(scanned[7].rows.map((r) => r.CustomerId), ['c02', 'c05', 'c09', 'c16', 'c23', 'c30', 'c37']);
      assert.deepEqual(scanned[10].rows.map((r) => r.CustomerId).slice(0, 4), ['c01', 'c03', 'c07', 'c10']);
      assert.deepEqual(scanned[9].rows.map((r) => r.CustomerId), ['c06', 'c13', 'c20', 'c27', 'c34']);
    }));

    it('activities: created, replayed, conflicting, re-published after expiry; read through the overlay', TIMEOUT, withStore(async (store) => {
      await refresh(store, async (w) => {
        await w.writeCustomers([customer('c1'), customer('c2')]);
        await w.writeActivities([activity('b1', 'c1', '2026-01-05T00:00:00.000Z')]);
      });
      const r1 = activity('r1', 'c1', '2026-01-07T00:00:00.000Z', 'realtime');
      const r2 = { ...activity('r2', 'c1', '2026-01-03T00:00:00.000Z', 'realtime'), ValidUntil: '2026-01-11T00:00:00.000Z' };
      const results = await store.applyRealtime([
        activityWrite(r1),
        activityWrite(r2),
        activityWrite(r1),
        activityWrite({ ...r1, Title: 'Changed' }),
        activityWrite(activity('b1', 'c1', '2026-01-05T00:00:00.000Z')),
        activityWrite({ ...activity('b1', 'c1', '2026-01-05T00:00:00.000Z'), Title: 'Other' }),
        activityWrite(activity('r3', 'nobody', NOW, 'realtime')),
        // The same content with another expiry, keys in another order: still a replay.
        activityWrite(Object.fromEntries(Object.entries({ ...r1, ValidUntil: '2026-01-20T00:00:00.000Z' }).reverse()) as unknown as ActivityRecord),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['created', 'created', 'replayed', 'conflict', 'replayed', 'conflict', 'customerNotFound', 'replayed'],
      );
      assert.deepEqual(results[7], { status: 'replayed', activity: r1 }, 'the stored record comes back');
      assert.deepEqual(await store.getActivity('shop', 'r1', NOW), r1);
      assert.deepEqual(await store.getActivity('shop', 'b1', NOW), activity('b1', 'c1', '2026-01-05T00:00:00.000Z'));
      assert.equal(await store.getActivity('shop', 'r2', '2026-01-12T00:00:00.000Z'), undefined, 'expired');
      assert.deepEqual((await store.activitiesOf('shop', 'c1', {}, NOW)).map((a) => a.ActivityId), ['r1', 'b1', 'r2']);
      assert.deepEqual((await store.activitiesOf('shop', 'c1', { skip: 1, top: 1 }, NOW)).map((a) => a.ActivityId), ['b1']);
      assert.deepEqual((await store.activitiesOf('shop', 'c1', {}, '2026-01-12T00:00:00.000Z')).map((a) => a.ActivityId), ['r1', 'b1']);

      const query = (filter?: string, now = NOW) =>
        store.queryEntity('shop', 'UnifiedActivity', { attributes: ACTIVITY_ATTRIBUTES, filter: filter ? parseFilter(filter) : undefined, orderby: parseOrderBy('ActivityTime desc'), top: 10, skip: 0, count: true }, now);
      const all = await query();
      assert.deepEqual(all.rows.map((r) => r.ActivityId), ['r1', 'b1', 'r2']);
      assert.equal(all.count, 3);
      assert.deepEqual(all.rows[0], r1, 'whole records');
      assert.deepEqual((await query("startswith(Title, 'bought R')")).rows.map((r) => r.ActivityId), ['r1', 'r2']);
      assert.deepEqual((await query('ActivityTime gt 2026-01-04T00:00:00Z')).rows.map((r) => r.ActivityId), ['r1', 'b1']);
      assert.deepEqual((await query(undefined, '2026-01-12T00:00:00.000Z')).rows.map((r) => r.ActivityId), ['r1', 'b1']);

      // Re-posting an expired activity the sweeper has not purged yet publishes it anew.
      const again = { ...r2, Title: 'New content', ValidUntil: '2026-01-30T00:00:00.000Z' };
      assert.deepEqual((await store.applyRealtime([activityWrite(again, '2026-01-12T00:00:00.000Z')])).map((r) => r.status), ['created']);
      assert.deepEqual(await store.getActivity('shop', 'r2', '2026-01-12T00:00:00.000Z'), again);

      assert.deepEqual(await store.sweepExpired('2026-01-16T00:00:00.000Z'), { overrides: 0, activities: 1 });
      assert.equal(await store.getActivity('shop', 'r1', NOW), undefined, 'swept');
      assert.deepEqual(await store.getActivity('shop', 'r2', NOW), again);
    }));

    it('one group behaves as its writes applied one by one, in order', TIMEOUT, withStore(async (store) => {
      await refresh(store, async (w) => {
        await w.writeCustomers([customer('c1'), customer('c2'), customer('c3')]);
        await w.writeActivities([activity('b1', 'c1', '2026-01-05T00:00:00.000Z')]);
      });
      const r1 = activity('r1', 'c1', '2026-01-07T00:00:00.000Z', 'realtime');
      const r1Again = { ...r1, ValidUntil: '2026-01-14T00:00:00.000Z', Origin: 'realtime' as const };
      const r4 = activity('r4', 'c2', '2026-01-06T00:00:00.000Z', 'realtime');
      const short = { ...activity('r5', 'c3', '2026-01-06T00:00:00.000Z', 'realtime'), ValidUntil: '2026-01-10T06:00:00.000Z' };
      const after = { ...short, Title: 'Posted after expiry', ValidUntil: '2026-01-18T00:00:00.000Z' };
      const results = await store.applyRealtime([
        profileWrite('c1', { City: 'Paris', Points: 1 }, NOW),
        activityWrite(r1),
        activityWrite(activity('rx', 'nobody', NOW, 'realtime')),
        profileWrite('nobody', { City: 'Nowhere' }),
        activityWrite(r1Again),
        activityWrite({ ...r1, Title: 'Changed' }),
        profileWrite('c1', { City: 'Rome' }, '2026-01-10T01:00:00.000Z', LATER),
        activityWrite({ ...activity('b1', 'c1', '2026-01-05T00:00:00.000Z'), ValidUntil: UNTIL }),
        activityWrite({ ...activity('b1', 'c1', '2026-01-05T00:00:00.000Z'), Title: 'Other' }),
        profileWrite('c2', {}),
        activityWrite(r4),
        // The same ActivityId for a customer that does not exist, then for one that does.
        activityWrite(activity('r6', 'nobody', NOW, 'realtime')),
        activityWrite(activity('r6', 'c2', NOW, 'realtime')),
        // Created, then (later in the group) posted again after it expired: published anew; then replayed.
        activityWrite(short),
        activityWrite(after, '2026-01-10T07:00:00.000Z'),
        activityWrite(after, '2026-01-10T08:00:00.000Z'),
        activityWrite(short, '2026-01-10T08:00:00.000Z'),
      ]);
      assert.deepEqual(results, [
        { status: 'updated', customerId: 'c1', validUntil: UNTIL },
        { status: 'created', activity: r1 },
        { status: 'customerNotFound', customerId: 'nobody' },
        { status: 'customerNotFound', customerId: 'nobody' },
        { status: 'replayed', activity: r1 },
        { status: 'conflict', activityId: 'r1' },
        { status: 'updated', customerId: 'c1', validUntil: LATER },
        { status: 'replayed', activity: activity('b1', 'c1', '2026-01-05T00:00:00.000Z') },
        { status: 'conflict', activityId: 'b1' },
        { status: 'updated', customerId: 'c2', validUntil: UNTIL },
        { status: 'created', activity: r4 },
        { status: 'customerNotFound', customerId: 'nobody' },
        { status: 'created', activity: activity('r6', 'c2', NOW, 'realtime') },
        { status: 'created', activity: short },
        { status: 'created', activity: after },
        { status: 'replayed', activity: after },
        { status: 'conflict', activityId: 'r5' },
      ]);
      const view = await store.getProfile('shop', 'c1');
      assert.deepEqual(
        view?.overrides.map((o) => [o.attribute, o.value, o.setAt, o.validUntil]),
        [
          ['City', 'Rome', '2026-01-10T01:00:00.000Z', LATER],
          ['Points', 1, NOW, UNTIL],
        ],
        'the last write to an attribute wins',
      );
      assert.deepEqual((await store.getProfile('shop', 'c2'))?.overrides, []);
      assert.deepEqual(await store.getActivity('shop', 'r1', NOW), r1, 'the first posting is stored');
      assert.deepEqual(await store.getActivity('shop', 'r6', NOW), activity('r6', 'c2', NOW, 'realtime'));
      assert.deepEqual(await store.getActivity('shop', 'r5', '2026-01-10T09:00:00.000Z'), after, 'the posting after expiry replaced the expired one');
      assert.deepEqual((await store.activitiesOf('shop', 'c1', {}, NOW)).map((a) => a.ActivityId), ['r1', 'b1']);

      // The next group sees what this one stored: replays, a conflict, and the same customer twice.
      assert.deepEqual(
        await store.applyRealtime([
          activityWrite(r4),
          activityWrite({ ...r4, Title: 'Changed' }),
          activityWrite(after, '2026-01-11T00:00:00.000Z'),
          profileWrite('c1', { Points: 2 }),
          profileWrite('c1', { Points: 3, Vip: true }),
        ]),
        [
          { status: 'replayed', activity: r4 },
          { status: 'conflict', activityId: 'r4' },
          { status: 'replayed', activity: after },
          { status: 'updated', customerId: 'c1', validUntil: UNTIL },
          { status: 'updated', customerId: 'c1', validUntil: UNTIL },
        ],
      );
      assert.deepEqual((await store.getProfile('shop', 'c1'))?.overrides.map((o) => [o.attribute, o.value]), [['City', 'Rome'], ['Points', 3], ['Vip', true]]);
    }));

    it('a refresh commit carries the overlay: remaps, re-resolves, drops what the batch brings, yields to newer source data, forgets vanished profiles', TIMEOUT, withStore(async (store) => {
      await refresh(store, async (w) => {
        await w.writeCustomers(
          [customer('a'), customer('b'), customer('c'), customer('d'), customer('f'), customer('gone'), customer('h')],
          ['2026-01-01T00:00:00.000Z', null, '2026-01-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', null, '2026-01-01T00:00:00.000Z'],
        );
        await w.writeAlternateKeys(
          [key('a', 'ka'), key('b', 'kb'), key('c', 'kc1'), key('c', 'kc2'), key('d', 'kd'), key('f', 'kf1'), key('f', 'kf2'), key('h', 'kh')],
          ['2026-01-01T00:00:00.000Z', null, '2026-01-01T00:00:00.000Z', null, '2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'],
        );
      });
      const fromA = activity('ra', 'a', '2026-01-08T00:00:00.000Z', 'realtime');
      const viaKey = activity('rk', 'c', '2026-01-08T00:00:00.000Z', 'realtime');
      const brought = activity('rb', 'b', '2026-01-08T00:00:00.000Z', 'realtime');
      const ofGone = activity('rg', 'gone', '2026-01-08T00:00:00.000Z', 'realtime');
      await store.applyRealtime([
        profileWrite('a', { City: 'Old A', Points: 1 }, '2026-01-09T00:00:00.000Z'),
        profileWrite('b', { City: 'Newer B' }, '2026-01-09T12:00:00.000Z'),
        profileWrite('b', { Vip: true }, '2026-01-09T12:00:00.000Z'),
        profileWrite('c', { City: 'C' }, '2026-01-09T00:00:00.000Z'),
        profileWrite('d', { City: 'D' }, '2026-01-09T00:00:00.000Z'),
        profileWrite('f', { City: 'F' }, '2026-01-09T00:00:00.000Z'),
        profileWrite('h', { City: 'H' }, '2026-01-09T00:00:00.000Z'),
        profileWrite('gone', { City: 'G' }),
        activityWrite(fromA),
        activityWrite(viaKey, NOW, { dataSource: 'Shop', entity: 'Contacts', key: 'kc2' }),
        activityWrite(brought),
        activityWrite(ofGone),
      ]);
      // b absorbs a (a retired); kc2 moves from c to e (a split); the batch now has rb; 'gone' vanished;
      // c's source data is newer than its override; d's is unchanged (dated in the future); f's kf2
      // changed after the override, though f's newest time (kf1, unchanged, in the future) stays;
      // h's kh changed, but before the override was set.
      await refresh(
        store,
        async (w) => {
          await w.writeCustomers(
            [customer('b', { PreviousCustomerId: 'a' }), customer('c'), customer('d'), customer('e'), customer('f'), customer('h')],
            [null, '2026-01-09T06:00:00.000Z', '2026-03-01T00:00:00.000Z', null, '2026-03-01T00:00:00.000Z', '2026-01-05T00:00:00.000Z'],
          );
          await w.writeAlternateKeys(
            [key('b', 'ka'), key('b', 'kb'), key('c', 'kc1'), key('d', 'kd'), key('e', 'kc2'), key('f', 'kf1'), key('f', 'kf2'), key('h', 'kh')],
            ['2026-01-01T00:00:00.000Z', null, '2026-01-09T06:00:00.000Z', '2026-03-01T00:00:00.000Z', null, '2026-03-01T00:00:00.000Z', '2026-01-09T06:00:00.000Z', '2026-01-05T00:00:00.000Z'],
          );
          await w.writeActivities([activity('rb', 'b', '2026-01-08T00:00:00.000Z')]);
        },
        [['a', 'b']],
      );
      const overrides = async (id: string) => (await store.getProfile('shop', id))?.overrides.map((o) => [o.attribute, o.value]);
      assert.deepEqual(await overrides('b'), [['City', 'Newer B'], ['Points', 1], ['Vip', true]], "the newer override wins; a's other attributes follow it");
      assert.deepEqual(await overrides('c'), [], 'newer source data superseded the override');
      assert.deepEqual(await overrides('d'), [['City', 'D']], 'unchanged source data leaves it alone');
      assert.deepEqual(await overrides('f'), [], 'a changed record newer than the override ends it, whatever the newest record of the profile');
      assert.deepEqual(await overrides('h'), [['City', 'H']], 'a changed record older than the override leaves it alone');
      assert.equal(await store.getProfile('shop', 'gone'), undefined);
      // Another refresh with the same records: unchanged, the future-dated ones included.
      await refresh(store, async (w) => {
        await w.writeCustomers([customer('b'), customer('d'), customer('h')], [null, '2026-03-01T00:00:00.000Z', '2026-01-05T00:00:00.000Z']);
        await w.writeAlternateKeys([key('b', 'ka'), key('b', 'kb'), key('d', 'kd'), key('h', 'kh')], ['2026-01-01T00:00:00.000Z', null, '2026-03-01T00:00:00.000Z', '2026-01-05T00:00:00.000Z']);
      });
      assert.deepEqual(await overrides('d'), [['City', 'D']], 'still unchanged');
      assert.deepEqual(await store.sweepExpired(LATER), { overrides: 5, activities: 1 }, "the vanished profiles' data is gone (b: 3, d: 1, h: 1; ra)");
    }));

    it('moved real-time activities carry their new CustomerId and content hash', TIMEOUT, withStore(async (store) => {
      await refresh(store, async (w) => {
        await w.writeCustomers([customer('a'), customer('c')]);
        await w.writeAlternateKeys([key('a', 'ka'), key('c', 'kc')]);
      });
      const fromA = activity('ra', 'a', '2026-01-08T00:00:00.000Z', 'realtime');
      const viaKey = activity('rk', 'c', '2026-01-07T00:00:00.000Z', 'realtime');
      await store.applyRealtime([activityWrite(fromA), activityWrite(viaKey, NOW, { dataSource: 'Shop', entity: 'Contacts', key: 'kc' })]);
      await refresh(
        store,
        async (w) => {
          await w.writeCustomers([customer('b', { PreviousCustomerId: 'a' }), customer('e')]);
          await w.writeAlternateKeys([key('b', 'ka'), key('e', 'kc')]);
        },
        [['a', 'b']],
      );
      const movedA = { ...fromA, CustomerId: 'b' };
      const movedK = { ...viaKey, CustomerId: 'e' };
      assert.deepEqual(await store.getActivity('shop', 'ra', NOW), movedA);
      assert.deepEqual(await store.activitiesOf('shop', 'b', {}, NOW), [movedA]);
      assert.deepEqual(await store.activitiesOf('shop', 'e', {}, NOW), [movedK]);
      assert.deepEqual(await store.activitiesOf('shop', 'a', {}, NOW), []);
      // A re-post of the moved record is a replay; the record as first posted is now a conflict.
      assert.deepEqual(
        (await store.applyRealtime([activityWrite(movedA), activityWrite(fromA)])).map((r) => r.status),
        ['replayed', 'customerNotFound'],
      );
      assert.deepEqual((await store.applyRealtime([activityWrite({ ...fromA, CustomerId: 'e' })])).map((r) => r.status), ['conflict']);
    }));
  });
}
