// Bearer tokens (JWT) from an OpenID Connect provider: verified with jose against the provider's
// key set (JWKS, fetched over HTTP and cached), issuer and audience from the server configuration,
// the role mapped from a claim. Without a configured provider a Bearer value is an API key.
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { ApiKeyRecord, Role } from '../storage/store.js';
import { ApiError } from './errors.js';

export interface OidcOptions {
  /** Expected `iss` claim. */
  issuer: string;
  /** Expected `aud` (one of them, when the token lists several). */
  audience: string;
  /** Where the provider publishes its signing keys (JWKS). */
  jwksUrl: string;
  /**
   * The claim that carries the role, e.g. `roles`, `groups`, `https://kindred.example/role` or a
   * path such as `realm_access.roles` (the exact name is tried first, then the dotted path).
   */
  roleClaim: string;
  /**
   * Optional claim with the instance id(s) the token is valid for; `*` means every instance.
   * When configured, a token without it is refused. When not configured, tokens are server-wide.
   */
  instanceClaim?: string;
  /** Leeway for exp/nbf/iat in seconds (default 30). */
  clockToleranceSeconds?: number;
}

/** A verified token as the rest of the API sees a caller (shaped like an API key record). */
export type TokenPrincipal = ApiKeyRecord & { kind: 'token'; subject: string; instanceIds: readonly string[] | null };

// Asymmetric algorithms only: a provider signs with its private key; HS* would let anyone who
// knows a shared secret mint tokens, and `none` is never accepted.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const RANK: Record<Role, number> = { Viewer: 1, Contributor: 2, Administrator: 3 };
const ROLE_NAMES: Record<string, Role> = {
  viewer: 'Viewer',
  reader: 'Viewer',
  contributor: 'Contributor',
  writer: 'Contributor',
  administrator: 'Administrator',
  admin: 'Administrator',
};

/** Whether a caller (API key or token) may see an instance: server-wide, its own instance, or one its token lists. */
export function canSeeInstance(caller: ApiKeyRecord, instanceId: string): boolean {
  const ids = (caller as Partial<TokenPrincipal>).instanceIds;
  if (ids) return ids.includes(instanceId);
  return caller.instanceId === null || caller.instanceId === instanceId;
}

/** The JWT in `Authorization: Bearer <JWT>`, if the header carries one (and no API key header is sent). */
export function bearerJwt(request: FastifyRequest): string | undefined {
  if (request.headers['ocp-apim-subscription-key']) return undefined;
  const auth = request.headers.authorization;
  if (!auth || auth.length < 8 || auth.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const value = auth.slice(7).trim();
  return looksLikeJwt(value) ? value : undefined;
}

/** Three base64url segments: a JWS compact serialisation. API keys (kdr_…) never contain dots. */
export function looksLikeJwt(value: string): boolean {
  return value.length < 16_384 && JWT_RE.test(value);
}

/** `Kindred.Contributor`, `kindred:admin`, `Viewer` → the role; anything else → undefined. */
export function roleOf(value: string): Role | undefined {
  const last = value.split(/[.:/]/).pop() ?? '';
  return ROLE_NAMES[last.toLowerCase()];
}

function claimValue(payload: JWTPayload, claim: string): unknown {
  if (claim in payload) return payload[claim];
  if (!claim.includes('.')) return undefined;
  let value: unknown = payload;
  for (const part of claim.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A claim as a list of strings: an array of strings, or one string (space-separated, as `scope` is). */
function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

function describeJoseError(err: unknown, options: OidcOptions): ApiError {
  const e = err as { code?: string; claim?: string; reason?: string; message?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return new ApiError('Unauthorized', 'the bearer token has expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'iss') return new ApiError('Unauthorized', `the bearer token was not issued by the configured issuer (${options.issuer})`);
      if (e.claim === 'aud') return new ApiError('Unauthorized', `the bearer token is not meant for this API (audience ${options.audience})`);
      if (e.claim === 'nbf') return new ApiError('Unauthorized', 'the bearer token is not valid yet (nbf is in the future)');
      return new ApiError('Unauthorized', `the bearer token's '${e.claim}' claim is not valid (${e.reason ?? 'check failed'})`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new ApiError('Unauthorized', 'the bearer token signature does not verify');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new ApiError('Unauthorized', "the bearer token is signed with a key that is not in the provider's key set (unknown kid)");
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new ApiError('Unauthorized', "the bearer token's header matches several keys of the provider; it needs a kid");
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new ApiError('Unauthorized', `the bearer token's signing algorithm is not accepted (accepted: ${ALGORITHMS.join(', ')})`);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      // jose's messages describe the structure ("JWS Protected Header is invalid"), never the token.
      return new ApiError('Unauthorized', `the bearer token is not a valid JWT: ${e.message ?? 'malformed'}`);
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JOSE_GENERIC': // the key set answered other than 200, or not with JSON
      return new ApiError('ServiceUnavailable', "the identity provider's key set (JWKS) could not be loaded; try again later");
    default:
      // fetch failures (provider unreachable, non-200 answer) come as plain errors.
      if (err instanceof errors.JOSEError) return new ApiError('Unauthorized', 'the bearer token could not be verified');
      return new ApiError('ServiceUnavailable', "the identity provider's key set (JWKS) could not be loaded; try again later");
  }
}

/** Verifies bearer JWTs for one configured provider; build it once per server (it caches the JWKS). */
export class TokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(readonly options: OidcOptions) {
    for (const name of ['issuer', 'audience', 'jwksUrl', 'roleClaim'] as const) {
      if (!options[name]) throw new Error(`OIDC configuration: ${name} is required`);
    }
    let url: URL;
    try {
      url = new URL(options.jwksUrl);
    } catch {
      throw new Error(`OIDC configuration: the JWKS URL is not a URL: ${options.jwksUrl}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`OIDC configuration: the JWKS URL must be http(s): ${options.jwksUrl}`);
    this.jwks = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  }

  /** Verifies the token and maps its claims; throws ApiError 401 (invalid), 403 (no role) or 503 (JWKS unavailable). */
  async verify(token: string): Promise<TokenPrincipal> {
    const { options } = this;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw describeJoseError(err, options);
    }
    const values = stringList(claimValue(payload, options.roleClaim));
    let role: Role | undefined;
    for (const v of values ?? []) {
      const r = roleOf(v);
      if (r && (!role || RANK[r] > RANK[role])) role = r;
    }
    if (!role) {
      throw new ApiError(
        'Forbidden',
        values === undefined
          ? `the bearer token has no '${options.roleClaim}' claim with a role (Viewer, Contributor or Administrator)`
          : `the bearer token's '${options.roleClaim}' claim names no known role (Viewer, Contributor or Administrator)`,
      );
    }
    let instanceIds: string[] | null = null;
    if (options.instanceClaim) {
      const ids = stringList(claimValue(payload, options.instanceClaim));
      if (!ids?.length) throw new ApiError('Forbidden', `the bearer token has no '${options.instanceClaim}' claim naming its instance(s)`);
      instanceIds = ids.includes('*') ? null : ids;
    }
    const subject = typeof payload.sub === 'string' ? payload.sub : 'unknown';
    const at = new Date().toISOString();
    return {
      kind: 'token',
      subject,
      instanceIds,
      id: `token:${subject}`,
      // One instance in the claim scopes the token as an instance key is; several are checked in authorizeToken.
      instanceId: instanceIds?.length === 1 ? instanceIds[0] : null,
      principalId: `oidc:${subject}`,
      name: subject,
      role,
      prefix: '',
      hash: '',
      createdAt: typeof payload.iat === 'number' ? new Date(payload.iat * 1000).toISOString() : at,
      lastUsedAt: at,
      expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null,
      revokedAt: null,
    };
  }

  /**
   * Checks a token for an instance (null: a server-wide route) and the least role a route needs,
   * with the rules of API keys. A token for other instances gets 403: it is valid, and the answer is
   * the same whether the instance exists or not.
   */
  async authorize(token: string, instanceId: string | null, least: Role): Promise<TokenPrincipal> {
    const principal = await this.verify(token);
    const ids = principal.instanceIds;
    if (ids !== null && instanceId !== null && !ids.includes(instanceId))
      throw new ApiError('Forbidden', `the bearer token is not valid for instance '${instanceId}' (its '${this.options.instanceClaim}' claim)`);
    if (ids !== null && instanceId === null && least !== 'Viewer') throw new ApiError('Forbidden', 'this operation needs a server-wide token or key');
    if (RANK[principal.role] < RANK[least]) throw new ApiError('Forbidden', `this operation needs the ${least} role; the token has ${principal.role}`);
    // A token for several instances acts, on an instance route, as a key of that instance.
    return ids !== null && instanceId !== null ? { ...principal, instanceId } : principal;
  }
}
