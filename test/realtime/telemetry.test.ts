// The telemetry recorder's histogram and summaries (pure, plus a recorder over an in-memory port).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketUpperMs, LATENCY_BUCKETS, latencyBucket, quantile, summarize, TelemetryRecorder } from '../../src/realtime/telemetry.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import type { TelemetryMinute } from '../../src/storage/telemetry.js';

describe('latency histogram', () => {
  it('puts each latency in a bucket whose bounds hold it, within about 19 %', () => {
    for (const ms of [0.011, 0.3, 1, 2.5, 17, 250, 999, 12_345]) {
      const i = latencyBucket(ms);
      assert.ok(bucketUpperMs(i) >= ms, `${ms} <= upper ${bucketUpperMs(i)}`);
      assert.ok(bucketUpperMs(i - 1) < ms, `${ms} > lower ${bucketUpperMs(i - 1)}`);
      assert.ok(bucketUpperMs(i) / ms < 1.19);
    }
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(-1), 0);
    assert.equal(latencyBucket(Number.NaN), 0);
    assert.equal(latencyBucket(1e12), LATENCY_BUCKETS - 1);
  });

  it('gives percentiles close to the exact ones', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1 + i * 0.1); // 1 .. 100.9 ms
    const hist = new Float64Array(LATENCY_BUCKETS);
    for (const v of values) hist[latencyBucket(v)]++;
    for (const [q, exact] of [[0.5, values[499]], [0.95, values[949]], [0.99, values[989]]] as const) {
      const p = quantile(hist, q)!;
      assert.ok(p >= exact && p / exact < 1.19, `q${q}: ${p} vs ${exact}`);
    }
    assert.equal(quantile(new Float64Array(LATENCY_BUCKETS), 0.5), null);
  });
});

describe('summaries', () => {
  const row = (minute: number, over: Partial<TelemetryMinute> = {}): TelemetryMinute => ({
    instanceId: 'i',
    minute,
    method: 'PATCH',
    entity: 'Customer',
    caller: 'crm',
    status: 204,
    errorCode: '',
    requests: 2,
    bytesIn: 100,
    bytesOut: 0,
    latency: [[latencyBucket(1), 2]],
    ...over,
  });

  it('merges minutes into interval buckets per group, with empty buckets and error codes', () => {
    const rows = [row(0), row(3), row(7, { status: 404, errorCode: 'NotFound', requests: 1, latency: [[latencyBucket(100), 1]] }), row(12)];
    const r = summarize(rows, { fromMinute: 0, toMinute: 15, intervalMinutes: 5, interval: '5m', groupBy: 'result' });
    assert.deepEqual(r.series.map((s) => s.key), ['2xx', '4xx']);
    assert.deepEqual(r.series[0].buckets.map((b) => b.requests), [4, 0, 2]);
    assert.deepEqual(r.series[1].buckets.map((b) => b.requests), [0, 1, 0]);
    assert.equal(r.series[0].buckets[1].p50, null);
    assert.equal(r.totals.requests, 7);
    assert.equal(r.totals.errors, 1);
    assert.equal(r.totals.bytesIn, 400);
    assert.ok(r.totals.p50! < 1.2 && r.totals.p99! >= 100);
    assert.deepEqual(r.errorCodes, [{ code: 'NotFound', count: 1 }]);
    assert.equal(r.from, new Date(0).toISOString());
    assert.equal(r.series[0].buckets[2].start, new Date(10 * 60_000).toISOString());
  });
});

describe('recorder', () => {
  it('adds requests in memory per minute and combination, and writes them on flush', async () => {
    const store = openSqliteStore({ file: ':memory:' });
    try {
      const recorder = new TelemetryRecorder(store.telemetry, { flushMs: 0 });
      const t = Date.UTC(2026, 10, 29, 12, 0, 30);
      const m = Math.floor(t / 60_000);
      for (let i = 0; i < 1000; i++) recorder.record('i', 'PATCH', 'Customer', 'crm', 204, '', 50, 0, 2, 1, t);
      recorder.record('i', 'POST $batch', 'UnifiedActivity', 'shop', 200, '', 5000, 300, 40, 25, t);
      recorder.record('i', 'PATCH', 'Customer', 'crm', 204, '', 50, 0, 2, 1, t + 60_000);
      assert.deepEqual(await store.telemetry.readMinutes('i', m, m + 2), [], 'nothing written before a flush');
      await recorder.flush();
      const rows = await store.telemetry.readMinutes('i', m, m + 2);
      assert.equal(rows.length, 3);
      const first = rows.find((r) => r.caller === 'crm' && r.minute === m)!;
      assert.equal(first.requests, 1000);
      assert.equal(first.bytesIn, 50_000);
      assert.deepEqual(first.latency, [[latencyBucket(2), 1000]]);
      assert.equal(rows.find((r) => r.caller === 'shop')!.requests, 25);
      // Later requests of the same minute add to the stored row.
      recorder.record('i', 'PATCH', 'Customer', 'crm', 204, '', 50, 0, 2, 1, t);
      await recorder.close();
      assert.equal((await store.telemetry.readMinutes('i', m, m + 1)).find((r) => r.caller === 'crm')!.requests, 1001);
    } finally {
      await store.close();
    }
  });
  it('keeps the counts of a failed write and adds them to those recorded meanwhile', async () => {
    const store = openSqliteStore({ file: ':memory:' });
    try {
      // The store's real port, failing its next write once (as "database is locked" did under load).
      let failNext = true;
      const flaky: typeof store.telemetry = Object.create(store.telemetry);
      flaky.addMinutes = async (rows) => {
        if (failNext) {
          failNext = false;
          throw new Error('database is locked');
        }
        return store.telemetry.addMinutes(rows);
      };
      const logged: string[] = [];
      const recorder = new TelemetryRecorder(flaky, { flushMs: 0, log: (m) => logged.push(m) });
      const t = Date.UTC(2026, 10, 29, 12, 0, 30);
      const m = Math.floor(t / 60_000);
      for (let i = 0; i < 3; i++) recorder.record('i', 'PATCH', 'Customer', 'crm', 204, '', 50, 0, 2, 1, t);
      const failing = recorder.flush();
      // Recorded while the failing write is under way: same minute and combination.
      recorder.record('i', 'PATCH', 'Customer', 'crm', 204, '', 50, 0, 30, 1, t);
      recorder.record('i', 'PATCH', 'Customer', 'crm', 204, '', 50, 0, 30, 1, t);
      await failing;
      assert.match(logged.join('\n'), /telemetry flush failed: database is locked/);
      await recorder.flush();
      const [row] = await store.telemetry.readMinutes('i', m, m + 1);
      assert.equal(row.requests, 5);
      assert.equal(row.bytesIn, 250);
      assert.deepEqual(row.latency, [[latencyBucket(2), 3], [latencyBucket(30), 2]]);
    } finally {
      await store.close();
    }
  });
});
