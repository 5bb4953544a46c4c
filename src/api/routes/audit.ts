// The audit log: management actions of an instance for its Administrators, and every entry for a
// server Administrator. Newest first, paged with a cursor ($skiptoken).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import type { AuditEntry, AuditQuery } from '../../storage/access.js';
import { ApiError } from '../errors.js';
import { audited, needs } from '../route-auth.js';
import { errors, InstanceId, InstanceParams, Nullable } from '../schemas.js';

const Entry = Type.Object(
  {
    id: Type.Integer(),
    timestamp: Type.String(),
    instanceId: Nullable(Type.String()),
    principalId: Nullable(Type.String()),
    action: Type.String({ description: 'e.g. key.create, key.revoke, key.regenerate, rbac.assign, rbac.unassign, instance.apply, refresh.start, refresh.cancel' }),
    target: Nullable(Type.String()),
    outcome: Type.String({ description: "'success' or the error code (e.g. Forbidden)" }),
    detail: Nullable(Type.Object({}, { additionalProperties: true }), { description: 'What the action made or changed (ids, roles)' }),
  },
  { description: 'One management action' },
);
const Page = Type.Object(
  { value: Type.Array(Entry), '@odata.nextLink': Type.Optional(Type.String()) },
  { description: 'Audit entries, newest first' },
);
const DateTime = (what: string) => Type.Optional(Type.String({ description: `RFC 3339 date-time: ${what}` }));
const Query = Type.Object({
  action: Type.Optional(Type.String({ maxLength: 100, description: 'Only this action (e.g. key.create), or a prefix ending in * (e.g. key.*)' })),
  principalId: Type.Optional(Type.String({ maxLength: 256, description: 'Only actions of this principal' })),
  since: DateTime('entries at or after it'),
  until: DateTime('entries before it'),
  $top: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Page size (default 100)' })),
  $skiptoken: Type.Optional(Type.String({ maxLength: 20, description: 'From @odata.nextLink' })),
});
const ServerQuery = Type.Object({ ...Query.properties, instanceId: Type.Optional(InstanceId) });

function entryInfo(e: AuditEntry) {
  return {
    id: e.id,
    timestamp: e.at,
    instanceId: e.instanceId,
    principalId: e.principalId,
    action: e.action,
    target: e.target,
    outcome: e.outcome,
    detail: e.detail,
  };
}

function isoOrThrow(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new ApiError('InvalidParameter', `${name} must be an RFC 3339 date-time, e.g. 2026-11-01T00:00:00Z; got '${value}'`, name);
  return new Date(ms).toISOString();
}

export const auditRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog } = services;

  async function page(url: string, q: Static, scope: AuditQuery['instanceId']) {
    const limit = q.$top ?? 100;
    let beforeId: number | undefined;
    if (q.$skiptoken !== undefined) {
      beforeId = /^\d{1,15}$/.test(q.$skiptoken) ? Number(q.$skiptoken) : NaN;
      if (Number.isNaN(beforeId)) throw new ApiError('InvalidParameter', '$skiptoken is not one this API gave out; use @odata.nextLink as it is', '$skiptoken');
    }
    let action = q.action;
    let prefix: string | undefined;
    if (action?.endsWith('*')) {
      prefix = action.slice(0, -1);
      action = undefined;
    }
    const rows = await store.access.queryAudit({
      instanceId: scope,
      action,
      actionPrefix: prefix,
      principalId: q.principalId,
      since: isoOrThrow(q.since, 'since'),
      until: isoOrThrow(q.until, 'until'),
      beforeId,
      limit: limit + 1,
    });
    const more = rows.length > limit;
    const value = rows.slice(0, limit).map(entryInfo);
    const body: { value: ReturnType<typeof entryInfo>[]; '@odata.nextLink'?: string } = { value };
    if (more) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (v !== undefined && k !== '$skiptoken') params.set(k, String(v));
      params.set('$skiptoken', String(value[value.length - 1].id));
      body['@odata.nextLink'] = `${url}?${params.toString()}`;
    }
    return body;
  }
  type Static = { action?: string; principalId?: string; since?: string; until?: string; $top?: number; $skiptoken?: string; instanceId?: string };

  app.get(
    '/instances/:instanceId/audit',
    {
      config: { ...needs('Administrator'), ...audited('audit.read', undefined, { refusalsOnly: true }) },
      schema: {
        operationId: 'Audit_List',
        summary: 'Read the audit log of the instance (newest first)',
        tags: ['Access'],
        params: InstanceParams,
        querystring: Query,
        response: { 200: Page, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      await catalog.require(instanceId);
      return page(`/api/instances/${encodeURIComponent(instanceId)}/audit`, request.query, instanceId);
    },
  );

  app.get(
    '/audit',
    {
      config: { ...needs('Administrator', 'server'), ...audited('audit.read', undefined, { refusalsOnly: true }) },
      schema: {
        operationId: 'ServerAudit_List',
        summary: 'Read the whole audit log: server-wide actions and every instance (newest first)',
        tags: ['Access'],
        querystring: ServerQuery,
        response: { 200: Page, ...errors(400, 401, 403) },
      },
    },
    async (request) => page('/api/audit', request.query, request.query.instanceId),
  );
};
