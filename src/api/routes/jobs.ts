// Refresh jobs, shaped like the reference's workflow jobs.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RunRecord } from '../../domain/run.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { audited, needs } from '../route-auth.js';
import { errors, InstanceId, Nullable } from '../schemas.js';

const Job = Type.Object(
  {
    jobId: Type.String(),
    instanceId: Type.String(),
    jobStatus: Type.String({ description: 'queued | running | successful | failed | cancelled' }),
    trigger: Type.String(),
    submittedTimestamp: Type.String(),
    startTimestamp: Nullable(Type.String()),
    endTimestamp: Nullable(Type.String()),
    error: Nullable(Type.String()),
    summary: Type.Record(Type.String(), Type.Number()),
    tasks: Type.Array(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true, description: 'A refresh job with its stages' },
);

export function jobInfo(run: RunRecord) {
  return {
    jobId: run.jobId,
    instanceId: run.instanceId,
    jobStatus: run.status,
    trigger: run.trigger,
    submittedTimestamp: run.submittedAt,
    startTimestamp: run.startedAt,
    endTimestamp: run.endedAt,
    error: run.error,
    summary: run.summary,
    tasks: run.stages.map((s) => ({
      name: s.name,
      status: s.status,
      startTimestamp: s.startedAt,
      endTimestamp: s.endedAt,
      durationMs: s.durationMs,
      counts: s.counts,
      issues: s.issues,
      error: s.error,
    })),
  };
}

const WorkflowParams = Type.Object({ instanceId: InstanceId, workflowName: Type.String({ description: "The refresh workflow: 'main'" }) });
const JobParams = Type.Object({ instanceId: InstanceId, workflowName: Type.String({ description: "The refresh workflow: 'main'" }), jobId: Type.String({ description: 'Job id' }) });

export const jobRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, runner, catalog } = services;
  const instanceOr404 = (instanceId: string) => catalog.require(instanceId);
  const workflowOr404 = (name: string) => {
    if (name !== 'main') throw new ApiError('NotFound', `workflow '${name}' does not exist; the refresh workflow is 'main'`, 'workflowName');
  };

  app.post(
    '/instances/:instanceId/workflows/:workflowName/jobs',
    {
      config: { ...needs('Contributor'), ...audited('refresh.start') },
      schema: {
        operationId: 'Workflows_StartJob',
        summary: 'Start a refresh',
        tags: ['Refresh'],
        params: WorkflowParams,
        querystring: Type.Object({ operationType: Type.Optional(Type.String({ description: "Only 'all' is supported" })) }),
        response: { 202: Job, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId, workflowName } = request.params;
      workflowOr404(workflowName);
      await instanceOr404(instanceId);
      const op = request.query.operationType ?? 'all';
      if (op !== 'all') throw new ApiError('InvalidParameter', `operationType '${op}' is not supported; use 'all'`, 'operationType');
      const { run, created } = await runner.start(instanceId, 'api');
      request.auditNote = { target: run.jobId, detail: { created } };
      if (!created) throw new ApiError('Conflict', `refresh ${run.jobId} is already ${run.status} for this instance`, 'jobId');
      return reply.status(202).send(jobInfo(run));
    },
  );

  app.get(
    '/instances/:instanceId/workflows/:workflowName/jobs',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Workflows_ListJobs',
        summary: 'List recent refresh jobs, newest first',
        tags: ['Refresh'],
        params: WorkflowParams,
        response: { 200: Type.Array(Job, { description: 'Refresh jobs, newest first' }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, workflowName } = request.params;
      workflowOr404(workflowName);
      await instanceOr404(instanceId);
      return (await store.listRuns(instanceId, 50)).map(jobInfo);
    },
  );

  app.get(
    '/instances/:instanceId/workflows/:workflowName/jobs/:jobId',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Workflows_GetJob',
        summary: 'Get a refresh job with its stages',
        tags: ['Refresh'],
        params: JobParams,
        response: { 200: Job, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId, workflowName, jobId } = request.params;
      workflowOr404(workflowName);
      const run = await store.getRun(instanceId, jobId);
      if (!run) throw new ApiError('NotFound', `job '${jobId}' does not exist`, 'jobId');
      return jobInfo(run);
    },
  );

  app.post(
    '/instances/:instanceId/workflows/:workflowName/jobs/:jobId/cancel',
    {
      config: { ...needs('Contributor'), ...audited('refresh.cancel', 'jobId') },
      schema: {
        operationId: 'Workflows_CancelJob',
        summary: 'Cancel a queued or running refresh job',
        tags: ['Refresh'],
        params: JobParams,
        response: { 200: Job, ...errors(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { instanceId, workflowName, jobId } = request.params;
      workflowOr404(workflowName);
      const run = await store.getRun(instanceId, jobId);
      if (!run) throw new ApiError('NotFound', `job '${jobId}' does not exist`, 'jobId');
      if (run.status !== 'queued' && run.status !== 'running') throw new ApiError('Conflict', `job '${jobId}' has already ended (${run.status})`, 'jobId');
      if (!runner.cancel(jobId)) throw new ApiError('Conflict', `job '${jobId}' is not running in this server`, 'jobId');
      return jobInfo((await store.getRun(instanceId, jobId))!);
    },
  );
};
