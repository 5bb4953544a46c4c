// Text with the NUL character (U+0000): PostgreSQL can store it neither in text nor in jsonb, so
// every store refuses it at the door with a 400 that says where, instead of a 500 from the
// database (this file also runs in npm test's PostgreSQL pass).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { customerOf, odataError, REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

let ws: Workspace;
let anna: string;

before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
  anna = await customerOf(ws, 'Shop', 'Contacts', 'C2');
});
after(() => ws.close());

const activity = (id: string, title: string) => ({
  ActivityId: id,
  CustomerId: anna,
  ActivityTime: '2026-01-02T03:04:05.000Z',
  ActivityType: 'PageView',
  Title: title,
});

describe('NUL in request bodies', () => {
  test('a PATCH whose value holds a NUL escape gets 400 with its offset, and the profile is unchanged', async () => {
    const before = (await ws.request('GET', ws.url(`/data/Customer/${encodeURIComponent(anna)}`), { key: ws.keys.viewer })).json() as Record<string, unknown>;
    const res = await ws.request('PATCH', ws.url(`/data/Customer/${encodeURIComponent(anna)}`), { raw: '{"City":"Ber\\u0000lin"}' });
    assert.equal(res.statusCode, 400, res.body);
    const error = odataError(res, 400);
    assert.match(error.message, /NUL/);
    assert.match(error.message, /offset 12/);
    const after = (await ws.request('GET', ws.url(`/data/Customer/${encodeURIComponent(anna)}`), { key: ws.keys.viewer })).json() as Record<string, unknown>;
    assert.equal(after.City, before.City);
  });

  test('an escaped backslash followed by u0000 is plain text and is stored', async () => {
    const res = await ws.request('PATCH', ws.url(`/data/Customer/${encodeURIComponent(anna)}`), { raw: '{"City":"C:\\\\u0000"}' });
    assert.equal(res.statusCode, 204, res.body);
    const read = (await ws.request('GET', ws.url(`/data/Customer/${encodeURIComponent(anna)}`), { key: ws.keys.viewer })).json() as Record<string, unknown>;
    assert.equal(read.City, 'C:\\u0000');
  });

  test('an activity whose Title holds NUL gets 400 and is not stored', async () => {
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: activity('nul-1', 'a\u0000b') });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(odataError(res, 400).message, /NUL/);
    const read = await ws.request('GET', ws.url('/data/UnifiedActivity/nul-1'), { key: ws.keys.viewer });
    assert.equal(read.statusCode, 404);
  });

  test('the Customer Insights client form (JSON inside a JSON string) is checked too', async () => {
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: JSON.stringify(activity('nul-2', 'x\u0000')) });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(odataError(res, 400).message, /NUL/);
  });

  test('an NDJSON $batch with NUL on one line names the line', async () => {
    const lines = [JSON.stringify(activity('nul-3', 'fine')), JSON.stringify(activity('nul-4', 'bad\u0000'))].join('\n');
    const res = await ws.request('POST', ws.url('/data/UnifiedActivity/$batch'), { raw: lines, contentType: 'application/x-ndjson' });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(odataError(res, 400).message, /line 2/);
    assert.equal((await ws.request('GET', ws.url('/data/UnifiedActivity/nul-3'), { key: ws.keys.viewer })).statusCode, 404, 'nothing of the batch is stored');
  });
});

describe('NUL in the URL', () => {
  test('a customer id with %00 is refused with 400 naming the parameter', async () => {
    for (const method of ['GET', 'PATCH'] as const) {
      const res = await ws.request(method, ws.url('/data/Customer/abc%00def'), method === 'PATCH' ? { body: { City: 'x' } } : { key: ws.keys.viewer });
      assert.equal(res.statusCode, 400, `${method}: ${res.body}`);
      assert.match(odataError(res, 400).message, /entityId/);
    }
  });

  test('a $filter literal with %00 is refused with 400', async () => {
    const res = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $filter: "City eq 'a\u0000'" } });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(odataError(res, 400).message, /\$filter/);
  });
});
