// The change feed over HTTP as server-sent events: `event: change`, data = the Change as JSON.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import { needs } from '../route-auth.js';
import { InstanceId } from '../schemas.js';

const HEARTBEAT_MS = 15_000;

export const changeRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const open = new Set<ServerResponse>();
  // Streams never end by themselves; closing the server ends them.
  app.addHook('onClose', async () => {
    for (const res of open) res.end();
  });
  app.get(
    '/instances/:instanceId/changes',
    {
      config: needs('Viewer'),
      schema: {
        hide: true,
        params: Type.Object({ instanceId: InstanceId }),
        querystring: Type.Object({ customerId: Type.Optional(Type.String({ minLength: 1 })) }),
      },
    },
    async (request, reply) => {
      const { instanceId } = request.params;
      await services.catalog.require(instanceId);
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      open.add(res);
      const unsubscribe = services.feed.subscribe(instanceId, request.query.customerId, (change) => {
        res.write(`event: change\ndata: ${JSON.stringify(change)}\n\n`);
      });
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(res);
      };
      res.on('close', end);
    },
  );
};
