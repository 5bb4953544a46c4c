// The examples of docs/connect.md run against a real server with the demo instance: shell blocks
// tagged `sh example` with bash (curl, openssl, the kindred CLI), `ts example` blocks with tsx,
// the `yaml example-definition` block is added to the instance definition, and `example-nats`
// blocks run when NATS JetStream answers (skipped with the reason otherwise). Then what each
// example sent is read back through the API.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { customerOf, DEMO, REPO, sleep, workspace, type Workspace } from '../api/helpers.js';

const NATS = process.env.KINDRED_TEST_NATS_URL ?? '127.0.0.1:4222';
const SECRET = 'docs-example-secret';

interface Block {
  lang: string;
  tag: string;
  code: string;
  line: number;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  for (const m of markdown.matchAll(/^```(\w+) (example(?:-definition|-nats)?)\n([\s\S]*?)^```$/gm))
    out.push({ lang: m[1], tag: m[2], code: m[3], line: markdown.slice(0, m.index).split('\n').length });
  return out;
}

describe('docs/connect.md examples', () => {
  const all = blocks(readFileSync(path.join(REPO, 'docs/connect.md'), 'utf8'));
  const tag = `d${randomBytes(4).toString('hex')}`;
  const subject = `kindred.docs.${tag}.orders`;
  let ws: Workspace;
  let url: string;
  let nc: NatsConnection | null = null;
  let natsSkip: string | null = null;
  let work: string;
  let customer: string;
  const tsx = import.meta.resolve('tsx');

  before(async () => {
    assert.ok(all.filter((b) => b.tag === 'example').length >= 6, 'the page has its examples');
    process.env.SHOP_WEBHOOK_SECRET = SECRET;
    ws = await workspace({ definition: DEMO, copy: true });
    const definition = all.find((b) => b.tag === 'example-definition');
    assert.ok(definition, 'the page declares the hooks in a yaml example-definition block');
    ws.append('instance.yaml', `\n${definition.code.replaceAll('shop.orders', subject)}`);
    await ws.apply();
    await ws.refresh();
    url = await ws.app.listen({ port: 0, host: '127.0.0.1' });
    customer = await customerOf(ws, 'eCommerce', 'eCommerceContacts', 'C08919396');
    try {
      nc = await connect({ servers: NATS, timeout: 2000, maxReconnectAttempts: 0 });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: `KINDRED_DOCS_${tag}`, subjects: [`kindred.docs.${tag}.>`] });
      await ws.services.consumers.start(NATS);
    } catch (err) {
      natsSkip = `NATS does not answer at ${NATS}: ${(err as Error).message}`;
      console.log(`# skipping the stream examples: ${natsSkip}`);
    }
    work = mkdtempSync(path.join(tmpdir(), 'kindred-docs-'));
  });
  after(async () => {
    await ws?.close();
    if (nc) {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(`KINDRED_DOCS_${tag}`).catch(() => undefined);
      await nc.close();
    }
    if (work) rmSync(work, { recursive: true, force: true });
    delete process.env.SHOP_WEBHOOK_SECRET;
  });

  /** Runs a command without blocking the event loop (the server answers from this process). */
  function exec(cmd: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill(), 120_000);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  }

  async function run(b: Block): Promise<void> {
    const env = { ...process.env, KINDRED_URL: url, KINDRED_KEY: ws.keys.contributor, CUSTOMER: customer, NATS_URL: NATS, SHOP_WEBHOOK_SECRET: SECRET };
    const code = b.code.replaceAll('shop.orders', subject);
    let r;
    if (b.lang === 'sh') {
      const prelude = `set -euo pipefail\nkindred() { node --import '${tsx}' '${path.join(REPO, 'src/cli/main.ts')}' "$@"; }\n`;
      r = await exec('bash', ['-c', prelude + code], { cwd: work, env });
    } else {
      const file = path.join(work, `example-${b.line}.mts`);
      const source = code
        .replaceAll("'kindred/client'", `'${import.meta.resolve('../../src/client/index.ts')}'`)
        .replace(/'(@nats-io\/[a-z-]+)'/g, (_, name: string) => `'${import.meta.resolve(name)}'`);
      writeFileSync(file, source);
      r = await exec(process.execPath, ['--import', tsx, file], { cwd: work, env });
    }
    assert.equal(r.status, 0, `docs/connect.md line ${b.line} (${b.lang}) failed:\n${r.stdout}\n${r.stderr}`);
  }

  test('every example runs, in order', async () => {
    for (const b of all.filter((x) => x.tag === 'example')) await run(b);
  });

  test('what the examples sent reads back through the API', async () => {
    const get = async (u: string, query?: Record<string, string>) => (await ws.request('GET', ws.url(u), { key: ws.keys.viewer, query })).json();
    const count = async (filter: string) => (await get('/data/UnifiedActivity', { $filter: filter, $count: 'true', $top: '1' }))['@odata.count'];
    assert.equal((await get('/data/UnifiedActivity/call-0001')).CustomerId, customer);
    assert.equal(await count(`CustomerId eq '${customer}' and ActivityType eq 'StoreVisit'`), 2);
    assert.equal(await count(`CustomerId eq '${customer}' and ActivityType eq 'PageView'`), 1200);
    assert.equal(await count(`CustomerId eq '${customer}' and ActivityType eq 'AppOpen'`), 1);
    for (const id of ['PO-RT-0001', 'PO-RT-0002', 'PO-RT-0003']) assert.equal(await count(`SourceActivityId eq '${id}'`), 1, id);
    const order = await get('/data/UnifiedActivity/shop-order-1001');
    assert.equal(order.CustomerId, customer);
    assert.equal(order.Title, 'Order 1001: Wool Blanket');
    assert.equal((await get(`/data/Customer/${customer}`)).City, 'Pasadena', 'the last profile update (kindred push profiles) counts');
  });

  test('the stream examples run and the order arrives through the consumer', { skip: natsSkip ?? false }, async (t) => {
    if (natsSkip) return t.skip(natsSkip);
    for (const b of all.filter((x) => x.tag === 'example-nats')) await run(b);
    for (let i = 0; i < 200; i++) {
      const res = await ws.request('GET', ws.url('/data/UnifiedActivity/shop-order-2002'), { key: ws.keys.viewer });
      if (res.statusCode === 200) {
        assert.equal(res.json().CustomerId, customer);
        return;
      }
      await sleep(50);
    }
    assert.fail(`the order published to ${subject} did not arrive: ${JSON.stringify(await ws.services.consumers.status(ws.instanceId))}`);
  });
});
