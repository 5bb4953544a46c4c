// Entity metadata: how a caller learns the attributes of Customer and the UnifiedActivity format.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { EntityInfo } from '../../domain/unified-schema.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceId, InstanceParams } from '../schemas.js';

const Entity = Type.Object({}, { additionalProperties: true, description: 'Entity metadata: name, entityType, attributes with Edm types, keys' });

function present(e: EntityInfo) {
  return {
    name: e.name,
    qualifiedEntityName: e.qualifiedEntityName,
    dataSourceName: e.dataSourceName,
    entityType: e.entityType,
    attributes: e.attributes.map((a) => ({ name: a.name, friendlyName: a.name, dataType: a.dataType, semanticType: a.semanticType ?? null })),
    keys: e.keys,
    relationships: e.relationships,
    timestampAttribute: e.timestampAttribute,
  };
}

export const entityRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { catalog } = services;
  const schemaOf = async (instanceId: string) => {
    const s = (await catalog.require(instanceId)).schema;
    return [s.customer, s.activity, s.alternateKey, s.customerMeasure, s.enrichment, ...s.sourceActivityEntities];
  };

  app.get(
    '/instances/:instanceId/manage/entities',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Entities_List',
        summary: 'List the entities of an instance with their attributes',
        tags: ['Metadata'],
        params: InstanceParams,
        response: { 200: Type.Object({ instanceId: Type.String(), entities: Type.Array(Entity) }, { description: 'The entities of the instance' }), ...errors(401, 403, 404) },
      },
    },
    async (request) => ({ instanceId: request.params.instanceId, entities: (await schemaOf(request.params.instanceId)).map(present) }),
  );

  app.get(
    '/instances/:instanceId/manage/entities/:entityName',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Entities_Get',
        summary: 'Get one entity: attributes with Edm types, keys, relationships',
        tags: ['Metadata'],
        params: Type.Object({ instanceId: InstanceId, entityName: Type.String({ description: 'Entity name, e.g. UnifiedActivity' }) }),
        response: { 200: Entity, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, entityName } = request.params;
      const all = await schemaOf(instanceId);
      const e = all.find((x) => x.qualifiedEntityName === entityName || x.name === entityName);
      if (!e) throw new ApiError('NotFound', `entity '${entityName}' does not exist (entities: ${all.map((x) => x.qualifiedEntityName).join(', ')})`, 'entityName');
      return present(e);
    },
  );
};
