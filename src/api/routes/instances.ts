import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import type { InstanceRecord } from '../../storage/store.js';
import { ApiError } from '../errors.js';
import { parseInstanceDefinition } from '../../config/load.js';
import { formatPath, InstanceDefinitionError } from '../../config/errors.js';
import { audited, needs } from '../route-auth.js';
import { canSeeInstance } from '../tokens.js';
import { AnyRecord, errors, InstanceParams, Nullable } from '../schemas.js';

const InstanceInfo = Type.Object(
  {
    instanceId: Type.String(),
    name: Type.String(),
    description: Nullable(Type.String()),
    createdTime: Type.String(),
    lastModifiedTime: Type.String(),
    currentGeneration: Nullable(Type.Integer()),
    schedule: Nullable(
      Type.Object({
        cron: Type.String({ description: 'Cron expression of the scheduled refresh' }),
        timezone: Nullable(Type.String()),
        nextRun: Nullable(Type.String({ description: 'When the next scheduled refresh starts (ISO), if this server runs the schedule' })),
      }),
      { description: 'The refresh schedule, or null when refreshes run only on demand' },
    ),
  },
  { description: 'An instance' },
);

export function instanceInfo(i: InstanceRecord, nextRun: Date | null = null) {
  const schedule = i.definition.schedule;
  return {
    instanceId: i.id,
    name: i.name,
    description: i.definition.description ?? null,
    createdTime: i.createdAt,
    lastModifiedTime: i.updatedAt,
    currentGeneration: i.currentGeneration,
    schedule: schedule ? { cron: schedule.cron, timezone: schedule.timezone ?? null, nextRun: nextRun?.toISOString() ?? null } : null,
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
      return all.filter((i) => canSeeInstance(key, i.id)).map((i) => instanceInfo(i, services.runner.nextScheduled(i.id)));
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
      return instanceInfo(instance, services.runner.nextScheduled(instanceId));
    },
  );
  app.put(
    '/instances/:instanceId',
    {
      config: { ...needs('Administrator', 'server'), ...audited('instance.apply', 'instanceId') },
      schema: {
        operationId: 'Instances_CreateOrUpdate',
        summary: 'Create or replace an instance from its definition (JSON; a server Administrator)',
        description:
          'The body is the instance definition as `kindred instance apply` reads it, in JSON. Relative data source paths resolve against the directory of the definition applied before, or the data directory for a new instance.',
        tags: ['Instances'],
        params: InstanceParams,
        body: AnyRecord,
        response: { 200: InstanceInfo, 201: InstanceInfo, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { instanceId } = request.params;
      const body = { ...request.body } as Record<string, unknown>;
      if (body.id === undefined) body.id = instanceId;
      else if (body.id !== instanceId) throw new ApiError('InvalidParameter', `the definition's id '${String(body.id)}' differs from the path's '${instanceId}'`, 'id');
      const source = `PUT /api/instances/${instanceId}`;
      let definition;
      try {
        ({ definition } = parseInstanceDefinition(JSON.stringify(body), source));
      } catch (err) {
        if (!(err instanceof InstanceDefinitionError)) throw err;
        // Lines of the re-serialised JSON mean nothing to the caller: name the path only.
        const details = err.problems.map((p) => ({ code: 'InvalidParameter', message: `${formatPath(p.path)}: ${p.message}`, target: formatPath(p.path) }));
        const first = details[0];
        throw new ApiError(
          'InvalidParameter',
          details.length === 1 ? `invalid instance definition: ${first.message}` : `invalid instance definition (${details.length} problems): ${details.map((d) => d.message).join('; ')}`,
          first?.target,
          details,
        );
      }
      const existing = await store.getInstance(instanceId);
      const result = await store.putInstance({
        id: instanceId,
        name: definition.name ?? instanceId,
        definition,
        sourceFile: source,
        baseDir: existing?.baseDir ?? services.dataDir,
      });
      services.catalog.invalidate(instanceId);
      const stored = (await store.getInstance(instanceId))!;
      // This node at once; the others when they hear of the change (services.followSchedules).
      services.schedule(stored);
      request.auditNote = { target: instanceId, detail: { result } };
      return reply.status(result === 'created' ? 201 : 200).send(instanceInfo(stored));
    },
  );
};
