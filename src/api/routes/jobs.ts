// Refresh jobs, shaped like the reference's workflow jobs.
import type { FastifyPluginAsync } from 'fastify';
import type { RunRecord } from '../../domain/run.js';
import type { Services } from '../../services.js';
import { authorize } from '../auth.js';
import { ApiError } from '../errors.js';

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

type Params = { instanceId: string; workflowName: string; jobId: string };

export const jobRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const { store, runner } = services;
  const instanceOr404 = async (instanceId: string) => {
    if (!(await store.getInstance(instanceId))) throw new ApiError('NotFound', `instance '${instanceId}' does not exist`, 'instanceId');
  };
  const workflowOr404 = (name: string) => {
    if (name !== 'main') throw new ApiError('NotFound', `workflow '${name}' does not exist; the refresh workflow is 'main'`, 'workflowName');
  };

  app.post<{ Params: Params; Querystring: { operationType?: string } }>('/instances/:instanceId/workflows/:workflowName/jobs', async (request, reply) => {
    const { instanceId, workflowName } = request.params;
    await authorize(store, request, instanceId, 'Contributor');
    workflowOr404(workflowName);
    await instanceOr404(instanceId);
    const op = request.query.operationType ?? 'all';
    if (op !== 'all') throw new ApiError('InvalidParameter', `operationType '${op}' is not supported; use 'all'`, 'operationType');
    const { run, created } = await runner.start(instanceId, 'api');
    return reply.status(created ? 202 : 409).send(
      created ? jobInfo(run) : new ApiError('Conflict', `refresh ${run.jobId} is already ${run.status} for this instance`, 'jobId').toBody(),
    );
  });

  app.get<{ Params: Params; Querystring: { top?: number } }>('/instances/:instanceId/workflows/:workflowName/jobs', async (request) => {
    const { instanceId, workflowName } = request.params;
    await authorize(store, request, instanceId, 'Viewer');
    workflowOr404(workflowName);
    await instanceOr404(instanceId);
    return (await store.listRuns(instanceId, 50)).map(jobInfo);
  });

  app.get<{ Params: Params }>('/instances/:instanceId/workflows/:workflowName/jobs/:jobId', async (request) => {
    const { instanceId, workflowName, jobId } = request.params;
    await authorize(store, request, instanceId, 'Viewer');
    workflowOr404(workflowName);
    const run = await store.getRun(instanceId, jobId);
    if (!run) throw new ApiError('NotFound', `job '${jobId}' does not exist`, 'jobId');
    return jobInfo(run);
  });

  app.post<{ Params: Params }>('/instances/:instanceId/workflows/:workflowName/jobs/:jobId/cancel', async (request) => {
    const { instanceId, workflowName, jobId } = request.params;
    await authorize(store, request, instanceId, 'Contributor');
    workflowOr404(workflowName);
    const run = await store.getRun(instanceId, jobId);
    if (!run) throw new ApiError('NotFound', `job '${jobId}' does not exist`, 'jobId');
    if (run.status !== 'queued' && run.status !== 'running')
      throw new ApiError('Conflict', `job '${jobId}' has already ended (${run.status})`, 'jobId');
    if (!runner.cancel(jobId)) throw new ApiError('Conflict', `job '${jobId}' is not running in this server`, 'jobId');
    return jobInfo((await store.getRun(instanceId, jobId))!);
  });
};
