// The web UI's server side without a browser: sign-in exchanging a key for a session cookie, the
// cookie as a credential of /api routes (with the CSRF header on writes), idle expiry, sign-out,
// and the page and asset routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createHash } from 'node:crypto';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import type { Store } from '../../src/storage/store.js';
import { SessionStore, readCookie, SESSION_COOKIE } from '../../src/web/session.js';
import { odataError, REALTIME_FIXTURE, workspace, type Workspace } from '../api/helpers.js';

let ws: Workspace;
before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
});
after(() => ws.close());

const UI = { 'x-kindred-ui': '1' };

function cookieOf(res: LightMyRequestResponse): { value: string; attributes: string[] } {
  const header = res.headers['set-cookie'];
  const line = Array.isArray(header) ? header[0] : header;
  assert.ok(line, 'a Set-Cookie header');
  const [pair, ...attributes] = line.split(';').map((s) => s.trim());
  assert.ok(pair.startsWith(`${SESSION_COOKIE}=`), line);
  return { value: pair.slice(SESSION_COOKIE.length + 1), attributes };
}

async function signIn(key: string, headers: Record<string, string> = {}): Promise<{ res: LightMyRequestResponse; cookie: string }> {
  const res = await ws.app.inject({ method: 'POST', url: '/ui/session', headers: { ...UI, 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ key }) });
  assert.equal(res.statusCode, 201, res.body);
  return { res, cookie: `${SESSION_COOKIE}=${cookieOf(res).value}` };
}

describe('sign-in', () => {
  test('a valid key gets an HttpOnly, SameSite=Strict session cookie that is not the key', async () => {
    const { res } = await signIn(ws.keys.contributor);
    const { value, attributes } = cookieOf(res);
    assert.ok(value.length >= 40, 'a long random id');
    assert.ok(!value.includes(ws.keys.contributor) && !res.body.includes(ws.keys.contributor), 'the key is not echoed');
    assert.ok(attributes.includes('HttpOnly'));
    assert.ok(attributes.includes('SameSite=Strict'));
    assert.ok(attributes.includes('Path=/'));
    assert.ok(!attributes.includes('Secure'), 'plain HTTP: no Secure flag');
    const body = res.json() as { role: string; instanceId: string; name: string };
    assert.equal(body.role, 'Contributor');
    assert.equal(body.instanceId, ws.instanceId);
  });

  test('behind a TLS proxy (X-Forwarded-Proto: https) the cookie is Secure', async () => {
    const { res } = await signIn(ws.keys.viewer, { 'x-forwarded-proto': 'https' });
    assert.ok(cookieOf(res).attributes.includes('Secure'));
  });

  test('an unknown key, a missing key and a missing UI header are refused', async () => {
    const bad = await ws.app.inject({ method: 'POST', url: '/ui/session', headers: { ...UI, 'content-type': 'application/json' }, payload: JSON.stringify({ key: 'kdr_nope' }) });
    odataError(bad, 401, { target: 'key' });
    assert.equal(bad.headers['set-cookie'], undefined);
    const none = await ws.app.inject({ method: 'POST', url: '/ui/session', headers: { ...UI, 'content-type': 'application/json' }, payload: '{}' });
    odataError(none, 400, { target: 'key' });
    const noHeader = await ws.app.inject({ method: 'POST', url: '/ui/session', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ key: ws.keys.admin }) });
    odataError(noHeader, 403, { target: 'X-Kindred-UI' });
  });
});

describe('the session cookie on /api routes', () => {
  test('reads work with the cookie alone, with the key’s role and instance', async () => {
    const { cookie } = await signIn(ws.keys.viewer);
    const who = await ws.app.inject({ method: 'GET', url: '/ui/session', headers: { cookie } });
    assert.equal(who.statusCode, 200);
    assert.equal((who.json() as { role: string }).role, 'Viewer');
    const list = await ws.app.inject({ method: 'GET', url: '/api/instances', headers: { cookie } });
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual((list.json() as { instanceId: string }[]).map((i) => i.instanceId), [ws.instanceId]);
    const jobs = await ws.app.inject({ method: 'GET', url: ws.url('/workflows/main/jobs'), headers: { cookie } });
    assert.equal(jobs.statusCode, 200);
    // The role still limits: a Viewer's session cannot start a refresh.
    const start = await ws.app.inject({ method: 'POST', url: ws.url('/workflows/main/jobs'), headers: { cookie, ...UI } });
    odataError(start, 403, { message: /Contributor/ });
    // Another instance: same answer as for the key itself.
    const other = await ws.app.inject({ method: 'GET', url: '/api/instances/other/workflows/main/jobs', headers: { cookie } });
    assert.equal(other.statusCode, 401);
  });

  test('a write authenticated by the cookie needs X-Kindred-UI (CSRF guard); nothing is written without it', async () => {
    const { cookie } = await signIn(ws.keys.contributor);
    const customers = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $top: '1' } });
    const id = (customers.json() as { value: { CustomerId: string; City: string | null }[] }).value[0].CustomerId;
    const url = ws.url(`/data/Customer/${id}`);
    const forged = await ws.app.inject({ method: 'PATCH', url, headers: { cookie, 'content-type': 'application/json' }, payload: JSON.stringify({ City: 'Forged' }) });
    odataError(forged, 403, { target: 'X-Kindred-UI' });
    const read = await ws.request('GET', url, { key: ws.keys.viewer });
    assert.notEqual((read.json() as { City: string }).City, 'Forged');
    const ok = await ws.app.inject({ method: 'PATCH', url: `${url}?caller=ui`, headers: { cookie, ...UI, 'content-type': 'application/json' }, payload: JSON.stringify({ City: 'Lisbon' }) });
    assert.equal(ok.statusCode, 204, ok.body);
    // A key in the header is used as it is (API clients need no UI header even with a stale cookie).
    const withKey = await ws.app.inject({ method: 'PATCH', url, headers: { cookie, 'ocp-apim-subscription-key': ws.keys.contributor, 'content-type': 'application/json' }, payload: JSON.stringify({ City: 'Porto' }) });
    assert.equal(withKey.statusCode, 204, withKey.body);
  });

  test('sign-out ends the session: the same cookie no longer authenticates', async () => {
    const { cookie } = await signIn(ws.keys.viewer);
    const out = await ws.app.inject({ method: 'DELETE', url: '/ui/session', headers: { cookie, ...UI } });
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    const again = await ws.app.inject({ method: 'GET', url: '/api/instances', headers: { cookie } });
    assert.equal(again.statusCode, 401);
    const who = await ws.app.inject({ method: 'GET', url: '/ui/session', headers: { cookie } });
    assert.equal(who.statusCode, 401);
  });

  test('a made-up cookie is no credential', async () => {
    const res = await ws.app.inject({ method: 'GET', url: '/api/instances', headers: { cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` } });
    odataError(res, 401);
  });
});

describe('SessionStore', () => {
  // A store of its own: the limit test deletes sessions.
  let store: Store;
  before(() => {
    store = openSqliteStore({ file: ':memory:' });
  });
  after(() => store.close());

  test('sessions end after the idle timeout and after the maximum age; use keeps them alive', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const t0 = now;
    const sessions = new SessionStore(store.sessions, { idleMs: 1000, maxAgeMs: 5000, touchEveryMs: 0, now: () => now });
    const id = await sessions.create('hash-1');
    now = t0 + 900;
    assert.equal(await sessions.resolve(id), 'hash-1');
    now = t0 + 1800; // 900 ms after the last use
    assert.equal(await sessions.resolve(id), 'hash-1');
    now = t0 + 2801; // idle for 1001 ms
    assert.equal(await sessions.resolve(id), undefined);
    const busy = await sessions.create('hash-2');
    for (now = t0 + 3000; now <= t0 + 8000; now += 500) {
      const alive = await sessions.resolve(busy);
      if (now - t0 - 2801 <= 5000) assert.equal(alive, 'hash-2', `alive at ${now - t0}`);
      else assert.equal(alive, undefined, `ended by max age at ${now - t0}`);
    }
  });

  test('the last use is written at most every touchEveryMs, and a session ends idleMs after it', async () => {
    let now = Date.parse('2026-03-02T00:00:00Z');
    const t0 = now;
    const sessions = new SessionStore(store.sessions, { idleMs: 10_000, maxAgeMs: 100_000, touchEveryMs: 1000, now: () => now });
    const id = await sessions.create('hash-3');
    const idHash = createHash('sha256').update(id).digest('base64url');
    now = t0 + 500;
    await sessions.resolve(id);
    assert.equal((await store.sessions.getSession(idHash))?.lastSeenAt, new Date(t0).toISOString(), 'not written within touchEveryMs');
    now = t0 + 1500;
    await sessions.resolve(id);
    assert.equal((await store.sessions.getSession(idHash))?.lastSeenAt, new Date(t0 + 1500).toISOString());
    now = t0 + 1500 + 10_001;
    assert.equal(await sessions.resolve(id), undefined);
    assert.equal(await store.sessions.getSession(idHash), undefined, 'an ended session is deleted when found');
  });

  test('the least recently used sessions go when the limit is reached; the store holds no session id', async () => {
    let now = Date.parse('2026-03-03T00:00:00Z');
    const sessions = new SessionStore(store.sessions, { maxSessions: 3, now: () => now });
    const ids: string[] = [];
    for (const n of [1, 2, 3, 4]) {
      now += 1000;
      ids.push(await sessions.create(`h${n}`));
    }
    assert.equal(await sessions.resolve(ids[0]), undefined);
    assert.deepEqual(await Promise.all(ids.slice(1).map((id) => sessions.resolve(id))), ['h2', 'h3', 'h4']);
    for (const id of ids) {
      assert.equal(await store.sessions.getSession(id), undefined, 'not stored under the id itself');
      await sessions.delete(id);
    }
  });

  test('readCookie finds one cookie among several', () => {
    assert.equal(readCookie('a=1; kindred_session=xyz; b=2', SESSION_COOKIE), 'xyz');
    assert.equal(readCookie('a=1', SESSION_COOKIE), undefined);
    assert.equal(readCookie(undefined, SESSION_COOKIE), undefined);
  });
});

describe('pages and assets', () => {
  test('/ is the app shell with a strict Content-Security-Policy', async () => {
    const res = await ws.app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.match(res.body, /<script type="module" src="\/ui\/assets\/app.js">/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    const again = await ws.app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': String(res.headers.etag) } });
    assert.equal(again.statusCode, 304);
  });

  test('every module the shell loads exists, with its content type', async () => {
    for (const file of ['app.js', 'api.js', 'dom.js', 'icons.js', 'common.js', 'page-signin.js', 'page-instances.js', 'page-search.js', 'page-card.js', 'page-runs.js', 'page-telemetry.js', 'style.css', 'favicon.svg']) {
      const res = await ws.app.inject({ method: 'GET', url: `/ui/assets/${file}` });
      assert.equal(res.statusCode, 200, file);
      assert.match(String(res.headers['content-type']), file.endsWith('.js') ? /text\/javascript/ : file.endsWith('.css') ? /text\/css/ : /image\/svg/);
    }
  });

  test('uPlot is served from node_modules', async () => {
    const js = await ws.app.inject({ method: 'GET', url: '/ui/vendor/uplot.js' });
    assert.equal(js.statusCode, 200);
    assert.match(js.body, /uPlot/);
    const css = await ws.app.inject({ method: 'GET', url: '/ui/vendor/uplot.css' });
    assert.equal(css.statusCode, 200);
    odataError(await ws.app.inject({ method: 'GET', url: '/ui/vendor/package.json' }), 404);
  });

  test('no path leaves the assets folder', async () => {
    for (const url of ['/ui/assets/..%2F..%2Fpackage.json', '/ui/assets/%2E%2E%2Fsession.ts', '/ui/assets/routes.ts', '/ui/assets/.hidden.js', '/ui/assets/index.html']) {
      const res = await ws.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
    }
  });

  test('the UI routes are not in the API documents', async () => {
    const doc = (await ws.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, unknown> };
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/ui') || p === '/'));
  });
});
