// Notification webhooks: refresh succeeded and failed, segment size and business measure
// thresholds; signed, retried with backoff, and recorded (status, attempts, last error).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crossings } from '../../src/notify/notifier.js';
import { verifySignature } from '../../src/notify/signing.js';
import { odataError, REALTIME_FIXTURE, workspace, type Workspace } from '../api/helpers.js';
import { receiver, type Receiver } from '../exports/helpers.js';

const SECRET = 'hook-secret-5678';

describe('refresh notifications', () => {
  let ws: Workspace;
  let ops: Receiver;
  let down: Receiver;
  before(async () => {
    ops = await receiver();
    down = await receiver();
    ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
    ws.append(
      'instance.yaml',
      `
notifications:
  - name: ops
    url: ${ops.url}/hooks/kindred
    secret: ${SECRET}
    events: [refreshSucceeded, refreshFailed]
    retry: { attempts: 3, baseDelayMs: 10 }
  - name: onlyFailures
    url: ${down.url}/down
    secret: ${SECRET}
    events: [refreshFailed]
    retry: { attempts: 3, baseDelayMs: 10 }
`,
    );
    await ws.apply();
  });
  after(async () => {
    await ws?.close();
    await ops?.close();
    await down?.close();
  });

  test('refreshSucceeded is signed, retried after a 503 and recorded as delivered', async () => {
    ops.script = [503];
    const run = await ws.refresh();
    assert.equal(ops.received.length, 2, 'one failed attempt, one delivered');
    assert.equal(down.received.length, 0, 'a hook without the event gets nothing');
    const [, delivered] = ops.received;
    assert.equal(delivered.url, '/hooks/kindred');
    assert.equal(delivered.headers['x-kindred-event'], 'refreshSucceeded');
    assert.ok(verifySignature(SECRET, delivered.headers['x-kindred-timestamp'] as string, delivered.body, delivered.headers['x-kindred-signature'] as string));
    const body = delivered.json as { event: string; instanceId: string; run: Record<string, unknown>; deliveryId: string };
    assert.equal(body.event, 'refreshSucceeded');
    assert.equal(body.instanceId, ws.instanceId);
    assert.equal(body.run.jobId, run.jobId);
    assert.equal(body.run.status, 'successful');
    assert.equal((body.run.summary as Record<string, number>).profiles, run.summary.profiles);
    assert.equal(ops.received[0].json.deliveryId, body.deliveryId, 'a retry is the same delivery');

    const res = await ws.request('GET', ws.url('/manage/notifications/deliveries'), { key: ws.keys.admin });
    assert.equal(res.statusCode, 200, res.body);
    const [d] = res.json().deliveries;
    assert.deepEqual([d.notification, d.event, d.status, d.attempts, d.responseStatus, d.lastError], ['ops', 'refreshSucceeded', 'delivered', 2, 200, null]);
    odataError(await ws.request('GET', ws.url('/manage/notifications/deliveries'), { key: ws.keys.contributor }), 403);
    const hooks = await ws.request('GET', ws.url('/manage/notifications'), { key: ws.keys.admin });
    assert.deepEqual(hooks.json().notifications.map((n: { name: string }) => n.name), ['ops', 'onlyFailures']);
    assert.ok(!hooks.body.includes(SECRET), 'secrets are never shown');
  });

  test('refreshFailed goes to every hook that wants it; a receiver that keeps failing is recorded with its last error', async () => {
    ops.received.length = 0;
    down.script = [500, 500, 500];
    ws.write('contacts.csv', 'ContactId,FullName\n');
    const { done } = await ws.services.runner.start(ws.instanceId, 'manual');
    const run = await done;
    assert.equal(run.status, 'failed');
    assert.equal(ops.received.length, 1);
    const body = ops.received[0].json as { event: string; run: { status: string; error: string; failedStage: string } };
    assert.equal(body.event, 'refreshFailed');
    assert.equal(body.run.status, 'failed');
    assert.equal(body.run.error, run.error);
    assert.equal(body.run.failedStage, run.stages.find((s) => s.status === 'failed')?.name);
    assert.equal(down.received.length, 3, 'three attempts in all');

    const failed = (await ws.request('GET', ws.url('/manage/notifications/deliveries'), { key: ws.keys.admin, query: { notification: 'onlyFailures' } })).json()
      .deliveries;
    assert.equal(failed.length, 1);
    assert.deepEqual([failed[0].status, failed[0].attempts, failed[0].responseStatus], ['failed', 3, 500]);
    assert.match(failed[0].lastError, /HTTP 500/);
  });
});

test('threshold crossings: above when rising past it, below when falling past it, nothing otherwise', () => {
  assert.deepEqual(crossings({ above: 10 }, 10, 11), [{ direction: 'above', threshold: 10 }]);
  assert.deepEqual(crossings({ above: 10 }, 11, 12), []);
  assert.deepEqual(crossings({ above: 10 }, 12, 9), []);
  assert.deepEqual(crossings({ below: 5 }, 5, 4), [{ direction: 'below', threshold: 5 }]);
  assert.deepEqual(crossings({ below: 5, above: 8 }, 9, 3), [{ direction: 'below', threshold: 5 }]);
  assert.deepEqual(crossings({ below: 5, above: 8 }, 3, 9), [{ direction: 'above', threshold: 8 }]);
});

test("a segment's size crossing a threshold between refreshes sends segmentThreshold once", async () => {
  const hook = await receiver();
  const ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  try {
    ws.append(
      'instance.yaml',
      `
segments:
  - name: Gold
    rules:
      - conditions:
          - { field: Tier, operator: eq, value: Gold }
notifications:
  - name: growth
    url: ${hook.url}/growth
    secret: ${SECRET}
    events: [segmentThreshold]
    thresholds:
      - { segment: Gold, above: 1 }
    retry: { attempts: 2, baseDelayMs: 10 }
`,
    );
    await ws.apply();
    await ws.refresh(); // Gold: 1 member (Bob); the first refresh only records the size
    assert.equal(hook.received.length, 0);
    ws.replace('loyalty.csv', 'L2,Dan Eve,dan@example.com,,Silver', 'L2,Dan Eve,dan@example.com,,Gold');
    await ws.refresh(); // Gold: 2 members, crossing 1 upwards
    assert.equal(hook.received.length, 1);
    const body = hook.received[0].json as { event: string; segment: string; crossing: Record<string, unknown> };
    assert.equal(body.event, 'segmentThreshold');
    assert.equal(body.segment, 'Gold');
    assert.deepEqual(body.crossing, { kind: 'segment', name: 'Gold', direction: 'above', threshold: 1, previous: 1, value: 2 });
    await ws.refresh(); // still 2: no new crossing
    assert.equal(hook.received.length, 1);
  } finally {
    await ws.close();
    await hook.close();
  }
});

test('a business measure falling below a threshold sends measureThreshold', async () => {
  const hook = await receiver();
  const ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  try {
    ws.append(
      'instance.yaml',
      `
measures:
  - name: Revenue
    kind: business
    aggregation: sum
    source: { entity: Shop.Purchases }
    field: Total
notifications:
  - name: revenue
    url: ${hook.url}/revenue
    secret: ${SECRET}
    events: [measureThreshold]
    thresholds:
      - { measure: Revenue, below: 50 }
    retry: { attempts: 2, baseDelayMs: 10 }
`,
    );
    await ws.apply();
    await ws.refresh(); // the first refresh only records the value
    assert.equal(hook.received.length, 0);
    const [history] = await ws.services.store.analytics.measureHistory(ws.instanceId, 'Revenue', 1);
    const first = Number(history.value);
    assert.ok(first >= 50, `revenue starts at or above 50 (${first})`);
    ws.replace('purchases.csv', 'P4,C3,2026-01-13,Kettle,45\n', '');
    await ws.refresh();
    assert.equal(hook.received.length, 1);
    const body = hook.received[0].json as { event: string; measure: string; crossing: { direction: string; previous: number; value: number } };
    assert.equal(body.event, 'measureThreshold');
    assert.equal(body.measure, 'Revenue');
    assert.equal(body.crossing.direction, 'below');
    assert.equal(body.crossing.previous, first);
    assert.ok(body.crossing.value < 50);
  } finally {
    await ws.close();
    await hook.close();
  }
});
