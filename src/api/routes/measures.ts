// Measures of an instance: list, create, read (with the latest value and history), update and
// delete. Definitions are stored with the instance definition and take effect at the next refresh.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { MeasureDef } from '../../config/schema.js';
import { measureTypeOf } from '../../domain/measures.js';
import type { Services } from '../../services.js';
import type { MeasureHistoryEntry } from '../../storage/analytics.js';
import type { CatalogEntry } from '../catalog.js';
import { bodyItem } from '../definition-edits.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceId, InstanceParams } from '../schemas.js';

const EDM = { string: 'Edm.String', integer: 'Edm.Int64', decimal: 'Edm.Decimal', boolean: 'Edm.Boolean', date: 'Edm.Date', datetime: 'Edm.DateTimeOffset' } as const;

const NameParams = Type.Object({ instanceId: InstanceId, name: Type.String({ description: 'Measure name' }) });
const MeasureBody = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      'A measure definition, as in the instance definition: name, kind (customer | business), aggregation (sum, average, count, countDistinct, min, max, first, last, argMax, argMin), source ({activity} | {entity, customer?, timestamp?} | {measure} | {profiles: true}), field, by, filter ([{field, operator, value}]), window ({last, unit})',
  },
);
const Measure = Type.Object({}, { additionalProperties: true, description: 'A measure: its definition, value type and latest computed value' });
const MeasureDetail = Type.Object({}, { additionalProperties: true, description: 'A measure with the values of past runs, newest first' });
const MeasureList = Type.Object({ instanceId: Type.String(), measures: Type.Array(Measure) }, { description: 'The measures of the instance' });

/** The run's value when it is from the generation readers see; otherwise the measure awaits the next refresh. */
function present(entry: CatalogEntry, generation: number | null, def: MeasureDef, history: MeasureHistoryEntry[]) {
  const latest = history[0] && history[0].generation === generation ? history[0] : null;
  const kind = def.kind ?? 'customer';
  return {
    ...def,
    kind,
    dataType: EDM[measureTypeOf(def, entry.resolved)],
    entity: kind === 'customer' ? 'Customer_Measure' : null,
    computed: latest !== null,
    latest: latest && (kind === 'business' ? { value: latest.value, computedAt: latest.computedAt, jobId: latest.jobId } : { customersWithValue: latest.customersWithValue, computedAt: latest.computedAt, jobId: latest.jobId }),
  };
}

export const measureRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog, definitions } = services;

  /** The generation readers see now (the catalog's copy of the record may be a little older). */
  const generationOf = async (entry: CatalogEntry) => (await store.getInstance(entry.record.id))?.currentGeneration ?? null;
  const find = (entry: CatalogEntry, name: string): MeasureDef => {
    const def = entry.record.definition.measures?.find((m) => m.name === name);
    if (!def) throw new ApiError('NotFound', `measure '${name}' does not exist in instance '${entry.record.id}'`, 'name');
    return def;
  };

  app.get(
    '/instances/:instanceId/manage/measures',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Measures_List',
        summary: 'List the measures of an instance with their latest values',
        tags: ['Measures'],
        params: InstanceParams,
        response: { 200: MeasureList, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const entry = await catalog.require(instanceId);
      const measures = [];
      for (const def of entry.record.definition.measures ?? []) measures.push(present(entry, await generationOf(entry), def, await store.analytics.measureHistory(instanceId, def.name, 1)));
      return { instanceId, measures };
    },
  );

  app.get(
    '/instances/:instanceId/manage/measures/:name',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Measures_Get',
        summary: 'Get one measure: definition, latest value and the values of past runs',
        tags: ['Measures'],
        params: NameParams,
        querystring: Type.Object({ top: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Runs of history (default 50)' })) }),
        response: { 200: MeasureDetail, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, name } = request.params;
      const entry = await catalog.require(instanceId);
      const def = find(entry, name);
      const history = await store.analytics.measureHistory(instanceId, name, request.query.top ?? 50);
      const kind = def.kind ?? 'customer';
      return {
        ...present(entry, await generationOf(entry), def, history),
        history: history.map((h) =>
          kind === 'business'
            ? { value: h.value, computedAt: h.computedAt, jobId: h.jobId, generation: h.generation }
            : { customersWithValue: h.customersWithValue, computedAt: h.computedAt, jobId: h.jobId, generation: h.generation },
        ),
      };
    },
  );

  app.post(
    '/instances/:instanceId/manage/measures',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Measures_Create',
        summary: 'Create a measure (computed from the next refresh on)',
        tags: ['Measures'],
        params: InstanceParams,
        body: MeasureBody,
        response: { 201: Measure, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId } = request.params;
      const item = bodyItem(request.body);
      await definitions.edit(instanceId, 'measures', (items) => {
        if (typeof item.name === 'string' && items.some((m) => m.name === item.name))
          throw new ApiError('Conflict', `measure '${item.name}' already exists; change it with PUT`, 'name');
        return { items: [...items, item], index: items.length, result: undefined };
      });
      const entry = await catalog.require(instanceId);
      reply.header('Location', `/api/instances/${instanceId}/manage/measures/${encodeURIComponent(item.name as string)}`);
      return reply.status(201).send(present(entry, await generationOf(entry), find(entry, item.name as string), []));
    },
  );

  app.put(
    '/instances/:instanceId/manage/measures/:name',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Measures_Update',
        summary: 'Replace the definition of a measure (takes effect at the next refresh)',
        tags: ['Measures'],
        params: NameParams,
        body: MeasureBody,
        response: { 200: Measure, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { instanceId, name } = request.params;
      const item = bodyItem(request.body, name);
      await definitions.edit(instanceId, 'measures', (items) => {
        const index = items.findIndex((m) => m.name === name);
        if (index < 0) throw new ApiError('NotFound', `measure '${name}' does not exist in instance '${instanceId}'`, 'name');
        const next: unknown[] = [...items];
        next[index] = item;
        return { items: next, index, result: undefined };
      });
      const entry = await catalog.require(instanceId);
      return present(entry, await generationOf(entry), find(entry, name), await store.analytics.measureHistory(instanceId, name, 1));
    },
  );

  app.delete(
    '/instances/:instanceId/manage/measures/:name',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Measures_Delete',
        summary: 'Delete a measure (409 while a segment or another measure uses it)',
        tags: ['Measures'],
        params: NameParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId, name } = request.params;
      await definitions.edit(instanceId, 'measures', (items) => {
        if (!items.some((m) => m.name === name)) throw new ApiError('NotFound', `measure '${name}' does not exist in instance '${instanceId}'`, 'name');
        return { items: items.filter((m) => m.name !== name), index: null, result: undefined };
      });
      return reply.status(204).send(null);
    },
  );
};
