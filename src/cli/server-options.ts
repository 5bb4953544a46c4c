// Server options of `kindred serve` from flags and environment (flags win), read once by the CLI and
// passed to buildApp: body limit, rate limit, timeouts, OpenID Connect tokens, log level.
import type { Command } from 'commander';
import type { AppOptions } from '../api/app.js';
import { DEFAULT_TIMEOUTS, parseByteSize, type ServerTimeouts } from '../api/limits.js';
import type { OidcOptions } from '../api/tokens.js';
import { CliError } from './errors.js';

export type ServerOptions = Pick<AppOptions, 'bodyLimit' | 'rateLimit' | 'timeouts' | 'oidc' | 'logger'>;

type Env = Readonly<Record<string, string | undefined>>;

/** Adds the server flags to a command (serve). */
export function addServerFlags(command: Command): Command {
  return command
    .option('--body-limit <size>', 'largest request body, e.g. 1MiB, 512KiB (default: $KINDRED_BODY_LIMIT or 1MiB; $batch takes up to 64MiB)')
    .option('--rate-limit <n>', 'requests per minute per API key or token; 0: no limit (default: $KINDRED_RATE_LIMIT or no limit)')
    .option('--rate-limit-burst <n>', 'requests a caller may make at once (default: $KINDRED_RATE_LIMIT_BURST or 10 s worth of the rate)')
    .option('--headers-timeout <seconds>', `time for a client to send its request headers (default: $KINDRED_HEADERS_TIMEOUT or ${DEFAULT_TIMEOUTS.headersTimeoutMs / 1000})`)
    .option('--request-timeout <seconds>', `time for a client to send its whole request (default: $KINDRED_REQUEST_TIMEOUT or ${DEFAULT_TIMEOUTS.requestTimeoutMs / 1000})`)
    .option('--keep-alive-timeout <seconds>', `idle keep-alive connections are closed after (default: $KINDRED_KEEP_ALIVE_TIMEOUT or ${DEFAULT_TIMEOUTS.keepAliveTimeoutMs / 1000})`)
    .option('--connection-timeout <seconds>', `a socket without traffic is closed after (default: $KINDRED_CONNECTION_TIMEOUT or ${DEFAULT_TIMEOUTS.connectionTimeoutMs / 1000})`)
    .option('--oidc-issuer <url>', 'accept Bearer JWTs from this OpenID Connect issuer ($KINDRED_OIDC_ISSUER)')
    .option('--oidc-audience <aud>', 'the audience the tokens must name ($KINDRED_OIDC_AUDIENCE)')
    .option('--oidc-jwks-url <url>', "the provider's signing keys (JWKS) ($KINDRED_OIDC_JWKS_URL)")
    .option('--oidc-role-claim <claim>', 'the claim with the role: Viewer, Contributor or Administrator (default: $KINDRED_OIDC_ROLE_CLAIM or roles)')
    .option('--oidc-instance-claim <claim>', 'a claim with the instance id(s) a token is for; without it tokens are server-wide ($KINDRED_OIDC_INSTANCE_CLAIM)')
    .option('--log-level <level>', 'fatal, error, warn, info (one line per request), debug or silent (default: $KINDRED_LOG_LEVEL or warn)');
}

function number(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`${name} must be a number from ${min} to ${max}, not '${value}'`);
  return n;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The server options from parsed flags (commander's camelCase names) and the environment. */
export function serverOptionsFrom(flags: Record<string, string | undefined>, env: Env): ServerOptions {
  const pick = (flag: string, variable: string) => flags[flag] ?? (env[variable] || undefined);
  const out: ServerOptions = {};

  const body = pick('bodyLimit', 'KINDRED_BODY_LIMIT');
  if (body !== undefined) {
    try {
      out.bodyLimit = parseByteSize(body);
    } catch (err) {
      throw new CliError(`--body-limit: ${(err as Error).message}`);
    }
  }

  const rate = pick('rateLimit', 'KINDRED_RATE_LIMIT');
  if (rate !== undefined && rate !== 'off' && number('--rate-limit', rate, 0, 1e9) > 0) {
    const burst = pick('rateLimitBurst', 'KINDRED_RATE_LIMIT_BURST');
    out.rateLimit = { perMinute: Number(rate), burst: burst === undefined ? undefined : Math.floor(number('--rate-limit-burst', burst, 1, 1e9)) };
  }

  const timeouts: Partial<ServerTimeouts> = {};
  for (const [flag, variable, field] of [
    ['headersTimeout', 'KINDRED_HEADERS_TIMEOUT', 'headersTimeoutMs'],
    ['requestTimeout', 'KINDRED_REQUEST_TIMEOUT', 'requestTimeoutMs'],
    ['keepAliveTimeout', 'KINDRED_KEEP_ALIVE_TIMEOUT', 'keepAliveTimeoutMs'],
    ['connectionTimeout', 'KINDRED_CONNECTION_TIMEOUT', 'connectionTimeoutMs'],
  ] as const) {
    const v = pick(flag, variable);
    if (v !== undefined) timeouts[field] = Math.round(number(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v, 0.1, 86_400) * 1000);
  }
  if (Object.keys(timeouts).length) out.timeouts = timeouts;

  const issuer = pick('oidcIssuer', 'KINDRED_OIDC_ISSUER');
  const audience = pick('oidcAudience', 'KINDRED_OIDC_AUDIENCE');
  const jwksUrl = pick('oidcJwksUrl', 'KINDRED_OIDC_JWKS_URL');
  if (issuer || audience || jwksUrl) {
    const missing = [!issuer && '--oidc-issuer', !audience && '--oidc-audience', !jwksUrl && '--oidc-jwks-url'].filter(Boolean);
    if (missing.length) throw new CliError(`OpenID Connect tokens need issuer, audience and JWKS URL; missing ${missing.join(', ')} (or the KINDRED_OIDC_* variables)`);
    try {
      new URL(jwksUrl!);
    } catch {
      throw new CliError(`--oidc-jwks-url is not a URL: ${jwksUrl}`);
    }
    const oidc: OidcOptions = { issuer: issuer!, audience: audience!, jwksUrl: jwksUrl!, roleClaim: pick('oidcRoleClaim', 'KINDRED_OIDC_ROLE_CLAIM') ?? 'roles' };
    const instanceClaim = pick('oidcInstanceClaim', 'KINDRED_OIDC_INSTANCE_CLAIM');
    if (instanceClaim) oidc.instanceClaim = instanceClaim;
    out.oidc = oidc;
  }

  const level = pick('logLevel', 'KINDRED_LOG_LEVEL') ?? 'warn';
  if (!LEVELS.includes(level)) throw new CliError(`--log-level must be one of ${LEVELS.join(', ')}, not '${level}'`);
  out.logger = { level };
  return out;
}
