// Real-time writes as `kindred serve` runs them (SQLite: the writer thread and reader threads), and
// what a caller gets when the store cannot commit: read-your-writes across threads, and a 503 that
// stored nothing. The failure is real: a trigger in the database refuses the insert.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testStoreKind } from '../storage/test-store.js';
import { customerOf, odataError, REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

/** A trigger that makes every insert into realtime_activities fail, as a broken disk would. */
async function refuseActivityInserts(ws: Workspace): Promise<() => Promise<void>> {
  if (ws.storeKind === 'postgres') {
    await ws.sql(
      `CREATE FUNCTION kindred_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
    );
    await ws.sql('CREATE TRIGGER kindred_test_refuse BEFORE INSERT ON realtime_activities FOR EACH ROW EXECUTE FUNCTION kindred_test_refuse()');
    return async () => {
      await ws.sql('DROP TRIGGER kindred_test_refuse ON realtime_activities');
      await ws.sql('DROP FUNCTION kindred_test_refuse()');
    };
  }
  await ws.sql(`CREATE TRIGGER kindred_test_refuse BEFORE INSERT ON realtime_activities BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
  return async () => {
    await ws.sql('DROP TRIGGER kindred_test_refuse');
  };
}

// PostgreSQL has no writer or reader threads: its pass runs the first variant only.
for (const asServed of testStoreKind() === 'postgres' ? [false] : [false, true]) {
  describe(asServed ? 'as served: writer thread and reader threads' : 'writes in the request thread', () => {
    let ws: Workspace;
    let carla: string;
    before(async () => {
      ws = await workspace({ definition: REALTIME_FIXTURE, asServed });
      await ws.refresh();
      carla = await customerOf(ws, 'Shop', 'Contacts', 'C4');
    });
    after(() => ws.close());

    test('every write is seen by the very next read: by id, by $filter and by its Location', async () => {
      for (let i = 0; i < 20; i++) {
        const city = `Thread City ${i}`;
        const patch = await ws.request('PATCH', ws.url(`/data/Customer/${encodeURIComponent(carla)}`), { body: { City: city } });
        assert.equal(patch.statusCode, 204, patch.body);
        const listed = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: `City eq '${city}'`, $select: 'CustomerId,City' } });
        assert.equal(listed.statusCode, 200, listed.body);
        assert.deepEqual(listed.json().value, [{ CustomerId: carla, City: city }]);

        const activityId = `thread-${asServed}-${i}`;
        const post = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
          body: { ActivityId: activityId, CustomerId: carla, ActivityTime: '2026-11-20T10:00:00Z', ActivityType: 'Call', Title: city },
        });
        assert.equal(post.statusCode, 201, post.body);
        const byLocation = await ws.request('GET', post.headers.location as string, { key: ws.keys.viewer });
        assert.equal(byLocation.statusCode, 200, byLocation.body);
        assert.deepEqual(byLocation.json(), post.json());
        const filtered = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: `ActivityId eq '${activityId}'` } });
        assert.equal(filtered.statusCode, 200, filtered.body);
        assert.deepEqual(
          filtered.json().value.map((a: { Title: string }) => a.Title),
          [city],
        );
      }
    });

    test('a commit that fails: 503 with Retry-After, nothing stored; the same request succeeds once the store works again', async () => {
      const body = { ActivityId: `refused-${asServed}`, CustomerId: carla, ActivityTime: '2026-11-21T10:00:00Z', ActivityType: 'Call' };
      const itemUrl = ws.url(`/data/UnifiedActivity/${body.ActivityId}`);
      const allow = await refuseActivityInserts(ws);
      let allowed = false;
      try {
        const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body });
        odataError(res, 503, { code: 'ServiceUnavailable', message: /could not commit/ });
        assert.ok(Number(res.headers['retry-after']) > 0, `Retry-After: ${res.headers['retry-after']}`);
        const batch = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: [{ ...body, ActivityId: `${body.ActivityId}-b` }] });
        odataError(batch, 503, { code: 'ServiceUnavailable', message: /could not commit/ });
        assert.equal((await ws.request('GET', itemUrl, { key: ws.keys.viewer })).statusCode, 404);
        // Profile updates do not touch that table: they still commit.
        const patch = await ws.request('PATCH', ws.url(`/data/Customer/${encodeURIComponent(carla)}`), { body: { City: 'Still Writable' } });
        assert.equal(patch.statusCode, 204, patch.body);
        await allow();
        allowed = true;
        const again = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body });
        assert.equal(again.statusCode, 201, again.body);
        assert.equal((await ws.request('GET', itemUrl, { key: ws.keys.viewer })).statusCode, 200);
      } finally {
        if (!allowed) await allow();
      }
    });
  });
}
