// Stream consumers against the real NATS JetStream at 127.0.0.1:4222 (skipped with a reason when
// it does not answer): messages become activities, redeliveries are not stored twice, bad
// messages are rejects with reasons, lag reads zero once everything is processed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { customerOf, sleep, workspace, type Workspace } from '../api/helpers.js';
import { CONNECT_FIXTURE } from './helpers.js';
import { renderMetrics } from '../../src/api/routes/metrics.js';

const NATS = process.env.KINDRED_TEST_NATS_URL ?? '127.0.0.1:4222';

async function natsOrSkip(): Promise<NatsConnection | string> {
  try {
    return await connect({ servers: NATS, timeout: 2000, maxReconnectAttempts: 0 });
  } catch (err) {
    return `NATS does not answer at ${NATS}: ${(err as Error).message}`;
  }
}

const nc = await natsOrSkip();
const skip = typeof nc === 'string' ? nc : false;
if (skip) console.log(`# skipping stream consumer tests: ${skip}`);

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) assert.fail(`${what}: still ${JSON.stringify(v).slice(0, 800)}`);
    await sleep(50);
  }
}

describe('stream consumers', { skip }, () => {
  const conn = nc as NatsConnection;
  const tag = `t${randomBytes(4).toString('hex')}`;
  const stream = `KINDRED_TEST_${tag}`;
  let jsm: JetStreamManager;
  let ws: Workspace;

  before(async () => {
    jsm = await jetstreamManager(conn);
    await jsm.streams.add({ name: stream, subjects: [`kindred.test.${tag}.>`] });
    ws = await workspace({ definition: CONNECT_FIXTURE, copy: true });
    ws.replace('instance.yaml', 'subject: kindred.test.orders', `subject: kindred.test.${tag}.orders`);
    ws.replace('instance.yaml', 'subject: kindred.test.clicks', `subject: kindred.test.${tag}.clicks`);
    await ws.apply();
    await ws.refresh();
  });
  after(async () => {
    await ws?.close();
    await jsm?.streams.delete(stream).catch(() => undefined);
    await conn.close();
  });

  const status = async () => {
    const res = await ws.request('GET', ws.url('/consumers'), { key: ws.keys.viewer });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { started: boolean; value: { name: string; state: string; lag: number | null; written: number; replayed: number; rejected: number; rejects: { step: string; reason: string; sequence: number }[] }[] };
  };

  test('messages become activities once; a message published twice (same content) is a replay; rejects are recorded and do not loop', async () => {
    assert.equal((await status()).started, false);
    const js = jetstream(conn);
    // Published before the consumer starts: it reads from the start of the stream.
    for (let i = 0; i < 20; i++)
      await js.publish(`kindred.test.${tag}.orders`, JSON.stringify({ order: { id: 5000 + i, created_at: 1767225600 + i, customer: { id: i % 2 ? 'C1' : 'C3' } }, items: [{ sku: `S${i}` }] }));
    await ws.services.consumers.start(NATS);
    // The same order again (a producer retry), a click with a message id sent twice, bad messages.
    await js.publish(`kindred.test.${tag}.orders`, JSON.stringify({ order: { id: 5003, created_at: 1767225603, customer: { id: 'C1' } }, items: [{ sku: 'S3' }] }));
    const h = headers();
    h.set('Nats-Msg-Id', 'click-1');
    const click = JSON.stringify({ contact: 'C3', ts: 1767225600123, url: 'https://shop.example/p/1' });
    await js.publish(`kindred.test.${tag}.clicks`, click, { headers: h });
    await conn.publish(`kindred.test.${tag}.clicks`, click); // core publish: no dedupe window, a true redelivery of the same content
    await js.publish(`kindred.test.${tag}.orders`, 'not json');
    await js.publish(`kindred.test.${tag}.orders`, JSON.stringify({ order: { id: 6000, customer: { id: 'C1' } }, items: [] }));
    await js.publish(`kindred.test.${tag}.orders`, JSON.stringify({ order: { id: 6001, created_at: 1, customer: { id: 'UNKNOWN' } }, items: [{ sku: 'x' }] }));

    const s = await until('consumers caught up', status, (v) => v.value.length === 2 && v.value.every((c) => c.lag === 0) && v.value.reduce((n, c) => n + c.written + c.replayed + c.rejected, 0) >= 26);
    const orders = s.value.find((c) => c.name === 'orders')!;
    const clicks = s.value.find((c) => c.name === 'clicks')!;
    assert.equal(orders.state, 'running');
    assert.equal(orders.written, 20);
    assert.equal(orders.replayed, 1);
    assert.equal(orders.rejected, 3);
    assert.deepEqual(orders.rejects.map((r) => r.step.split(' ')[0]), ['parse', 'fields.ActivityTime', 'customer']);
    assert.match(orders.rejects[1].reason, /no value at 'order\.created_at'/);
    assert.match(orders.rejects[2].reason, /Shop\.Contacts key 'UNKNOWN'/);
    assert.equal(clicks.written, 1);
    assert.equal(clicks.replayed, 1);
    // The same counts and the lag in the Prometheus metrics (telemetry of the consumers).
    const metrics = await renderMetrics(ws.services);
    assert.match(metrics, new RegExp(`kindred_consumer_messages_total\\{instance="${ws.instanceId}",consumer="orders",outcome="rejected"\\} 3\\n`));
    assert.match(metrics, new RegExp(`kindred_consumer_messages_total\\{instance="${ws.instanceId}",consumer="orders",outcome="written"\\} 20\\n`));
    assert.match(metrics, new RegExp(`kindred_consumer_lag_messages\\{instance="${ws.instanceId}",consumer="orders"\\} 0\\n`));

    // Read back through the API: 20 orders, each once, with the right customers.
    const list = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "ActivityType eq 'WebOrder'", $count: 'true', $top: '100' } });
    assert.equal(list.json()['@odata.count'], 20, list.body);
    const c1 = await customerOf(ws, 'Shop', 'Contacts', 'C1');
    const o3 = await ws.request('GET', ws.url('/data/UnifiedActivity/order-5003'), { key: ws.keys.viewer });
    assert.equal(o3.json().CustomerId, c1);
    const clicksRead = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "ActivityType eq 'Click'", $count: 'true' } });
    assert.equal(clicksRead.json()['@odata.count'], 1);

    // A restart resumes from the durable consumer: nothing is read again, new messages are.
    await ws.services.consumers.close();
    await ws.reopen();
    await ws.services.consumers.start(NATS);
    await js.publish(`kindred.test.${tag}.orders`, JSON.stringify({ order: { id: 7000, created_at: 1767225700, customer: { id: 'C3' } }, items: [{ sku: 'Z' }] }));
    const after = await until('the new message is processed', status, (v) => v.value.find((c) => c.name === 'orders')?.written === 1 && v.value.every((c) => c.lag === 0));
    assert.equal(after.value.find((c) => c.name === 'orders')!.rejected, 0, 'rejected messages were terminated, not redelivered');
    const total = await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "ActivityType eq 'WebOrder'", $count: 'true' } });
    assert.equal(total.json()['@odata.count'], 21);

    // A definition applied while running: a removed consumer stops (sync runs every 30 s in serve).
    const text = ws.read('instance.yaml');
    ws.write('instance.yaml', text.slice(0, text.indexOf('  - name: clicks')));
    await ws.apply();
    await ws.services.consumers.sync();
    assert.deepEqual((await status()).value.map((c) => c.name), ['orders']);
  });
});
