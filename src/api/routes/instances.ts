import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import type { InstanceRecord } from '../../storage/store.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { canSeeInstance } from '../tokens.js';
import { errors, InstanceParams, Nullable } from '../schemas.js';

const InstanceInfo = Type.Object(
  {
    instanceId: Type.String(),
    name: Type.String(),
    description: Nullable(Type.String()),
    createdTime: Type.String(),
    lastModifiedTime: Type.String(),
    currentGeneration: Nullable(Type.Integer()),
  },
  { description: 'An instance' },
);

export function instanceInfo(i: InstanceRecord) {
  return {
    instanceId: i.id,
    name: i.name,
    description: i.definition.description ?? null,
    createdTime: i.createdAt,
    lastModifiedTime: i.updatedAt,
    currentGeneration: i.currentGeneration,
  };
}

export const instanceRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store } = services;

  app.get(
    '/instances',
    {
      config: needs('Viewer', 'server'),
      schema: {
        operationId: 'Instances_List',
        summary: 'List the instances the key can see',
        tags: ['Instances'],
        response: { 200: Type.Array(InstanceInfo, { description: 'The instances' }), ...errors(401, 403) },
      },
    },
    async (request) => {
      const key = request.apiKey!;
      const all = await store.listInstances();
      return all.filter((i) => canSeeInstance(key, i.id)).map(instanceInfo);
    },
  );

  app.get(
    '/instances/:instanceId',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Instances_Get',
        summary: 'Get one instance',
        tags: ['Instances'],
        params: InstanceParams,
        response: { 200: InstanceInfo, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const instance = await store.getInstance(instanceId);
      if (!instance) throw new ApiError('NotFound', `instance '${instanceId}' does not exist`, 'instanceId');
      return instanceInfo(instance);
    },
  );
};
