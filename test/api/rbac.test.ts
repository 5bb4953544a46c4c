// RBAC routes, role changes taking effect at once, the audit log, and instance definitions applied
// through the API by a server Administrator.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { registerKey } from '../../src/api/auth.js';
import { loadInstanceDefinition } from '../../src/config/load.js';
import { FIXTURES, odataError, workspace, type Workspace } from './helpers.js';

interface Assignment {
  principalId: string;
  principalType: string;
  roles: string[];
  instanceId: string;
}
interface AuditEntry {
  id: number;
  timestamp: string;
  instanceId: string | null;
  principalId: string | null;
  action: string;
  target: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
}

const SERVER_ADMIN = 'kdr_rbac_server_admin';

describe('RBAC and audit', () => {
  let ws: Workspace;
  before(async () => {
    ws = await workspace({ definition: path.join(FIXTURES, 'tiny', 'instance.yaml') });
    await registerKey(ws.services.store, SERVER_ADMIN, { instanceId: null, role: 'Administrator', name: 'rbac-server-admin' });
  });
  after(() => ws?.close());

  const as = (key: string, method: string, rest: string, body?: unknown, query?: Record<string, string>) => ws.request(method, ws.url(rest), { key, body, query });
  const audit = async (query: Record<string, string> = {}) => {
    const res = await as(ws.keys.admin, 'GET', '/audit', undefined, query);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { value: AuditEntry[]; '@odata.nextLink'?: string };
  };

  test('roles and myrole answer every key of the instance', async () => {
    const roles = (await as(ws.keys.viewer, 'GET', '/rbac/roles')).json() as { roleName: string; permissions: string[] }[];
    assert.deepEqual(roles.map((r) => r.roleName), ['Viewer', 'Contributor', 'Administrator']);
    assert.ok(roles[2].permissions.includes('keys'));
    assert.ok(!roles[0].permissions.includes('realtime.write'));
    for (const [key, role] of [
      [ws.keys.viewer, 'Viewer'],
      [ws.keys.contributor, 'Contributor'],
      [ws.keys.admin, 'Administrator'],
      [SERVER_ADMIN, 'Administrator'],
    ]) {
      const mine = (await as(key, 'GET', '/rbac/myrole')).json() as { roles: string[]; scope: string };
      assert.deepEqual(mine.roles, [role]);
      assert.equal(mine.scope, key === SERVER_ADMIN ? 'server' : 'instance');
    }
    odataError(await ws.request('GET', '/api/instances/nope/rbac/myrole', { key: SERVER_ADMIN }), 404, { target: 'instanceId' });
  });

  test('assignments: one role per principal; a change applies to its keys at once, a removal revokes them', async () => {
    const list = (await as(ws.keys.admin, 'GET', '/rbac/assignments')).json() as Assignment[];
    assert.deepEqual(
      list.map((a) => [a.principalId, a.roles[0]]),
      [
        ['app:admin', 'Administrator'],
        ['app:contributor', 'Contributor'],
        ['app:viewer', 'Viewer'],
      ],
    );
    const key = 'kdr_rbac_writer';
    await registerKey(ws.services.store, key, { instanceId: ws.instanceId, role: 'Contributor', name: 'writer' });
    const patch = () => ws.request('PATCH', ws.url('/data/Customer/nobody'), { key, body: { FirstName: 'x' } });
    assert.notEqual((await patch()).statusCode, 403, 'a Contributor may write');

    const put = await as(ws.keys.admin, 'PUT', '/rbac/principals/app%3Awriter/assignment', { principalType: 'app', roles: ['Viewer'], principalId: 'app:writer', instanceId: ws.instanceId });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual((put.json() as Assignment).roles, ['Viewer']);
    odataError(await patch(), 403, { code: 'Forbidden' });
    assert.equal((await as(key, 'GET', '/data/Customer')).statusCode, 200, 'still reads');

    const created = await as(ws.keys.admin, 'PUT', '/rbac/principals/user%3Aana%40example.com/assignment', { roles: ['Contributor'] });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal((created.json() as Assignment).principalType, 'user');

    odataError(await as(ws.keys.admin, 'PUT', '/rbac/principals/app%3Awriter/assignment', { roles: ['Viewer', 'Administrator'] }), 400);
    odataError(await as(ws.keys.admin, 'PUT', '/rbac/principals/app%3Awriter/assignment', { roles: ['Owner'] }), 400);
    odataError(await as(ws.keys.admin, 'PUT', '/rbac/principals/app%3Awriter/assignment', { roles: ['Viewer'], principalId: 'app:other' }), 400, { target: 'principalId' });
    odataError(await as(ws.keys.admin, 'PUT', '/rbac/principals/app%3Awriter/assignment', { roles: ['Viewer'], principalType: 'user' }), 409, { target: 'principalType' });
    odataError(await as(ws.keys.contributor, 'PUT', '/rbac/principals/app%3Awriter/assignment', { roles: ['Administrator'] }), 403);
    // The last Administrator of the instance is neither removed nor demoted.
    odataError(await as(ws.keys.admin, 'DELETE', '/rbac/principals/app%3Aadmin/assignment'), 409, { target: 'principalId', message: /last Administrator/ });
    odataError(await as(ws.keys.admin, 'PUT', '/rbac/principals/app%3Aadmin/assignment', { roles: ['Viewer'] }), 409, { message: /last Administrator/ });
    assert.equal((await as(ws.keys.admin, 'GET', '/rbac/assignments')).statusCode, 200, 'still an Administrator');

    const del = await as(ws.keys.admin, 'DELETE', '/rbac/principals/app%3Awriter/assignment');
    assert.equal(del.statusCode, 204, del.body);
    odataError(await as(key, 'GET', '/data/Customer'), 401);
    odataError(await as(ws.keys.admin, 'DELETE', '/rbac/principals/app%3Awriter/assignment'), 404, { target: 'principalId' });
  });

  test('the audit log records management actions and refused attempts, newest first, filtered and paged', async () => {
    const made = await as(ws.keys.admin, 'POST', '/keys', { name: 'audited', role: 'Viewer' });
    assert.equal(made.statusCode, 201);
    const keyId = (made.json() as { keyId: string }).keyId;
    odataError(await as(ws.keys.viewer, 'POST', '/keys', { name: 'sneaky', role: 'Administrator' }), 403);
    odataError(await as(ws.keys.contributor, 'GET', '/keys'), 403);
    assert.equal((await as(ws.keys.admin, 'DELETE', `/keys/${keyId}`)).statusCode, 200);
    odataError(await as(ws.keys.admin, 'DELETE', `/keys/${keyId}`), 404);
    const start = await as(ws.keys.contributor, 'POST', '/workflows/main/jobs');
    assert.equal(start.statusCode, 202, start.body);
    const jobId = (start.json() as { jobId: string }).jobId;
    await ws.services.runner.close();

    const { value } = await audit();
    const brief = value.map((e) => `${e.action} ${e.principalId} ${e.target} ${e.outcome}`);
    const at = (s: string) => brief.indexOf(s);
    assert.ok(at(`key.create app:admin app:audited success`) >= 0, brief.join('\n'));
    assert.ok(at(`key.create app:viewer null Forbidden`) >= 0, 'a refused attempt is recorded');
    assert.ok(at(`key.list app:contributor null Forbidden`) >= 0, 'a refused read of keys is recorded');
    assert.ok(at(`key.revoke app:admin ${keyId} success`) >= 0);
    assert.ok(at(`key.revoke app:admin ${keyId} NotFound`) >= 0, 'failures carry their error code');
    assert.ok(at(`refresh.start app:contributor ${jobId} success`) >= 0);
    assert.ok(at(`rbac.assign app:admin app:writer success`) >= 0);
    assert.ok(at(`rbac.unassign app:admin app:writer success`) >= 0);
    assert.ok(!brief.some((b) => b.startsWith('key.list app:admin')), 'successful reads are not recorded');
    assert.ok(at(`refresh.start app:contributor ${jobId} success`) < at(`key.create app:admin app:audited success`), 'newest first');
    assert.ok(value.every((e) => e.instanceId === ws.instanceId));
    const created = value.find((e) => e.action === 'key.create' && e.outcome === 'success')!;
    assert.equal(created.detail?.keyId, keyId);
    assert.ok(!JSON.stringify(value).includes((made.json() as { key: string }).key), 'the key itself is never logged');

    const keysOnly = await audit({ action: 'key.*' });
    assert.ok(keysOnly.value.length >= 4 && keysOnly.value.every((e) => e.action.startsWith('key.')));
    const byViewer = await audit({ principalId: 'app:viewer' });
    assert.deepEqual(byViewer.value.map((e) => e.action), ['key.create']);
    assert.equal((await audit({ since: '2099-01-01T00:00:00Z' })).value.length, 0);
    assert.equal((await audit({ until: '2000-01-01T00:00:00Z' })).value.length, 0);
    odataError(await as(ws.keys.admin, 'GET', '/audit', undefined, { since: 'yesterday' }), 400, { target: 'since' });

    // Paging: one entry per page, following nextLink, gives the whole log in order.
    const ids: number[] = [];
    let next: string | undefined = ws.url('/audit?$top=2');
    while (next) {
      const page = (await ws.request('GET', next, { key: ws.keys.admin })).json() as { value: AuditEntry[]; '@odata.nextLink'?: string };
      ids.push(...page.value.map((e) => e.id));
      next = page['@odata.nextLink'];
    }
    assert.deepEqual(ids, value.map((e) => e.id));
    odataError(await as(ws.keys.contributor, 'GET', '/audit'), 403);
    odataError(await as(ws.keys.admin, 'GET', '/audit', undefined, { $skiptoken: 'abc' }), 400, { target: '$skiptoken' });
  });

  test('a server Administrator applies instance definitions through the API; errors name the path; every key sees only its instances', async () => {
    const { definition } = loadInstanceDefinition(path.join(FIXTURES, 'tiny', 'instance.yaml'));
    const copy = { ...definition, id: 'tiny-copy', name: 'Tiny copy' };
    odataError(await ws.request('PUT', '/api/instances/tiny-copy', { key: ws.keys.admin, body: copy }), 403);
    const res = await ws.request('PUT', '/api/instances/tiny-copy', { key: SERVER_ADMIN, body: copy });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal((res.json() as { name: string }).name, 'Tiny copy');
    const again = await ws.request('PUT', '/api/instances/tiny-copy', { key: SERVER_ADMIN, body: { ...copy, name: 'Tiny copy 2' } });
    assert.equal(again.statusCode, 200, again.body);

    const bad = { ...copy, dataSources: [{ ...copy.dataSources[0], bogus: true }] };
    const err = odataError(await ws.request('PUT', '/api/instances/tiny-copy', { key: SERVER_ADMIN, body: bad }), 400, { code: 'InvalidParameter' });
    assert.match(err.message, /dataSources\[0\]\.bogus/);
    assert.equal(err.target, 'dataSources[0].bogus');
    odataError(await ws.request('PUT', '/api/instances/tiny-copy', { key: SERVER_ADMIN, body: { ...copy, id: 'else' } }), 400, { target: 'id' });

    const visible = async (key: string) => ((await ws.request('GET', '/api/instances', { key })).json() as { instanceId: string }[]).map((i) => i.instanceId).sort();
    assert.deepEqual(await visible(SERVER_ADMIN), ['tiny', 'tiny-copy']);
    assert.deepEqual(await visible(ws.keys.viewer), ['tiny']);
    assert.deepEqual(await visible(ws.keys.otherInstance), []);
    odataError(await ws.request('GET', '/api/instances/tiny-copy', { key: ws.keys.admin }), 401);

    const server = await ws.request('GET', '/api/audit', { key: SERVER_ADMIN, query: { action: 'instance.apply' } });
    const entries = (server.json() as { value: AuditEntry[] }).value;
    assert.deepEqual(
      entries.map((e) => [e.principalId, e.target, e.outcome]),
      [
        ['app:rbac-server-admin', 'tiny-copy', 'InvalidParameter'],
        ['app:rbac-server-admin', 'tiny-copy', 'InvalidParameter'],
        ['app:rbac-server-admin', 'tiny-copy', 'success'],
        ['app:rbac-server-admin', 'tiny-copy', 'success'],
        ['app:admin', 'tiny-copy', 'Forbidden'],
      ],
    );
    // Server-wide actions are not in an instance's log.
    assert.ok(!(await audit()).value.some((e) => e.action === 'instance.apply'));
  });
});
