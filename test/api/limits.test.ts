// Limits (issue 4, item 5): per-caller rate limits (429 with Retry-After and RateLimit-*), the body
// size limit (413 naming it; $batch of 10,000 items still fits), timeouts against a client that
// sends its headers too slowly (real HTTP), and caps on $top and $filter.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { formatBytes, newRateLimitResult, parseByteSize, RateLimiter, timeoutOptions } from '../../src/api/limits.js';
import { customerOf, odataError, REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

let ws: Workspace;
let carla: string;

before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
  carla = await customerOf(ws, 'Shop', 'Contacts', 'C4');
});
after(() => ws.close());

const get = (app: FastifyInstance, url: string, key: string) => app.inject({ method: 'GET', url, headers: { 'ocp-apim-subscription-key': key } });

describe('rate limits', () => {
  test('token bucket: burst, refill over time, one bucket per caller', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ perMinute: 60, burst: 3 }, () => now);
    const r = newRateLimitResult();
    const taken = [1, 2, 3, 4].map(() => ({ ...limiter.take('a', r) }));
    assert.deepEqual(taken.map((t) => t.allowed), [true, true, true, false]);
    assert.deepEqual(taken.map((t) => t.remaining), [2, 1, 0, 0]);
    assert.equal(taken[3].retryAfter, 1, 'one request per second comes back');
    assert.equal(taken[3].reset, 3, 'full again in 3 s');
    assert.equal(limiter.take('b', r).allowed, true, 'another caller has its own bucket');
    now += 1000;
    assert.equal(limiter.take('a', r).allowed, true);
    assert.equal(limiter.take('a', r).allowed, false);
    now += 60_000;
    assert.equal(limiter.take('a', r).remaining, 2, 'refilled, never above the burst');
    assert.equal(new RateLimiter({ perMinute: 600 }).limit, 100, 'default burst: 10 s worth');
    assert.throws(() => new RateLimiter({ perMinute: 0 }), /perMinute must be positive/);
  });

  test('429 with Retry-After, RateLimit-* headers and an OData body; per key', async () => {
    const app = await buildApp({ services: ws.services, rateLimit: { perMinute: 6, burst: 2 } });
    await app.ready();
    try {
      const url = ws.url('');
      const first = await get(app, url, ws.keys.viewer);
      assert.equal(first.statusCode, 200);
      assert.equal(first.headers['ratelimit-limit'], '2');
      assert.equal(first.headers['ratelimit-remaining'], '1');
      assert.ok(Number(first.headers['ratelimit-reset']) >= 1);
      assert.equal((await get(app, url, ws.keys.viewer)).headers['ratelimit-remaining'], '0');
      const refused = await get(app, url, ws.keys.viewer);
      const e = odataError(refused, 429, { code: 'TooManyRequests', message: /6 requests per minute per key/ });
      assert.match(e.message, /retry in 10 s/);
      assert.equal(refused.headers['retry-after'], '10');
      assert.equal(refused.headers['ratelimit-remaining'], '0');
      // Another key is not affected; unauthenticated calls are refused before any bucket is used.
      assert.equal((await get(app, url, ws.keys.admin)).statusCode, 200);
      assert.equal((await get(app, url, 'kdr_nonsense')).statusCode, 401);
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'public routes are not limited');
    } finally {
      await app.close();
    }
  });

  test('off by default: no RateLimit headers', async () => {
    const res = await get(ws.app, ws.url(''), ws.keys.viewer);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['ratelimit-limit'], undefined);
  });
});

describe('body size', () => {
  const activity = (id: string, title = `mail ${id}`) => ({ ActivityId: id, CustomerId: carla, ActivityTime: '2026-11-03T08:00:00Z', ActivityType: 'Email', Title: title });

  test('sizes', () => {
    assert.equal(parseByteSize('1048576'), 1048576);
    assert.equal(parseByteSize('512KiB'), 512 * 1024);
    assert.equal(parseByteSize('4mb'), 4 * 1024 * 1024);
    assert.equal(parseByteSize('1.5 k'), 1536);
    assert.throws(() => parseByteSize('lots'), /not a size/);
    assert.throws(() => parseByteSize('0'), /not a positive size/);
    assert.equal(formatBytes(1024 * 1024), '1 MiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
  });

  test('default 1 MiB: 413 PayloadTooLarge naming the limit; the write is not made', async () => {
    const big = activity('too-big', 'x'.repeat(1024 * 1024));
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: big });
    odataError(res, 413, { code: 'PayloadTooLarge', message: /larger than the limit of 1 MiB \(1048576 bytes\)/ });
    assert.equal((await ws.request('GET', ws.url('/data/UnifiedActivity/too-big'), { key: ws.keys.viewer })).statusCode, 404);
    // Just under the limit the body is read and judged on its content (a Title that long is refused by validation).
    const under = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity('just-fits', 'x'.repeat(1024 * 1024 - 500)) });
    odataError(under, 400, { target: 'Title' });
  });

  test('configurable', async () => {
    const app = await buildApp({ services: ws.services, bodyLimit: 200 });
    await app.ready();
    try {
      const res = await app.inject({
        method: 'POST',
        url: ws.url('/data/UnifiedActivity'),
        headers: { 'ocp-apim-subscription-key': ws.keys.contributor, 'content-type': 'application/json' },
        payload: JSON.stringify(activity('small-limit', 'y'.repeat(300))),
      });
      odataError(res, 413, { message: /limit of 200 bytes$/ });
    } finally {
      await app.close();
    }
  });

  test('$batch of 10,000 activities (about 4 MiB) fits its own, larger limit', async () => {
    const items = Array.from({ length: 10_000 }, (_, i) => activity(`bulk-${i}`, `newsletter ${i} `.padEnd(300, '.')));
    const body = JSON.stringify(items);
    assert.ok(body.length > 3 * 1024 * 1024, `${body.length} bytes: well above the default limit`);
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: body });
    assert.equal(res.statusCode, 200, res.body.slice(0, 300));
    const result = res.json() as { succeeded: number; failed: number };
    assert.deepEqual([result.succeeded, result.failed], [10_000, 0]);
  });
});

describe('slow clients', () => {
  test('timeout options reach the Node server (with a prompt check interval)', () => {
    const o = timeoutOptions({ headersTimeoutMs: 400 });
    assert.equal(o.http.headersTimeout, 400);
    assert.equal(o.http.connectionsCheckingInterval, 100);
    assert.equal(o.keepAliveTimeout, 72_000);
    assert.ok(o.requestTimeout > 0 && o.connectionTimeout > 0, 'no unlimited defaults');
  });

  test('a client sending its headers byte by byte too slowly is cut off (real HTTP)', async () => {
    const app = await buildApp({ services: ws.services, timeouts: { headersTimeoutMs: 400 } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as { port: number };
      // A prompt client is served normally.
      const fine = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(fine.status, 200);

      const started = Date.now();
      const outcome = await new Promise<{ closedAfterMs: number; received: string; bytesSent: number }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        const request = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
        let sent = 0;
        let received = '';
        const timer = setInterval(() => {
          if (sent < request.length && !socket.destroyed) socket.write(request[sent++]);
        }, 50);
        socket.on('data', (d) => (received += d.toString()));
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(timer);
          resolve({ closedAfterMs: Date.now() - started, received, bytesSent: sent });
        });
        setTimeout(() => {
          clearInterval(timer);
          socket.destroy();
          reject(new Error('the server kept the slow connection open for 5 s'));
        }, 5000).unref();
      });
      assert.ok(outcome.bytesSent < 100, `cut off after ${outcome.bytesSent} bytes`);
      assert.ok(outcome.closedAfterMs < 2500, `closed after ${outcome.closedAfterMs} ms`);
      assert.ok(!outcome.received.includes('"status":"ok"'), 'never served');
      assert.match(outcome.received, /^$|^HTTP\/1\.1 408/, 'a 408 or a plain close');
    } finally {
      await app.close();
    }
  });
});

describe('query caps', () => {
  const data = (query: Record<string, string>) => ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query });

  test('$top at most 1000', async () => {
    assert.equal((await data({ $top: '1000' })).statusCode, 200);
    odataError(await data({ $top: '1001' }), 400, { message: /1000/ });
  });

  test('$orderby at most 32 items (2,500 reached SQLite: 500 before the cap)', async () => {
    assert.equal((await data({ $orderby: Array(32).fill('City').join(',') })).statusCode, 200);
    odataError(await data({ $orderby: Array(33).fill('City').join(',') }), 400, { target: '$orderby', message: /too many items \(the maximum is 32\)/ });
    odataError(await data({ $orderby: Array(2500).fill('City desc').join(',') }), 400, { target: '$orderby' });
  });

  test('$filter length, nesting depth and number of conditions: 400 naming the limit', async () => {
    odataError(await data({ $filter: `FullName eq '${'x'.repeat(2100)}'` }), 400, { message: /too long \(\d+ characters; the maximum is 2000\)/ });
    odataError(await data({ $filter: `${'('.repeat(25)}City eq 'x'${')'.repeat(25)}` }), 400, { message: /nested too deeply \(more than 20 levels/ });
    odataError(await data({ $filter: 'not '.repeat(25) + "City eq 'x'" }), 400, { message: /nested too deeply/ });
    const many = Array.from({ length: 101 }, (_, i) => `City eq 'c${i}'`).join(' or ');
    odataError(await data({ $filter: many }), 400, { message: /too many conditions \(the maximum is 100\)/ });
    const fine = Array.from({ length: 100 }, (_, i) => `City eq 'c${i}'`).join(' or ');
    assert.equal((await data({ $filter: fine })).statusCode, 200);
  });
});
