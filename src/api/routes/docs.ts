// The API described for tools: OpenAPI 3 and Swagger 2.0 (what low-code connector importers take).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../services.js';
import { toSwagger2 } from '../openapi/swagger2.js';
import { PUBLIC } from '../route-auth.js';

export const docsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app) => {
  // Routes are fixed once the app is ready, so each document is built once (per host for Swagger 2,
  // which names the host the importer should call: the one this request reached).
  const swagger2 = new Map<string, unknown>();
  app.get('/openapi.json', { config: PUBLIC, schema: { hide: true } }, async () => app.swagger());
  app.get('/swagger.json', { config: PUBLIC, schema: { hide: true } }, async (request) => {
    const host = request.host;
    let doc = swagger2.get(host);
    if (!doc) {
      doc = toSwagger2(app.swagger() as never, { host });
      if (swagger2.size < 16) swagger2.set(host, doc);
    }
    return doc;
  });
};
