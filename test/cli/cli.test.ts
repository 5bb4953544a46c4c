import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

type Job = { jobId: string; jobStatus: string; tasks: { name: string }[] };

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');
const TINY = path.join(ROOT, 'test/fixtures/tiny/instance.yaml');

function kindred(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, KINDRED_ADMIN_KEY: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `kindred serve` and resolves with its address and printed output once it listens. */
function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; stdout: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, KINDRED_ADMIN_KEY: '', ...env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}\n${err}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m && /API key/.test(out)) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stdout: () => out });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}\n${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('kindred serve --demo', () => {
  let dataDir: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let key: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kindred-cli-'));
    server = await startServer(['--demo', '--data-dir', dataDir]);
    key = /Administrator API key \([^)]*\): (\S+)/.exec(server.stdout())![1];
  });
  after(async () => {
    await stop(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('is healthy and serves the refreshed demo instance to the printed key', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const headers = { 'Ocp-Apim-Subscription-Key': key };
    const instances = (await (await fetch(`${server.url}/api/instances`, { headers })).json()) as { instanceId: string; currentGeneration: number }[];
    assert.deepEqual(
      instances.map((i) => i.instanceId),
      ['demo'],
    );
    assert.ok(instances[0].currentGeneration >= 1, 'the first refresh ran before the server said it was ready');
    const jobs = (await (await fetch(`${server.url}/api/instances/demo/workflows/main/jobs`, { headers: { Authorization: `Bearer ${key}` } })).json()) as Job[];
    assert.equal(jobs[0].jobStatus, 'successful');
    assert.deepEqual(
      jobs[0].tasks.map((t) => t.name),
      ['pull', 'normalize', 'dedupe', 'match', 'merge', 'activities', 'measures', 'segments', 'write', 'enrich', 'export'],
    );
  });

  test('rejects calls without a valid key with an OData error', async () => {
    const none = await fetch(`${server.url}/api/instances`);
    assert.equal(none.status, 401);
    const body = (await none.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'Unauthorized');
    const wrong = await fetch(`${server.url}/api/instances`, { headers: { 'Ocp-Apim-Subscription-Key': 'kdr_wrong' } });
    assert.equal(wrong.status, 401);
  });

  test('starts a refresh job over the API, refuses a second one while it runs, and records it', async () => {
    const headers = { 'Ocp-Apim-Subscription-Key': key };
    const started = await fetch(`${server.url}/api/instances/demo/workflows/main/jobs?operationType=all`, { method: 'POST', headers });
    assert.equal(started.status, 202);
    const job = (await started.json()) as Job;
    let status = job.jobStatus;
    for (let i = 0; i < 100 && (status === 'queued' || status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = ((await (await fetch(`${server.url}/api/instances/demo/workflows/main/jobs/${job.jobId}`, { headers })).json()) as Job).jobStatus;
    }
    assert.equal(status, 'successful');
    const missing = await fetch(`${server.url}/api/instances/demo/workflows/main/jobs/nope`, { headers });
    assert.equal(missing.status, 404);
  });

  test('a restart keeps the data and does not print the admin key again', async () => {
    await stop(server.child);
    server = await startServer(['--demo', '--data-dir', dataDir]);
    assert.match(server.stdout(), /Administrator API key already created \(prefix kdr_/);
    const res = await fetch(`${server.url}/api/instances/demo`, { headers: { 'Ocp-Apim-Subscription-Key': key } });
    assert.equal(res.status, 200, 'the key from the first start still works');
  });

  test('KINDRED_ADMIN_KEY is used as the admin key', async () => {
    await stop(server.child);
    server = await startServer(['--data-dir', dataDir], { KINDRED_ADMIN_KEY: 'kdr_chosen_by_operator' });
    assert.match(server.stdout(), /kdr_chosen_by_operator/);
    const res = await fetch(`${server.url}/api/instances`, { headers: { 'Ocp-Apim-Subscription-Key': 'kdr_chosen_by_operator' } });
    assert.equal(res.status, 200);
  });
});

describe('kindred instance, refresh and export', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'kindred-cli-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('a bad definition fails with the file, field and line', () => {
    const bad = path.join(dataDir, 'bad.yaml');
    writeFileSync(bad, readFileSync(TINY, 'utf8').replace('primaryKey: LoyaltyId', 'primaryKey: MemberNo'));
    const r = kindred(['instance', 'apply', bad, '--data-dir', dataDir]);
    assert.equal(r.code, 1);
    const line = readFileSync(bad, 'utf8').split('\n').findIndex((l) => l.includes('primaryKey: MemberNo')) + 1;
    assert.match(r.stderr, new RegExp(`bad\\.yaml:${line}:\\d+: dataSources\\[1\\]\\.entities\\[0\\]\\.primaryKey: primary key 'MemberNo' is not a column`));
  });

  test('apply, refresh and export AlternateKey and Customer', () => {
    assert.equal(kindred(['instance', 'apply', TINY, '--data-dir', dataDir]).code, 0);
    const r = kindred(['refresh', '--instance', 'tiny', '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /refresh successful: 11 records → 5 profiles, 3 activities/);
    assert.match(r.stderr, /merge\s+successful/);
    // One line per stage: the pipeline reports write a second time once the generation is committed.
    const stageLines = r.stderr.split('\n').filter((l) => /^\w+\s+(successful|failed|cancelled|skipped)\s/.test(l)).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(stageLines, ['pull', 'normalize', 'dedupe', 'match', 'merge', 'activities', 'measures', 'segments', 'write', 'enrich', 'export']);
    const out = path.join(dataDir, 'ak.csv');
    assert.equal(kindred(['export', 'AlternateKey', '--instance', 'tiny', '--out', out, '--data-dir', dataDir]).code, 0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'DataSourceName,EntityName,AlternateValue,CustomerId');
    assert.equal(lines.length, 8);
    const jsonl = kindred(['export', 'Customer', '--instance', 'tiny', '--format', 'jsonl', '--data-dir', dataDir]);
    const customers = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(customers.length, 5);
    assert.ok(customers.every((c) => typeof c.CustomerId === 'string' && 'Shop_Contacts_ContactId' in c));
    const enriched = kindred(['export', 'CustomerEnrichment', '--instance', 'tiny', '--data-dir', dataDir]);
    assert.equal(enriched.code, 0, enriched.stderr);
    const rows = enriched.stdout.trim().split('\n');
    assert.equal(rows.length, 6);
    assert.ok(rows[0].startsWith('CustomerId,PhoneE164,PhoneCountry,PhoneLineType,PhoneIsValid,EmailDomain,'), rows[0]);
  });

  test('unknown entity and unknown instance give clear errors', () => {
    const a = kindred(['export', 'Nope', '--instance', 'tiny', '--data-dir', dataDir]);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /unknown entity 'Nope'; choose Customer, UnifiedActivity, AlternateKey/);
    const b = kindred(['refresh', '--instance', 'missing', '--data-dir', dataDir]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /instance 'missing' does not exist/);
  });
});
