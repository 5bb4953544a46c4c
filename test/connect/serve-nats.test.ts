// `kindred serve --nats` as a user runs it: the consumers of a registered instance start with the
// server, a message published to NATS becomes an activity read back over HTTP, and SIGTERM stops
// the server cleanly. Skipped with the reason when NATS JetStream does not answer.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { REPO, sleep } from '../api/helpers.js';
import { CONNECT_FIXTURE } from './helpers.js';

const NATS = process.env.KINDRED_TEST_NATS_URL ?? '127.0.0.1:4222';
const MAIN = path.join(REPO, 'src/cli/main.ts');
const ADMIN = 'kdr_serve_nats_test_admin_key';

let nc: NatsConnection | null = null;
let skip: string | false = false;
try {
  nc = await connect({ servers: NATS, timeout: 2000, maxReconnectAttempts: 0 });
} catch (err) {
  skip = `NATS does not answer at ${NATS}: ${(err as Error).message}`;
  console.log(`# skipping kindred serve --nats: ${skip}`);
}

describe('kindred serve --nats', { skip }, () => {
  const tag = `s${randomBytes(4).toString('hex')}`;
  const stream = `KINDRED_SERVE_${tag}`;
  let dir: string;
  let child: ChildProcess | null = null;

  before(async () => {
    const jsm = await jetstreamManager(nc!);
    await jsm.streams.add({ name: stream, subjects: [`kindred.serve.${tag}.>`] });
    dir = mkdtempSync(path.join(tmpdir(), 'kindred-serve-nats-'));
    cpSync(path.dirname(CONNECT_FIXTURE), path.join(dir, 'src'), { recursive: true });
    const definition = path.join(dir, 'src', 'instance.yaml');
    writeFileSync(definition, readFileSync(definition, 'utf8').replaceAll('kindred.test.', `kindred.serve.${tag}.`));
    for (const args of [['instance', 'apply', definition], ['refresh', '--instance', 'conn']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args, '--data-dir', path.join(dir, 'data')], { cwd: REPO, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    const jsm = await jetstreamManager(nc!);
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc!.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a published order arrives as an activity; SIGTERM stops the server', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0', '--data-dir', path.join(dir, 'data'), '--nats', NATS], {
      cwd: REPO,
      env: { ...process.env, KINDRED_ADMIN_KEY: ADMIN, KINDRED_NATS_URL: '' },
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    for (let i = 0; i < 600 && !/listening on/.test(out); i++) await sleep(50);
    const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url, `the server listens:\n${out}\n${err}`);
    assert.match(err, /stream consumers: connected/);
    await jetstream(nc!).publish(`kindred.serve.${tag}.orders`, JSON.stringify({ order: { id: 9001, created_at: 1767225600, customer: { id: 'C1' } }, items: [{ sku: 'A' }] }));
    const headers = { 'Ocp-Apim-Subscription-Key': ADMIN };
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = (await fetch(`${url}/api/instances/conn/data/UnifiedActivity/order-9001`, { headers })).status;
      if (status !== 200) await sleep(50);
    }
    assert.equal(status, 200, 'the order arrived through the consumer');
    const consumers = (await (await fetch(`${url}/api/instances/conn/consumers`, { headers })).json()) as { started: boolean; value: { name: string; written: number }[] };
    assert.equal(consumers.started, true);
    assert.equal(consumers.value.find((c) => c.name === 'orders')?.written, 1);
    const exited = new Promise<number | null>((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
  });
});
