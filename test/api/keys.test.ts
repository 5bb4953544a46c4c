// API keys through the API: shown once, stored as SHA-256, listed, revoked at once, rotated through
// two slots; the authenticator's cache (no query per request, 2 s re-check, last-used once a minute).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator, hashKey, registerKey } from '../../src/api/auth.js';
import { ensureAdminKey } from '../../src/cli/commands/serve.js';
import { DAY, FIXTURES, fromNow, odataError, sleep, workspace, type Workspace } from './helpers.js';

interface KeyInfo {
  key?: string;
  keyId: string;
  principalId: string;
  name: string;
  role: string;
  slot: string | null;
  prefix: string;
  createdTimestamp: string;
  lastUsedTimestamp: string | null;
  expiresTimestamp: string | null;
  revokedTimestamp: string | null;
  replacedKeyId?: string | null;
}

describe('API keys', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace({ definition: path.join(FIXTURES, 'tiny', 'instance.yaml') });
  });
  after(() => ws?.close());

  const admin = (method: string, rest: string, body?: unknown) => ws.request(method, ws.url(rest), { key: ws.keys.admin, body });
  const myRole = (key: string) => ws.request('GET', ws.url('/rbac/myrole'), { key });

  test('a created key is shown once, stored only as its SHA-256 hash, and works at once', async () => {
    const res = await admin('POST', '/keys', { name: 'crm-sync', role: 'Contributor' });
    assert.equal(res.statusCode, 201, res.body);
    const made = res.json() as KeyInfo;
    assert.match(made.key!, /^kdr_[A-Za-z0-9_-]{32}$/);
    assert.equal(made.prefix, made.key!.slice(0, 8));
    assert.equal(made.principalId, 'app:crm-sync');
    assert.equal(made.slot, 'primary');
    assert.equal(made.role, 'Contributor');
    assert.equal(made.expiresTimestamp, null);

    const mine = await myRole(made.key!);
    assert.equal(mine.statusCode, 200, mine.body);
    assert.deepEqual((mine.json() as { roles: string[] }).roles, ['Contributor']);
    // Accepted as Authorization: Bearer too.
    assert.equal((await ws.request('GET', ws.url('/rbac/myrole'), { key: made.key!, bearer: true })).statusCode, 200);

    const list = (await admin('GET', '/keys')).json() as { value: KeyInfo[] };
    const listed = list.value.find((k) => k.keyId === made.keyId)!;
    assert.ok(listed, 'listed');
    assert.equal(listed.key, undefined, 'the key itself is never listed');
    assert.equal(listed.name, 'crm-sync');
    assert.equal(listed.prefix, made.prefix);
    assert.ok(listed.createdTimestamp);
    assert.ok(listed.lastUsedTimestamp, 'used once: last-used time recorded');
    assert.ok(!JSON.stringify(list).includes(made.key!));

    // Nothing in the database holds the key: only its hash.
    const [row] = await ws.sql('SELECT * FROM api_keys WHERE id = ?', [made.keyId]);
    assert.equal(row.hash, hashKey(made.key!));
    assert.ok(!Object.values(row).some((v) => typeof v === 'string' && v.includes(made.key!)), 'no column holds the key');
  });

  test('a revoked key stops working at once', async () => {
    const made = (await admin('POST', '/keys', { name: 'short-lived', role: 'Viewer' })).json() as KeyInfo;
    assert.equal((await myRole(made.key!)).statusCode, 200);
    const revoke = await admin('DELETE', `/keys/${made.keyId}`);
    assert.equal(revoke.statusCode, 200, revoke.body);
    assert.ok((revoke.json() as KeyInfo).revokedTimestamp);
    odataError(await myRole(made.key!), 401, { code: 'Unauthorized' });
    odataError(await admin('DELETE', `/keys/${made.keyId}`), 404, { target: 'keyId' });
    const all = (await ws.request('GET', ws.url('/keys'), { key: ws.keys.admin, query: { includeRevoked: 'true' } })).json() as { value: KeyInfo[] };
    assert.ok(all.value.some((k) => k.keyId === made.keyId && k.revokedTimestamp));
    const live = (await admin('GET', '/keys')).json() as { value: KeyInfo[] };
    assert.ok(!live.value.some((k) => k.keyId === made.keyId), 'revoked keys are listed only when asked');
  });

  test('rotation without downtime: primary and secondary slot, each regenerated on its own', async () => {
    const primary = (await admin('POST', '/keys', { name: 'shop-app', role: 'Contributor' })).json() as KeyInfo;
    assert.equal(primary.slot, 'primary');
    // Step 1: a new secondary key; the primary keeps working meanwhile.
    const regen = await admin('POST', '/keys/principals/app%3Ashop-app/regenerate', { slot: 'secondary' });
    assert.equal(regen.statusCode, 201, regen.body);
    const secondary = regen.json() as KeyInfo;
    assert.equal(secondary.slot, 'secondary');
    assert.equal(secondary.replacedKeyId, null);
    assert.equal((await myRole(primary.key!)).statusCode, 200);
    assert.equal((await myRole(secondary.key!)).statusCode, 200);
    // Step 2: clients switched to the secondary; regenerate the primary: the old one stops at once.
    const newPrimary = (await admin('POST', '/keys/principals/app%3Ashop-app/regenerate', { slot: 'primary' })).json() as KeyInfo;
    assert.equal(newPrimary.replacedKeyId, primary.keyId);
    odataError(await myRole(primary.key!), 401);
    assert.equal((await myRole(secondary.key!)).statusCode, 200);
    assert.equal((await myRole(newPrimary.key!)).statusCode, 200);
    // Both slots in use: a third key is refused with what to do instead.
    odataError(await admin('POST', '/keys', { name: 'shop-app', role: 'Contributor' }), 409, { message: /regenerate/ });
    // A principal with another role keeps it: keys carry the principal's role.
    odataError(await admin('POST', '/keys', { name: 'shop-app', role: 'Viewer' }), 409, { target: 'role' });
    odataError(await admin('POST', '/keys/principals/app%3Anobody/regenerate', { slot: 'primary' }), 404, { target: 'principalId' });
    odataError(await admin('POST', '/keys/principals/app%3Ashop-app/regenerate', { slot: 'tertiary' }), 400);
  });

  test('expiring keys: a valid expiry is kept; past or malformed ones are refused naming expiresAt', async () => {
    const expiresAt = fromNow(DAY);
    const made = (await admin('POST', '/keys', { name: 'campaign', role: 'Viewer', expiresAt })).json() as KeyInfo;
    assert.equal(made.expiresTimestamp, new Date(Date.parse(expiresAt)).toISOString());
    assert.equal((await myRole(made.key!)).statusCode, 200);
    odataError(await admin('POST', '/keys', { name: 'late', role: 'Viewer', expiresAt: '2020-01-01T00:00:00Z' }), 400, { target: 'expiresAt', message: /future/ });
    odataError(await admin('POST', '/keys', { name: 'bad', role: 'Viewer', expiresAt: 'tomorrow' }), 400, { target: 'expiresAt', message: /RFC 3339/ });
    odataError(await admin('POST', '/keys', { name: 'bad', role: 'Owner' }), 400);
    odataError(await admin('POST', '/keys', { name: 'bad', role: 'Viewer', extra: 1 }), 400);
  });

  test('a key of one instance cannot manage or see keys of another', async () => {
    const other = await ws.request('GET', '/api/instances/some-other-instance/keys', { key: ws.keys.admin });
    odataError(other, 401);
    // A key id of this instance is unknown through another instance's path.
    const made = (await admin('POST', '/keys', { name: 'isolated', role: 'Viewer' })).json() as KeyInfo;
    const foreign = await ws.request('DELETE', `/api/instances/some-other-instance/keys/${made.keyId}`, { key: ws.keys.otherInstance });
    odataError(foreign, 404);
    assert.equal((await myRole(made.key!)).statusCode, 200, 'still valid');
    // Instance administrators do not see server-wide keys.
    odataError(await ws.request('GET', '/api/keys', { key: ws.keys.admin }), 403);
  });

  test('server-wide keys: managed by a server Administrator; a server Viewer reads every instance but writes nothing', async () => {
    await registerKey(ws.services.store, 'kdr_keys_test_server_admin', { instanceId: null, role: 'Administrator', name: 'keys-server-admin' });
    const res = await ws.request('POST', '/api/keys', { key: 'kdr_keys_test_server_admin', body: { name: 'reporting', role: 'Viewer' } });
    assert.equal(res.statusCode, 201, res.body);
    const made = res.json() as KeyInfo & { instanceId: string | null };
    assert.equal(made.instanceId, null);
    const instances = await ws.request('GET', '/api/instances', { key: made.key! });
    assert.deepEqual((instances.json() as { instanceId: string }[]).map((i) => i.instanceId), [ws.instanceId]);
    assert.equal((await myRole(made.key!)).statusCode, 200);
    odataError(await ws.request('POST', ws.url('/workflows/main/jobs'), { key: made.key! }), 403);
    const listed = (await ws.request('GET', '/api/keys', { key: 'kdr_keys_test_server_admin' })).json() as { value: KeyInfo[] };
    assert.ok(listed.value.some((k) => k.keyId === made.keyId));
    assert.ok(!listed.value.some((k) => k.principalId === 'app:viewer'), 'instance keys are not server keys');
    const revoked = await ws.request('DELETE', `/api/keys/${made.keyId}`, { key: 'kdr_keys_test_server_admin' });
    assert.equal(revoked.statusCode, 200, revoked.body);
    odataError(await ws.request('GET', '/api/instances', { key: made.key! }), 401);
  });
});

describe('the first-start Administrator key', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace({ definition: path.join(FIXTURES, 'tiny', 'instance.yaml') });
  });
  after(() => ws?.close());

  const instances = (key: string) => ws.request('GET', '/api/keys', { key });

  test('created once and shown once; KINDRED_ADMIN_KEY is used instead, and a changed one replaces the previous', async () => {
    const first = await ensureAdminKey(ws.services, undefined);
    assert.match(first.key!, /^kdr_/);
    assert.equal((await instances(first.key!)).statusCode, 200, 'a server Administrator key');
    const again = await ensureAdminKey(ws.services, undefined);
    assert.equal(again.key, null, 'not shown again');
    assert.match(again.note, new RegExp(`prefix ${first.key!.slice(0, 8)}`));

    assert.equal((await ensureAdminKey(ws.services, 'kdr_env_admin_one')).key, 'kdr_env_admin_one');
    assert.equal((await instances('kdr_env_admin_one')).statusCode, 200);
    assert.equal((await ensureAdminKey(ws.services, 'kdr_env_admin_one')).key, 'kdr_env_admin_one', 'same value: nothing changes');
    assert.equal((await ensureAdminKey(ws.services, 'kdr_env_admin_two')).key, 'kdr_env_admin_two');
    assert.equal((await instances('kdr_env_admin_two')).statusCode, 200);
    odataError(await instances('kdr_env_admin_one'), 401, { code: 'Unauthorized' });
    assert.equal((await instances(first.key!)).statusCode, 200, 'the first-start key is another principal');
    await assert.rejects(() => ensureAdminKey(ws.services, ws.keys.viewer), /not a server-wide Administrator key/);
  });
});

describe('the authenticator cache', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace({ definition: path.join(FIXTURES, 'tiny', 'instance.yaml') });
  });
  after(() => ws?.close());

  test('a cached key costs no query; it is re-read every 2 s, and last-used is written at most once a minute', async () => {
    let now = Date.parse('2026-11-29T10:00:00.000Z');
    const { store } = ws.services;
    const auth = new Authenticator(store, { now: () => now });
    const record = await registerKey(store, 'kdr_cache_probe', { instanceId: ws.instanceId, role: 'Viewer', name: 'cache-probe' });
    const access = store.access;
    const original = access.findKeyByHash.bind(access);
    let queries = 0;
    access.findKeyByHash = async (hash) => {
      queries++;
      return original(hash);
    };
    // The last-used write is not awaited by the request: count the writes, and wait for one to land.
    const originalTouch = access.touchKey.bind(access);
    let touches = 0;
    access.touchKey = async (id, at) => {
      touches++;
      return originalTouch(id, at);
    };
    const lastUsedBecomes = async (expected: string) => {
      let seen: string | null | undefined;
      for (let i = 0; i < 100 && seen !== expected; i++) {
        seen = (await access.getKey(ws.instanceId, record.id))?.lastUsedAt;
        if (seen !== expected) await sleep(10);
      }
      assert.equal(seen, expected);
    };
    try {
      const hash = hashKey('kdr_cache_probe');
      assert.equal((await auth.lookup(hash))?.id, record.id);
      assert.equal(queries, 1);
      for (let i = 0; i < 100; i++) assert.ok(await auth.lookup(hash));
      assert.equal(queries, 1, 'no query for a cached key');
      assert.equal(touches, 1, 'last-used written once');
      await lastUsedBecomes('2026-11-29T10:00:00.000Z');

      now += 1_999;
      await auth.lookup(hash);
      assert.equal(queries, 1);
      now += 1;
      await auth.lookup(hash);
      assert.equal(queries, 2, 're-read after 2 s');
      assert.equal(touches, 1, 'not re-written within a minute');
      assert.equal((await access.getKey(ws.instanceId, record.id))?.lastUsedAt, '2026-11-29T10:00:00.000Z');
      now += 60_000;
      await auth.lookup(hash);
      assert.equal(touches, 2);
      await lastUsedBecomes('2026-11-29T10:01:02.000Z');

      // Revoked elsewhere (straight in the store): noticed at the next re-read, within 2 s.
      await access.revokeKey(ws.instanceId, record.id, new Date(now).toISOString());
      assert.ok(await auth.lookup(hash), 'still cached');
      now += 2_000;
      assert.equal(await auth.lookup(hash), undefined);
      // Unknown keys are cached too (bounded), so a flood of bad keys does not query per request.
      const before = queries;
      for (let i = 0; i < 10; i++) await auth.lookup(hashKey('kdr_never_issued'));
      assert.equal(queries - before, 1);
    } finally {
      access.findKeyByHash = original;
      access.touchKey = originalTouch;
    }
  });

  test('a revocation by another process (another connection to the database) applies within 2 s', async () => {
    const key = 'kdr_cross_process';
    const record = await registerKey(ws.services.store, key, { instanceId: ws.instanceId, role: 'Viewer', name: 'cross-process' });
    assert.equal((await ws.request('GET', ws.url('/rbac/myrole'), { key })).statusCode, 200);
    const other = await ws.openAnotherStore();
    try {
      await other.access.revokeKey(ws.instanceId, record.id, new Date().toISOString());
    } finally {
      await other.close();
    }
    await sleep(2_100);
    odataError(await ws.request('GET', ws.url('/rbac/myrole'), { key }), 401);
  });
});
