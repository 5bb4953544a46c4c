// Stream consumers of an instance: state, lag (pending messages) and recent rejects with reasons.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import { needs } from '../route-auth.js';
import { errors, InstanceParams, Nullable } from '../schemas.js';

const Reject = Type.Object({
  at: Type.String(),
  sequence: Type.Integer(),
  subject: Type.String(),
  step: Type.String({ description: 'The mapping step that failed' }),
  reason: Type.String(),
  payload: Type.String({ description: 'The start of the message' }),
});

const Consumer = Type.Object({
  instanceId: Type.String(),
  name: Type.String(),
  subject: Type.String(),
  stream: Nullable(Type.String()),
  durable: Type.String(),
  state: Type.String({ description: 'starting | running | failed | stopped' }),
  error: Nullable(Type.String()),
  lag: Nullable(Type.Integer({ description: 'Messages not yet processed (pending plus unacknowledged)' })),
  received: Type.Integer(),
  written: Type.Integer(),
  replayed: Type.Integer({ description: 'Redelivered messages answered as replays (not stored twice)' }),
  rejected: Type.Integer(),
  retried: Type.Integer(),
  rejects: Type.Array(Reject, { description: 'The latest rejects (up to 100)' }),
});

export const consumerRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/instances/:instanceId/consumers',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Consumers_List',
        summary: 'List the stream consumers of an instance with their lag and rejects',
        tags: ['Connect'],
        params: InstanceParams,
        response: {
          200: Type.Object({ started: Type.Boolean({ description: 'false: the server runs no consumers (no NATS URL given)' }), value: Type.Array(Consumer) }, { description: 'The consumers' }),
          ...errors(401, 403, 404),
        },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      await services.catalog.require(instanceId);
      return { started: services.consumers.started, value: await services.consumers.status(instanceId) };
    },
  );
};
