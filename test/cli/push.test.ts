// kindred push and kindred tail as a user runs them (child processes) against a real server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { customerOf, REALTIME_FIXTURE, REPO, workspace, type Workspace } from '../api/helpers.js';

const MAIN = path.join(REPO, 'src/cli/main.ts');

function kindred(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(stdin ?? '');
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('kindred push and tail', () => {
  let ws: Workspace;
  let env: NodeJS.ProcessEnv;
  let c1: string;
  let c3: string;

  before(async () => {
    ws = await workspace({ definition: REALTIME_FIXTURE });
    await ws.refresh();
    const url = await ws.app.listen({ port: 0, host: '127.0.0.1' });
    env = { KINDRED_URL: url, KINDRED_KEY: ws.keys.contributor };
    c1 = await customerOf(ws, 'Shop', 'Contacts', 'C1');
    c3 = await customerOf(ws, 'Shop', 'Contacts', 'C3');
  });
  after(async () => ws?.close());

  const count = async (filter: string) => (await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: filter, $count: 'true' } })).json()['@odata.count'];

  test('activities from NDJSON in several batches; rejects with line numbers and reasons; a second push stores nothing twice', async () => {
    const lines = [];
    for (let i = 0; i < 30; i++) lines.push(JSON.stringify({ CustomerId: i % 2 ? c1 : c3, ActivityTime: `2026-09-01T10:${String(i).padStart(2, '0')}:00Z`, ActivityType: 'Pushed', Title: `event ${i}` }));
    lines.splice(10, 0, '{"CustomerId": broken');
    lines.splice(20, 0, JSON.stringify({ CustomerId: c1, ActivityType: 'Pushed' }));
    lines.splice(25, 0, '');
    const file = path.join(ws.dir, 'events.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const r = await kindred(['push', 'activities', '--instance', ws.instanceId, '--batch-size', '7', file], env);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /pushed 32 record\(s\) to UnifiedActivity: 30 accepted, 2 rejected/);
    assert.equal(await count("ActivityType eq 'Pushed'"), 30);
    const rejectsFile = path.join(ws.dir, 'events.rejects.ndjson');
    const rejects = readFileSync(rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rejects.map((x) => x.line).sort((a, b) => a - b), [11, 21]);
    assert.match(rejects.find((x) => x.line === 11).reason, /not valid JSON/);
    assert.match(rejects.find((x) => x.line === 21).reason, /ActivityTime/);
    // Pushing the same file again: every activity has the same content-derived id, so nothing doubles.
    const again = await kindred(['push', 'activities', '--instance', ws.instanceId, '--rejects', path.join(ws.dir, 'again.ndjson'), file], env);
    assert.equal(again.status, 2);
    assert.equal(await count("ActivityType eq 'Pushed'"), 30);
  });

  test('source-format activities from CSV on standard input (--entity, --format csv)', async () => {
    const csv = 'PurchaseId,ContactId,PurchasedOn,Product,Total\nQ1,C1,2026-08-01T10:00:00Z,"Mug, large",12.5\nQ2,C3,2026-08-02T10:00:00Z,"Say ""hi""",3\nQ3,NOPE,2026-08-03T10:00:00Z,Lost,1\n';
    const r = await kindred(['push', 'activities', '--instance', ws.instanceId, '--entity', 'Shop_Purchases', '--format', 'csv', '--rejects', path.join(ws.dir, 'csv-rejects.ndjson'), '-'], env, csv);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /3 record\(s\) to Shop_Purchases: 2 accepted, 1 rejected/);
    const q2 = (await ws.request('GET', ws.url('/data/UnifiedActivity'), { key: ws.keys.viewer, query: { $filter: "SourceActivityId eq 'Q2'" } })).json().value[0];
    assert.equal(q2.CustomerId, c3);
    assert.equal(q2.Title, 'Bought Say "hi"');
    const [reject] = readFileSync(path.join(ws.dir, 'csv-rejects.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(reject.line, 4);
    assert.equal(reject.status, 404);
    assert.match(reject.reason, /NOPE/);
  });

  test('profiles from CSV, typed by the Customer attributes; all accepted exits 0 and writes no rejects file', async () => {
    const file = path.join(ws.dir, 'tiers.csv');
    writeFileSync(file, `CustomerId,Tier,Points\n${c1},Gold,99.5\n${c3},Silver,7\n`);
    const r = await kindred(['push', 'profiles', '--instance', ws.instanceId, file], env);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(path.join(ws.dir, 'tiers.rejects.ndjson')));
    const c = (await ws.request('GET', ws.url(`/data/Customer/${c1}`), { key: ws.keys.viewer })).json();
    assert.equal(c.Tier, 'Gold');
    assert.equal(c.Points, 99.5);
  });

  test('tail prints the change feed of one customer', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'tail', '--instance', ws.instanceId, '--customer', c3, '--count', '2'], { env: { ...process.env, ...env } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    // Wait for the subscription, then write: one change of another customer, two of c3.
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await new Promise<boolean>((r) => ws.app.server.getConnections((_e, n) => r(n > 0)));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await ws.request('PATCH', ws.url(`/data/Customer/${c1}`), { body: { Tier: 'Bronze' } })).statusCode, 204);
    assert.equal((await ws.request('PATCH', ws.url(`/data/Customer/${c3}`), { body: { Tier: 'Gold' } })).statusCode, 204);
    assert.equal((await ws.request('POST', ws.url('/data/UnifiedActivity'), { body: { ActivityId: 'tail-1', CustomerId: c3, ActivityTime: '2026-11-05T10:00:00Z', ActivityType: 'Tail' } })).statusCode, 201);
    assert.equal(await closed, 0, stderr);
    const changes = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(changes.map((c) => [c.customerId, c.kind, c.attributes ?? c.activityId]), [
      [c3, 'profile', ['Tier']],
      [c3, 'activity', 'tail-1'],
    ]);
  });
});
