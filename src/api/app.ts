// Builds the HTTP app; starting it (listen) is the caller's business, so tests use inject().
import Fastify, { type FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { ApiError } from './errors.js';
import { instanceRoutes } from './routes/instances.js';
import { jobRoutes } from './routes/jobs.js';

export interface AppOptions {
  services: Services;
  logger?: boolean;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 1024 * 1024 });
  let ready = false;
  app.addHook('onReady', async () => {
    ready = true;
  });

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ApiError) return reply.status(err.status).send(err.toBody());
    const e = err as { validation?: unknown; statusCode?: number; message: string; validationContext?: string; code?: string };
    if (e.validation) {
      return reply.status(400).send(new ApiError('InvalidParameter', `${e.validationContext ?? 'request'}: ${e.message}`).toBody());
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      const code = e.statusCode === 413 ? 'PayloadTooLarge' : e.statusCode === 404 ? 'NotFound' : 'BadRequest';
      return reply.status(e.statusCode).send(new ApiError(code, e.message).toBody());
    }
    request.log.error(err);
    return reply.status(500).send(new ApiError('InternalError', 'internal error; the server log has the details').toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(new ApiError('NotFound', `no route ${request.method} ${request.url.split('?')[0]}`).toBody());
  });

  app.get('/healthz', async (_request, reply) => {
    if (!ready) return reply.status(503).send({ status: 'starting' });
    return { status: 'ok' };
  });
  await app.register(instanceRoutes, { prefix: '/api', services: options.services });
  await app.register(jobRoutes, { prefix: '/api', services: options.services });
  return app;
}
