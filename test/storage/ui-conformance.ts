// Conformance suite of the telemetry, search and card sub-ports: every adapter must pass it.
// It talks only through the Store port and its sub-ports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceDefinition } from '../../src/config/schema.js';
import type { ActivityRecord, CustomerRecord } from '../../src/domain/profile.js';
import { newStages } from '../../src/domain/run.js';
import { foldText, nameTerms, phoneCandidates } from '../../src/domain/search-terms.js';
import type { Store } from '../../src/storage/store.js';
import type { TelemetryMinute } from '../../src/storage/telemetry.js';

/** What the suite uses: the core Store with the full generation writer and these three sub-ports. */

export interface OpenedUiStore {
  store: Store;
  cleanup: () => Promise<void>;
}

const DEFINITION = {
  id: 'shop',
  dataSources: [{ name: 'Shop', type: 'csv', entities: [{ name: 'Contacts', path: 'c.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
  unification: { matching: [{ entity: 'Shop.Contacts' }] },
} as InstanceDefinition;

const minute = (over: Partial<TelemetryMinute>): TelemetryMinute => ({
  instanceId: 'shop',
  minute: 1000,
  method: 'PATCH',
  entity: 'Customer',
  caller: 'crm',
  status: 204,
  errorCode: '',
  requests: 1,
  bytesIn: 10,
  bytesOut: 0,
  latency: [[5, 1]],
  ...over,
});

function activity(id: string, customerId: string, time: string, type: string): ActivityRecord {
  return {
    ActivityId: id,
    CustomerId: customerId,
    ActivityTime: time,
    ActivityType: type,
    ActivityTypeDisplay: type,
    SourceEntityName: 'Orders',
    SourceActivityId: id,
    DataSourceName: 'Shop',
    Title: null,
    Description: null,
    Url: null,
    Icon: null,
    ShowInTimeline: true,
    Origin: 'batch',
  };
}

export function uiSubportConformance(name: string, open: () => Promise<OpenedUiStore>): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const opened = await open();
    try {
      await opened.store.putInstance({ id: 'shop', name: 'Shop', definition: DEFINITION, sourceFile: 'x.yaml', baseDir: '/' });
      await fn(opened.store);
    } finally {
      await opened.cleanup();
    }
  };

  /** Commits one generation with these customers and activities, search terms and field sources. */
  async function commit(store: Store, customers: CustomerRecord[], activities: ActivityRecord[], sources?: string[]): Promise<void> {
    const { run } = await store.createRun('shop', 'cli');
    const w = await store.beginGeneration('shop', run.jobId);
    await w.setFieldSourceLegend({
      fields: [
        { name: 'FullName', from: [{ dataSource: 'Shop', entity: 'Contacts', column: 'Name' }, { dataSource: 'Web', entity: 'Users', column: 'Display' }] },
        { name: 'Email', from: [{ dataSource: 'Shop', entity: 'Contacts', column: 'Mail' }] },
      ],
    });
    await w.writeCustomers(customers, undefined, sources);
    await w.writeAlternateKeys(customers.map((c) => ({ DataSourceName: 'Shop', EntityName: 'Contacts', AlternateValue: `K-${c.CustomerId}`, CustomerId: c.CustomerId })));
    await w.writeActivities(activities);
    await w.buildSearchTerms({ nameFields: ['FullName'], emailFields: ['Email'], phoneFields: ['Phone'], phoneRegion: 'US' });
    await w.commit({ stages: newStages(), summary: {}, endedAt: new Date().toISOString() });
  }

  describe(`${name}: telemetry, search and card sub-ports`, () => {
    it(
      'adds telemetry minutes with the same key together and reads a range',
      withStore(async (store) => {
        await store.telemetry.addMinutes([minute({}), minute({ minute: 1001 }), minute({ caller: 'shop' })]);
        await store.telemetry.addMinutes([minute({ requests: 3, bytesIn: 5, latency: [[5, 2], [9, 1]] })]);
        const rows = await store.telemetry.readMinutes('shop', 1000, 1001);
        assert.equal(rows.length, 2);
        const crm = rows.find((r) => r.caller === 'crm')!;
        assert.equal(crm.requests, 4);
        assert.equal(crm.bytesIn, 15);
        assert.deepEqual(crm.latency, [[5, 3], [9, 1]]);
        assert.deepEqual(await store.telemetry.readMinutes('other', 0, 9999), []);
        assert.equal(await store.telemetry.purgeBefore(1001), 2);
        assert.deepEqual((await store.telemetry.readMinutes('shop', 0, 9999)).map((r) => r.minute), [1001]);
      }),
    );

    it(
      'counts refresh runs by status',
      withStore(async (store) => {
        await commit(store, [{ CustomerId: 'c1', FullName: 'A' }], []);
        const stats = await store.telemetry.runStats();
        assert.deepEqual(
          stats.map((s) => [s.instanceId, s.status, s.count]),
          [['shop', 'successful', 1]],
        );
      }),
    );

    it(
      'finds customers by name prefix, email, phone and key in the current generation only',
      withStore(async (store) => {
        await commit(
          store,
          [
            { CustomerId: 'c1', FullName: 'Zoë Ångström', Email: 'Zoe@Example.com', Phone: '(415) 555-0100' },
            { CustomerId: 'c2', FullName: 'Zoe Adams', Email: null, Phone: null },
            { CustomerId: 'c3', FullName: null, Email: 'x@y.z', Phone: '+44 20 7946 0958' },
          ],
          [],
        );
        const ids = async (q: Parameters<Store['search']['find']>[1], top = 10) => (await store.search.find('shop', q, top)).map((h) => `${h.matchedOn}:${h.customerId}`);
        assert.deepEqual(await ids({ namePrefix: foldText('ZOE') }), ['name:c2', 'name:c1']);
        assert.deepEqual(await ids({ namePrefix: foldText('angst') }), ['name:c1']);
        assert.deepEqual(await ids({ namePrefix: 'zoe' }, 1), ['name:c2']);
        assert.deepEqual(await ids({ email: 'zoe@example.com' }), ['email:c1']);
        assert.deepEqual(await ids({ phones: phoneCandidates('415.555.0100', 'US').digits }), ['phone:c1']);
        assert.deepEqual(await ids({ phones: phoneCandidates('020 7946 0958', 'GB').digits }), ['phone:c3']);
        assert.deepEqual(await ids({ key: { value: 'K-c3', entities: [{ dataSource: 'Shop', entity: 'Contacts' }] } }), ['key:c3']);
        assert.deepEqual(await ids({ key: { value: 'K-c3', entities: [{ dataSource: 'Shop', entity: 'Contacts' }] }, namePrefix: 'zoe' }), ['key:c3', 'name:c2', 'name:c1']);
        // Every term of nameTerms() finds its customer, however the name is written.
        const names = ['Karen White', "O'Brien-Smith, Mary Ann", '  JOSÉ   da  Silva ', 'Åsa Öberg', 'Łukasz Wiśniewski', 'Ng', 'A B C D E F'];
        await commit(store, names.map((n, i) => ({ CustomerId: `n${i}`, FullName: n })), []);
        for (const [i, n] of names.entries()) {
          for (const term of nameTerms(n)) {
            const found = await ids({ namePrefix: term }, 100);
            assert.ok(found.includes(`name:n${i}`), `'${term}' finds '${n}': ${found}`);
          }
        }
        assert.deepEqual(await ids({ namePrefix: 'e f' }), [], 'terms start at the first 4 words only');
        // A new generation replaces the terms.
        await commit(store, [{ CustomerId: 'c9', FullName: 'Zoe New' }], []);
        assert.deepEqual(await ids({ namePrefix: 'zoe' }), ['name:c9']);
        assert.deepEqual(await ids({ email: 'zoe@example.com' }), []);
      }),
    );

    it(
      'keeps field sources with the legend, and reads the timeline filtered and paged',
      withStore(async (store) => {
        await commit(
          store,
          [{ CustomerId: 'c1', FullName: 'A', Email: null }, { CustomerId: 'c2', FullName: 'B' }],
          [
            activity('a1', 'c1', '2025-01-01T00:00:00.000Z', 'Purchase'),
            activity('a2', 'c1', '2025-02-01T00:00:00.000Z', 'Review'),
            activity('a3', 'c1', '2025-03-01T00:00:00.000Z', 'Purchase'),
            activity('b1', 'c2', '2025-03-01T00:00:00.000Z', 'Purchase'),
          ],
          ['1-', '0-'],
        );
        const fs = await store.card.fieldSources('shop', 'c1');
        assert.equal(fs?.encoded, '1-');
        assert.equal(fs?.legend.fields[0].from[1].entity, 'Users');
        assert.equal(await store.card.fieldSources('shop', 'nobody'), null);
        const now = new Date().toISOString();
        const t = async (q: Partial<Parameters<Store['card']['timeline']>[2]>) =>
          (await store.card.timeline('shop', 'c1', { top: 10, skip: 0, ...q }, now)).map((a) => a.ActivityId);
        assert.deepEqual(await t({}), ['a3', 'a2', 'a1']);
        assert.deepEqual(await t({ top: 1, skip: 1 }), ['a2']);
        assert.deepEqual(await t({ types: ['Purchase'] }), ['a3', 'a1']);
        assert.deepEqual(await t({ from: '2025-02-01T00:00:00.000Z', to: '2025-03-01T00:00:00.000Z' }), ['a2']);
        assert.deepEqual(await store.card.activityTypes('shop', 'c1', now), ['Purchase', 'Review']);
      }),
    );
  });
}
