// Builds the HTTP app; starting it (listen) is the caller's business, so tests use inject().
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { authorize } from './auth.js';
import { NdjsonBody } from './bodies.js';
import { ApiError } from './errors.js';
import { dataRoutes } from './routes/data.js';
import { docsRoutes } from './routes/docs.js';
import { entityRoutes } from './routes/entities.js';
import { instanceRoutes } from './routes/instances.js';
import { jobRoutes } from './routes/jobs.js';
import { profileRoutes } from './routes/profile.js';
import { changeRoutes } from './routes/changes.js';
import { consumerRoutes } from './routes/consumers.js';
import { hookRoutes } from './routes/hooks.js';
import type { RouteAuth } from './route-auth.js';

export interface AppOptions {
  services: Services;
  logger?: boolean;
  /** Largest request body in bytes (413 above it); default 1 MiB. */
  bodyLimit?: number;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
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
  app.addHook('onRequest', async (request) => {
    const auth = (request.routeOptions.config as { auth?: RouteAuth }).auth;
    if (!auth || auth.role === 'public') return;
    const instanceId = auth.scope === 'instance' ? (request.params as { instanceId?: string }).instanceId ?? null : null;
    request.apiKey = await authorize(services.store, request, instanceId, auth.role);
  });

  // Clients send JSON as application/json or application/json-patch+json, and some send that
  // content type with no body (POST .../jobs); $batch also takes NDJSON. Fastify's own JSON parser
  // (with its prototype-poisoning checks) does the parsing.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/json-patch+json', 'text/json'], { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    json(request, body as string, (err, value) =>
      err ? done(new ApiError('BadRequest', `the body is not valid JSON: ${err.message}`, 'body'), undefined) : done(null, value),
    );
  });
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => done(null, new NdjsonBody(body as string)));

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ApiError) {
      if (err.status === 405 && err.allow) reply.header('Allow', err.allow);
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
      const code = e.statusCode === 413 ? 'PayloadTooLarge' : e.statusCode === 404 ? 'NotFound' : e.statusCode === 415 ? 'UnsupportedMediaType' : 'BadRequest';
      return reply.status(e.statusCode).send(new ApiError(code, e.message).toBody());
    }
    request.log.error(err);
    return reply.status(500).send(new ApiError('InternalError', 'internal error; the server log has the details').toBody());
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
  for (const routes of [instanceRoutes, jobRoutes, dataRoutes, profileRoutes, entityRoutes, docsRoutes, hookRoutes, consumerRoutes, changeRoutes]) {
    await app.register(routes, { prefix: '/api', services });
  }
  return app;
}
