// The change feed over real HTTP: server-sent events reach an open stream after each commit.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** An open event stream: the parsed events so far, and a way to wait for the next ones. */
interface Stream {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: SseEvent[];
  comments: string[];
  /** Waits until `total` events have arrived; returns them all. */
  until(total: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
  closed: Promise<void>;
}

function open(base: string, path: string, key: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { headers: { 'ocp-apim-subscription-key': key, accept: 'text/event-stream' } }, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let buffer = '';
      let waiters: (() => void)[] = [];
      let body = '';
      res.setEncoding('utf8');
      const closed = new Promise<void>((r) => res.on('close', () => r()));
      res.on('data', (chunk: string) => {
        body += chunk;
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const ev: SseEvent = {};
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const field = line.slice(0, colon) as keyof SseEvent;
              ev[field] = line.slice(colon + 1).replace(/^ /, '');
              isEvent = true;
            }
          }
          if (isEvent) events.push(ev);
        }
        for (const w of waiters) w();
        waiters = [];
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        get closed() {
          return closed;
        },
        async until(total, timeoutMs = 3000) {
          const deadline = Date.now() + timeoutMs;
          while (events.length < total) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${total} event(s); got ${JSON.stringify(events)} body ${body.slice(0, 300)}`);
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 50);
            });
          }
          return events.slice(0, total);
        },
        close() {
          req.destroy();
        },
      } as Stream);
    });
    req.on('error', reject);
  });
}

describe('change feed (server-sent events over HTTP)', () => {
  let ws: Workspace;
  let base: string;
  let customerA: string;
  let customerB: string;

  before(async () => {
    ws = await workspace({ definition: REALTIME_FIXTURE });
    await ws.refresh();
    await ws.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(ws.app.server.address() as AddressInfo).port}`;
    const rows = (await ws.services.store.scan(ws.instanceId, 'Customer')[Symbol.asyncIterator]().next()).value as Record<string, unknown>[];
    customerA = rows[0].CustomerId as string;
    customerB = rows[1].CustomerId as string;
  });
  after(async () => ws?.close());

  it('delivers a committed PATCH and activity POST to an open stream of the customer', async () => {
    const stream = await open(base, `/api/instances/${ws.instanceId}/changes?customerId=${customerA}`, ws.keys.viewer);
    try {
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
      assert.equal(stream.headers['cache-control'], 'no-cache, no-transform');

      const t0 = Date.now();
      const patch = await ws.request('PATCH', ws.url(`/data/Customer/${customerA}`), { body: { FullName: 'Streamed Name' }, query: { caller: 'crm' } });
      assert.equal(patch.statusCode, 204, patch.body);
      const [ev] = await stream.until(1);
      assert.ok(Date.now() - t0 < 1000, 'within a second');
      assert.equal(ev.event, 'change');
      assert.equal(ev.id, '1');
      const change = JSON.parse(ev.data!);
      assert.equal(change.instanceId, ws.instanceId);
      assert.equal(change.customerId, customerA);
      assert.equal(change.kind, 'profile');
      assert.deepEqual(change.attributes, ['FullName']);
      assert.ok(change.validUntil);
      // The write is readable when the event arrives.
      const read = await ws.request('GET', ws.url(`/data/Customer?$filter=CustomerId eq '${customerA}'`), { key: ws.keys.viewer });
      assert.equal(read.json().value[0].FullName, 'Streamed Name');

      // Another customer's write does not reach this stream; this customer's activity does.
      await ws.request('PATCH', ws.url(`/data/Customer/${customerB}`), { body: { FullName: 'Other' } });
      const post = await ws.request('POST', ws.url('/data/UnifiedActivity'), {
        body: { ActivityId: 'sse-1', CustomerId: customerA, ActivityTime: new Date().toISOString(), ActivityType: 'Visit', ActivityTypeDisplay: 'Visit' },
      });
      assert.equal(post.statusCode, 201, post.body);
      const ev2 = (await stream.until(2))[1];
      assert.equal(ev2.id, '2');
      const change2 = JSON.parse(ev2.data!);
      assert.equal(change2.kind, 'activity');
      assert.equal(change2.activityId, 'sse-1');
      assert.equal(change2.customerId, customerA);
      assert.equal(stream.events.length, 2, 'the other customer was not streamed');
      assert.ok(stream.comments.includes('connected'));
    } finally {
      stream.close();
    }
  });

  it('streams every change of the instance without customerId, and a failed write is not published', async () => {
    const stream = await open(base, `/api/instances/${ws.instanceId}/changes`, ws.keys.viewer);
    try {
      await ws.request('PATCH', ws.url(`/data/Customer/${customerB}`), { body: { FullName: 'B again' } });
      await ws.request('PATCH', ws.url('/data/Customer/no-such-customer'), { body: { FullName: 'x' } });
      await ws.request('PATCH', ws.url(`/data/Customer/${customerA}`), { body: { FullName: 'A again' } });
      const events = await stream.until(2);
      assert.deepEqual(
        events.map((e) => JSON.parse(e.data!).customerId),
        [customerB, customerA],
      );
    } finally {
      stream.close();
    }
  });

  it('cleans up the subscription when the client disconnects', async () => {
    const metrics = ws.services.telemetry.metrics;
    const settle = async (n: number) => {
      const deadline = Date.now() + 2000;
      while (metrics.feedSubscribers !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(metrics.feedSubscribers, n);
    };
    // Streams of the earlier tests were closed by their clients.
    await settle(0);
    const stream = await open(base, `/api/instances/${ws.instanceId}/changes?customerId=${customerA}`, ws.keys.viewer);
    assert.equal(metrics.feedSubscribers, 1);
    stream.close();
    await settle(0);
    // Publishing after the disconnect reaches nobody and breaks nothing.
    const patch = await ws.request('PATCH', ws.url(`/data/Customer/${customerA}`), { body: { FullName: 'After close' } });
    assert.equal(patch.statusCode, 204);
  });

  it('refuses a key of another instance (401), no key (401), an unknown customer (404)', async () => {
    for (const key of [ws.keys.otherInstance, 'kdr_unknown']) {
      const s = await open(base, `/api/instances/${ws.instanceId}/changes`, key);
      assert.equal(s.status, 401);
      s.close();
    }
    const s = await open(base, `/api/instances/${ws.instanceId}/changes?customerId=nobody`, ws.keys.viewer);
    assert.equal(s.status, 404);
    await s.closed;
  });

  it('ends open streams when the server closes', async () => {
    const stream = await open(base, `/api/instances/${ws.instanceId}/changes`, ws.keys.viewer);
    await ws.reopen();
    await stream.closed;
    assert.equal(ws.services.telemetry.metrics.feedSubscribers, 0);
  });
});
