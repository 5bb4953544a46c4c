import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.js';
import type { InstanceRecord } from '../../storage/store.js';
import { authorize } from '../auth.js';
import { ApiError } from '../errors.js';

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

export const instanceRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const { store } = services;

  app.get('/instances', async (request) => {
    const key = await authorize(store, request, null, 'Viewer');
    const all = await store.listInstances();
    return all.filter((i) => key.instanceId === null || key.instanceId === i.id).map(instanceInfo);
  });

  app.get<{ Params: { instanceId: string } }>('/instances/:instanceId', async (request) => {
    const { instanceId } = request.params;
    await authorize(store, request, instanceId, 'Viewer');
    const instance = await store.getInstance(instanceId);
    if (!instance) throw new ApiError('NotFound', `instance '${instanceId}' does not exist`, 'instanceId');
    return instanceInfo(instance);
  });
};
