// Several `kindred serve` processes on one PostgreSQL schema, over real HTTP: a write acknowledged
// by one node is read back at once through another and reaches the other's open change feed within
// a second; a refresh started on both nodes at the same moment runs once; a node started while a
// refresh runs elsewhere leaves that run alone. Skipped, with the reason printed, without PostgreSQL.
//
// The refresh reads its one source from a named pipe (FIFO) that the test fills only when it wants
// the run to end, so "a run is active while the third node starts" holds by construction, not by
// timing.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from '../storage/postgres-helpers.js';
import { api, openChanges, type Job } from './multi-node-helpers.js';
import { CLI, REPO, startServer, type ServerProcess } from './server-process.js';

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the multi-node test: ${unavailable}`);

const ADMIN_KEY = 'kindred-multinode-admin-key-0123456789abcdef';
const call = <T>(base: string, method: string, route: string, body?: unknown) => api<T>(base, ADMIN_KEY, method, route, body);

describe('several kindred serve nodes on one PostgreSQL database', { skip: unavailable ?? false, timeout: 300_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'kindred-multinode-'));
  const fifo = path.join(root, 'contacts.csv');
  const nodes: ServerProcess[] = [];
  let schema: string;
  let drop: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let customerId: string;

  const start = async (name: string) => {
    const node = await startServer({ dataDir: path.join(root, name), adminKey: ADMIN_KEY, env });
    nodes.push(node);
    return node;
  };

  before(async () => {
    ({ schema, drop } = await freshSchema());
    env = { DATABASE_URL: POSTGRES_URL, KINDRED_DATABASE_SCHEMA: schema, KINDRED_LOG_LEVEL: 'warn' };
    // The instance: the demo's definition and data, applied through the CLI with the PostgreSQL flags.
    const demo = path.join(REPO, 'examples/demo/instance.yaml');
    const applied = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'instance', 'apply', demo, '--database-url', POSTGRES_URL, '--database-schema', schema], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: '', KINDRED_DATABASE_SCHEMA: '' },
    });
    assert.equal(applied.status, 0, applied.stderr);
    assert.match(applied.stdout, /instance 'demo' created/);
    // A second instance whose only source is a named pipe: its refresh waits until the test writes it.
    execFileSync('mkfifo', [fifo]);
    const slow = path.join(root, 'slow.json');
    writeFileSync(
      slow,
      JSON.stringify({
        id: 'slow',
        dataSources: [{ name: 'Crm', type: 'csv', entities: [{ name: 'Contacts', path: fifo, primaryKey: 'Id', columns: [{ name: 'Id' }, { name: 'Email' }] }] }],
        unification: { matching: [{ entity: 'Crm.Contacts' }] },
      }),
    );
    const slowApplied = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'instance', 'apply', slow], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(slowApplied.status, 0, slowApplied.stderr);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('two nodes start on the schema; the first refresh of demo runs once', async () => {
    const [one, two] = [await start('one'), await start('two')];
    const started = await Promise.all([one, two].map((n) => call<Job>(n.url, 'POST', '/instances/demo/workflows/main/jobs')));
    assert.deepEqual(started.map((s) => s.status).sort(), [202, 409], 'one node starts the run, the other answers that it is active');
    const jobId = started.find((s) => s.status === 202)!.body.jobId;
    for (;;) {
      const job = await call<Job>(two.url, 'GET', `/instances/demo/workflows/main/jobs/${jobId}`);
      if (job.body.jobStatus === 'successful') break;
      assert.ok(['queued', 'running'].includes(job.body.jobStatus), `run ${jobId}: ${JSON.stringify(job.body)}\n${one.tail()}\n${two.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const jobs = await call<Job[]>(one.url, 'GET', '/instances/demo/workflows/main/jobs');
    assert.deepEqual(jobs.body.map((j) => j.jobId), [jobId], 'exactly one run');
    const customers = await call<{ value: { CustomerId: string }[] }>(two.url, 'GET', '/instances/demo/data/Customer?$top=1');
    customerId = customers.body.value[0].CustomerId;
  });

  it('a write acknowledged by the first node is read through the second at once and reaches its change feed within 1 s', async () => {
    const [one, two] = nodes;
    const feed = await openChanges(two.url, ADMIN_KEY, 'demo', customerId);
    try {
      for (const city of ['Tromsø', 'Bodø', 'Narvik']) {
        const before = feed.events.length;
        const write = await fetch(`${one.url}/api/instances/demo/data/Customer/${encodeURIComponent(customerId)}`, {
          method: 'PATCH',
          headers: { 'Ocp-Apim-Subscription-Key': ADMIN_KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ City: city }),
        });
        const acknowledged = Date.now();
        assert.equal(write.status, 204, await write.text());
        const read = await call<{ City: string }>(two.url, 'GET', `/instances/demo/data/Customer/${encodeURIComponent(customerId)}`);
        assert.equal(read.status, 200);
        assert.equal(read.body.City, city, 'read-your-writes across nodes');
        await feed.waitFor(before + 1, 1000);
        const event = feed.events[before];
        assert.deepEqual([event.change.customerId, event.change.kind, event.change.attributes], [customerId, 'profile', ['City']]);
        assert.ok(event.at - acknowledged <= 1000, `arrived ${event.at - acknowledged} ms after the acknowledgement`);
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(feed.events.length, 3, 'each write once');
    } finally {
      feed.close();
    }
  });

  it('a refresh started on both nodes at the same moment runs once, and a node started meanwhile leaves it alone', async () => {
    const [one, two] = nodes;
    const started = await Promise.all([one, two].map((n) => call<Job>(n.url, 'POST', '/instances/slow/workflows/main/jobs')));
    assert.deepEqual(started.map((s) => s.status).sort(), [202, 409], JSON.stringify(started.map((s) => s.body)));
    const jobId = started.find((s) => s.status === 202)!.body.jobId;
    const status = async (n: ServerProcess) => (await call<Job>(n.url, 'GET', `/instances/slow/workflows/main/jobs/${jobId}`)).body.jobStatus;
    // The run waits for its pipe: it stays active however long the third node takes to start.
    while ((await status(one)) !== 'running') await new Promise((r) => setTimeout(r, 100));
    const three = await start('three');
    assert.equal(await status(three), 'running', 'the starting node did not fail the run another node executes');
    const again = await call<Job>(three.url, 'POST', '/instances/slow/workflows/main/jobs');
    assert.equal(again.status, 409, 'the third node does not start a second run either');

    const pipe = await open(fifo, 'w');
    await pipe.write('Id,Email\n1,a@example.com\n2,b@example.com\n3,a@example.com\n');
    await pipe.close();
    for (;;) {
      const s = await status(three);
      if (s === 'successful') break;
      assert.equal(s, 'running', `${one.tail()}\n${two.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const jobs = await call<Job[]>(three.url, 'GET', '/instances/slow/workflows/main/jobs');
    assert.deepEqual(jobs.body.map((j) => j.jobId), [jobId], 'exactly one run of slow');
    // The run's profiles are read through another node.
    const done = await call<Job & { summary: { profiles: number } }>(two.url, 'GET', `/instances/slow/workflows/main/jobs/${jobId}`);
    const customers = await call<{ value: unknown[] }>(two.url, 'GET', '/instances/slow/data/Customer');
    assert.ok(done.body.summary.profiles > 0);
    assert.equal(customers.body.value.length, done.body.summary.profiles);
  });
});
