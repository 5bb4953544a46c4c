// The API described for tools: OpenAPI 3 and Swagger 2.0 (what low-code connector importers take).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../services.js';
import { toSwagger2 } from '../openapi/swagger2.js';
import { PUBLIC } from '../route-auth.js';

export const docsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app) => {
  let swagger2: unknown;
  app.get('/openapi.json', { config: PUBLIC, schema: { hide: true } }, async () => app.swagger());
  app.get('/swagger.json', { config: PUBLIC, schema: { hide: true } }, async () => {
    swagger2 ??= toSwagger2(app.swagger() as never);
    return swagger2;
  });
};
