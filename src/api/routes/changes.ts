// The live change feed over server-sent events.
//
// GET /api/instances/{instanceId}/changes[?customerId=X]   (Viewer)
//   200 text/event-stream. First a comment line (": connected"), then for every committed
//   real-time write of the instance (of the customer when customerId is given):
//     id: <n>            (1, 2, 3 ... per connection)
//     event: change
//     data: {"instanceId","customerId","kind":"profile"|"activity","at","attributes"?: [..],
//            "activityId"?, "validUntil"?}         (src/realtime/change-feed.ts Change)
//   and a comment heartbeat (": heartbeat <ISO time>") every 15 s so proxies keep it open.
//   When changes may have been missed (several nodes: this node's connection that hears the other
//   nodes' writes was lost and is back), once:
//     event: reload
//     data: {"instanceId","customerId"?,"reason"}   — re-read whatever is shown.
//   404 (OData error) for an unknown instance or customerId; 401/403 as every API route.
// Writes are published after they commit, so a client that reloads on an event sees the change.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Change } from '../../realtime/change-feed.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceId } from '../schemas.js';

export const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export const changeRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { catalog, feed, store, telemetry } = services;
  /** Open streams, ended when the app closes (a hijacked connection would keep close() waiting). */
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    '/instances/:instanceId/changes',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Changes_Stream',
        summary: 'Stream committed real-time writes (server-sent events) of an instance or one customer',
        tags: ['Data'],
        params: Type.Object({ instanceId: InstanceId }),
        querystring: Type.Object({
          customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only changes of this customer' })),
        }),
        produces: ['text/event-stream'],
        response: {
          200: Type.String({ description: 'text/event-stream: `event: change` with a Change JSON per committed write' }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const { instanceId } = request.params;
      const { customerId } = request.query;
      await catalog.require(instanceId);
      if (customerId !== undefined && !(await store.getCustomer(instanceId, customerId)))
        throw new ApiError('NotFound', `customer '${customerId}' does not exist`, 'customerId');

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx and similar proxies would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      res.write(': connected\n\n');
      let n = 0;
      const send = (change: Change) => {
        // A client that stops reading is let go rather than buffered for without limit; an
        // EventSource reconnects by itself.
        if (res.writableLength > MAX_BUFFERED_BYTES) return end();
        n++;
        res.write(`id: ${n}\nevent: change\ndata: ${JSON.stringify(change)}\n\n`);
      };
      const reload = () => {
        if (res.writableLength > MAX_BUFFERED_BYTES) return end();
        n++;
        const data = { instanceId, ...(customerId === undefined ? {} : { customerId }), reason: 'changes may have been missed while this server was not hearing the other servers; re-read' };
        res.write(`id: ${n}\nevent: reload\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const unsubscribeChanges = feed.subscribe(instanceId, customerId, send);
      const unsubscribeMissed = feed.onMissed(reload);
      const unsubscribe = () => {
        unsubscribeChanges();
        unsubscribeMissed();
      };
      telemetry.metrics.feedSubscribers++;
      const heartbeat = setInterval(() => res.write(`: heartbeat ${new Date().toISOString()}\n\n`), HEARTBEAT_MS);
      heartbeat.unref();
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        unsubscribe();
        telemetry.metrics.feedSubscribers--;
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      request.raw.on('close', end);
      res.on('close', end);
      res.on('error', end);
    },
  );
};
