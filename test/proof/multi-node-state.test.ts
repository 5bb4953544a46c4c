// What several `kindred serve` nodes on one PostgreSQL schema must share besides the data, over real
// HTTP between real processes: start-up on a fresh database, web UI sessions, API keys and roles,
// instance definitions and schedules, export runs of live and of dead nodes, and what an open change
// feed is told when its node's LISTEN connection was lost. Skipped, with the reason printed, without
// PostgreSQL.
//
// Bounds are the documented ones (docs/running-at-scale.md): a change made through one node applies
// on the others within 2 s (normally at once, by notification); nothing here depends on a faster
// machine than that.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { hashKey } from '../../src/api/auth.js';
import { ensureAdminKey } from '../../src/cli/commands/serve.js';
import { loadInstanceDefinition } from '../../src/config/load.js';
import { openServices } from '../../src/services.js';
import { changeChannel } from '../../src/storage/postgres/realtime-writer.js';
import { freshSchema, postgresUnavailable, POSTGRES_URL } from '../storage/postgres-helpers.js';
import { api, openChanges, within, type Job } from './multi-node-helpers.js';
import { CLI, REPO, startServer, type ServerProcess } from './server-process.js';

const unavailable = await postgresUnavailable();
if (unavailable) console.log(`skipping the multi-node state tests: ${unavailable}`);

const ADMIN_KEY = 'kindred-multinode-state-admin-0123456789abcdef';
/** How long a change made through one node may take to apply on another (docs/running-at-scale.md). */
const BOUND_MS = 2000;
/** Slack for a busy machine on top of the bound: the probe's own request and scheduling. */
const SLACK_MS = 1500;
const FAR_CRON = '0 0 1 1 *';

/** An HTTP export receiver that holds every request until released (so an export run stays running). */
async function heldReceiver() {
  let held: ServerResponse[] = [];
  let holding = true;
  let arrived: (() => void) | null = null;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (holding) {
        held.push(res);
        arrived?.();
      } else res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`,
    /** Resolves once a request is being held. */
    waitForRequest: () => (held.length ? Promise.resolve() : new Promise<void>((r) => (arrived = r))),
    hold() {
      holding = true;
      held = [];
    },
    release() {
      holding = false;
      for (const res of held.splice(0)) res.writeHead(200).end('{}');
    },
    close: () => new Promise<void>((r) => {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('several kindred serve nodes share sessions, keys, definitions, schedules and export runs', { skip: unavailable ?? false, timeout: 600_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), 'kindred-multinode-state-'));
  const nodes: ServerProcess[] = [];
  let schema: string;
  let drop: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let receiver: Awaited<ReturnType<typeof heldReceiver>>;
  let customerId: string;
  const call = <T>(node: ServerProcess, method: string, route: string, body?: unknown, key = ADMIN_KEY) => api<T>(node.url, key, method, route, body);
  const start = async (name: string) => {
    const node = await startServer({ dataDir: path.join(root, name), adminKey: ADMIN_KEY, env });
    nodes.push(node);
    return node;
  };
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env } });

  before(async () => {
    ({ schema, drop } = await freshSchema());
    env = { DATABASE_URL: POSTGRES_URL, KINDRED_DATABASE_SCHEMA: schema, KINDRED_LOG_LEVEL: 'warn' };
    receiver = await heldReceiver();
    const applied = cli('instance', 'apply', path.join(REPO, 'examples/demo/instance.yaml'));
    assert.equal(applied.status, 0, applied.stderr);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await receiver?.close();
    await drop?.();
    rmSync(root, { recursive: true, force: true });
  });

  it('two nodes started at the same instant on a fresh database with a new KINDRED_ADMIN_KEY both start', async () => {
    const [one, two] = await Promise.all([start('one'), start('two')]);
    for (const node of [one, two]) assert.equal((await call(node, 'GET', '/instances')).status, 200, node.tail());
    const keys = await call<{ value: { principalId: string }[] }>(one, 'GET', '/keys');
    assert.equal(keys.body.value.filter((k) => k.principalId === 'app:admin-env').length, 1, JSON.stringify(keys.body));
    // The demo's first refresh, for the tests below (exports need a generation).
    const started = await call<Job>(one, 'POST', '/instances/demo/workflows/main/jobs');
    assert.equal(started.status, 202);
    await within(180_000, 'the demo refresh', async () => {
      const job = await call<Job>(two, 'GET', `/instances/demo/workflows/main/jobs/${started.body.jobId}`);
      assert.ok(['queued', 'running', 'successful'].includes(job.body.jobStatus), JSON.stringify(job.body));
      return job.body.jobStatus === 'successful';
    }, 200);
    customerId = (await call<{ value: { CustomerId: string }[] }>(two, 'GET', '/instances/demo/data/Customer?$top=1')).body.value[0].CustomerId;
  });

  it('a web UI session signed in on one node works on the other, and signing out on the other ends it on both', async () => {
    const [one, two] = nodes;
    const signIn = await fetch(`${one.url}/ui/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-kindred-ui': '1' }, body: JSON.stringify({ key: ADMIN_KEY }) });
    assert.equal(signIn.status, 201, await signIn.text());
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
    const who = await fetch(`${two.url}/ui/session`, { headers: { cookie } });
    assert.equal(who.status, 200, 'the session is known on the node that did not sign it in');
    const read = await fetch(`${two.url}/api/instances/demo/rbac/myrole`, { headers: { cookie } });
    assert.equal(read.status, 200, 'and it authenticates API calls there');
    const out = await fetch(`${two.url}/ui/session`, { method: 'DELETE', headers: { cookie, 'x-kindred-ui': '1' } });
    assert.equal(out.status, 204);
    for (const node of [one, two]) assert.equal((await fetch(`${node.url}/ui/session`, { headers: { cookie } })).status, 401, 'signed out everywhere');
    assert.equal((await fetch(`${one.url}/api/instances/demo/rbac/myrole`, { headers: { cookie } })).status, 401);
  });

  it('a role lowered or a key revoked through one node applies on the other within the bound', async () => {
    const [one, two] = nodes;
    const made = await call<{ key: string; keyId: string }>(one, 'POST', '/instances/demo/keys', { name: 'writer', role: 'Contributor' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const write = () => call(two, 'PATCH', `/instances/demo/data/Customer/${encodeURIComponent(customerId)}`, { City: 'Hamar' }, made.body.key);
    assert.equal((await write()).status, 204, 'the new key works on the other node (and is cached there now)');

    const lowered = await call(one, 'PUT', '/instances/demo/rbac/principals/app%3Awriter/assignment', { roles: ['Viewer'] });
    assert.equal(lowered.status, 200, JSON.stringify(lowered.body));
    const roleMs = await within(BOUND_MS + SLACK_MS, 'the lowered role on the other node', async () => (await write()).status === 403);

    const revoked = await call(one, 'DELETE', `/instances/demo/keys/${made.body.keyId}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const revokeMs = await within(BOUND_MS + SLACK_MS, 'the revocation on the other node', async () => (await call(two, 'GET', '/instances/demo/rbac/myrole', undefined, made.body.key)).status === 401);
    console.log(`role change applied on the other node after ${roleMs} ms, revocation after ${revokeMs} ms`);
  });

  it('a measure added and a schedule applied through one node (API or `kindred instance apply`) are used and installed by every node', async () => {
    const [one, two] = nodes;
    const measure = { name: 'SpendAgain', aggregation: 'sum', source: { entity: 'eCommerce.eCommercePurchases' }, field: 'TotalPrice' };
    assert.equal((await call(one, 'POST', '/instances/demo/manage/measures', measure)).status, 201);
    await within(BOUND_MS + SLACK_MS, 'the new measure on the other node', async () => (await call(two, 'GET', '/instances/demo/manage/measures/SpendAgain')).status === 200);

    // The demo with a refresh schedule and a scheduled HTTP export, through the first node's API.
    const { definition } = loadInstanceDefinition(path.join(REPO, 'examples/demo/instance.yaml'));
    const scheduled = {
      ...definition,
      measures: [...(definition.measures ?? []), measure],
      schedule: { cron: FAR_CRON, timezone: 'UTC' },
      exports: [
        {
          name: 'held',
          entity: 'Customer',
          fields: ['CustomerId'],
          afterRefresh: false,
          schedule: { cron: FAR_CRON, timezone: 'UTC' },
          target: { type: 'http', url: receiver.url, secret: 'multinode-secret', timeoutMs: 600_000, batchSize: 10_000 },
        },
      ],
    };
    const put = await call(one, 'PUT', '/instances/demo', scheduled);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    for (const node of [one, two]) {
      await within(BOUND_MS + SLACK_MS, `the refresh schedule on ${node.url}`, async () => {
        const info = await call<{ schedule: { nextRun: string | null } | null }>(node, 'GET', '/instances/demo');
        return info.body.schedule?.nextRun != null;
      });
      await within(BOUND_MS + SLACK_MS, `the export schedule on ${node.url}`, async () => {
        const list = await call<{ exports: { name: string; nextScheduledRun: string | null }[] }>(node, 'GET', '/instances/demo/manage/exports');
        return list.body.exports.find((e) => e.name === 'held')?.nextScheduledRun != null;
      });
    }

    // A new instance applied by the CLI straight into the database: every node installs its schedule.
    const file = path.join(root, 'nightly.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 'nightly',
        schedule: { cron: FAR_CRON, timezone: 'UTC' },
        dataSources: [{ name: 'Crm', type: 'csv', entities: [{ name: 'Contacts', path: 'contacts.csv', primaryKey: 'Id', columns: [{ name: 'Id' }] }] }],
        unification: { matching: [{ entity: 'Crm.Contacts' }] },
      }),
    );
    const applied = cli('instance', 'apply', file);
    assert.equal(applied.status, 0, applied.stderr);
    for (const node of [one, two])
      await within(BOUND_MS + SLACK_MS, `the CLI-applied schedule on ${node.url}`, async () => {
        const info = await call<{ schedule: { nextRun: string | null } | null }>(node, 'GET', '/instances/nightly');
        return info.status === 200 && info.body.schedule?.nextRun != null;
      });
  });

  it("a node that starts leaves another live node's export run alone, and fails the run of a node that died", async () => {
    const [one] = nodes;
    type ExportRun = { runId: string; status: string; error: string | null };
    const runOf = (node: ServerProcess, runId: string) => call<ExportRun>(node, 'GET', `/instances/demo/manage/exports/held/runs/${runId}`);

    receiver.hold();
    const started = await call<ExportRun>(one, 'POST', '/instances/demo/manage/exports/held/run');
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await receiver.waitForRequest();
    const three = await start('three');
    assert.equal((await runOf(three, started.body.runId)).body.status, 'running', `the starting node failed a live node's export run\n${three.tail()}`);
    receiver.release();
    await within(60_000, 'the held export run ends', async () => (await runOf(three, started.body.runId)).body.status !== 'running', 100);
    assert.equal((await runOf(three, started.body.runId)).body.status, 'successful');

    // Now the node running the export dies: the next node to start fails its run.
    receiver.hold();
    const orphan = await call<ExportRun>(three, 'POST', '/instances/demo/manage/exports/held/run');
    assert.equal(orphan.status, 202);
    await receiver.waitForRequest();
    await three.kill();
    nodes.splice(nodes.indexOf(three), 1);
    const four = await start('four');
    const failed = await runOf(four, orphan.body.runId);
    assert.equal(failed.body.status, 'failed', JSON.stringify(failed.body));
    assert.match(failed.body.error ?? '', /interrupted/);
    receiver.release();
  });

  it('after a node lost its LISTEN connection, its open change feeds are told to reload, and changes arrive again', async () => {
    const [one, two] = nodes;
    const feed = await openChanges(two.url, ADMIN_KEY, 'demo');
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      // Every node's listening connection on this schema (only this test's schema: the channel names it).
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'`,
        [changeChannel(schema)],
      );
      assert.ok(killed.rowCount! >= 2, `terminated ${killed.rowCount} listening connections`);
      await feed.waitFor(1, 30_000);
      assert.equal(feed.events[0].event, 'reload', JSON.stringify(feed.events[0]));
      assert.equal(feed.events[0].change.instanceId, 'demo');
      // Listening again: a write through the other node reaches the feed.
      const write = await call(one, 'PATCH', `/instances/demo/data/Customer/${encodeURIComponent(customerId)}`, { City: 'Lillehammer' });
      assert.equal(write.status, 204);
      await feed.waitFor(2, 5000);
      assert.deepEqual([feed.events[1].event, feed.events[1].change.customerId], ['change', customerId]);
    } finally {
      feed.close();
      await admin.end();
    }
  });
});

describe('ensureAdminKey on two nodes at the same instant', { skip: unavailable ?? false }, () => {
  it('a new key, then a changed key: both nodes succeed and one live key holds the slot', async () => {
    const { schema, drop } = await freshSchema();
    const root = mkdtempSync(path.join(tmpdir(), 'kindred-admin-race-'));
    const database = { url: POSTGRES_URL, schema };
    const services = await Promise.all([0, 1].map((i) => openServices({ dataDir: path.join(root, String(i)), database, sweepIntervalMs: 0, telemetryFlushMs: 0 })));
    try {
      for (const key of ['kindred-race-first-key-0123456789', 'kindred-race-second-key-0123456789']) {
        const results = await Promise.allSettled(services.map((s) => ensureAdminKey(s, key)));
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(results));
        const live = (await services[0].store.access.listKeys(null)).filter((k) => k.principalId === 'app:admin-env');
        assert.deepEqual(live.map((k) => k.hash), [hashKey(key)]);
      }
    } finally {
      await Promise.all(services.map((s) => s.close()));
      await drop();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
