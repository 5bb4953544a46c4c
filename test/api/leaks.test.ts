// No leaks (issue 4, item 7): error bodies never carry stack traces, SQL or file paths, and keys and
// tokens never reach the log. Internal errors are real faults (a table renamed away under the running
// server, a stored definition corrupted by another connection), not mocks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { sessionCookie } from '../../src/api/cookies.js';
import { loggerOptions, REDACT_PATHS, requestChildLoggerFactory } from '../../src/api/logging.js';
import { odataError, REALTIME_FIXTURE, workspace, type Workspace } from './helpers.js';

let ws: Workspace;
let app: FastifyInstance;
const lines: string[] = [];

before(async () => {
  ws = await workspace({ definition: REALTIME_FIXTURE });
  await ws.refresh();
  app = await buildApp({ services: ws.services, logger: { level: 'info', stream: { write: (line: string) => void lines.push(line) } } });
  await app.ready();
});
after(async () => {
  await app.close();
  await ws.close();
});

/** A body that says nothing about the server's insides. */
function generic(res: LightMyRequestResponse, extra: string[] = []) {
  for (const needle of ['SELECT', 'INSERT', 'UPDATE ', 'sqlite', 'Sqlite', '.ts:', '.js:', 'node_modules', ws.dir, ws.dataDir, '/tmp/', '"stack"', ...extra]) {
    assert.ok(!res.body.includes(needle), `the body does not contain ${JSON.stringify(needle)}: ${res.body.slice(0, 400)}`);
  }
  assert.doesNotMatch(res.body, /\bat [\w.<>]+ \(|\\n\s+at /, 'no stack frames');
}

describe('no leaks', () => {
  test('keys, bearer values and cookies never appear in the log', async () => {
    const secretCookie = 'session=s3cr3t-cookie-value';
    const bearerKey = ws.keys.admin;
    const before = lines.length;
    assert.equal((await app.inject({ method: 'GET', url: ws.url(''), headers: { 'ocp-apim-subscription-key': ws.keys.viewer, cookie: secretCookie } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: ws.url(''), headers: { authorization: `Bearer ${bearerKey}` } })).statusCode, 200);
    const wrongKey = 'kdr_this_key_is_wrong_and_secret';
    assert.equal((await app.inject({ method: 'GET', url: ws.url(''), headers: { 'ocp-apim-subscription-key': wrongKey } })).statusCode, 401);
    // A body with a key field (as key-management routes take) and a failing request.
    await app.inject({ method: 'POST', url: ws.url('/data/UnifiedActivity'), headers: { 'ocp-apim-subscription-key': ws.keys.contributor, 'content-type': 'application/json' }, payload: JSON.stringify({ key: 'kdr_body_secret_value' }) });
    // The app's logger, used the way code might log a request: secret headers are redacted.
    app.log.info({ headers: { authorization: `Bearer ${bearerKey}`, 'ocp-apim-subscription-key': ws.keys.viewer }, body: { key: 'kdr_body_secret_value', token: 'tok-secret' } }, 'diagnostics');

    const written = lines.slice(before).join('');
    assert.ok(lines.length - before >= 8, `requests were logged (${lines.length - before} lines)`);
    assert.match(written, /request completed/);
    assert.match(written, /\[redacted\]/, 'redaction is at work');
    for (const secret of [ws.keys.viewer, bearerKey, ws.keys.contributor, wrongKey, 's3cr3t-cookie-value', 'kdr_body_secret_value', 'tok-secret']) {
      assert.ok(!written.includes(secret), `the log does not contain ${secret}`);
    }
  });

  test('the log lines of a request carry its request id, and its logger redacts like the app logger', async () => {
    const before = lines.length;
    await app.inject({ method: 'GET', url: ws.url(''), headers: { 'ocp-apim-subscription-key': ws.keys.viewer } });
    const entries = lines.slice(before).map((l) => JSON.parse(l) as { reqId?: unknown; msg?: string });
    const incoming = entries.find((e) => e.msg === 'incoming request');
    const completed = entries.find((e) => e.msg === 'request completed');
    assert.ok(incoming && completed, 'both request lines were logged');
    assert.equal(typeof incoming.reqId, 'string');
    assert.equal(completed.reqId, incoming.reqId);
    // What a route logging through request.log uses: the child keeps the app logger's redaction.
    const child = requestChildLoggerFactory()(app.log, { reqId: 'req-x' }, {});
    child.info({ headers: { authorization: 'Bearer kdr_child_secret' }, body: { key: 'kdr_child_body_secret' } }, 'child');
    const last = lines.at(-1)!;
    assert.ok(!last.includes('kdr_child_secret') && !last.includes('kdr_child_body_secret') && last.includes('"reqId":"req-x"'), last);
  });

  test('the redaction list covers the secret headers in every place they are logged', () => {
    for (const p of ['req.headers.authorization', 'req.headers["ocp-apim-subscription-key"]', 'req.headers.cookie', 'res.headers["set-cookie"]']) assert.ok(REDACT_PATHS.includes(p), p);
    assert.equal(loggerOptions(false), false);
    assert.equal(loggerOptions(undefined), false);
  });

  test('4xx bodies do not echo internals', async () => {
    const bad = await app.inject({ method: 'POST', url: ws.url('/data/UnifiedActivity'), headers: { 'ocp-apim-subscription-key': ws.keys.contributor, 'content-type': 'application/json' }, payload: '{"a": ' });
    odataError(bad, 400);
    generic(bad);
    const filter = await app.inject({ method: 'GET', url: `${ws.url('/data/Customer')}?$filter=${encodeURIComponent("FullName eq 'x'; DROP TABLE customers; --")}`, headers: { 'ocp-apim-subscription-key': ws.keys.viewer } });
    odataError(filter, 400);
    generic(filter, ['customers']);
    const nowhere = await app.inject({ method: 'GET', url: '/api/../../etc/passwd', headers: { 'ocp-apim-subscription-key': ws.keys.viewer } });
    assert.ok(nowhere.statusCode >= 400 && nowhere.statusCode < 500);
    generic(nowhere, ['root:']);
  });

  test('a database fault: 500 with a generic body; the details only in the log', async () => {
    await ws.sql('ALTER TABLE realtime_activities RENAME TO realtime_activities_gone');
    try {
      const before = lines.length;
      const res = await app.inject({ method: 'GET', url: ws.url('/data/UnifiedActivity'), headers: { 'ocp-apim-subscription-key': ws.keys.viewer } });
      const e = odataError(res, 500, { code: 'InternalError', message: /internal error \(request [^)]+\); the server log has the details/ });
      assert.equal(e.target, undefined);
      generic(res, ['realtime_activities', 'no such table', 'does not exist']);
      const written = lines.slice(before).join('');
      assert.match(written, /realtime_activities/, 'the log has the details for the operator');
      assert.ok(!written.includes(ws.keys.viewer), 'but not the key');
    } finally {
      await ws.sql('ALTER TABLE realtime_activities_gone RENAME TO realtime_activities');
    }
    assert.equal((await app.inject({ method: 'GET', url: ws.url('/data/UnifiedActivity'), headers: { 'ocp-apim-subscription-key': ws.keys.viewer } })).statusCode, 200, 'works again');
  });

  test('a corrupted stored definition: 500 with a generic body, no file path', async () => {
    const [original] = await ws.sql('SELECT definition, updated_at FROM instances WHERE id = ?', [ws.instanceId]);
    try {
      await ws.sql('UPDATE instances SET definition = ?, updated_at = ? WHERE id = ?', [JSON.stringify({ id: ws.instanceId, dataSources: 'nonsense' }), new Date().toISOString(), ws.instanceId]);
      ws.services.catalog.invalidate(ws.instanceId);
      const res = await app.inject({ method: 'GET', url: ws.url('/data/Customer'), headers: { 'ocp-apim-subscription-key': ws.keys.viewer } });
      assert.ok(res.statusCode >= 400, res.body);
      generic(res, ['nonsense', 'dataSources.']);
      if (res.statusCode === 500) odataError(res, 500, { code: 'InternalError' });
    } finally {
      await ws.sql('UPDATE instances SET definition = ?, updated_at = ? WHERE id = ?', [original.definition, original.updated_at, ws.instanceId]);
      ws.services.catalog.invalidate(ws.instanceId);
    }
  });

  test('session cookies: HttpOnly, SameSite=Strict, Secure behind TLS', () => {
    assert.equal(sessionCookie('kindred_session', 'abc123', { secure: true }), 'kindred_session=abc123; Path=/; HttpOnly; SameSite=Strict; Secure');
    assert.equal(sessionCookie('s', 'v', { secure: false, maxAgeSeconds: 3600 }), 's=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600');
    assert.throws(() => sessionCookie('s', 'a;b', { secure: true }), /cannot have/);
    assert.throws(() => sessionCookie('s s', 'v', { secure: true }), /cannot have/);
  });
});
