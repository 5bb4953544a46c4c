// A bounded run of the API fuzzer (scripts/fuzz.ts; `npm run fuzz` runs longer ones) and the 5xx
// it found, replayed as plain requests so they stay fixed. The seed is fixed so runs are comparable;
// KINDRED_FUZZ_SEED picks another (the seed is printed either way).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registerKey } from '../../src/api/auth.js';
import { jsonDepthExceeded, loneSurrogateEscape, nulEscape } from '../../src/api/limits.js';
import { formatReport, Random, runFuzz } from '../../scripts/fuzz.js';
import { customerOf, odataError, REALTIME_FIXTURE, workspace, type Workspace } from '../api/helpers.js';

describe('fuzzing', () => {
  test('the PRNG is seeded', () => {
    const a = new Random(42);
    const b = new Random(42);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => new Random(43).next()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
  });

  test('a bounded run: no 5xx, OData 4xx bodies, stored data unchanged after rejected writes', async () => {
    const seed = process.env.KINDRED_FUZZ_SEED ? Number(process.env.KINDRED_FUZZ_SEED) : 20261129;
    // 1,200 requests take about 5 s on an idle machine; on a busy one the run stops after 20 s.
    const report = await runFuzz({ seed, iterations: 1200, maxMs: 20_000 });
    process.stdout.write(`${formatReport(report)}\n`);
    assert.ok(report.requests >= 100, `enough requests were sent (${report.requests})`);
    assert.ok(report.rejectedWritesChecked >= 30, `rejected writes were checked (${report.rejectedWritesChecked})`);
    assert.ok(Object.keys(report.statuses).some((k) => k.endsWith(' 200')), 'some requests got through');
    assert.deepEqual(report.failures, [], formatReport(report));
  });

  test('JSON depth scan', () => {
    assert.equal(jsonDepthExceeded('[[1]]', 2), -1);
    assert.equal(jsonDepthExceeded('[[[1]]]', 2), 2);
    assert.equal(jsonDepthExceeded('{"a":"[[[[[["}', 2), -1, 'brackets in strings do not count');
    assert.equal(jsonDepthExceeded('{"a":"\\"[[[["}', 2), -1, 'escaped quotes');
    assert.equal(jsonDepthExceeded('["\\\\",[[1]]]', 2), 7, 'an escaped backslash does not escape the closing quote');
    assert.equal(jsonDepthExceeded('["\\\\\\"[[[",[1]]', 2), -1, 'a quote after three backslashes is escaped');
    assert.equal(jsonDepthExceeded('["[[[', 1), -1, 'an unterminated string hides what follows');
    assert.equal(jsonDepthExceeded('[[\n[[', 2, true), -1, 'NDJSON: lines on their own');
    assert.equal(jsonDepthExceeded('[[\n[[', 2, false), 3);
  });

  test('lone surrogate escapes', () => {
    assert.equal(loneSurrogateEscape(JSON.stringify({ a: 'plain', b: '😀', c: 'e\u0301' })), -1);
    assert.equal(loneSurrogateEscape('{"a":"\\ud83d\\ude00"}'), -1, 'an escaped pair');
    assert.equal(loneSurrogateEscape('{"a":"\\\\ud800"}'), -1, 'an escaped backslash, then text');
    assert.equal(loneSurrogateEscape('{"a":"x\\ud800"}'), 7);
    assert.equal(loneSurrogateEscape('{"a":"\\udc00\\ud800"}'), 6, 'a low one first');
    assert.equal(loneSurrogateEscape('{"a":"\\ud800\\u0041"}'), 6);
    assert.equal(loneSurrogateEscape('{"a":"\\ud800'), 6, 'at the end');
  });

  test('NUL escapes', () => {
    assert.equal(nulEscape(JSON.stringify({ a: 'plain', b: '\\u0000 is text here' })), -1, 'an escaped backslash, then text');
    assert.equal(nulEscape('{"a":"x\\u0000"}'), 7);
    assert.equal(nulEscape(JSON.stringify({ a: '\n\t"', b: 'x\u0000' })), 20);
    assert.equal(nulEscape('{"a":"\\u00001"}'), 6, 'the escape, then a digit');
    assert.equal(nulEscape('{"a":"\\u0001"}'), -1, 'other control characters are storable');
  });
});

describe('5xx found by fuzzing, replayed', () => {
  let ws: Workspace;
  let customer: string;
  const serverAdmin = 'kdr_fuzz_regression_server_admin';
  before(async () => {
    ws = await workspace({ definition: REALTIME_FIXTURE });
    await ws.refresh();
    customer = await customerOf(ws, 'Shop', 'Contacts', 'C2');
    await registerKey(ws.services.store, serverAdmin, { instanceId: null, role: 'Administrator', name: 'regression-admin' });
  });
  after(() => ws.close());

  test("'Infinity' and '1e999' in an integer query parameter: 400, not 500", async () => {
    for (const top of ['Infinity', '-Infinity', '1e999']) {
      odataError(await ws.request('GET', ws.url('/audit'), { key: ws.keys.admin, query: { $top: top } }), 400, { target: '$top', message: /finite/ });
      odataError(await ws.request('GET', '/api/audit', { key: serverAdmin, query: { $top: top } }), 400, { target: '$top' });
    }
  });

  test('deeply nested JSON: 400 naming the limit (JSON, a JSON string of JSON, NDJSON)', async () => {
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    odataError(await ws.request('PUT', ws.url(''), { key: serverAdmin, raw: deep(100_000) }), 400, { target: 'body', message: /more than 64 levels deep/ });
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { raw: '['.repeat(5000) + ']'.repeat(5000) }), 400, { message: /64 levels/ });
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { raw: JSON.stringify(deep(1000)) }), 400, { message: /64 levels/ });
    const ndjson = `{"ActivityId":"ok"}\n${deep(200)}\n`;
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: ndjson, contentType: 'application/x-ndjson' }), 400, { message: /line 2 nests/ });
    // Ordinary nesting is fine.
    assert.notEqual((await ws.request('PUT', ws.url(''), { key: serverAdmin, raw: deep(30) })).statusCode, 500);
  });

  test('a lone surrogate in a principal id (the SQLite foreign key no longer matched): 400', async () => {
    const body = { principalId: 'app:fuzz\ud9c9', role: 'Viewer', name: 'fuzz' };
    odataError(await ws.request('POST', ws.url('/keys'), { key: ws.keys.admin, body }), 400, { target: 'body', message: /lone UTF-16 surrogate escape \(\\ud9c9\)/ });
    odataError(await ws.request('POST', '/api/keys', { key: serverAdmin, body }), 400, { target: 'body' });
    // The published client's JSON-string form, on a route that takes it.
    const activity = { ActivityId: 'x\ud800', CustomerId: 'c', ActivityTime: '2026-11-01T10:00:00Z', ActivityType: 'PageView' };
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: JSON.stringify(activity) }), 400, { message: /lone UTF-16 surrogate/ });
    const ndjson = `${JSON.stringify({ ActivityId: 'a' })}\n${JSON.stringify({ ActivityId: 'b\udc00' })}\n`;
    odataError(await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: ndjson, contentType: 'application/x-ndjson' }), 400, { message: /line 2 has a lone/ });
    // A proper pair (an emoji) is text like any other.
    const ok = await ws.request('POST', ws.url('/keys'), { key: ws.keys.admin, body: { principalId: 'app:fuzz-😀', role: 'Viewer', name: 'fuzz' } });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test("an activity field named 'constructor' or 'toString': 400 naming it", async () => {
    const activity = { ActivityId: 'proto-1', CustomerId: customer, ActivityTime: '2026-11-01T10:00:00Z', ActivityType: 'PageView' };
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      odataError(await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: { ...activity, [name]: true } }), 400, { target: name });
      const batch = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { body: [{ ...activity, [name]: 1 }] });
      assert.equal(batch.statusCode, 200, batch.body);
      assert.equal((batch.json() as { value: { status: number }[] }).value[0].status, 400);
    }
  });
});
