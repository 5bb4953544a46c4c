// Bearer JWTs from an OpenID Connect provider (issue 4, item 3): the test is the provider. It makes
// key pairs with jose, serves the JWKS over real HTTP on loopback, signs tokens and sends them to
// the app built with that provider configured.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { buildApp } from '../../src/api/app.js';
import { looksLikeJwt, roleOf, TokenVerifier, type OidcOptions } from '../../src/api/tokens.js';
import { FIXTURES, odataError, workspace, type Workspace } from './helpers.js';

const ISSUER = 'https://login.example.test/tenant-1/v2.0';
const AUDIENCE = 'api://kindred';

let ws: Workspace;
let jwksServer: Server;
let jwksUrl: string;
let jwksHits = 0;
let app: FastifyInstance;
let signing: { privateKey: CryptoKey; kid: string };
let stranger: { privateKey: CryptoKey };
let ecKey: CryptoKey;
let oidc: OidcOptions;

before(async () => {
  ws = await workspace({ definition: `${FIXTURES}/tiny/instance.yaml` });
  const pair = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  signing = { privateKey: pair.privateKey, kid: 'key-1' };
  stranger = { privateKey: other.privateKey };
  ecKey = ec.privateKey;
  const jwks = {
    keys: [
      { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'key-2', alg: 'ES256', use: 'sig' },
    ],
  };
  jwksServer = createServer((req, res) => {
    jwksHits++;
    if (req.url !== '/keys') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/keys`;
  oidc = { issuer: ISSUER, audience: AUDIENCE, jwksUrl, roleClaim: 'roles' };
  app = await buildApp({ services: ws.services, oidc });
  await app.ready();
});
after(async () => {
  await app.close();
  await new Promise((resolve) => jwksServer.close(resolve));
  await ws.close();
});

interface TokenOptions {
  claims?: JWTPayload;
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
  key?: CryptoKey;
  kid?: string;
  alg?: string;
}

async function token(o: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({ roles: ['Kindred.Viewer'], ...o.claims })
    .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? signing.kid })
    .setSubject('user-42')
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.expiresIn ?? '10m');
  return jwt.sign(o.key ?? signing.privateKey);
}

const call = (target: FastifyInstance, method: string, url: string, bearer: string, body?: unknown) =>
  target.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });

const instanceUrl = () => `/api/instances/${ws.instanceId}`;
// Contributor route: a PATCH with an empty object passes authorization and then fails validation (400).
const patchUrl = () => `/api/instances/${ws.instanceId}/data/Customer/nobody`;

/** A 401/403 whose message matches, and that never echoes the token. */
function refused(res: { statusCode: number; body: string; json(): unknown }, status: number, message: RegExp, jwt: string) {
  const e = odataError(res as never, status, { message });
  assert.ok(!res.body.includes(jwt), 'the token is not echoed');
  assert.ok(!res.body.includes(jwt.split('.')[2]), 'not even its signature');
  return e;
}

describe('OIDC bearer tokens', () => {
  test('token shape and role names', () => {
    assert.ok(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'));
    assert.ok(!looksLikeJwt('kdr_abcdefghijklmnopqrstuvwx'));
    assert.ok(!looksLikeJwt('a.b'));
    assert.equal(roleOf('Kindred.Administrator'), 'Administrator');
    assert.equal(roleOf('kindred:contributor'), 'Contributor');
    assert.equal(roleOf('Viewer'), 'Viewer');
    assert.equal(roleOf('Kindred.Owner'), undefined);
    assert.throws(() => new TokenVerifier({ ...oidc, issuer: '' }), /issuer is required/);
    assert.throws(() => new TokenVerifier({ ...oidc, jwksUrl: 'not a url' }), /not a URL/);
  });

  test('a Viewer token reads but may not write', async () => {
    const jwt = await token();
    const res = await call(app, 'GET', instanceUrl(), jwt);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().instanceId, ws.instanceId);
    refused(await call(app, 'PATCH', patchUrl(), jwt, {}), 403, /needs the Contributor role; the token has Viewer/, jwt);
  });

  test('a Contributor token writes; an Administrator token too; the highest role of the claim counts', async () => {
    for (const roles of [['Kindred.Contributor'], ['Administrator'], ['Viewer', 'kindred.contributor', 'unrelated']]) {
      const jwt = await token({ claims: { roles } });
      const res = await call(app, 'PATCH', patchUrl(), jwt, {});
      assert.equal(res.statusCode, 400, `${roles}: passes authorization, then the empty body is refused: ${res.body}`);
    }
    // A role as one (space-separated) string, as some providers send it.
    const res = await call(app, 'PATCH', patchUrl(), await token({ claims: { roles: 'openid Contributor' } }), {});
    assert.equal(res.statusCode, 400, res.body);
  });

  test('a token signed with the second (EC) key of the set is accepted', async () => {
    const jwt = await token({ key: ecKey, kid: 'key-2', alg: 'ES256' });
    assert.equal((await call(app, 'GET', instanceUrl(), jwt)).statusCode, 200);
    // The RS256 key's kid with an ES256 signature: the key does not fit.
    const mixed = await token({ key: ecKey, kid: 'key-1', alg: 'ES256' });
    assert.equal((await call(app, 'GET', instanceUrl(), mixed)).statusCode, 401);
  });

  test('wrong issuer, wrong audience, expired: 401 with the reason', async () => {
    let jwt = await token({ issuer: 'https://evil.example.test/' });
    refused(await call(app, 'GET', instanceUrl(), jwt), 401, /not issued by the configured issuer/, jwt);
    jwt = await token({ audience: 'api://something-else' });
    refused(await call(app, 'GET', instanceUrl(), jwt), 401, /not meant for this API \(audience api:\/\/kindred\)/, jwt);
    jwt = await token({ expiresIn: Math.floor(Date.now() / 1000) - 3600 });
    refused(await call(app, 'GET', instanceUrl(), jwt), 401, /has expired/, jwt);
  });

  test('bad signature and unknown kid: 401', async () => {
    let jwt = await token({ key: stranger.privateKey });
    refused(await call(app, 'GET', instanceUrl(), jwt), 401, /signature does not verify/, jwt);
    // A tampered payload with the original signature.
    const [h, , s] = (await token()).split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 'x', roles: ['Administrator'], iss: ISSUER, aud: AUDIENCE, exp: 4102444800 })).toString('base64url');
    jwt = `${h}.${payload}.${s}`;
    refused(await call(app, 'GET', instanceUrl(), jwt), 401, /signature does not verify/, jwt);
    jwt = await token({ key: stranger.privateKey, kid: 'no-such-key' });
    refused(await call(app, 'GET', instanceUrl(), jwt), 401, /not in the provider's key set \(unknown kid\)/, jwt);
  });

  test('symmetric and unsigned tokens are refused', async () => {
    const hs = await new SignJWT({ roles: ['Administrator'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode('a shared secret of thirty-two bytes!'));
    refused(await call(app, 'GET', instanceUrl(), hs), 401, /algorithm is not accepted/, hs);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ roles: ['Administrator'], iss: ISSUER, aud: AUDIENCE })).toString('base64url')}.x`;
    refused(await call(app, 'GET', instanceUrl(), none), 401, /bearer token/, none);
  });

  test('a token without a recognised role: 403 naming the claim', async () => {
    let jwt = await token({ claims: { roles: undefined } });
    refused(await call(app, 'GET', instanceUrl(), jwt), 403, /has no 'roles' claim with a role/, jwt);
    jwt = await token({ claims: { roles: ['Kindred.Owner', 'Reader.Plus'] } });
    refused(await call(app, 'GET', instanceUrl(), jwt), 403, /'roles' claim names no known role/, jwt);
    jwt = await token({ claims: { roles: [1, 2] as unknown as string[] } });
    refused(await call(app, 'GET', instanceUrl(), jwt), 403, /'roles' claim/, jwt);
  });

  test('a custom claim path (realm_access.roles) and an instance claim', async () => {
    const custom = await buildApp({ services: ws.services, oidc: { ...oidc, roleClaim: 'realm_access.roles', instanceClaim: 'kindred_instances' } });
    await custom.ready();
    try {
      const forThis = await token({ claims: { roles: undefined, realm_access: { roles: ['contributor'] }, kindred_instances: [ws.instanceId, 'other'] } });
      assert.equal((await call(custom, 'PATCH', patchUrl(), forThis, {})).statusCode, 400);
      const list = await call(custom, 'GET', '/api/instances', forThis);
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(
        (list.json() as { instanceId: string }[]).map((i) => i.instanceId),
        [ws.instanceId],
      );

      const forOther = await token({ claims: { realm_access: { roles: ['Administrator'] }, kindred_instances: 'other' } });
      refused(await call(custom, 'GET', instanceUrl(), forOther), 403, new RegExp(`not valid for instance '${ws.instanceId}'.*'kindred_instances' claim`), forOther);
      assert.deepEqual((await call(custom, 'GET', '/api/instances', forOther)).json(), []);

      const everywhere = await token({ claims: { realm_access: { roles: ['Viewer'] }, kindred_instances: ['*'] } });
      assert.equal((await call(custom, 'GET', instanceUrl(), everywhere)).statusCode, 200);

      const without = await token({ claims: { realm_access: { roles: ['Viewer'] } } });
      refused(await call(custom, 'GET', instanceUrl(), without), 403, /no 'kindred_instances' claim/, without);
    } finally {
      await custom.close();
    }
  });

  test("the token's subject is the principal: myrole names it", async () => {
    const jwt = await token({ claims: { roles: ['Contributor'] } });
    const res = await call(app, 'GET', `${instanceUrl()}/rbac/myrole`, jwt);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { principalId: string; roles: string[]; scope: string };
    assert.deepEqual([body.principalId, body.roles, body.scope], ['oidc:user-42', ['Contributor'], 'server']);
  });

  test('API keys still work beside tokens, in either header', async () => {
    const res = await ws.request('GET', instanceUrl(), { key: ws.keys.viewer, bearer: true });
    assert.equal(res.statusCode, 200);
    const viaApp = await call(app, 'GET', instanceUrl(), ws.keys.viewer);
    assert.equal(viaApp.statusCode, 200, viaApp.body);
    const header = await app.inject({ method: 'GET', url: instanceUrl(), headers: { 'ocp-apim-subscription-key': ws.keys.viewer } });
    assert.equal(header.statusCode, 200);
  });

  test('without OIDC configured, a JWT is treated as an (unknown) API key', async () => {
    const jwt = await token({ claims: { roles: ['Administrator'] } });
    refused(await call(ws.app, 'GET', instanceUrl(), jwt), 401, /API key is not valid/, jwt);
  });

  test('the key set is fetched once and cached, not per request', async () => {
    const before = jwksHits;
    for (let i = 0; i < 5; i++) assert.equal((await call(app, 'GET', instanceUrl(), await token())).statusCode, 200);
    assert.equal(jwksHits, before);
  });

  test('a key set address that answers 404: 503', async () => {
    const broken = await buildApp({ services: ws.services, oidc: { ...oidc, jwksUrl: jwksUrl.replace('/keys', '/nothing-here') } });
    await broken.ready();
    try {
      const jwt = await token();
      refused(await call(broken, 'GET', instanceUrl(), jwt), 503, /key set \(JWKS\) could not be loaded/, jwt);
    } finally {
      await broken.close();
    }
  });

  test('an unreachable provider: 503, not 500', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    const offline = await buildApp({ services: ws.services, oidc: { ...oidc, jwksUrl: `http://127.0.0.1:${port}/keys` } });
    await offline.ready();
    try {
      const jwt = await token();
      const res = await call(offline, 'GET', instanceUrl(), jwt);
      refused(res, 503, /key set \(JWKS\) could not be loaded/, jwt);
    } finally {
      await offline.close();
    }
  });
});
