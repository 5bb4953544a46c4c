// The key ring: every source key of a profile, found from any one of them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceParams } from '../schemas.js';

const KeyRing = Type.Object(
  {
    instanceId: Type.String(),
    customerId: Type.String(),
    keyRing: Type.Array(
      Type.Object({ dataSourceName: Type.String(), entityName: Type.String(), preferredKey: Type.String(), keys: Type.Array(Type.String()) }),
    ),
  },
  { description: 'The profile and its source keys, grouped by source entity' },
);

export const profileRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog } = services;
  app.get(
    '/instances/:instanceId/profile/keyring',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Profile_GetKeyRing',
        summary: 'Find a profile by one source key and list all its source keys',
        tags: ['Data'],
        params: InstanceParams,
        querystring: Type.Object({
          dataSourceName: Type.String({ minLength: 1, description: 'Data source of the key' }),
          entityName: Type.String({ minLength: 1, description: 'Entity of the key' }),
          key: Type.String({ minLength: 1, description: 'The source record key' }),
        }),
        response: { 200: KeyRing, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const { dataSourceName, entityName, key } = request.query;
      const entry = await catalog.require(instanceId);
      const customerId = await store.findCustomerIdByKey(instanceId, dataSourceName, entityName, key);
      if (!customerId) throw new ApiError('NotFound', `no profile has ${dataSourceName}.${entityName} key '${key}'`, 'key');
      const [keys, profile] = await Promise.all([store.alternateKeysOf(instanceId, customerId), store.getCustomer(instanceId, customerId)]);
      const groups = new Map<string, { dataSourceName: string; entityName: string; preferredKey: string; keys: string[] }>();
      for (const k of keys) {
        const id = `${k.DataSourceName}\u0000${k.EntityName}`;
        let g = groups.get(id);
        if (!g) {
          const column = entry.resolved.entities.get(`${k.DataSourceName}.${k.EntityName}`)?.keyColumn;
          const preferred = column ? profile?.[column] : undefined;
          g = { dataSourceName: k.DataSourceName, entityName: k.EntityName, preferredKey: typeof preferred === 'string' ? preferred : k.AlternateValue, keys: [] };
          groups.set(id, g);
        }
        g.keys.push(k.AlternateValue);
      }
      return { instanceId, customerId, keyRing: [...groups.values()] };
    },
  );
};
