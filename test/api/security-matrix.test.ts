// The security matrix: every route of the built app × every kind of caller, asserting 401, 403 or
// "allowed" (any other status). The table of least roles below is the expectation: a route added
// without a row, or declared with a role other than its row's, fails the test.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RANK, registerKey } from '../../src/api/auth.js';
import type { AccessRoute } from '../../src/api/route-auth.js';
import type { Role } from '../../src/storage/store.js';
import { FIXTURES, HOUR, workspace, type Workspace } from './helpers.js';

type Expected = 'public' | Role | `server:${Role}`;

/** The least role of every API route. Server routes need a server-wide key unless the role is Viewer. */
const EXPECTED: Record<string, Expected> = {
  'GET /api/instances': 'server:Viewer',
  'GET /api/instances/:instanceId': 'Viewer',
  'PUT /api/instances/:instanceId': 'server:Administrator',
  'POST /api/instances/:instanceId/workflows/:workflowName/jobs': 'Contributor',
  'GET /api/instances/:instanceId/workflows/:workflowName/jobs': 'Viewer',
  'GET /api/instances/:instanceId/workflows/:workflowName/jobs/:jobId': 'Viewer',
  'POST /api/instances/:instanceId/workflows/:workflowName/jobs/:jobId/cancel': 'Contributor',
  'GET /api/instances/:instanceId/data/:entityName': 'Viewer',
  'GET /api/instances/:instanceId/data/:entityName/:entityId': 'Viewer',
  'PATCH /api/instances/:instanceId/data/:entityName/:entityId': 'Contributor',
  'POST /api/instances/:instanceId/data/:entityName': 'Contributor',
  'POST /api/instances/:instanceId/data/:entityName/$batch': 'Contributor',
  // Methods the data API does not offer: any key of the instance learns the 405 and its Allow.
  'POST /api/instances/:instanceId/data/:entityName/:entityId': 'Viewer',
  'PUT /api/instances/:instanceId/data/:entityName/:entityId': 'Viewer',
  'DELETE /api/instances/:instanceId/data/:entityName/:entityId': 'Viewer',
  'PUT /api/instances/:instanceId/data/:entityName': 'Viewer',
  'PATCH /api/instances/:instanceId/data/:entityName': 'Viewer',
  'DELETE /api/instances/:instanceId/data/:entityName': 'Viewer',
  'GET /api/instances/:instanceId/profile/keyring': 'Viewer',
  'GET /api/instances/:instanceId/manage/entities': 'Viewer',
  'GET /api/instances/:instanceId/manage/entities/:entityName': 'Viewer',
  'GET /api/instances/:instanceId/changes': 'Viewer',
  'GET /api/instances/:instanceId/search': 'Viewer',
  'GET /api/instances/:instanceId/card/:customerId': 'Viewer',
  'GET /api/instances/:instanceId/telemetry/realtime': 'Contributor',
  'GET /api/instances/:instanceId/manage/measures': 'Viewer',
  'GET /api/instances/:instanceId/manage/measures/:name': 'Viewer',
  'POST /api/instances/:instanceId/manage/measures': 'Contributor',
  'PUT /api/instances/:instanceId/manage/measures/:name': 'Contributor',
  'DELETE /api/instances/:instanceId/manage/measures/:name': 'Contributor',
  'GET /api/instances/:instanceId/manage/segments': 'Viewer',
  'GET /api/instances/:instanceId/manage/segments/:name': 'Viewer',
  'POST /api/instances/:instanceId/manage/segments': 'Contributor',
  'PUT /api/instances/:instanceId/manage/segments/:name': 'Contributor',
  'DELETE /api/instances/:instanceId/manage/segments/:name': 'Contributor',
  'POST /api/instances/:instanceId/manage/segments/:name/activate': 'Contributor',
  'POST /api/instances/:instanceId/manage/segments/:name/deactivate': 'Contributor',
  'GET /api/instances/:instanceId/manage/exports': 'Administrator',
  'GET /api/instances/:instanceId/manage/exports/:exportName/runs': 'Administrator',
  'GET /api/instances/:instanceId/manage/exports/:exportName/runs/:runId': 'Administrator',
  'POST /api/instances/:instanceId/manage/exports/:exportName/run': 'Administrator',
  'GET /api/instances/:instanceId/manage/notifications': 'Administrator',
  'GET /api/instances/:instanceId/manage/notifications/deliveries': 'Administrator',
  'POST /api/instances/:instanceId/hooks/:hookName': 'Contributor',
  'GET /api/instances/:instanceId/consumers': 'Viewer',
  'GET /api/instances/:instanceId/rbac/roles': 'Viewer',
  'GET /api/instances/:instanceId/rbac/myrole': 'Viewer',
  'GET /api/instances/:instanceId/rbac/assignments': 'Administrator',
  'PUT /api/instances/:instanceId/rbac/principals/:principalId/assignment': 'Administrator',
  'DELETE /api/instances/:instanceId/rbac/principals/:principalId/assignment': 'Administrator',
  'GET /api/instances/:instanceId/keys': 'Administrator',
  'POST /api/instances/:instanceId/keys': 'Administrator',
  'POST /api/instances/:instanceId/keys/principals/:principalId/regenerate': 'Administrator',
  'DELETE /api/instances/:instanceId/keys/:keyId': 'Administrator',
  'GET /api/keys': 'server:Administrator',
  'POST /api/keys': 'server:Administrator',
  'POST /api/keys/principals/:principalId/regenerate': 'server:Administrator',
  'DELETE /api/keys/:keyId': 'server:Administrator',
  'GET /api/instances/:instanceId/audit': 'Administrator',
  'GET /api/audit': 'server:Administrator',
  'GET /api/openapi.json': 'public',
  'GET /api/swagger.json': 'public',
};

const CALLERS = ['none', 'unknown', 'revoked', 'expired', 'viewer', 'contributor', 'admin', 'serverAdmin', 'otherInstance'] as const;
type Caller = (typeof CALLERS)[number];
const ROLE_OF: Partial<Record<Caller, Role>> = { viewer: 'Viewer', contributor: 'Contributor', admin: 'Administrator' };

function declared(route: AccessRoute): Expected {
  if (route.auth.role === 'public') return 'public';
  return route.auth.scope === 'server' ? `server:${route.auth.role}` : route.auth.role;
}

/** What a caller must get: 401, 403, or 'allowed' (any other status). */
function expectation(expected: Expected, caller: Caller): 401 | 403 | 'allowed' {
  if (expected === 'public') return 'allowed';
  if (caller === 'none' || caller === 'unknown' || caller === 'revoked' || caller === 'expired') return 401;
  if (caller === 'serverAdmin') return 'allowed';
  if (expected.startsWith('server:')) {
    // Instance keys (of any instance) may use a server route only when it needs just Viewer (it filters what they see).
    return expected === 'server:Viewer' ? 'allowed' : 403;
  }
  if (caller === 'otherInstance') return 401;
  return RANK[ROLE_OF[caller]!] >= RANK[expected as Role] ? 'allowed' : 403;
}

describe('security matrix', () => {
  let ws: Workspace;
  let keys: Record<Caller, string | null>;
  let params: Record<string, string>;

  before(async () => {
    ws = await workspace({ definition: path.join(FIXTURES, 'tiny', 'instance.yaml') });
    const run = await ws.refresh();
    const customers = (await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $top: '1' } })).json() as { value: { CustomerId: string }[] };
    assert.equal(customers.value.length, 1);
    const { store } = ws.services;
    await registerKey(store, 'kdr_matrix_server_admin', { instanceId: null, role: 'Administrator', name: 'matrix-server-admin' });
    const revoked = await registerKey(store, 'kdr_matrix_revoked', { instanceId: ws.instanceId, role: 'Administrator', name: 'matrix-revoked' });
    await ws.services.access.revokeKey(ws.instanceId, revoked.id);
    await registerKey(store, 'kdr_matrix_expired', { instanceId: ws.instanceId, role: 'Administrator', name: 'matrix-expired', expiresAt: new Date(Date.now() - HOUR).toISOString() });
    keys = {
      none: null,
      unknown: 'kdr_matrix_never_issued',
      revoked: 'kdr_matrix_revoked',
      expired: 'kdr_matrix_expired',
      viewer: ws.keys.viewer,
      contributor: ws.keys.contributor,
      admin: ws.keys.admin,
      serverAdmin: 'kdr_matrix_server_admin',
      otherInstance: ws.keys.otherInstance,
    };
    // Path parameters: real ids where reads need them; ids that do not exist where a call would
    // change the workspace (an allowed call then ends in 404 after the access check).
    params = {
      instanceId: ws.instanceId,
      entityName: 'Customer',
      entityId: customers.value[0].CustomerId,
      workflowName: 'no-such-workflow',
      jobId: run.jobId,
      principalId: 'app:matrix-nobody',
      keyId: 'no-such-key',
    };
  });
  after(() => ws?.close());

  const url = (route: AccessRoute, instanceId = params.instanceId) =>
    route.url.replace(/:([A-Za-z]+)/g, (_m, name: string) => encodeURIComponent(name === 'instanceId' ? instanceId : (params[name] ?? `x-${name}`)));
  const call = (route: AccessRoute, key: string | null, instanceId?: string) =>
    ws.request(route.method, url(route, instanceId), {
      key,
      body: ['POST', 'PUT', 'PATCH'].includes(route.method) ? (route.url.endsWith('/assignment') ? { roles: ['Viewer'] } : {}) : undefined,
      // The change feed of a customer that does not exist ends in 404 (an allowed call would otherwise stream on).
      query: route.url.endsWith('/keyring')
        ? { dataSourceName: 'x', entityName: 'y', key: 'z' }
        : route.url.endsWith('/changes')
          ? { customerId: 'no-such-customer' }
          : undefined,
    });

  test('the table lists exactly the routes of the app, each with its declared least role', () => {
    const routes = ws.app.accessRoutes;
    assert.ok(routes.length >= 30, `routes collected: ${routes.length}`);
    const seen = new Map(routes.map((r) => [`${r.method} ${r.url}`, declared(r)]));
    const missing = [...seen.keys()].filter((k) => !(k in EXPECTED));
    assert.deepEqual(missing, [], 'routes without a row in EXPECTED (add one)');
    const gone = Object.keys(EXPECTED).filter((k) => !seen.has(k));
    assert.deepEqual(gone, [], 'rows of EXPECTED without a route');
    const differ = [...seen].filter(([k, d]) => EXPECTED[k] !== d).map(([k, d]) => `${k}: declared ${d}, expected ${EXPECTED[k]}`);
    assert.deepEqual(differ, [], 'declared least roles');
  });

  test('every route × every caller: 401, 403 or allowed', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of ws.app.accessRoutes) {
      const expected = EXPECTED[`${route.method} ${route.url}`];
      if (!expected) continue; // reported by the table test
      const unknownAnswer = await call(route, keys.unknown);
      for (const caller of CALLERS) {
        const res = await call(route, keys[caller]);
        const want = expectation(expected, caller);
        checked++;
        const got = res.statusCode;
        const ok = want === 'allowed' ? got !== 401 && got !== 403 : got === want;
        if (!ok) failures.push(`${route.method} ${route.url} as ${caller}: ${got} (want ${want}) ${res.body.slice(0, 160)}`);
        if (want === 403 || want === 401) {
          const body = res.json() as { error?: { code?: string } };
          if (body.error?.code !== (want === 401 ? 'Unauthorized' : 'Forbidden')) failures.push(`${route.method} ${route.url} as ${caller}: error body ${res.body.slice(0, 160)}`);
        }
        if (caller === 'otherInstance' && !expected.startsWith('server:') && expected !== 'public') {
          if (res.statusCode !== unknownAnswer.statusCode || res.body !== unknownAnswer.body)
            failures.push(`${route.method} ${route.url}: a key of another instance gets ${res.statusCode} ${res.body}, an unknown key ${unknownAnswer.statusCode} ${unknownAnswer.body}`);
        }
      }
    }
    assert.ok(checked >= 30 * CALLERS.length, `checked ${checked}`);
    assert.deepEqual(failures, []);
  });

  test('a key of one instance learns nothing about another: the same answer whether the instance exists or not', async () => {
    const failures: string[] = [];
    for (const route of ws.app.accessRoutes) {
      if (route.auth.scope !== 'instance' || route.auth.role === 'public') continue;
      // otherInstance is a key of 'some-other-instance'; ws.instanceId exists, 'no-such-instance' does not.
      const existing = await call(route, ws.keys.otherInstance, ws.instanceId);
      const absent = await call(route, ws.keys.otherInstance, 'no-such-instance');
      if (existing.statusCode !== absent.statusCode || existing.body !== absent.body)
        failures.push(`${route.method} ${route.url}: ${existing.statusCode} ${existing.body} vs ${absent.statusCode} ${absent.body}`);
    }
    assert.deepEqual(failures, []);
  });
});
