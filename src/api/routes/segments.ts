// Segments of an instance: list, create, read (with the latest size and the sizes of past runs),
// update, delete, activate and deactivate. Definitions are stored with the instance definition
// and take effect at the next refresh; members are read with Customer?$filter=IsMemberOfSegment('Name').
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SegmentDef } from '../../config/schema.js';
import type { Services } from '../../services.js';
import type { SegmentHistoryEntry } from '../../storage/analytics.js';
import type { CatalogEntry } from '../catalog.js';
import { bodyItem } from '../definition-edits.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceId, InstanceParams } from '../schemas.js';

const NameParams = Type.Object({ instanceId: InstanceId, name: Type.String({ description: 'Segment name' }) });
const SegmentBody = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      'A segment definition, as in the instance definition: name, description, active, rules: [{join (and | or), combine (union | intersect | except), conditions: [{field | measure | activity, operator, value, window, filter}]}]',
  },
);
const Segment = Type.Object({}, { additionalProperties: true, description: 'A segment: its definition and latest size' });
const SegmentDetail = Type.Object({}, { additionalProperties: true, description: 'A segment with its sizes in past runs, newest first' });
const SegmentList = Type.Object({ instanceId: Type.String(), segments: Type.Array(Segment) }, { description: 'The segments of the instance' });

/** The size is current when it is from the generation readers see; otherwise the segment awaits the next refresh. */
function present(entry: CatalogEntry, generation: number | null, def: SegmentDef, history: SegmentHistoryEntry[]) {
  const latest = history[0] && history[0].generation === generation ? history[0] : null;
  const active = def.active ?? true;
  return {
    ...def,
    active,
    computed: latest !== null,
    size: latest?.size ?? null,
    computedAt: latest?.computedAt ?? null,
    members: `/api/instances/${entry.record.id}/data/Customer?$filter=${encodeURIComponent(`IsMemberOfSegment('${def.name.replace(/'/g, "''")}')`)}`,
  };
}

export const segmentRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog, definitions } = services;

  /** The generation readers see now (the catalog's copy of the record may be a little older). */
  const generationOf = async (entry: CatalogEntry) => (await store.getInstance(entry.record.id))?.currentGeneration ?? null;
  const find = (entry: CatalogEntry, name: string): SegmentDef => {
    const def = entry.record.definition.segments?.find((s) => s.name === name);
    if (!def) throw new ApiError('NotFound', `segment '${name}' does not exist in instance '${entry.record.id}'`, 'name');
    return def;
  };
  const current = async (instanceId: string, name: string) => {
    const entry = await catalog.require(instanceId);
    return present(entry, await generationOf(entry), find(entry, name), await store.analytics.segmentHistory(instanceId, name, 1));
  };
  /** Changes one segment in place (PUT, activate, deactivate). */
  const replace = (instanceId: string, name: string, make: (old: SegmentDef) => unknown) =>
    definitions.edit(instanceId, 'segments', (items) => {
      const index = items.findIndex((s) => s.name === name);
      if (index < 0) throw new ApiError('NotFound', `segment '${name}' does not exist in instance '${instanceId}'`, 'name');
      const next: unknown[] = [...items];
      next[index] = make(items[index]);
      return { items: next, index, result: undefined };
    });

  app.get(
    '/instances/:instanceId/manage/segments',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Segments_List',
        summary: 'List the segments of an instance with their latest sizes',
        tags: ['Segments'],
        params: InstanceParams,
        response: { 200: SegmentList, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const entry = await catalog.require(instanceId);
      const segments = [];
      for (const def of entry.record.definition.segments ?? []) segments.push(present(entry, await generationOf(entry), def, await store.analytics.segmentHistory(instanceId, def.name, 1)));
      return { instanceId, segments };
    },
  );

  app.get(
    '/instances/:instanceId/manage/segments/:name',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Segments_Get',
        summary: 'Get one segment: definition, latest size and the sizes of past runs',
        tags: ['Segments'],
        params: NameParams,
        querystring: Type.Object({ top: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Runs of history (default 50)' })) }),
        response: { 200: SegmentDetail, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, name } = request.params;
      const entry = await catalog.require(instanceId);
      const def = find(entry, name);
      const history = await store.analytics.segmentHistory(instanceId, name, request.query.top ?? 50);
      return { ...present(entry, await generationOf(entry), def, history), history: history.map((h) => ({ size: h.size, computedAt: h.computedAt, jobId: h.jobId, generation: h.generation })) };
    },
  );

  app.post(
    '/instances/:instanceId/manage/segments',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Segments_Create',
        summary: 'Create a segment (members computed from the next refresh on)',
        tags: ['Segments'],
        params: InstanceParams,
        body: SegmentBody,
        response: { 201: Segment, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId } = request.params;
      const item = bodyItem(request.body);
      await definitions.edit(instanceId, 'segments', (items) => {
        if (typeof item.name === 'string' && items.some((s) => s.name === item.name))
          throw new ApiError('Conflict', `segment '${item.name}' already exists; change it with PUT`, 'name');
        return { items: [...items, item], index: items.length, result: undefined };
      });
      reply.header('Location', `/api/instances/${instanceId}/manage/segments/${encodeURIComponent(item.name as string)}`);
      return reply.status(201).send(await current(instanceId, item.name as string));
    },
  );

  app.put(
    '/instances/:instanceId/manage/segments/:name',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Segments_Update',
        summary: 'Replace the definition of a segment (takes effect at the next refresh)',
        tags: ['Segments'],
        params: NameParams,
        body: SegmentBody,
        response: { 200: Segment, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { instanceId, name } = request.params;
      const item = bodyItem(request.body, name);
      await replace(instanceId, name, () => item);
      return current(instanceId, name);
    },
  );

  app.delete(
    '/instances/:instanceId/manage/segments/:name',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Segments_Delete',
        summary: 'Delete a segment',
        tags: ['Segments'],
        params: NameParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId, name } = request.params;
      await definitions.edit(instanceId, 'segments', (items) => {
        if (!items.some((s) => s.name === name)) throw new ApiError('NotFound', `segment '${name}' does not exist in instance '${instanceId}'`, 'name');
        return { items: items.filter((s) => s.name !== name), index: null, result: undefined };
      });
      return reply.status(204).send(null);
    },
  );

  for (const [action, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    app.post(
      `/instances/:instanceId/manage/segments/:name/${action}`,
      {
        config: needs('Contributor'),
        schema: {
          operationId: active ? 'Segments_Activate' : 'Segments_Deactivate',
          summary: active
            ? 'Activate a segment: its members are computed from the next refresh on'
            : 'Deactivate a segment: the next refreshes stop computing its members',
          tags: ['Segments'],
          params: NameParams,
          response: { 200: Segment, ...errors(401, 403, 404) },
        },
      },
      async (request) => {
        const { instanceId, name } = request.params;
        await replace(instanceId, name, (old) => ({ ...old, active }));
        return current(instanceId, name);
      },
    );
  }
};
