// Exports after a refresh, by hand and their runs: CSV/JSONL files, PostgreSQL (upsert by
// CustomerId) and HTTP (signed batches, retried), through the real pipeline and API.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { verifySignature } from '../../src/notify/signing.js';
import { customerOf, odataError, REALTIME_FIXTURE, sleep, workspace, type Workspace } from '../api/helpers.js';
import { receiver, scratchDatabase, type Receiver } from './helpers.js';

const SECRET = 'export-secret-1234';

function parseCsv(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => line.split(','));
}

describe('exports after a refresh', () => {
  let ws: Workspace;
  let hook: Receiver;
  before(async () => {
    hook = await receiver();
    ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
    ws.append(
      'instance.yaml',
      `
exports:
  - name: contactsCsv
    entity: Customer
    fields: [CustomerId, FullName, Email]
    target: { type: file, folder: out, format: csv }
  - name: enrichedJsonl
    entity: CustomerEnrichment
    target: { type: file, folder: out, format: jsonl, fileName: enrichment.jsonl }
  - name: activitiesHttp
    entity: UnifiedActivity
    fields: [ActivityId, CustomerId, ActivityType, Title]
    target:
      type: http
      url: ${hook.url}/ingest
      secret: ${SECRET}
      batchSize: 2
      retry: { attempts: 4, baseDelayMs: 10 }
  - name: manualOnly
    entity: AlternateKey
    afterRefresh: false
    target: { type: file, folder: out, format: csv }
`,
    );
    await ws.apply();
  });
  after(async () => {
    await ws?.close();
    await hook?.close();
  });

  test('a refresh runs every after-refresh export and records the export stage', async () => {
    hook.script = [503, 429]; // the first batch is retried twice
    const run = await ws.refresh();
    const stage = run.stages.find((s) => s.name === 'export')!;
    assert.equal(stage.status, 'successful');
    assert.deepEqual({ exports: stage.counts.exports, successful: stage.counts.successful, failed: stage.counts.failed }, { exports: 3, successful: 3, failed: 0 });
    assert.ok(typeof stage.durationMs === 'number');

    const csv = parseCsv(ws.read('out/contactsCsv.csv'));
    assert.deepEqual(csv[0], ['CustomerId', 'FullName', 'Email']);
    const profiles = await ws.services.store.count(ws.instanceId, 'Customer');
    assert.equal(csv.length - 1, profiles);
    const bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
    assert.ok(csv.some((r) => r[0] === bob && r[2] === 'bob@example.com'), 'Bob is exported with his email');
    assert.ok(!existsSync(ws.file('out/manualOnly.csv')), 'an export with afterRefresh: false does not run after a refresh');
    assert.deepEqual(readdirSync(ws.file('out')).filter((f) => f.startsWith('.')), [], 'no temporary file is left');

    const enriched = ws.read('out/enrichment.jsonl').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(enriched.length, profiles);
    const bobE = enriched.find((e) => e.CustomerId === bob);
    assert.equal(bobE.EmailDomain, 'example.com');
    assert.equal(bobE.PhoneE164, '+12125550100');
    assert.equal(bobE.FullNameFirst, 'Bob');
    assert.equal(bobE.FullNameLast, 'Stone');

    // HTTP: 3 batch activities in batches of 2, first batch answered 503 then 429 then 200.
    const ingest = hook.received.filter((r) => r.url === '/ingest');
    assert.equal(ingest.length, 4, 'two batches, the first tried three times');
    for (const r of ingest) {
      const ts = r.headers['x-kindred-timestamp'] as string;
      assert.ok(verifySignature(SECRET, ts, r.body, r.headers['x-kindred-signature'] as string), 'each request is signed');
      assert.ok(!verifySignature('another-secret', ts, r.body, r.headers['x-kindred-signature'] as string));
    }
    const accepted = ingest.slice(2);
    assert.deepEqual(accepted.map((r) => [r.json.batch, r.json.last, (r.json.rows as unknown[]).length]), [[1, false, 2], [2, true, 1]]);
    const rows = accepted.flatMap((r) => r.json.rows as Record<string, unknown>[]);
    assert.deepEqual(Object.keys(rows[0]), ['ActivityId', 'CustomerId', 'ActivityType', 'Title']);
    assert.equal(rows.length, await ws.services.store.count(ws.instanceId, 'UnifiedActivity'));
  });

  test('export runs are recorded with status and counts and readable by Administrators only', async () => {
    const list = await ws.request('GET', ws.url('/manage/exports'), { key: ws.keys.admin });
    assert.equal(list.statusCode, 200, list.body);
    const exports = list.json().exports as Record<string, any>[];
    assert.deepEqual(exports.map((e) => e.name), ['contactsCsv', 'enrichedJsonl', 'activitiesHttp', 'manualOnly']);
    const http = exports.find((e) => e.name === 'activitiesHttp')!;
    assert.equal(http.lastRun.status, 'successful');
    assert.equal(http.lastRun.rows, 3);
    assert.equal(http.lastRun.batches, 2);
    assert.equal(http.lastRun.trigger, 'refresh');
    assert.ok(!JSON.stringify(list.json()).includes(SECRET), 'the secret is never shown');
    assert.equal(exports.find((e) => e.name === 'manualOnly')!.lastRun, null);

    const runs = await ws.request('GET', ws.url('/manage/exports/contactsCsv/runs'), { key: ws.keys.admin });
    assert.equal(runs.statusCode, 200);
    const [run] = runs.json().runs;
    assert.equal(run.status, 'successful');
    assert.ok(run.jobId && run.generation >= 1);

    for (const key of [ws.keys.viewer, ws.keys.contributor]) odataError(await ws.request('GET', ws.url('/manage/exports'), { key }), 403);
    odataError(await ws.request('POST', ws.url('/manage/exports/contactsCsv/run'), { key: ws.keys.contributor }), 403);
    odataError(await ws.request('GET', ws.url('/manage/exports/nope/runs'), { key: ws.keys.admin }), 404, { target: 'exportName' });
  });

  test('POST .../run runs an export by hand; its run ends recorded', async () => {
    const res = await ws.request('POST', ws.url('/manage/exports/manualOnly/run'), { key: ws.keys.admin });
    assert.equal(res.statusCode, 202, res.body);
    const started = res.json();
    assert.equal(started.trigger, 'manual');
    let run = started;
    for (let i = 0; i < 100 && run.status === 'running'; i++) {
      await sleep(50);
      run = (await ws.request('GET', ws.url(`/manage/exports/manualOnly/runs/${started.runId}`), { key: ws.keys.admin })).json();
    }
    assert.equal(run.status, 'successful', run.error);
    const csv = parseCsv(ws.read('out/manualOnly.csv'));
    assert.deepEqual(csv[0], ['DataSourceName', 'EntityName', 'AlternateValue', 'CustomerId']);
    assert.equal(csv.length - 1, run.rows);
    assert.equal(run.rows, await ws.services.store.count(ws.instanceId, 'AlternateKey'));
  });

  test('a failing target fails its export run, not the refresh', async () => {
    hook.script = [500, 500, 500, 500];
    const run = await ws.refresh();
    const stage = run.stages.find((s) => s.name === 'export')!;
    assert.equal(stage.counts.failed, 1);
    assert.equal(stage.counts.successful, 2);
    assert.match(JSON.stringify(stage.issues), /activitiesHttp: batch 1 was not accepted after 4 attempt\(s\): HTTP 500/);
    const [last] = (await ws.request('GET', ws.url('/manage/exports/activitiesHttp/runs'), { key: ws.keys.admin })).json().runs;
    assert.equal(last.status, 'failed');
    assert.match(last.error, /HTTP 500/);
  });
});

describe('export to PostgreSQL', () => {
  test('upserts by CustomerId after each refresh; rows that left the export are removed', async (t) => {
    const db = await scratchDatabase('export');
    if ('skip' in db) {
      t.diagnostic(db.skip);
      return t.skip(db.skip);
    }
    const ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
    const client = new pg.Client({ connectionString: db.url });
    try {
      ws.append(
        'instance.yaml',
        `
exports:
  - name: crm
    entity: Customer
    fields: [CustomerId, FullName, Email, Points]
    target: { type: postgres, connectionString: "${db.url}", schema: kindred, table: customers }
`,
      );
      await ws.apply();
      await ws.refresh();
      await client.connect();
      const read = async () =>
        (await client.query('SELECT "CustomerId", "FullName", "Email", "Points", _kindred_run FROM kindred.customers ORDER BY "CustomerId"')).rows;
      const first = await read();
      assert.equal(first.length, await ws.services.store.count(ws.instanceId, 'Customer'));
      const bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
      const bobRow = first.find((r) => r.CustomerId === bob);
      assert.equal(bobRow.Email, 'bob@example.com');
      assert.equal(Number(bobRow.Points), 1250.5, 'decimal attributes are numeric columns');
      const columns = (await client.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'kindred' AND table_name = 'customers'`)).rows;
      assert.equal(columns.find((c) => c.column_name === 'Points').data_type, 'numeric');

      // Dan leaves the sources, Bob changes his email: the next refresh's export upserts and removes.
      ws.replace('loyalty.csv', 'L2,Dan Eve,dan@example.com,,Silver,300,2022-11-15,2026-01-01T00:00:00Z\n', '');
      ws.replace('contacts.csv', 'C3,Bob Stone,bob@example.com', 'C3,Bob Stone,bob.stone@example.com');
      ws.replace('loyalty.csv', 'L1,"Stone, Bob",bob@example.com', 'L1,"Stone, Bob",bob.stone@example.com');
      const dan = first.find((r) => r.FullName === 'Dan Eve');
      assert.ok(dan);
      await ws.refresh();
      const second = await read();
      assert.equal(second.length, first.length - 1);
      assert.ok(!second.some((r) => r.CustomerId === dan.CustomerId), 'a profile that is gone is deleted from the table');
      assert.equal(second.find((r) => r.CustomerId === bob).Email, 'bob.stone@example.com');
      assert.equal(new Set(second.map((r) => r._kindred_run)).size, 1, 'every row is from the last export run');
    } finally {
      await client.end().catch(() => {});
      await ws.close();
      await db.drop();
    }
  });

  test('an unreachable server fails the export run with the reason', async () => {
    const ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
    try {
      ws.append(
        'instance.yaml',
        `
exports:
  - name: nowhere
    entity: Customer
    target: { type: postgres, connectionString: "postgres://postgres@127.0.0.1:1/none", table: customers }
`,
      );
      await ws.apply();
      const run = await ws.refresh();
      assert.equal(run.status, 'successful', 'the refresh itself succeeds');
      const [last] = await ws.services.store.exportRuns.listRuns(ws.instanceId, 'nowhere');
      assert.equal(last.status, 'failed');
      assert.match(last.error ?? '', /ECONNREFUSED|connect/);
    } finally {
      await ws.close();
    }
  });
});

test('file exports replace the file atomically (path of the folder is relative to the definition)', async () => {
  const ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  try {
    ws.append('instance.yaml', `\nexports:\n  - { name: all, entity: Customer, target: { type: file, folder: ../exported, format: jsonl } }\n`);
    await ws.apply();
    await ws.refresh();
    const file = path.resolve(path.dirname(ws.file('instance.yaml')), '../exported/all.jsonl');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, await ws.services.store.count(ws.instanceId, 'Customer'));
    assert.ok(lines.every((l) => typeof JSON.parse(l).CustomerId === 'string'));
  } finally {
    await ws.close();
  }
});

test("a segment's members only: the export filters by the membership of the refreshed generation", async () => {
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
exports:
  - { name: gold, entity: Customer, segment: Gold, fields: [CustomerId, FullName, Tier], target: { type: file, folder: out, format: jsonl } }
  - { name: goldEnriched, entity: CustomerEnrichment, segment: Gold, target: { type: file, folder: out, format: csv } }
`,
    );
    await ws.apply();
    await ws.refresh();
    const bob = await customerOf(ws, 'Shop', 'Contacts', 'C3');
    const rows = ws.read('out/gold.jsonl').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows, [{ CustomerId: bob, FullName: 'Bob Stone', Tier: 'Gold' }]);
    const csv = parseCsv(ws.read('out/goldEnriched.csv'));
    assert.equal(csv.length, 2);
    assert.equal(csv[1][0], bob);
    ws.replace('loyalty.csv', 'L2,Dan Eve,dan@example.com,,Silver', 'L2,Dan Eve,dan@example.com,,Gold');
    await ws.refresh();
    assert.equal(ws.read('out/gold.jsonl').trim().split('\n').length, 2, 'the new member is exported after the refresh that made him one');
  } finally {
    await ws.close();
  }
});

test('an export on its own cron schedule runs without a refresh and is recorded as scheduled', async () => {
  const ws = await workspace({ definition: REALTIME_FIXTURE, copy: true });
  try {
    ws.append(
      'instance.yaml',
      `\nexports:\n  - { name: frequent, entity: Customer, afterRefresh: false, schedule: { cron: "* * * * * *" }, target: { type: file, folder: out, format: csv } }\n`,
    );
    await ws.apply();
    await ws.refresh();
    assert.ok(!existsSync(ws.file('out/frequent.csv')), 'not after the refresh');
    const record = (await ws.services.store.getInstance(ws.instanceId))!;
    ws.services.exports.schedule(record);
    const list = (await ws.request('GET', ws.url('/manage/exports'), { key: ws.keys.admin })).json();
    assert.ok(Date.parse(list.exports[0].nextScheduledRun) > Date.now() - 1000, 'the next run is shown');
    let runs: Awaited<ReturnType<typeof ws.services.store.exportRuns.listRuns>> = [];
    for (let i = 0; i < 100 && !runs.some((r) => r.status === 'successful'); i++) {
      await sleep(50);
      runs = await ws.services.store.exportRuns.listRuns(ws.instanceId, 'frequent');
    }
    const done = runs.find((r) => r.status === 'successful');
    assert.ok(done, 'a scheduled run succeeded');
    assert.equal(done.trigger, 'schedule');
    assert.equal(parseCsv(ws.read('out/frequent.csv')).length - 1, await ws.services.store.count(ws.instanceId, 'Customer'));
  } finally {
    await ws.close();
  }
});
