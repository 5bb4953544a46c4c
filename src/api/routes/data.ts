// The data API: reads of unified entities through the real-time overlay, real-time profile
// updates (PATCH Customer) and real-time activities (POST UnifiedActivity or a source entity).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { FilterNode, StringFunctionNode } from '../odata/filter.js';
import { parseQueryOptions, type QueryOptions } from '../odata/options.js';
import { attributesByName, checkSelect } from '../odata/sql.js';
import { inAttributeOrder } from '../../domain/profile.js';
import { applyOverrides, MAX_VALIDITY_MS, resolveValidUntil, type RealtimeResult, type RealtimeWrite } from '../../domain/realtime.js';
import type { EntityInfo } from '../../domain/unified-schema.js';
import { prepareProfileUpdate, prepareSourceActivity, prepareUnifiedActivity, type Outcome, type Problem } from '../../realtime/ingest.js';
import type { Services } from '../../services.js';
import type { UnifiedEntityName } from '../../storage/store.js';
import type { CatalogEntry } from '../catalog.js';
import { NdjsonBody, unwrapBody } from '../bodies.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { AnyRecord, errors, InstanceId, RealtimeQuery } from '../schemas.js';

const MAX_BATCH = 10_000;
const EXPAND_ACTIVITIES = 100;

const EntityParams = Type.Object({
  instanceId: InstanceId,
  entityName: Type.String({ description: 'Customer, UnifiedActivity, AlternateKey, Customer_Measure, CustomerEnrichment, or a source activity entity as DataSource_Entity' }),
});
const RecordParams = Type.Object({
  instanceId: InstanceId,
  entityName: Type.String({ description: 'Customer or UnifiedActivity' }),
  entityId: Type.String({ description: 'CustomerId or ActivityId' }),
});
const ODataQuery = Type.Object({
  $filter: Type.Optional(Type.String({ description: 'OData filter, e.g. CustomerId eq \'…\'' })),
  $select: Type.Optional(Type.String({ description: 'Comma-separated attributes' })),
  $orderby: Type.Optional(Type.String({ description: 'Attribute [asc|desc], comma-separated' })),
  $top: Type.Optional(Type.String({ description: 'Page size (default 100, at most 1000)' })),
  $skip: Type.Optional(Type.String({ description: 'Records to skip' })),
  $skiptoken: Type.Optional(Type.String({ description: 'Continuation token from @odata.nextLink' })),
  $count: Type.Optional(Type.String({ description: 'true: include @odata.count' })),
  $search: Type.Optional(Type.String({ description: 'Text searched in every string attribute' })),
  $expand: Type.Optional(Type.String({ description: 'UnifiedActivity, Customer_Measure, CustomerEnrichment (on Customer)' })),
});
const Collection = Type.Object(
  {
    '@odata.context': Type.String(),
    '@odata.count': Type.Optional(Type.Integer()),
    '@odata.nextLink': Type.Optional(Type.String()),
    value: Type.Array(AnyRecord),
  },
  { additionalProperties: true, description: 'A page of records' },
);
const BatchResult = Type.Object(
  {
    value: Type.Array(Type.Object({}, { additionalProperties: true })),
    succeeded: Type.Integer(),
    failed: Type.Integer(),
  },
  { description: 'One result per item, in order' },
);

type Target =
  | { kind: 'unified'; name: UnifiedEntityName; info: EntityInfo }
  | { kind: 'sourceActivity'; name: string; info: EntityInfo };

/** What `entityName` in the path means for this instance; 404 listing the valid names otherwise. */
function target(entry: CatalogEntry, entityName: string): Target {
  const { schema } = entry;
  if (entityName === 'Customer') return { kind: 'unified', name: 'Customer', info: schema.customer };
  if (entityName === 'UnifiedActivity') return { kind: 'unified', name: 'UnifiedActivity', info: schema.activity };
  if (entityName === 'AlternateKey') return { kind: 'unified', name: 'AlternateKey', info: schema.alternateKey };
  if (entityName === 'Customer_Measure') return { kind: 'unified', name: 'Customer_Measure', info: schema.customerMeasure };
  if (entityName === 'CustomerEnrichment') return { kind: 'unified', name: 'CustomerEnrichment', info: schema.enrichment };
  const source = schema.sourceActivityEntities.find((e) => e.qualifiedEntityName === entityName);
  if (source) return { kind: 'sourceActivity', name: entityName, info: source };
  const known = ['Customer', 'UnifiedActivity', 'AlternateKey', 'Customer_Measure', 'CustomerEnrichment', ...schema.sourceActivityEntities.map((e) => e.qualifiedEntityName)];
  throw new ApiError('NotFound', `entity '${entityName}' does not exist in this instance (entities: ${known.join(', ')})`, 'entityName');
}

/** Rows expanded between two turns of the event loop. */
const EXPAND_TURN = 25;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Entities on Customer that $expand may add. */
const CUSTOMER_EXPANSIONS = ['UnifiedActivity', 'Customer_Measure', 'CustomerEnrichment'];

/** Customer_Measure is computed by each refresh: real-time writes never change it. */
function computedOnly(t: { name: string }, method: string): void {
  if (t.name === 'CustomerEnrichment')
    throw ApiError.methodNotAllowed('GET', `${method} is not allowed on CustomerEnrichment: enrichments are computed by each refresh from the source data, never by real-time writes`);
  if (t.name === 'Customer_Measure')
    throw ApiError.methodNotAllowed('GET', `${method} is not allowed on Customer_Measure: measures are computed by each refresh from the source data, never by real-time writes`);
}

/**
 * The methods a data URL serves, for the Allow header of its 405s. GET reads a collection, a
 * profile, a customer's measures or enrichment, or one UnifiedActivity; POST publishes an activity;
 * PATCH updates a profile. A source activity entity is written only (its records become
 * UnifiedActivity records). Record URLs that serve nothing are 404 before this (noItemUrl).
 */
function allowedMethods(t: Target, item: boolean): string {
  if (t.kind === 'sourceActivity') return 'POST';
  if (t.name === 'Customer') return item ? 'GET, PATCH' : 'GET';
  if (t.name === 'UnifiedActivity') return item ? 'GET' : 'GET, POST';
  return 'GET';
}

/** How a record of the entity is named in a path, in messages: `Customer/{CustomerId}`. */
function itemPath(t: Target): string {
  return `${t.name}/{${t.name === 'UnifiedActivity' || t.kind === 'sourceActivity' ? 'ActivityId' : 'CustomerId'}}`;
}

/**
 * A record URL of an entity whose records have no URL of their own: 404 saying where to go
 * instead, whatever the method (405 would promise that another method works there). Null otherwise.
 */
function noItemUrl(t: Target, method: string): ApiError | null {
  if (t.kind === 'sourceActivity')
    return new ApiError(
      'NotFound',
      `${method} ${t.name}/{id}: records of the source entity ${t.name} have no URL of their own; publish one with POST on ${t.name}, and read the activity it becomes at UnifiedActivity/{ActivityId} (its Location)`,
      'entityName',
    );
  if (t.name === 'AlternateKey')
    return new ApiError('NotFound', `${method} AlternateKey/{id}: AlternateKey records have no URL of their own; read them with $filter on AlternateKey (the key ring changes only through a refresh)`, 'entityName');
  return null;
}

/** A method a data URL does not serve: 405 with the methods it does serve (Allow) and why; 404 when it serves none. */
function refused(t: Target, method: string, item: boolean): ApiError {
  if (item) {
    const missing = noItemUrl(t, method);
    if (missing) return missing;
  }
  computedOnly(t, method); // throws its own 405 (Allow: GET) for the computed entities
  const where = item ? itemPath(t) : t.name;
  let why: string;
  if (t.name === 'Customer')
    why = `profiles are created and deleted only by a refresh from the data sources, never through the real-time API; change attributes with PATCH on ${itemPath(t)}`;
  else if (t.name === 'AlternateKey') why = 'the key ring changes only through a refresh';
  else if (item) why = `activities are immutable; publish a new one with POST on ${t.name}`;
  else why = `activities are immutable; publish new ones with POST on ${t.name}${t.kind === 'sourceActivity' ? ', and read them from UnifiedActivity' : ''}`;
  return ApiError.methodNotAllowed(allowedMethods(t, item), `${method} is not allowed on ${where}: ${why}`);
}

/** IsMemberOfSegment('Name') must name an active segment of the instance. */
function checkSegments(entry: CatalogEntry, node: FilterNode): void {
  switch (node.kind) {
    case 'and':
    case 'or':
      for (const o of node.operands) checkSegments(entry, o);
      return;
    case 'not':
      checkSegments(entry, node.operand);
      return;
    case 'segment': {
      const segments = entry.record.definition.segments ?? [];
      const s = segments.find((x) => x.name === node.name);
      if (!s)
        throw new ApiError('InvalidParameter', `$filter: IsMemberOfSegment: no segment '${node.name}' (segments: ${segments.map((x) => x.name).join(', ') || 'none'})`, '$filter');
      if (s.active === false) throw new ApiError('InvalidParameter', `$filter: IsMemberOfSegment: segment '${node.name}' is not active`, '$filter');
      return;
    }
    default:
      return;
  }
}

function rejected(outcome: Extract<Outcome<unknown>, { ok: false }>): ApiError {
  const [first] = outcome.problems;
  const message = outcome.problems.length === 1 ? first.message : `${outcome.problems.length} problems: ${outcome.problems.map((p) => p.message).join('; ')}`;
  const details = outcome.problems.map((p: Problem) => ({ code: outcome.status === 404 ? 'NotFound' : 'InvalidValue', message: p.message, target: p.target }));
  return new ApiError(outcome.status === 404 ? 'NotFound' : 'BadRequest', message, first.target, details);
}

function queryOf(request: FastifyRequest): Record<string, unknown> {
  return request.query as Record<string, unknown>;
}

/** $search: the text in any string attribute (contains, case-insensitive for ASCII). */
function withSearch(filter: FilterNode | undefined, search: string | undefined, info: EntityInfo): FilterNode | undefined {
  if (!search) return filter;
  const operands: StringFunctionNode[] = info.attributes
    .filter((a) => a.type === 'string' || a.type === 'date')
    .map((a) => ({
      kind: 'function',
      name: 'contains',
      operand: { kind: 'attribute', name: a.name, position: 0 },
      argument: { kind: 'literal', type: 'string', value: search, raw: `'${search}'`, position: 0 },
      position: 0,
    }));
  const searchNode: FilterNode = { kind: 'or', operands, position: 0 };
  return filter ? { kind: 'and', operands: [filter, searchNode], position: 0 } : searchNode;
}

/**
 * The $select attributes of a row, or (no $select) the row with its attributes in the entity's
 * order: PostgreSQL's jsonb keeps no key order, and callers should see the same shape on every store.
 */
function project(row: Record<string, unknown>, select: string[] | undefined, order?: readonly string[]): Record<string, unknown> {
  if (!select) return order ? inAttributeOrder(row, order) : row;
  const out: Record<string, unknown> = {};
  for (const name of select) out[name] = row[name] ?? null;
  return out;
}

function statusOf(r: RealtimeResult): number {
  switch (r.status) {
    case 'created':
      return 201;
    case 'replayed':
      return 200;
    case 'updated':
      return 204;
    case 'conflict':
      return 409;
    case 'customerNotFound':
      return 404;
  }
}

export const dataRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog, writes } = services;

  const instance = (instanceId: string): Promise<CatalogEntry> => catalog.require(instanceId);
  /** A customer's measures for $expand=Customer_Measure: every customer measure attribute, null when not computed. */
  const measuresOf = async (entry: CatalogEntry, customerId: string): Promise<Record<string, unknown>> => {
    const stored = (await store.analytics.measuresOf(entry.record.id, customerId)) ?? {};
    const out: Record<string, unknown> = {};
    for (const a of entry.schema.customerMeasure.attributes) out[a.name] = a.name === 'CustomerId' ? customerId : (stored[a.name] ?? null);
    return out;
  };

  /** A customer's enrichment (batch only): every CustomerEnrichment attribute, null when not computed. */
  const enrichmentOf = async (entry: CatalogEntry, customerId: string, known?: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const stored: Record<string, unknown> = known ?? (await store.enrichment.of(entry.record.id, customerId)) ?? {};
    const out: Record<string, unknown> = {};
    for (const a of entry.schema.enrichment.attributes) out[a.name] = a.name === 'CustomerId' ? customerId : (stored[a.name] ?? null);
    return out;
  };

  /** Submits writes; a store that cannot take them now answers 503 with Retry-After. */
  const commit = async (list: RealtimeWrite[]): Promise<RealtimeResult[]> => {
    try {
      return await writes.submitAll(list);
    } catch (err) {
      throw ApiError.storeUnavailable('the store could not commit the write; nothing was stored, retry shortly', err);
    }
  };

  const resultError = (r: RealtimeResult): ApiError | null => {
    if (r.status === 'customerNotFound')
      return new ApiError('NotFound', `customer '${r.customerId}' does not exist; profiles are created only by a refresh`, 'CustomerId');
    if (r.status === 'conflict')
      return new ApiError('Conflict', `activity '${r.activityId}' already exists with different content; activities are immutable`, 'ActivityId');
    return null;
  };

  const prepareActivity = async (entry: CatalogEntry, t: Target, ctx: Parameters<typeof prepareUnifiedActivity>[0], body: unknown) =>
    t.kind === 'sourceActivity'
      ? prepareSourceActivity(entry.schema, ctx, t.name, body, (ds, en, key) => store.findCustomerIdByKey(ctx.instanceId, ds, en, key))
      : prepareUnifiedActivity(ctx, body);

  /**
   * A customer's newest activities for $expand=UnifiedActivity: at most EXPAND_ACTIVITIES, and when
   * there are more, `UnifiedActivity@odata.nextLink` to the rest (same order: newest first, then ActivityId).
   */
  const expandActivities = async (instanceId: string, customerId: string, base: string, now: string) => {
    const activities = await store.activitiesOf(instanceId, customerId, { top: EXPAND_ACTIVITIES + 1 }, now);
    if (activities.length <= EXPAND_ACTIVITIES) return { UnifiedActivity: activities };
    activities.length = EXPAND_ACTIVITIES;
    const params = new URLSearchParams({
      $filter: `CustomerId eq '${customerId.replace(/'/g, "''")}'`,
      $orderby: 'ActivityTime desc',
      $skiptoken: Buffer.from(String(EXPAND_ACTIVITIES)).toString('base64url'),
    });
    return { UnifiedActivity: activities, 'UnifiedActivity@odata.nextLink': `${base}/api/instances/${instanceId}/data/UnifiedActivity?${params.toString()}` };
  };

  app.get(
    '/instances/:instanceId/data/:entityName',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Data_List',
        summary: 'Read records of Customer, UnifiedActivity or AlternateKey, with OData query options',
        tags: ['Data'],
        params: EntityParams,
        querystring: ODataQuery,
        response: { 200: Collection, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, entityName } = request.params;
      const entry = await instance(instanceId);
      const t = target(entry, entityName);
      if (t.kind !== 'unified')
        throw new ApiError('NotFound', `'${entityName}' is a source entity; read its activities from UnifiedActivity`, 'entityName');
      const options: QueryOptions = parseQueryOptions(queryOf(request));
      const types = t.info.queryTypes;
      const attributeMap = attributesByName(types);
      checkSelect(options.select, attributeMap);
      for (const e of options.expand) {
        if (t.name !== 'Customer' || !CUSTOMER_EXPANSIONS.includes(e))
          throw new ApiError('InvalidParameter', `$expand: '${e}' cannot be expanded on ${t.name}${t.name === 'Customer' ? ` (only ${CUSTOMER_EXPANSIONS.map((x) => `'${x}'`).join(', ')})` : ''}`, '$expand');
      }
      let skip = options.skip;
      if (options.skiptoken !== undefined) {
        // Number('') is 0: a token that decodes to nothing (e.g. '!!!') must not restart the paging.
        const decoded = Buffer.from(options.skiptoken, 'base64url').toString();
        const n = /^\d+$/.test(decoded) ? Number(decoded) : NaN;
        if (!Number.isSafeInteger(n) || n < 0) throw new ApiError('InvalidParameter', '$skiptoken: not a token this server issued', '$skiptoken');
        skip = n;
      }
      if (options.filter) checkSegments(entry, options.filter);
      const filter = withSearch(options.filter, options.search, t.info);
      const now = new Date().toISOString();
      const { rows, count } = await store.queryEntity(
        instanceId,
        t.name,
        // One row more than the page tells whether a next page exists.
        { attributes: types, filter, orderby: options.orderby, top: options.top + 1, skip, count: options.count },
        now,
      );
      const more = rows.length > options.top;
      if (more) rows.length = options.top;
      const order = Object.keys(types);
      const value = rows.map((r) => project(r, options.select, order));
      const base = `${request.protocol}://${request.host}`;
      if (options.expand.length) {
        for (let i = 0; i < rows.length; i++) {
          // A store call per row and expansion (synchronous on SQLite): up to 1,000 rows would hold
          // the event loop for a long while, so other requests get a turn every EXPAND_TURN rows.
          if (i && i % EXPAND_TURN === 0) await nextTurn();
          const customerId = rows[i].CustomerId as string;
          if (options.expand.includes('UnifiedActivity')) Object.assign(value[i], await expandActivities(instanceId, customerId, base, now));
          if (options.expand.includes('Customer_Measure')) value[i].Customer_Measure = await measuresOf(entry, customerId);
          if (options.expand.includes('CustomerEnrichment')) value[i].CustomerEnrichment = await enrichmentOf(entry, customerId);
        }
      }
      const body: { '@odata.context': string; '@odata.count'?: number; value: object[]; '@odata.nextLink'?: string } = {
        '@odata.context': `${base}/api/instances/${instanceId}/data/$metadata#${t.name}`,
        ...(count !== undefined ? { '@odata.count': count } : {}),
        value,
      };
      if (more) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(queryOf(request))) if (k !== '$skip' && k !== '$skiptoken' && typeof v === 'string') params.set(k, v);
        params.set('$skiptoken', Buffer.from(String(skip + options.top)).toString('base64url'));
        body['@odata.nextLink'] = `${base}${request.url.split('?')[0]}?${params.toString()}`;
      }
      return body;
    },
  );

  app.get(
    '/instances/:instanceId/data/:entityName/:entityId',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Data_Get',
        summary: 'Read one Customer (with real-time updates) or UnifiedActivity',
        tags: ['Data'],
        params: RecordParams,
        querystring: Type.Object({
          $select: Type.Optional(Type.String({ description: 'Comma-separated attributes' })),
          $expand: Type.Optional(Type.String({ description: 'UnifiedActivity, Customer_Measure, CustomerEnrichment (on Customer)' })),
        }),
        response: { 200: Type.Object({}, { additionalProperties: true, description: 'The record' }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, entityName, entityId } = request.params;
      const entry = await instance(instanceId);
      const t = target(entry, entityName);
      const options = parseQueryOptions(queryOf(request));
      // Same checks as the collection read: an unknown attribute or expansion is an error, not null.
      if (t.kind === 'unified' && t.name !== 'AlternateKey') {
        const types = t.info.queryTypes;
        checkSelect(options.select, attributesByName(types));
        for (const e of options.expand) {
          if (t.name !== 'Customer' || !CUSTOMER_EXPANSIONS.includes(e))
            throw new ApiError('InvalidParameter', `$expand: '${e}' cannot be expanded on ${t.name}${t.name === 'Customer' ? ` (only ${CUSTOMER_EXPANSIONS.map((x) => `'${x}'`).join(', ')})` : ''}`, '$expand');
        }
      }
      const now = new Date().toISOString();
      if (t.kind === 'unified' && t.name === 'Customer') {
        const view = await store.getProfile(instanceId, entityId);
        if (!view) throw new ApiError('NotFound', `customer '${entityId}' does not exist`, 'entityId');
        const { customer } = applyOverrides(view.customer, view.overrides, now);
        const full: Record<string, unknown> = {};
        for (const a of t.info.attributes) full[a.name] = customer[a.name] ?? null;
        const out = project(full, options.select);
        if (options.expand.includes('UnifiedActivity')) Object.assign(out, await expandActivities(instanceId, entityId, `${request.protocol}://${request.host}`, now));
        if (options.expand.includes('Customer_Measure')) out.Customer_Measure = await measuresOf(entry, entityId);
        if (options.expand.includes('CustomerEnrichment')) out.CustomerEnrichment = await enrichmentOf(entry, entityId);
        return out;
      }
      if (t.kind === 'unified' && t.name === 'CustomerEnrichment') {
        const enriched = await store.enrichment.of(instanceId, entityId);
        if (!enriched) throw new ApiError('NotFound', `customer '${entityId}' has no enrichment (no such customer in the current generation)`, 'entityId');
        return project(await enrichmentOf(entry, entityId, enriched), options.select);
      }
      if (t.kind === 'unified' && t.name === 'Customer_Measure') {
        const measures = await store.analytics.measuresOf(instanceId, entityId);
        if (!measures) throw new ApiError('NotFound', `customer '${entityId}' has no measures (no such customer, or no refresh since measures were defined)`, 'entityId');
        return project(measures, options.select, Object.keys(t.info.queryTypes));
      }
      if (t.kind === 'unified' && t.name === 'UnifiedActivity') {
        const activity = await store.getActivity(instanceId, entityId, now);
        if (!activity) throw new ApiError('NotFound', `activity '${entityId}' does not exist`, 'entityId');
        return project(activity as unknown as Record<string, unknown>, options.select, Object.keys(t.info.queryTypes));
      }
      throw noItemUrl(t, 'GET') ?? new ApiError('NotFound', `${entityName} records are read with $filter on ${entityName}, not by id`, 'entityName');
    },
  );

  app.patch(
    '/instances/:instanceId/data/:entityName/:entityId',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Data_UpdateProfile',
        summary: 'Update attributes of a unified Customer in real time (until validUntil, default 4 hours)',
        tags: ['Real-time'],
        params: RecordParams,
        querystring: RealtimeQuery,
        body: Type.Union([AnyRecord, Type.String()], { description: 'Customer attributes to change (or a JSON string of them)' }),
        response: { 204: Type.Null({ description: 'Updated' }), ...errors(400, 401, 403, 404, 405, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const { instanceId, entityName, entityId } = request.params;
      const entry = await instance(instanceId);
      const t = target(entry, entityName);
      if (t.name !== 'Customer') throw refused(t, 'PATCH', true);
      const outcome = prepareProfileUpdate(entry.schema, { instanceId, validUntil: request.query.validUntil, caller: request.query.caller, now: Date.now() }, entityId, unwrapBody(request.body));
      if (!outcome.ok) throw rejected(outcome);
      const [result] = await commit([outcome.value]);
      const error = resultError(result);
      if (error) throw error;
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/instances/:instanceId/data/:entityName',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Data_CreateActivity',
        summary: 'Publish a real-time activity, as a UnifiedActivity or in a source entity\'s format (DataSource_Entity)',
        tags: ['Real-time'],
        params: EntityParams,
        querystring: RealtimeQuery,
        body: Type.Union([AnyRecord, Type.String()], { description: 'The activity (or a JSON string of it)' }),
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'The activity existed already with the same content (a replay)' }),
          201: Type.Object({}, { additionalProperties: true, description: 'The activity, stored' }),
          ...errors(400, 401, 403, 404, 405, 409, 413, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { instanceId, entityName } = request.params;
      const entry = await instance(instanceId);
      const t = target(entry, entityName);
      if (t.name === 'Customer')
        throw ApiError.methodNotAllowed('GET', 'POST is not allowed on Customer: profiles are created only by a refresh from the data sources; change one with PATCH');
      if (t.name === 'AlternateKey') throw ApiError.methodNotAllowed('GET', 'POST is not allowed on AlternateKey: the key ring changes only through a refresh');
      computedOnly(t, 'POST');
      const ctx = { instanceId, validUntil: request.query.validUntil, caller: request.query.caller, now: Date.now() };
      const outcome = await prepareActivity(entry, t, ctx, unwrapBody(request.body));
      if (!outcome.ok) throw rejected(outcome);
      const write = outcome.value;
      const [result] = await commit([write]);
      const error = resultError(result);
      if (error) throw error;
      const activity = (result as Extract<RealtimeResult, { activity: unknown }>).activity;
      reply.header('Location', `/api/instances/${instanceId}/data/UnifiedActivity/${encodeURIComponent(activity.ActivityId)}`);
      // A new activity is the one ingest made, JSON included: sent as is (a string with a JSON
      // content type skips the serializer), not serialized again.
      if (result.status === 'created' && write.kind === 'activity' && write.json !== undefined)
        return reply.status(201).type('application/json; charset=utf-8').send(write.json as unknown as object);
      return reply.status(result.status === 'created' ? 201 : 200).send(activity);
    },
  );

  app.post(
    '/instances/:instanceId/data/:entityName/$batch',
    {
      config: needs('Contributor'),
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        operationId: 'Data_Batch',
        summary: 'Up to 10,000 activities, or profile updates ({CustomerId, changes}) on Customer, in one call; one result per item',
        tags: ['Real-time'],
        params: EntityParams,
        querystring: RealtimeQuery,
        consumes: ['application/json', 'application/x-ndjson'],
        body: Type.Unsafe<unknown>({ description: 'A JSON array, or NDJSON (application/x-ndjson)' }),
        response: { 200: BatchResult, ...errors(400, 401, 403, 404, 413, 429, 503) },
      },
    },
    async (request) => {
      const { instanceId, entityName } = request.params;
      const entry = await instance(instanceId);
      const t = target(entry, entityName);
      if (t.name === 'AlternateKey') throw ApiError.methodNotAllowed('GET', 'AlternateKey changes only through a refresh');
      computedOnly(t, 'POST');
      const items = batchItems(request.body);
      const ctx = { instanceId, validUntil: request.query.validUntil, caller: request.query.caller, now: Date.now() };
      // A bad validUntil concerns the whole request, not each item.
      const validity = resolveValidUntil(ctx.validUntil, MAX_VALIDITY_MS, ctx.now);
      if (!validity.ok) throw new ApiError('InvalidParameter', validity.message, 'validUntil');
      const results: Record<string, unknown>[] = new Array(items.length);
      let failed = 0;
      // The accepted items' writes, and where each one's result goes.
      const writes: RealtimeWrite[] = [];
      const positions: number[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        let outcome: Outcome<RealtimeWrite>;
        if (item instanceof Error) outcome = { ok: false, status: 400, problems: [{ target: `[${i}]`, message: item.message }] };
        else if (t.name === 'Customer') {
          const o = item as { CustomerId?: unknown; changes?: unknown };
          outcome =
            typeof o !== 'object' || o === null || typeof o.CustomerId !== 'string' || !o.CustomerId
              ? { ok: false, status: 400, problems: [{ target: 'CustomerId', message: "each item needs a 'CustomerId' string and 'changes'" }] }
              : prepareProfileUpdate(entry.schema, ctx, o.CustomerId, o.changes);
        } else if (t.kind === 'sourceActivity') outcome = await prepareActivity(entry, t, ctx, item);
        // Synchronous: no promise and microtask per item.
        else outcome = prepareUnifiedActivity(ctx, item);
        if (outcome.ok) {
          writes.push(outcome.value);
          positions.push(i);
        } else {
          results[i] = { index: i, status: outcome.status, error: rejected(outcome).toBody().error };
          failed++;
        }
      }
      const committed = await commit(writes);
      for (let k = 0; k < committed.length; k++) {
        const r = committed[k];
        const index = positions[k];
        const error = resultError(r);
        if (error) failed++;
        results[index] = error
          ? { index, status: error.status, error: error.toBody().error }
          : r.status === 'updated'
            ? { index, status: 204, customerId: r.customerId, validUntil: r.validUntil }
            : { index, status: statusOf(r), activityId: (r as Extract<RealtimeResult, { activity: unknown }>).activity.ActivityId };
      }
      return { value: results, succeeded: results.length - failed, failed };
    },
  );

  // Methods the data API does not offer get 405 with Allow (what the URL does serve) and the
  // reason; a URL that serves no method at all is 404.
  const notAllowed = async (request: FastifyRequest<{ Params: { instanceId: string; entityName: string; entityId?: string } }>) => {
    const { instanceId, entityName } = request.params;
    const t = target(await instance(instanceId), entityName);
    throw refused(t, request.method, 'entityId' in request.params);
  };
  const hidden = { hide: true } as const;
  // POST on a record URL: profiles are never created through the real-time API, activities are posted to their collection.
  app.post('/instances/:instanceId/data/:entityName/:entityId', { config: needs('Viewer'), schema: hidden }, notAllowed);
  app.put('/instances/:instanceId/data/:entityName/:entityId', { config: needs('Viewer'), schema: hidden }, notAllowed);
  app.delete('/instances/:instanceId/data/:entityName/:entityId', { config: needs('Viewer'), schema: hidden }, notAllowed);
  app.put('/instances/:instanceId/data/:entityName', { config: needs('Viewer'), schema: hidden }, notAllowed);
  app.patch('/instances/:instanceId/data/:entityName', { config: needs('Viewer'), schema: hidden }, notAllowed);
  app.delete('/instances/:instanceId/data/:entityName', { config: needs('Viewer'), schema: hidden }, notAllowed);
};

/** A JSON array or NDJSON; a line that is not JSON becomes an Error item (reported, not fatal). */
function batchItems(body: unknown): (unknown | Error)[] {
  let items: (unknown | Error)[];
  if (Array.isArray(body)) items = body;
  else if (body instanceof NdjsonBody) {
    items = [];
    const lines = body.text.split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      try {
        items.push(JSON.parse(line));
      } catch (err) {
        items.push(new Error(`line ${i + 1} is not valid JSON: ${(err as Error).message}`));
      }
    });
  } else if (typeof body === 'string') {
    return batchItems(unwrapBody(body));
  } else {
    throw new ApiError('BadRequest', 'the body must be a JSON array of items or NDJSON (application/x-ndjson)', 'body');
  }
  if (!items.length) throw new ApiError('BadRequest', 'the batch is empty', 'body');
  if (items.length > MAX_BATCH) throw new ApiError('BadRequest', `the batch has ${items.length} items; at most ${MAX_BATCH} are allowed`, 'body');
  return items;
}
