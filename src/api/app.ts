// Builds the HTTP app; starting it (listen) is the caller's business, so tests use inject().
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { installAccessHooks, presentedKey } from './auth.js';
import { NdjsonBody } from './bodies.js';
import { ApiError } from './errors.js';
import { cardRoutes } from './routes/card.js';
import { changeRoutes } from './routes/changes.js';
import { dataRoutes } from './routes/data.js';
import { docsRoutes } from './routes/docs.js';
import { entityRoutes } from './routes/entities.js';
import { exportRoutes } from './routes/exports.js';
import { instanceRoutes } from './routes/instances.js';
import { DEFAULT_BODY_LIMIT, formatBytes, jsonDepthExceeded, loneSurrogateEscape, MAX_JSON_DEPTH, nulEscape, newRateLimitResult, RateLimiter, timeoutOptions, type RateLimitOptions, type ServerTimeouts } from './limits.js';
import { loggerOptions, requestChildLoggerFactory, type LogOptions } from './logging.js';
import { jobRoutes } from './routes/jobs.js';
import { installTelemetryHooks, metricsRoutes } from './routes/metrics.js';
import { measureRoutes } from './routes/measures.js';
import { profileRoutes } from './routes/profile.js';
import { auditRoutes } from './routes/audit.js';
import { keyRoutes } from './routes/keys.js';
import { rbacRoutes } from './routes/rbac.js';
import { searchRoutes } from './routes/search.js';
import { segmentRoutes } from './routes/segments.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { consumerRoutes } from './routes/consumers.js';
import { hookRoutes } from './routes/hooks.js';
import type { RouteAuth } from './route-auth.js';
import { bearerJwt, TokenVerifier, type OidcOptions } from './tokens.js';
import { webRoutes } from '../web/routes.js';
import { SessionStore } from '../web/session.js';

export interface AppOptions {
  services: Services;
  /** false/absent: no log; true or options: JSON lines (pino) with keys, tokens and cookies redacted. */
  logger?: boolean | LogOptions;
  /** Largest request body in bytes (413 above it); default 1 MiB. $batch has its own, larger limit. */
  bodyLimit?: number;
  /** Web UI sessions; by default kept in the services' store with the default timeouts. */
  sessions?: SessionStore;
  /** Bearer JWTs from this OpenID Connect provider; without it a Bearer value is an API key. */
  oidc?: OidcOptions;
  /** Per-caller rate limit; absent: none. */
  rateLimit?: RateLimitOptions;
  /** HTTP timeouts against slow clients (defaults in limits.ts). */
  timeouts?: Partial<ServerTimeouts>;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(options.logger),
    ...(options.logger ? { childLoggerFactory: requestChildLoggerFactory() } : {}),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ...timeoutOptions(options.timeouts),
    // ActivityIds may have up to 128 characters, URL-encoded.
    routerOptions: { maxParamLength: 512 },
    // Errors raised by the framework before a route runs get the same OData shape.
    frameworkErrors: (err, _request, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      const code = status === 414 ? 'UriTooLong' : status === 415 ? 'UnsupportedMediaType' : 'BadRequest';
      void (reply as unknown as { status(n: number): { send(b: unknown): void } }).status(status).send(new ApiError(code, err.message).toBody());
    },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const { services } = options;
  const sessions = options.sessions ?? new SessionStore(services.store.sessions);
  const tokens = options.oidc ? new TokenVerifier(options.oidc) : undefined;
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  let ready = false;
  app.addHook('onReady', async () => {
    ready = true;
  });

  // Every API route says who may call it, next to its schema; a route without it does not start.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api')) return;
    const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth;
    if (!auth) throw new Error(`route ${route.method} ${route.url} declares no auth (config.auth)`);
  });
  // Ajv coerces 'Infinity' and '1e999' in a query string or path to a number that passes its integer,
  // minimum and maximum checks; routes with numeric parameters refuse non-finite values here.
  app.addHook('onRoute', (route) => {
    const numeric = (schema: unknown) =>
      Object.entries((schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {})
        .filter(([, s]) => s.type === 'integer' || s.type === 'number')
        .map(([name]) => name);
    const inQuery = numeric(route.schema?.querystring);
    const inPath = numeric(route.schema?.params);
    if (!inQuery.length && !inPath.length) return;
    const finite = async (request: { query: unknown; params: unknown }) => {
      for (const [names, values] of [[inQuery, request.query], [inPath, request.params]] as const) {
        for (const name of names) {
          const v = (values as Record<string, unknown> | undefined)?.[name];
          if (typeof v === 'number' && !Number.isFinite(v)) throw new ApiError('InvalidParameter', `${name} must be a finite number`, name);
        }
      }
    };
    route.preHandler = route.preHandler ? [finite, ...[route.preHandler].flat()] : finite;
  });
  // NUL (%00) can be neither stored nor looked up in PostgreSQL: refuse it in the path and query
  // before anything (authorization included) queries with it, on every store alike.
  // Callback style, no allocation: this runs on every request.
  const refuseNul = (values: Record<string, unknown> | undefined) => {
    for (const name in values) {
      const value = values[name];
      if (typeof value === 'string' ? value.includes('\u0000') : Array.isArray(value) && value.some((t) => typeof t === 'string' && t.includes('\u0000')))
        throw new ApiError('InvalidParameter', `${name}: must not contain the NUL character (%00)`, name);
    }
  };
  app.addHook('onRequest', (request, _reply, done) => {
    refuseNul(request.params as Record<string, unknown> | undefined);
    refuseNul(request.query as Record<string, unknown> | undefined);
    done();
  });
  installAccessHooks(app, services);
  app.addHook('onRequest', async (request) => {
    const auth = (request.routeOptions.config as { auth?: RouteAuth }).auth;
    if (!auth || auth.role === 'public') return;
    const instanceId = auth.scope === 'instance' ? (request.params as { instanceId?: string }).instanceId ?? null : null;
    const jwt = tokens && bearerJwt(request);
    if (jwt) request.apiKey = await tokens.authorize(jwt, instanceId, auth.role);
    else {
      // The web UI's session cookie stands for a key when no key is presented (EventSource sends no headers).
      const sessionKeyHash = presentedKey(request) ? undefined : await sessions.credentialOf(request);
      request.apiKey = await services.auth.authorize(request, instanceId, auth.role, sessionKeyHash);
    }
  });
  if (limiter) {
    // After authorization: the bucket is the caller's (API key or token subject).
    const result = newRateLimitResult();
    const perMinute = options.rateLimit!.perMinute;
    app.addHook('onRequest', async (request, reply) => {
      const caller = request.apiKey;
      if (!caller) return;
      limiter.take(caller.id, result);
      reply.header('RateLimit-Limit', result.limit).header('RateLimit-Remaining', result.remaining).header('RateLimit-Reset', result.reset);
      if (!result.allowed) {
        reply.header('Retry-After', result.retryAfter);
        throw new ApiError(
          'TooManyRequests',
          `rate limit exceeded: ${perMinute} requests per minute per key (bursts up to ${result.limit}); retry in ${result.retryAfter} s`,
        );
      }
    });
  }

  // Clients send JSON as application/json or application/json-patch+json, and some send that
  // content type with no body (POST .../jobs); $batch also takes NDJSON. Fastify's own JSON parser
  // (with its prototype-poisoning checks) does the parsing.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/json-patch+json', 'text/json'], { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    const deep = jsonDepthExceeded(body as string, MAX_JSON_DEPTH);
    if (deep >= 0) return done(new ApiError('BadRequest', `the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (at offset ${deep})`, 'body'), undefined);
    const lone = loneSurrogateEscape(body as string);
    if (lone >= 0) return done(new ApiError('BadRequest', `the body has a lone UTF-16 surrogate escape (${(body as string).slice(lone, lone + 6)}) at offset ${lone}; strings must be Unicode text`, 'body'), undefined);
    const nul = nulEscape(body as string);
    if (nul >= 0) return done(new ApiError('BadRequest', `the body has a NUL character escape (\\u0000) at offset ${nul}; text cannot hold NUL`, 'body'), undefined);
    json(request, body as string, (err, value) =>
      err ? done(new ApiError('BadRequest', `the body is not valid JSON: ${err.message}`, 'body'), undefined) : done(null, value),
    );
  });
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
    const deep = jsonDepthExceeded(body as string, MAX_JSON_DEPTH, true);
    if (deep >= 0) {
      const line = (body as string).slice(0, deep).split('\n').length;
      return done(new ApiError('BadRequest', `line ${line} nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`, 'body'), undefined);
    }
    const lone = loneSurrogateEscape(body as string);
    if (lone >= 0) {
      const line = (body as string).slice(0, lone).split('\n').length;
      return done(new ApiError('BadRequest', `line ${line} has a lone UTF-16 surrogate escape (${(body as string).slice(lone, lone + 6)}); strings must be Unicode text`, 'body'), undefined);
    }
    const nul = nulEscape(body as string);
    if (nul >= 0) {
      const line = (body as string).slice(0, nul).split('\n').length;
      return done(new ApiError('BadRequest', `line ${line} has a NUL character escape (\\u0000); text cannot hold NUL`, 'body'), undefined);
    }
    done(null, new NdjsonBody(body as string));
  });

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ApiError) {
      if (err.status === 405 && err.allow) reply.header('Allow', err.allow);
      if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
      return reply.status(err.status).send(err.toBody());
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string; validationContext?: string; code?: string; name?: string };
    if (e.validation) {
      return reply.status(400).send(new ApiError('InvalidParameter', `${e.validationContext ?? 'request'}: ${e.message}`, e.validationContext).toBody());
    }
    if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (e.name === 'SyntaxError' && e.statusCode === 400)) {
      return reply.status(400).send(new ApiError('BadRequest', `the body is not valid JSON: ${e.message}`, 'body').toBody());
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      if (e.statusCode === 413) {
        const limit = request.routeOptions.bodyLimit ?? options.bodyLimit ?? DEFAULT_BODY_LIMIT;
        return reply.status(413).send(new ApiError('PayloadTooLarge', `the request body is larger than the limit of ${formatBytes(limit)}${limit >= 1024 ? ` (${limit} bytes)` : ''}`, 'body').toBody());
      }
      const code = e.statusCode === 404 ? 'NotFound' : e.statusCode === 415 ? 'UnsupportedMediaType' : 'BadRequest';
      return reply.status(e.statusCode).send(new ApiError(code, e.message).toBody());
    }
    // The details (stack, SQL, file paths) go to the log only; the client gets the request id to quote.
    request.log.error({ err }, 'internal error');
    return reply.status(500).send(new ApiError('InternalError', `internal error (request ${request.id}); the server log has the details`).toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(new ApiError('NotFound', `no route ${request.method} ${request.url.split('?')[0]}`).toBody());
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Kindred API',
        version: '1.0.0',
        description: 'Unified customer profiles, real-time profile updates and activities. Paths follow the Customer Insights v1 API.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'Ocp-Apim-Subscription-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKeyHeader: [] }, { bearer: [] }],
    },
  });

  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    if (!ready) return reply.status(503).send({ status: 'starting' });
    return { status: 'ok' };
  });
  installTelemetryHooks(app, services);
  for (const routes of [
    instanceRoutes,
    jobRoutes,
    dataRoutes,
    profileRoutes,
    entityRoutes,
    rbacRoutes,
    keyRoutes,
    auditRoutes,
    docsRoutes,
    changeRoutes,
    searchRoutes,
    cardRoutes,
    telemetryRoutes,
    measureRoutes,
    segmentRoutes,
    exportRoutes,
    hookRoutes,
    consumerRoutes,
  ]) {
    await app.register(routes, { prefix: '/api', services });
  }
  await app.register(metricsRoutes, { services });
  await app.register(webRoutes, { services, sessions });
  return app;
}
