// Exports and notification webhooks of an instance: their definitions, recorded export runs and
// webhook deliveries, and starting an export by hand. Administrator only: exports send customer
// data out of Kindred.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ExportDef, NotificationDef } from '../../config/outputs.js';
import { ExportAlreadyRunning } from '../../exports/service.js';
import type { Services } from '../../services.js';
import type { ExportRunRecord } from '../../storage/exports.js';
import type { DeliveryRecord } from '../../storage/notifications.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceId, InstanceParams, Nullable } from '../schemas.js';

const ExportParams = Type.Object({ instanceId: InstanceId, exportName: Type.String({ description: 'Export name (from the instance definition)' }) });
const Top = Type.Object({ top: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'How many, newest first (default 50)' })) });

const ExportRun = Type.Object(
  {
    runId: Type.String(),
    exportName: Type.String(),
    trigger: Type.String({ description: 'refresh | schedule | manual' }),
    jobId: Nullable(Type.String({ description: 'The refresh job whose data was exported' })),
    generation: Nullable(Type.Integer()),
    status: Type.String({ description: 'running | successful | failed' }),
    target: Type.String(),
    startedAt: Type.String(),
    endedAt: Nullable(Type.String()),
    durationMs: Nullable(Type.Integer()),
    rows: Type.Integer(),
    batches: Type.Integer(),
    error: Nullable(Type.String()),
  },
  { description: 'One run of an export' },
);

const ExportInfo = Type.Object(
  {
    name: Type.String(),
    entity: Type.String(),
    segment: Nullable(Type.String()),
    fields: Nullable(Type.Array(Type.String())),
    afterRefresh: Type.Boolean(),
    schedule: Nullable(Type.Object({ cron: Type.String(), timezone: Nullable(Type.String()) })),
    nextScheduledRun: Nullable(Type.String()),
    target: Type.Object({}, { additionalProperties: true, description: 'Type and destination; secrets are never shown' }),
    lastRun: Nullable(ExportRun),
  },
  { description: 'An export as defined, with its last run' },
);

const Delivery = Type.Object(
  {
    deliveryId: Type.String(),
    notification: Type.String(),
    event: Type.String(),
    status: Type.String({ description: 'pending | delivered | failed' }),
    attempts: Type.Integer(),
    responseStatus: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    payload: Type.Object({}, { additionalProperties: true }),
  },
  { description: 'One webhook delivery' },
);

const NotificationInfo = Type.Object(
  {
    name: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    thresholds: Type.Array(Type.Object({}, { additionalProperties: true })),
  },
  { description: 'A notification webhook as defined (the secret is never shown)' },
);

const presentRun = (r: ExportRunRecord) => ({
  runId: r.runId,
  exportName: r.exportName,
  trigger: r.trigger,
  jobId: r.jobId,
  generation: r.generation,
  status: r.status,
  target: r.target,
  startedAt: r.startedAt,
  endedAt: r.endedAt,
  durationMs: r.durationMs,
  rows: r.rows,
  batches: r.batches,
  error: r.error,
});

/** The target without secrets (HTTP secret, PostgreSQL password). */
function presentTarget(def: ExportDef): Record<string, unknown> {
  const t = def.target;
  if (t.type === 'file') return { type: 'file', folder: t.folder, format: t.format, fileName: t.fileName ?? `${def.name}.${t.format ?? 'csv'}` };
  if (t.type === 'postgres') {
    let server: string | null = null;
    if (t.connectionString) {
      try {
        const u = new URL(t.connectionString);
        server = `${u.hostname}:${u.port || 5432}${u.pathname}`;
      } catch {
        server = null;
      }
    }
    return { type: 'postgres', server, connectionStringEnv: t.connectionStringEnv ?? null, schema: t.schema ?? 'public', table: t.table };
  }
  return { type: 'http', url: t.url, batchSize: t.batchSize ?? 500, secretEnv: t.secretEnv ?? null, signed: true };
}

const presentDelivery = (d: DeliveryRecord) => ({ ...d });
const presentNotification = (n: NotificationDef) => ({ name: n.name, url: n.url, events: n.events, thresholds: n.thresholds ?? [] });

export const exportRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog } = services;
  const exportOr404 = async (instanceId: string, name: string) => {
    const entry = await catalog.require(instanceId);
    const defs = entry.record.definition.exports ?? [];
    const def = defs.find((x) => x.name === name);
    if (!def)
      throw new ApiError('NotFound', `export '${name}' does not exist (exports: ${defs.map((x) => x.name).join(', ') || 'none defined'})`, 'exportName');
    return { entry, def };
  };

  app.get(
    '/instances/:instanceId/manage/exports',
    {
      config: needs('Administrator'),
      schema: {
        operationId: 'Exports_List',
        summary: 'List the exports of an instance with their targets and last runs',
        tags: ['Exports'],
        params: InstanceParams,
        response: { 200: Type.Object({ instanceId: Type.String(), exports: Type.Array(ExportInfo) }, { description: 'The exports' }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const entry = await catalog.require(instanceId);
      const exports = [];
      for (const def of entry.record.definition.exports ?? []) {
        const [last] = await store.exportRuns.listRuns(instanceId, def.name, 1);
        const next = services.exports.nextScheduled(instanceId, def.name);
        exports.push({
          name: def.name,
          entity: def.entity,
          segment: def.segment ?? null,
          fields: def.fields ?? null,
          afterRefresh: def.afterRefresh !== false,
          schedule: def.schedule ? { cron: def.schedule.cron, timezone: def.schedule.timezone ?? null } : null,
          nextScheduledRun: next ? next.toISOString() : null,
          target: presentTarget(def),
          lastRun: last ? presentRun(last) : null,
        });
      }
      return { instanceId, exports };
    },
  );

  app.get(
    '/instances/:instanceId/manage/exports/:exportName/runs',
    {
      config: needs('Administrator'),
      schema: {
        operationId: 'Exports_ListRuns',
        summary: 'List the runs of an export, newest first, with status and counts',
        tags: ['Exports'],
        params: ExportParams,
        querystring: Top,
        response: { 200: Type.Object({ exportName: Type.String(), runs: Type.Array(ExportRun) }, { description: 'The runs' }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, exportName } = request.params;
      await exportOr404(instanceId, exportName);
      const runs = await store.exportRuns.listRuns(instanceId, exportName, request.query.top ?? 50);
      return { exportName, runs: runs.map(presentRun) };
    },
  );

  app.get(
    '/instances/:instanceId/manage/exports/:exportName/runs/:runId',
    {
      config: needs('Administrator'),
      schema: {
        operationId: 'Exports_GetRun',
        summary: 'Get one run of an export',
        tags: ['Exports'],
        params: Type.Object({ instanceId: InstanceId, exportName: Type.String({ description: 'Export name' }), runId: Type.String({ description: 'Run id' }) }),
        response: { 200: ExportRun, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, exportName, runId } = request.params;
      await exportOr404(instanceId, exportName);
      const run = await store.exportRuns.getRun(instanceId, runId);
      if (!run || run.exportName !== exportName) throw new ApiError('NotFound', `export '${exportName}' has no run '${runId}'`, 'runId');
      return presentRun(run);
    },
  );

  app.post(
    '/instances/:instanceId/manage/exports/:exportName/run',
    {
      config: needs('Administrator'),
      schema: {
        operationId: 'Exports_Run',
        summary: 'Run an export now, from the current generation (batch data only); answers when the run has started',
        tags: ['Exports'],
        params: ExportParams,
        response: { 202: ExportRun, ...errors(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId, exportName } = request.params;
      const { entry, def } = await exportOr404(instanceId, exportName);
      if (entry.record.currentGeneration === null)
        throw new ApiError('Conflict', `instance '${instanceId}' has no unified data yet; run a refresh first`, 'instanceId');
      try {
        const { run } = await services.exports.start(entry.record, def, 'manual');
        reply.header('Location', `/api/instances/${instanceId}/manage/exports/${encodeURIComponent(exportName)}/runs/${run.runId}`);
        return reply.status(202).send(presentRun(run));
      } catch (err) {
        if (err instanceof ExportAlreadyRunning) throw new ApiError('Conflict', `export '${exportName}' is already running (run ${err.runId})`, 'exportName');
        throw err;
      }
    },
  );

  app.get(
    '/instances/:instanceId/manage/notifications',
    {
      config: needs('Administrator'),
      schema: {
        operationId: 'Notifications_List',
        summary: 'List the notification webhooks of an instance',
        tags: ['Exports'],
        params: InstanceParams,
        response: { 200: Type.Object({ instanceId: Type.String(), notifications: Type.Array(NotificationInfo) }, { description: 'The webhooks' }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const entry = await catalog.require(request.params.instanceId);
      return { instanceId: request.params.instanceId, notifications: (entry.record.definition.notifications ?? []).map(presentNotification) };
    },
  );

  app.get(
    '/instances/:instanceId/manage/notifications/deliveries',
    {
      config: needs('Administrator'),
      schema: {
        operationId: 'Notifications_ListDeliveries',
        summary: 'List webhook deliveries, newest first: event, status, attempts, last error',
        tags: ['Exports'],
        params: InstanceParams,
        querystring: Type.Object({
          notification: Type.Optional(Type.String({ description: 'Only this webhook' })),
          top: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'How many (default 50)' })),
        }),
        response: { 200: Type.Object({ deliveries: Type.Array(Delivery) }, { description: 'The deliveries' }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const entry = await catalog.require(instanceId);
      const { notification, top } = request.query;
      if (notification !== undefined && !(entry.record.definition.notifications ?? []).some((n) => n.name === notification))
        throw new ApiError('NotFound', `notification '${notification}' does not exist`, 'notification');
      const deliveries = await store.notifications.listDeliveries(instanceId, notification, top ?? 50);
      return { deliveries: deliveries.map(presentDelivery) };
    },
  );
};
