// A $batch answered with an error must have stored nothing. The write queue groups writes up to
// 2,000 at a time but never splits a request: a $batch of 5,000 is one transaction. A fault on its
// 4,501st item (injected here with a SQLite trigger on the real database, from a second connection)
// must not leave the first 4,500 stored behind a 503.
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, test } from 'node:test';
import { customerOf, REALTIME_FIXTURE, workspace, type Workspace } from '../api/helpers.js';

let ws: Workspace;
before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
});
after(() => ws.close());

test('a $batch answered with an error stored none of its items', async () => {
  const bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
  const items = Array.from({ length: 5000 }, (_, i) => ({ ActivityId: `atomic-${i}`, CustomerId: bob, ActivityTime: '2026-11-01T00:00:00Z', ActivityType: 'Call' }));
  const side = new Database(path.join(ws.dataDir, 'kindred.db'));
  side.exec(`CREATE TRIGGER poison BEFORE INSERT ON realtime_activities WHEN NEW.activity_id = 'atomic-4500' BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
  side.close();
  const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: items });
  const stored = (await Promise.all(
    [0, 1999, 2000, 3999, 4000, 4999].map(async (i) => [i, (await ws.request('GET', ws.url(`/data/UnifiedActivity/atomic-${i}`), { key: ws.keys.viewer })).statusCode] as const),
  )).filter(([, s]) => s === 200).map(([i]) => i);
  if (res.statusCode >= 400) assert.deepEqual(stored, [], `the $batch was answered ${res.statusCode} (${res.body.slice(0, 200)}) but these items are stored: ${stored.join(', ')}`);
  else {
    const body = res.json() as { value: { index: number; status: number }[] };
    for (const i of [0, 1999, 2000, 3999, 4000, 4999]) {
      const ok = body.value[i].status < 300;
      assert.equal(stored.includes(i), ok, `item ${i}: answered ${body.value[i].status}, ${stored.includes(i) ? '' : 'not '}stored`);
    }
  }
  // Without the fault the same $batch is stored whole.
  const fix = new Database(path.join(ws.dataDir, 'kindred.db'));
  fix.exec('DROP TRIGGER poison');
  fix.close();
  const again = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: items });
  assert.equal(again.statusCode, 200, again.body.slice(0, 300));
  assert.equal((again.json() as { succeeded: number }).succeeded, items.length);
  for (const i of [0, 2000, 4500, 4999]) assert.equal((await ws.request('GET', ws.url(`/data/UnifiedActivity/atomic-${i}`), { key: ws.keys.viewer })).statusCode, 200);
});
