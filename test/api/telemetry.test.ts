// Real-time telemetry (per-minute storage, the query API) and /metrics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerKey } from '../../src/api/auth.js';
import { odataError, REALTIME_FIXTURE, scanAll, workspace, type Workspace } from './helpers.js';

interface Stats {
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
interface Report {
  from: string;
  to: string;
  interval: string;
  groupBy: string;
  series: { key: string; buckets: (Stats & { start: string })[] }[];
  totals: Stats;
  errorCodes: { code: string; count: number }[];
}

const SERVER_KEY = 'kdr_server_wide_metrics_key';

describe('real-time telemetry and /metrics', () => {
  let ws: Workspace;
  let ids: string[];

  before(async () => {
    ws = await workspace({ definition: REALTIME_FIXTURE });
    await ws.refresh();
    await registerKey(ws.services.store, SERVER_KEY, { instanceId: null, role: 'Viewer', name: 'prometheus' });
    ids = (await scanAll(ws, 'Customer')).map((c) => c.CustomerId as string);
    // 20 profile updates from the CRM, 5 reads by the contributor key's name, 3 failing updates,
    // one $batch of 4 activities from the shop.
    for (let i = 0; i < 20; i++) {
      const res = await ws.request('PATCH', ws.url(`/data/Customer/${ids[i % ids.length]}`), { body: { FullName: `Name ${i}` }, query: { caller: 'crm' } });
      assert.equal(res.statusCode, 204, res.body);
    }
    for (let i = 0; i < 5; i++) assert.equal((await ws.request('GET', ws.url('/data/Customer?$top=2'))).statusCode, 200);
    for (let i = 0; i < 3; i++)
      assert.equal((await ws.request('PATCH', ws.url('/data/Customer/nobody'), { body: { FullName: 'x' }, query: { caller: 'crm' } })).statusCode, 404);
    const now = new Date().toISOString();
    const batch = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), {
      query: { caller: 'shop' },
      body: [0, 1, 2, 3].map((i) => ({ ActivityId: `tel-${i}`, CustomerId: ids[0], ActivityTime: now, ActivityType: 'Visit', ActivityTypeDisplay: 'Visit' })),
    });
    assert.equal(batch.statusCode, 200, batch.body);
  });
  after(async () => ws?.close());

  const telemetry = async (query: Record<string, string> = {}, key = ws.keys.contributor): Promise<Report> => {
    const res = await ws.request('GET', ws.url('/telemetry/realtime'), { key, query });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Report;
  };
  const total = (r: Report, key: string) => r.series.find((s) => s.key === key)?.buckets.reduce((n, b) => n + b.requests, 0) ?? 0;

  it('counts requests per method, caller, result and error code, with bytes and percentiles', async () => {
    const byMethod = await telemetry({ groupBy: 'method' });
    assert.equal(byMethod.groupBy, 'method');
    assert.equal(byMethod.interval, '1m');
    assert.equal(total(byMethod, 'PATCH'), 23);
    assert.equal(total(byMethod, 'GET'), 5);
    assert.equal(total(byMethod, 'POST $batch'), 4, 'a $batch counts its items');
    assert.equal(byMethod.totals.requests, 32);
    assert.equal(byMethod.totals.errors, 3);
    assert.ok(byMethod.totals.bytesIn > 20 * 20, `bytes in ${byMethod.totals.bytesIn}`);
    assert.ok(byMethod.totals.bytesOut > 5 * 50, `bytes out ${byMethod.totals.bytesOut}`);
    const { p50, p95, p99 } = byMethod.totals;
    assert.ok(p50 !== null && p95 !== null && p99 !== null && p50 > 0 && p50 <= p95 && p95 <= p99, JSON.stringify(byMethod.totals));
    assert.deepEqual(byMethod.errorCodes, [{ code: 'NotFound', count: 3 }]);
    // One hour of one-minute buckets, aligned, continuous.
    for (const s of byMethod.series) {
      assert.equal(s.buckets.length, 61);
      s.buckets.forEach((b, i) => i && assert.equal(Date.parse(b.start) - Date.parse(s.buckets[i - 1].start), 60_000));
    }

    const byCaller = await telemetry({ groupBy: 'caller' });
    assert.equal(total(byCaller, 'crm'), 23);
    assert.equal(total(byCaller, 'shop'), 4);
    assert.equal(total(byCaller, 'contributor'), 5, 'without caller: the API key name');
    const byResult = await telemetry({ groupBy: 'result' });
    assert.equal(total(byResult, '2xx'), 29);
    assert.equal(total(byResult, '4xx'), 3);
    const byCode = await telemetry({ groupBy: 'errorCode' });
    assert.equal(total(byCode, 'NotFound'), 3);
    assert.equal(total(byCode, 'none'), 29);
    const byEntity = await telemetry({ groupBy: 'entity', interval: '1h' });
    assert.equal(total(byEntity, 'Customer'), 28);
    assert.equal(total(byEntity, 'UnifiedActivity'), 4);
    assert.ok(byEntity.series[0].buckets.length <= 2);
  });

  it('stores one row per minute and combination, not per request, and keeps it across restarts', async () => {
    await ws.services.telemetry.flush();
    const minute = Math.floor(Date.now() / 60_000);
    const rows = await ws.services.store.telemetry.readMinutes(ws.instanceId, minute - 5, minute + 1);
    const crmOk = rows.filter((r) => r.caller === 'crm' && r.status === 204);
    assert.ok(crmOk.length >= 1 && crmOk.length <= 2, `${crmOk.length} rows for 20 requests (a minute boundary may split them)`);
    assert.equal(crmOk.reduce((n, r) => n + r.requests, 0), 20);
    assert.ok(rows.length <= 10, `${rows.length} rows`);
    await ws.reopen();
    assert.equal((await telemetry()).totals.requests, 32);
  });

  it('chooses the interval from the range and validates parameters, naming them', async () => {
    const now = Date.now();
    const month = await telemetry({ from: new Date(now - 30 * 86_400_000).toISOString(), to: new Date(now).toISOString() });
    assert.equal(month.interval, '2h');
    assert.ok(month.series[0].buckets.length <= 500);
    assert.equal(month.totals.requests, 32);
    const day = await telemetry({ from: new Date(now - 86_400_000).toISOString() });
    assert.equal(day.interval, '5m');

    const bad = async (query: Record<string, string>, target: string) =>
      odataError(await ws.request('GET', ws.url('/telemetry/realtime'), { query }), 400, { code: 'InvalidParameter', target, message: new RegExp(target) });
    await bad({ interval: '5s' }, 'interval');
    await bad({ interval: 'often' }, 'interval');
    await bad({ groupBy: 'colour' }, 'groupBy');
    await bad({ from: 'yesterday' }, 'from');
    await bad({ to: '2026-13-45' }, 'to');
    await bad({ from: new Date(now).toISOString(), to: new Date(now - 3_600_000).toISOString() }, 'from');
    await bad({ from: new Date(now - 40 * 86_400_000).toISOString() }, 'from');
    await bad({ from: new Date(now - 30 * 86_400_000).toISOString(), interval: '1m' }, 'interval');
  });

  it('needs Contributor or more, of this instance', async () => {
    odataError(await ws.request('GET', ws.url('/telemetry/realtime'), { key: ws.keys.viewer }), 403);
    odataError(await ws.request('GET', ws.url('/telemetry/realtime'), { key: ws.keys.otherInstance }), 401);
    assert.equal((await telemetry({}, ws.keys.admin)).totals.requests, 32);
  });

  it('purges minutes older than 30 days', async () => {
    const recorder = ws.services.telemetry;
    const old = Date.now() - 31 * 86_400_000;
    recorder.record(ws.instanceId, 'GET', 'Customer', 'old', 200, '', 0, 10, 1, 1, old);
    await recorder.flush();
    const oldMinute = Math.floor(old / 60_000);
    assert.equal((await ws.services.store.telemetry.readMinutes(ws.instanceId, oldMinute, oldMinute + 1)).length, 1);
    assert.ok((await recorder.purge()) >= 1);
    assert.equal((await ws.services.store.telemetry.readMinutes(ws.instanceId, oldMinute, oldMinute + 1)).length, 0);
    assert.equal((await telemetry()).totals.requests, 32, 'recent minutes stay');
  });

  it('serves Prometheus metrics to a server-wide key only', async () => {
    odataError(await ws.request('GET', '/metrics', { key: null }), 401);
    odataError(await ws.request('GET', '/metrics', { key: ws.keys.admin }), 403);
    await ws.request('PATCH', ws.url(`/data/Customer/${ids[0]}`), { body: { FullName: 'Metrics' } });
    const res = await ws.request('GET', '/metrics', { key: SERVER_KEY, bearer: true });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const value = (line: string) => {
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      assert.ok(found, `${line} in\n${text.slice(0, 2000)}`);
      return Number(found.slice(line.length + 1));
    };
    const route = '/api/instances/:instanceId/data/:entityName/:entityId';
    assert.ok(value(`kindred_http_requests_total{route="${route}",method="PATCH",status="204"}`) >= 1);
    const count = value(`kindred_http_request_duration_seconds_count{route="${route}",method="PATCH",status="204"}`);
    assert.equal(value(`kindred_http_request_duration_seconds_bucket{route="${route}",method="PATCH",status="204",le="+Inf"}`), count);
    assert.ok(value('kindred_realtime_writes_total{kind="profile",result="success"}') >= 1);
    assert.ok(value('kindred_realtime_writes_total{kind="activity",result="success"}') >= 0);
    assert.equal(value('kindred_change_feed_subscribers'), 0);
    assert.equal(value(`kindred_refresh_runs{instance="${ws.instanceId}",status="successful"}`), 1);
    assert.ok(value(`kindred_refresh_last_duration_seconds{instance="${ws.instanceId}",status="successful"}`) > 0);
    assert.ok(value('process_resident_memory_bytes') > 1e6);
    for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{.*\})? -?[\d.e+-]+)$/, line);
  });
});
