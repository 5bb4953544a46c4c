// The client against the real server over HTTP (listen on port 0), and through a proxy that
// answers 429 / 503 with Retry-After or drops connections, to test the retries.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { renderTypes } from '../../src/client/codegen.js';
import { activityIdFor, KindredClient, KindredError, retryAfterMs } from '../../src/client/index.js';
import { customerOf, REALTIME_FIXTURE, REPO, workspace, type Workspace } from '../api/helpers.js';

type Plan = { status: number; retryAfter?: string } | 'drop' | 'forwardThenDrop';

/** A proxy that plays `script` (one step per request) and forwards the rest to `upstream`. */
async function proxy(upstream: string) {
  const script: Plan[] = [];
  const seen: string[] = [];
  const server = http.createServer(async (req, res) => {
    const step = script.shift();
    seen.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (step === 'drop') return req.socket.destroy();
    if (step && typeof step === 'object') {
      res.writeHead(step.status, { 'content-type': 'application/json', ...(step.retryAfter ? { 'retry-after': step.retryAfter } : {}) });
      return res.end(JSON.stringify({ error: { code: 'TooManyRequests', message: 'slow down' } }));
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
    const up = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    const body = Buffer.from(await up.arrayBuffer());
    if (step === 'forwardThenDrop') return req.socket.destroy();
    res.writeHead(up.status, Object.fromEntries([...up.headers].filter(([k]) => k !== 'content-length' && k !== 'transfer-encoding')));
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, script, seen, close: () => new Promise((r) => server.close(r)) };
}

describe('KindredClient', () => {
  let ws: Workspace;
  let base: string;
  let client: KindredClient;
  let c3: string;

  before(async () => {
    ws = await workspace({ definition: REALTIME_FIXTURE });
    await ws.refresh();
    base = await ws.app.listen({ port: 0, host: '127.0.0.1' });
    client = new KindredClient({ url: base, key: ws.keys.contributor, caller: 'client-test' });
    c3 = await customerOf(ws, 'Shop', 'Contacts', 'C3');
  });
  after(async () => ws?.close());

  test('the committed types match the served OpenAPI document (run npm run gen:client after API changes)', async () => {
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as Record<string, unknown>;
    const committed = readFileSync(path.join(REPO, 'src/client/openapi-types.ts'), 'utf8');
    assert.equal(renderTypes(doc), committed, 'src/client/openapi-types.ts is out of date: run npm run gen:client');
  });

  test('profile update, read back with $select; key ring', async () => {
    await client.updateProfile(ws.instanceId, c3, { Tier: 'Platinum' });
    const c = await client.get<{ Tier: string; CustomerId: string }>(ws.instanceId, 'Customer', c3, { select: ['CustomerId', 'Tier'] });
    assert.deepEqual(c, { CustomerId: c3, Tier: 'Platinum' });
    const ring = await client.keyRing(ws.instanceId, { dataSourceName: 'Shop', entityName: 'Contacts', key: 'C3' });
    assert.equal(ring.customerId, c3);
    assert.ok(ring.keyRing.some((g) => g.dataSourceName === 'Loyalty' && g.keys.includes('L1')), JSON.stringify(ring));
    await assert.rejects(client.updateProfile(ws.instanceId, c3, { Nope: 1 }), (e: KindredError) => e.status === 400 && e.target === 'Nope');
  });

  test('activities in both formats; without ActivityId the id comes from the content, so sending again is a replay', async () => {
    const activity = { CustomerId: c3, ActivityTime: '2026-11-01T10:00:00Z', ActivityType: 'Call', Title: 'Support call' };
    const first = await client.postActivity(ws.instanceId, activity);
    assert.equal(first.created, true);
    assert.equal(first.activity.ActivityId, activityIdFor(activity));
    const again = await client.postActivity(ws.instanceId, { ...activity });
    assert.equal(again.created, false);
    const source = await client.postActivity(ws.instanceId, { PurchaseId: 'P900', ContactId: 'C3', PurchasedOn: '2026-11-02T09:00:00Z', Product: 'Mug', Total: 9.5 }, { entity: 'Shop_Purchases' });
    assert.equal(source.activity.CustomerId, c3);
    const page = await client.list<{ ActivityType: string }>(ws.instanceId, 'UnifiedActivity', { filter: `CustomerId eq '${c3}' and Origin eq 'realtime'`, count: true, orderby: 'ActivityTime desc' });
    assert.equal(page['@odata.count'], 2);
    assert.deepEqual(page.value.map((a) => a.ActivityType), ['Purchase', 'Call']);
  });

  test('the buffered sender groups items into $batch calls by size and time; results per item', async () => {
    const results: number[] = [];
    const sender = client.sender(ws.instanceId, 'UnifiedActivity', { maxItems: 10, maxWaitMs: 50, onResult: (r) => results.push(r.status) });
    const pending = [];
    for (let i = 0; i < 25; i++) pending.push((await sender.add({ CustomerId: c3, ActivityTime: `2026-10-01T10:00:${String(i).padStart(2, '0')}Z`, ActivityType: 'Batched' })).result);
    const bad = (await sender.add({ CustomerId: c3, ActivityType: 'Batched' })).result;
    // 25 + 1 items: two full batches at once, the rest after maxWaitMs without a flush.
    const last = await bad;
    assert.equal(last.status, 400);
    assert.match(last.error!.message, /ActivityTime/);
    await Promise.all(pending);
    assert.equal(sender.totals.calls, 3);
    await sender.close();
    assert.deepEqual({ ok: results.filter((s) => s === 201).length, bad: results.filter((s) => s === 400).length }, { ok: 25, bad: 1 });
    const all = [];
    for await (const a of client.listAll(ws.instanceId, 'UnifiedActivity', { filter: "ActivityType eq 'Batched'", top: 7, select: 'ActivityId' })) all.push(a);
    assert.equal(all.length, 25, 'listAll follows nextLink over 4 pages');
    assert.equal(new Set(all.map((a) => a.ActivityId)).size, 25);
  });

  test('refresh jobs: start, wait, list, get; cancelling an ended job is a 409', async () => {
    const job = await client.startRefresh(ws.instanceId);
    const done = await client.waitForJob(ws.instanceId, job.jobId, { intervalMs: 50 });
    assert.equal(done.jobStatus, 'successful');
    assert.ok((await client.listJobs(ws.instanceId)).some((j) => j.jobId === job.jobId));
    assert.equal((await client.getJob(ws.instanceId, job.jobId)).jobId, job.jobId);
    await assert.rejects(client.cancelJob(ws.instanceId, job.jobId), (e: KindredError) => e.status === 409 && e.code === 'Conflict');
  });

  test('retries: 429 and 503 honour Retry-After; network errors are retried for idempotent requests and the activity is stored once', async () => {
    const p = await proxy(base);
    try {
      const retries: { delayMs: number; reason: string }[] = [];
      const viaProxy = new KindredClient({ url: p.url, key: ws.keys.contributor, baseDelayMs: 10, onRetry: (r) => retries.push(r) });
      p.script.push({ status: 429, retryAfter: '1' }, { status: 503, retryAfter: '0' });
      const started = Date.now();
      const c = await viaProxy.get<{ CustomerId: string }>(ws.instanceId, 'Customer', c3);
      assert.equal(c.CustomerId, c3);
      assert.ok(Date.now() - started >= 950, 'waited the Retry-After second');
      assert.deepEqual(retries.map((r) => [r.delayMs, r.reason]), [[1000, 'HTTP 429'], [0, 'HTTP 503']]);
      // The server stores the activity but the answer is lost: the retry is a replay, not a duplicate.
      p.script.push('forwardThenDrop');
      const activity = { CustomerId: c3, ActivityTime: '2026-11-03T10:00:00Z', ActivityType: 'Lost answer' };
      const r = await viaProxy.postActivity(ws.instanceId, activity);
      assert.equal(r.created, false, 'the second attempt found the stored activity');
      const page = await client.list(ws.instanceId, 'UnifiedActivity', { filter: "ActivityType eq 'Lost answer'", count: true });
      assert.equal(page['@odata.count'], 1);
      // Starting a refresh is not idempotent: a dropped connection is reported, not retried.
      p.script.push('drop');
      await assert.rejects(viaProxy.startRefresh(ws.instanceId), (e: KindredError) => e.code === 'NetworkError');
      // Retries end: the last 429 is the answer.
      const few = new KindredClient({ url: p.url, key: ws.keys.contributor, retries: 1, baseDelayMs: 1 });
      p.script.push({ status: 429 }, { status: 429 });
      await assert.rejects(few.get(ws.instanceId, 'Customer', c3), (e: KindredError) => e.status === 429);
    } finally {
      await p.close();
    }
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs(new Date(Date.now() + 5000).toUTCString())! > 3000, true);
  });
});
