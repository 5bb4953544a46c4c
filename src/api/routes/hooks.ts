// Webhooks without code: any JSON payload a source system sends, turned into an activity or a
// profile update by the mapping the instance definition declares for the hook.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { mappedWrite } from '../../connect/apply.js';
import { checkSignature, compiledMapping } from '../../connect/hooks.js';
import { canonicalJson } from '../../connect/mapping.js';
import type { RealtimeResult, RealtimeWrite } from '../../domain/realtime.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceId, RealtimeQuery } from '../schemas.js';

const HookParams = Type.Object({
  instanceId: InstanceId,
  hookName: Type.String({ minLength: 1, description: 'Name of the hook in the instance definition (hooks section)' }),
});

const ItemResult = Type.Object({
  status: Type.String({ description: 'created, replayed (the same activity was received before), updated, conflict or customerNotFound' }),
  customerId: Type.Optional(Type.String()),
  activityId: Type.Optional(Type.String()),
  validUntil: Type.Optional(Type.String()),
});

const HookResult = Type.Object(
  {
    hook: Type.String(),
    entity: Type.String({ description: 'What the mapping produced: UnifiedActivity, a source activity entity or Customer' }),
    status: Type.String({ description: 'created, replayed or updated; batch for a mapping with each (see items)' }),
    customerId: Type.Optional(Type.String()),
    activityId: Type.Optional(Type.String()),
    validUntil: Type.Optional(Type.String()),
    count: Type.Optional(Type.Integer({ description: 'Records made (mapping with each)' })),
    items: Type.Optional(Type.Array(ItemResult, { description: 'One result per element (mapping with each)' })),
  },
  { description: 'What the payload became' },
);

/** Payloads parse as JSON here, kept raw for the signature; `__proto__` keys are dropped. */
function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'), (key, value) => (key === '__proto__' ? undefined : value));
  } catch (err) {
    throw new ApiError('BadRequest', `mapping step 'parse': the body is not valid JSON: ${(err as Error).message}`, 'body');
  }
}

export const hookRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog, writes } = services;
  // Every content type arrives as raw bytes: the signature is over the bytes as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post(
    '/instances/:instanceId/hooks/:hookName',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Hooks_Receive',
        summary: 'Receive a webhook payload and turn it into an activity or a profile update through the hook mapping',
        description: 'The payload may be any JSON a source system sends; the mapping is declared in the instance definition (hooks section). A replayed payload gives the same ActivityId and is not stored twice.',
        tags: ['Real-time'],
        params: HookParams,
        querystring: RealtimeQuery,
        consumes: ['application/json'],
        body: Type.Unsafe<unknown>({ type: 'object', description: 'Any JSON payload', additionalProperties: true }),
        response: { 200: HookResult, 201: HookResult, ...errors(400, 401, 403, 404, 409, 413, 503) },
      },
    },
    async (request, reply) => {
      const { instanceId, hookName } = request.params;
      const entry = await catalog.require(instanceId);
      const hooks = entry.record.definition.hooks ?? [];
      const hook = hooks.find((h) => h.name === hookName);
      if (!hook)
        throw new ApiError('NotFound', `hook '${hookName}' is not declared in instance '${instanceId}' (hooks: ${hooks.map((h) => h.name).join(', ') || 'none'})`, 'hookName');
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const signature = checkSignature(hook, raw, request.headers, services.env);
      if (!signature.ok) throw new ApiError(signature.status === 401 ? 'Unauthorized' : 'ServiceUnavailable', signature.message, 'signature');
      if (!raw.length) throw new ApiError('BadRequest', "mapping step 'parse': the body is empty; send the JSON payload", 'body');
      const payload = parseJson(raw);
      const mapping = compiledMapping(entry, 'hook', hook);
      const mapped = mapping.applyAll(payload);
      if (!mapped.ok) throw new ApiError('BadRequest', `mapping step '${mapped.step}' failed: ${mapped.message}`, mapped.step.split(' ')[0]);
      const ctx = { instanceId, validUntil: request.query.validUntil, caller: request.query.caller ?? `hook:${hookName}`, now: Date.now() };
      // Every record is checked before any is written: a bad element stores nothing of the payload.
      const writesOfPayload: RealtimeWrite[] = [];
      for (const [i, record] of mapped.records.entries()) {
        let outcome;
        try {
          const idParts = [instanceId, 'hook', hookName, canonicalJson(payload), ...(mapping.each ? [String(i)] : [])];
          outcome = await mappedWrite(entry, store, ctx, record, idParts);
        } catch (err) {
          throw ApiError.storeUnavailable('the store could not be read to find the customer; nothing was stored, retry shortly', err);
        }
        if (!outcome.ok) {
          const step = mapping.each ? `each[${i}].${outcome.step}` : outcome.step;
          throw new ApiError(outcome.status === 404 ? 'NotFound' : 'BadRequest', `mapping step '${step}' failed: ${outcome.message}`, outcome.target ?? step);
        }
        writesOfPayload.push(outcome.write);
      }
      let results: RealtimeResult[];
      try {
        results = await writes.submitAll(writesOfPayload);
      } catch (err) {
        throw ApiError.storeUnavailable('the store could not commit the write; nothing was stored, retry shortly', err);
      }
      const items = results.map((result) => {
        switch (result.status) {
          case 'customerNotFound':
            return { status: 'customerNotFound', customerId: result.customerId };
          case 'conflict':
            return { status: 'conflict', activityId: result.activityId };
          case 'updated':
            return { status: 'updated', customerId: result.customerId, validUntil: result.validUntil };
          default:
            return { status: result.status, customerId: result.activity.CustomerId, activityId: result.activity.ActivityId, validUntil: result.activity.ValidUntil ?? undefined };
        }
      });
      const entity = mapping.entity;
      if (mapping.each) return reply.status(200).send({ hook: hookName, entity, status: 'batch', count: items.length, items });
      const [item] = items;
      if (item.status === 'customerNotFound') throw new ApiError('NotFound', `mapping step 'write' failed: customer '${item.customerId}' does not exist`, 'CustomerId');
      if (item.status === 'conflict')
        throw new ApiError('Conflict', `activity '${item.activityId}' already exists with different content; activities are immutable`, 'ActivityId');
      return reply.status(item.status === 'created' ? 201 : 200).send({ hook: hookName, entity, ...item });
    },
  );
};
