// `kindred keys …` against a data directory that a server (here: the app over the same database)
// also uses: keys made by the CLI work in the API, revocations reach it, everything is audited.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { openServices, type Services } from '../../src/services.js';
import { REPO, sleep } from './helpers.js';

const MAIN = path.join(REPO, 'src/cli/main.ts');
const TINY = path.join(REPO, 'test/fixtures/tiny/instance.yaml');

describe('kindred keys', () => {
  let dir: string;
  let dataDir: string;
  let services: Services;
  let app: FastifyInstance;
  const kindred = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args, '--data-dir', dataDir], { cwd: REPO, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const myRole = (key: string) => app.inject({ method: 'GET', url: '/api/instances/tiny/rbac/myrole', headers: { 'ocp-apim-subscription-key': key } });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kindred-keys-cli-'));
    dataDir = path.join(dir, 'data');
    const applied = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'instance', 'apply', TINY, '--data-dir', dataDir], { cwd: REPO, encoding: 'utf8' });
    assert.equal(applied.status, 0, applied.stderr);
    services = await openServices({ dataDir, sweepIntervalMs: 0 });
    app = await buildApp({ services });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await services?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('create prints the key once; it works in the API; list shows it without the key; rotate and revoke apply to the server within 2 s', async () => {
    const created = kindred('keys', 'create', '--instance', 'tiny', '--role', 'Contributor', '--name', 'crm-sync', '--expires', '2099-01-01T00:00:00Z');
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^kdr_[A-Za-z0-9_-]{32}$/, 'stdout is the key alone');
    assert.match(created.stderr, /shown only this once/);
    const mine = await myRole(key);
    assert.equal(mine.statusCode, 200, mine.body);
    assert.deepEqual((mine.json() as { roles: string[] }).roles, ['Contributor']);

    const list = kindred('keys', 'list', '--instance', 'tiny');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${key.slice(0, 8)}…\\s+crm-sync\\s+app:crm-sync\\s+Contributor\\s+primary`));
    assert.ok(!list.stdout.includes(key));
    const keyId = /^(\S+)\s/m.exec(list.stdout.split('\n')[1])![1];

    const rotated = kindred('keys', 'rotate', '--instance', 'tiny', '--principal', 'app:crm-sync', '--slot', 'secondary');
    assert.equal(rotated.code, 0, rotated.stderr);
    const secondary = rotated.stdout.trim();
    assert.equal((await myRole(secondary)).statusCode, 200);

    const revoked = kindred('keys', 'revoke', keyId, '--instance', 'tiny');
    assert.equal(revoked.code, 0, revoked.stderr);
    await sleep(2_100);
    assert.equal((await myRole(key)).statusCode, 401, 'revoked by another process: refused within 2 s');
    assert.equal((await myRole(secondary)).statusCode, 200);

    const entries = await services.store.access.queryAudit({ instanceId: 'tiny', limit: 10 });
    assert.deepEqual(
      entries.map((e) => [e.action, e.outcome]),
      [
        ['key.revoke', 'success'],
        ['key.regenerate', 'success'],
        ['key.create', 'success'],
      ],
    );
    assert.ok(entries.every((e) => e.principalId?.startsWith('cli:')));
    const applied = await services.store.access.queryAudit({ instanceId: null, action: 'instance.apply', limit: 10 });
    assert.equal(applied.length, 1);
  });

  test('--server makes a server-wide key (here a server Administrator, who may manage server keys)', async () => {
    const r = kindred('keys', 'create', '--server', '--role', 'Administrator', '--name', 'ops', '--principal', 'user:ops@example.com');
    assert.equal(r.code, 0, r.stderr);
    const key = r.stdout.trim();
    const res = await app.inject({ method: 'GET', url: '/api/keys', headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual((res.json() as { value: { principalId: string }[] }).value.map((k) => k.principalId), ['user:ops@example.com']);
    assert.equal((await myRole(key)).statusCode, 200, 'valid in every instance');
  });

  test('mistakes get one clear line and change nothing', () => {
    const cases: [string[], RegExp][] = [
      [['keys', 'create', '--instance', 'nope', '--role', 'Viewer', '--name', 'x'], /instance 'nope' does not exist/],
      [['keys', 'create', '--role', 'Viewer', '--name', 'x'], /either --instance ID or --server/],
      [['keys', 'create', '--instance', 'tiny', '--role', 'Owner', '--name', 'x'], /Allowed choices are Viewer, Contributor, Administrator/],
      [['keys', 'create', '--instance', 'tiny', '--role', 'Viewer', '--name', 'x', '--expires', 'soon'], /--expires must be an RFC 3339 date-time/],
      [['keys', 'revoke', 'no-such-key', '--instance', 'tiny'], /no live key 'no-such-key'/],
    ];
    for (const [args, message] of cases) {
      const r = kindred(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });
});
