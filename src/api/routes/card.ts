// Everything the customer card shows, in one call.
//
// GET /api/instances/{instanceId}/card/{customerId}?activityType=&from=&to=&top=50&skip=0   (Viewer)
//   activityType: one type or several, comma-separated (e.g. Purchase,Review); from/to: RFC 3339,
//   ActivityTime >= from and < to; top 1..200 (default 50); skip >= 0.
//   200 {
//     customerId, previousCustomerIds: [..],
//     fields: [{ name, value, type (Edm type), batchValue,
//                source: { dataSource, entity, column } | null,   // which source column the merged
//                                                                 // value came from (null: none had one)
//                override: { value, caller, setAt, validUntil } | null }],   // a counting real-time override
//     keyring: [{ DataSourceName, EntityName, AlternateValue }],
//     measures: [{ name, value, type (Edm type), description? }],   // the customer's Customer_Measure row
//     segments: [{ name, description? }],                          // segments the customer is a member of
//     activities: { value: [{ ...UnifiedActivity, realtime: boolean, caller?, validUntil? }],
//                   nextSkip: number | null, types: [every ActivityType of the customer, sorted] } }
//   fields lists the merged fields, then one key column per source customer entity (its source is
//   that entity's primary key). 404 for an unknown customer; 400 naming a bad parameter.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decodeFieldSources, type FieldSource } from '../../domain/field-sources.js';
import { overrideCounts } from '../../domain/realtime.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { AnyRecord, errors, InstanceId, Nullable } from '../schemas.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$/;

const Source = Type.Object({ dataSource: Type.String(), entity: Type.String(), column: Type.String() });
const Override = Type.Object({ value: Type.Unknown(), caller: Nullable(Type.String()), setAt: Type.String(), validUntil: Type.String() });
const Card = Type.Object(
  {
    customerId: Type.String(),
    previousCustomerIds: Type.Array(Type.String()),
    fields: Type.Array(
      Type.Object({
        name: Type.String(),
        value: Type.Unknown(),
        type: Type.String(),
        batchValue: Type.Unknown(),
        source: Nullable(Source),
        override: Nullable(Override),
      }),
    ),
    keyring: Type.Array(Type.Object({ DataSourceName: Type.String(), EntityName: Type.String(), AlternateValue: Type.String() })),
    measures: Type.Array(AnyRecord),
    segments: Type.Array(AnyRecord),
    activities: Type.Object({
      value: Type.Array(AnyRecord),
      nextSkip: Nullable(Type.Integer()),
      types: Type.Array(Type.String()),
    }),
  },
  { description: 'The customer card: fields with provenance and overrides, key ring, activity timeline page' },
);

function isoParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  const t = RFC3339.test(value) ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value.replace(' ', 'T')) : NaN;
  if (Number.isNaN(t)) throw new ApiError('InvalidParameter', `${name} '${value}' is not an RFC 3339 date-time such as 2026-11-29T12:00:00Z`, name);
  return new Date(t).toISOString();
}

export const cardRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { catalog, store } = services;
  app.get(
    '/instances/:instanceId/card/:customerId',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Customer_Card',
        summary: 'A customer with field provenance, real-time overrides, key ring and a page of the activity timeline',
        tags: ['Data'],
        params: Type.Object({ instanceId: InstanceId, customerId: Type.String({ minLength: 1, maxLength: 200, description: 'CustomerId' }) }),
        querystring: Type.Object({
          activityType: Type.Optional(Type.String({ maxLength: 1000, description: 'ActivityType, or several comma-separated' })),
          from: Type.Optional(Type.String({ description: 'RFC 3339: activities at or after' })),
          to: Type.Optional(Type.String({ description: 'RFC 3339: activities before' })),
          top: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, description: 'Activities per page (default 50)' })),
          skip: Type.Optional(Type.Integer({ minimum: 0, description: 'Activities to skip (from nextSkip)' })),
        }),
        response: { 200: Card, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, customerId } = request.params;
      const q = request.query;
      const entry = await catalog.require(instanceId);
      const from = isoParam(q.from, 'from');
      const to = isoParam(q.to, 'to');
      if (from && to && from >= to) throw new ApiError('InvalidParameter', `from (${q.from}) must be before to (${q.to})`, 'from');
      const types = q.activityType
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const top = q.top ?? 50;
      const skip = q.skip ?? 0;
      const now = new Date().toISOString();

      const view = await store.getProfile(instanceId, customerId);
      if (!view) throw new ApiError('NotFound', `customer '${customerId}' does not exist`, 'customerId');
      const [keys, sources, activities, activityTypes, measureRow, memberOf] = await Promise.all([
        store.alternateKeysOf(instanceId, customerId),
        store.card.fieldSources(instanceId, customerId),
        store.card.timeline(instanceId, customerId, { types, from, to, top: top + 1, skip }, now),
        store.card.activityTypes(instanceId, customerId, now),
        store.analytics.measuresOf(instanceId, customerId),
        store.analytics.segmentsOf(instanceId, customerId),
      ]);
      // Measures and segments come from the last refresh only: real-time writes never change them.
      const measureDefs = new Map((entry.record.definition.measures ?? []).map((m) => [m.name, m]));
      const segmentDefs = new Map((entry.record.definition.segments ?? []).map((s) => [s.name, s]));
      const measures = entry.schema.customerMeasure.attributes
        .filter((a) => a.name !== 'CustomerId' && measureRow && a.name in measureRow)
        .map((a) => ({ name: a.name, value: measureRow![a.name] ?? null, type: a.dataType, description: measureDefs.get(a.name)?.description ?? null }));
      const segments = memberOf.map((name) => ({ name, description: segmentDefs.get(name)?.description ?? null }));
      const batch = view.customer;
      const overrides = new Map(view.overrides.filter((o) => overrideCounts(o, now)).map((o) => [o.attribute, o]));
      const provenance = sources ? decodeFieldSources(sources.legend, sources.encoded) : new Map<string, FieldSource | null>();
      const keySources = new Map(entry.resolved.customerEntities.map((e) => [e.keyColumn, { dataSource: e.dataSource, entity: e.name, column: e.primaryKey }]));

      const fields = entry.schema.customer.attributes
        .filter((a) => a.name !== 'CustomerId' && a.name !== 'PreviousCustomerId')
        .map((a) => {
          const o = overrides.get(a.name);
          const batchValue = batch[a.name] ?? null;
          let source: FieldSource | null = keySources.get(a.name) ?? provenance.get(a.name) ?? null;
          if (keySources.has(a.name) && batchValue === null) source = null;
          return {
            name: a.name,
            value: o ? o.value : batchValue,
            type: a.dataType,
            batchValue,
            source,
            override: o ? { value: o.value, caller: o.caller, setAt: o.setAt, validUntil: o.validUntil } : null,
          };
        });
      const more = activities.length > top;
      if (more) activities.length = top;
      return {
        customerId,
        previousCustomerIds: (batch.PreviousCustomerId ?? '')
          .split(';')
          .map((s) => s.trim())
          .filter(Boolean),
        fields,
        keyring: keys.map((k) => ({ DataSourceName: k.DataSourceName, EntityName: k.EntityName, AlternateValue: k.AlternateValue })),
        measures,
        segments,
        activities: {
          value: activities.map((a) => {
            const realtime = a.Origin === 'realtime';
            const { caller, ...record } = a;
            return realtime ? { ...record, realtime, caller: caller ?? null, validUntil: a.ValidUntil ?? null } : { ...record, realtime };
          }),
          nextSkip: more ? skip + top : null,
          types: activityTypes,
        },
      };
    },
  );
};
