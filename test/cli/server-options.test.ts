// `kindred serve` server options: flags win over environment, bad values are one clear error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CliError } from '../../src/cli/errors.js';
import { serverOptionsFrom } from '../../src/cli/server-options.js';

describe('serve: server options', () => {
  test('defaults: no rate limit, no tokens, warn-level log, framework defaults for the rest', () => {
    assert.deepEqual(serverOptionsFrom({}, {}), { logger: { level: 'warn' } });
  });

  test('flags and environment; flags win', () => {
    const o = serverOptionsFrom(
      { rateLimit: '600', headersTimeout: '5' },
      {
        KINDRED_RATE_LIMIT: '60',
        KINDRED_RATE_LIMIT_BURST: '20',
        KINDRED_BODY_LIMIT: '2MiB',
        KINDRED_OIDC_ISSUER: 'https://idp.example/',
        KINDRED_OIDC_AUDIENCE: 'api://kindred',
        KINDRED_OIDC_JWKS_URL: 'https://idp.example/keys',
        KINDRED_OIDC_ROLE_CLAIM: 'groups',
        KINDRED_LOG_LEVEL: 'info',
      },
    );
    assert.deepEqual(o, {
      bodyLimit: 2 * 1024 * 1024,
      rateLimit: { perMinute: 600, burst: 20 },
      timeouts: { headersTimeoutMs: 5000 },
      oidc: { issuer: 'https://idp.example/', audience: 'api://kindred', jwksUrl: 'https://idp.example/keys', roleClaim: 'groups' },
      logger: { level: 'info' },
    });
    assert.equal(serverOptionsFrom({ rateLimit: '0' }, {}).rateLimit, undefined, '0: no limit');
  });

  test('bad values: a CliError naming the flag', () => {
    assert.throws(() => serverOptionsFrom({ bodyLimit: 'huge' }, {}), (e: Error) => e instanceof CliError && /--body-limit/.test(e.message));
    assert.throws(() => serverOptionsFrom({ rateLimit: '-1' }, {}), /--rate-limit must be a number/);
    assert.throws(() => serverOptionsFrom({ keepAliveTimeout: 'x' }, {}), /--keep-alive-timeout must be a number/);
    assert.throws(() => serverOptionsFrom({ oidcIssuer: 'https://idp.example/' }, {}), /missing --oidc-audience, --oidc-jwks-url/);
    assert.throws(() => serverOptionsFrom({ oidcIssuer: 'i', oidcAudience: 'a', oidcJwksUrl: 'nope' }, {}), /not a URL/);
    assert.throws(() => serverOptionsFrom({ logLevel: 'loud' }, {}), /--log-level must be one of/);
  });
});
