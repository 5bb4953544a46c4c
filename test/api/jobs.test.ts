// Refresh jobs over HTTP (workflows/main/jobs): start, list, get, and cancel a running job; the
// cancelled run leaves the current generation as it was.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateSyntheticSources } from '../../src/synthetic/generate.js';
import { odataError, sleep, workspace, type Workspace } from './helpers.js';

/** Large enough that a refresh runs for a while (seconds), so a cancel finds it running. */
const RECORDS = 20_000;

let ws: Workspace;
let sources: string;
before(async () => {
  sources = mkdtempSync(path.join(tmpdir(), 'kindred-jobs-'));
  const generated = await generateSyntheticSources({ outDir: sources, records: RECORDS, instanceId: 'jobs' });
  ws = await workspace({ definition: generated.instanceFile });
});
after(async () => {
  await ws.close();
  rmSync(sources, { recursive: true, force: true });
});

const jobsUrl = (workflow = 'main') => ws.url(`/workflows/${workflow}/jobs`);

async function jobWhen(jobId: string, done: (status: string) => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i++) {
    const res = await ws.request('GET', `${jobsUrl()}/${jobId}`, { key: ws.keys.viewer });
    assert.equal(res.statusCode, 200, res.body);
    const job = res.json() as Record<string, unknown>;
    if (done(job.jobStatus as string)) return job;
    await sleep(50);
  }
  throw new Error(`job ${jobId} did not reach the expected status in 30 s`);
}

describe('refresh jobs', () => {
  test('start, get and list a job; a second start while it runs is 409', async () => {
    const started = await ws.request('POST', jobsUrl());
    assert.equal(started.statusCode, 202, started.body);
    const job = started.json() as { jobId: string; jobStatus: string; instanceId: string };
    assert.equal(job.instanceId, 'jobs');
    assert.ok(['queued', 'running'].includes(job.jobStatus), job.jobStatus);
    odataError(await ws.request('POST', jobsUrl()), 409, { target: 'jobId', message: new RegExp(job.jobId) });
    const ended = await jobWhen(job.jobId, (s) => s !== 'queued' && s !== 'running');
    assert.equal(ended.jobStatus, 'successful', JSON.stringify(ended.error));
    // Successful once the generation is committed (the export stage may still be reporting).
    const tasks = Object.fromEntries((ended.tasks as { name: string; status: string }[]).map((t) => [t.name, t.status]));
    for (const name of ['pull', 'dedupe', 'match', 'merge', 'write']) assert.equal(tasks[name], 'successful', JSON.stringify(tasks));
    const list = await ws.request('GET', jobsUrl(), { key: ws.keys.viewer });
    assert.equal(list.statusCode, 200);
    assert.equal((list.json() as { jobId: string }[])[0].jobId, job.jobId);
  });

  test('cancel a running job: 200, then the job ends cancelled and the data stays as the last refresh left it', async () => {
    const before = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $count: 'true', $top: '1', $select: 'CustomerId' } });
    assert.equal(before.statusCode, 200, before.body);
    const countBefore = before.json()['@odata.count'] as number;
    assert.ok(countBefore > 0);

    const started = await ws.request('POST', jobsUrl());
    assert.equal(started.statusCode, 202, started.body);
    const { jobId } = started.json() as { jobId: string };
    const cancel = await ws.request('POST', `${jobsUrl()}/${jobId}/cancel`);
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.equal((cancel.json() as { jobId: string }).jobId, jobId);
    const ended = await jobWhen(jobId, (s) => s !== 'queued' && s !== 'running');
    assert.equal(ended.jobStatus, 'cancelled');

    const after = await ws.request('GET', ws.url('/data/Customer'), { key: ws.keys.viewer, query: { $count: 'true', $top: '1', $select: 'CustomerId' } });
    assert.equal(after.json()['@odata.count'], countBefore);
    // Cancelling it again: it has ended.
    odataError(await ws.request('POST', `${jobsUrl()}/${jobId}/cancel`), 409, { target: 'jobId', message: /already ended \(cancelled\)/ });
    // Nothing is left running: a new job starts.
    const next = await ws.request('POST', jobsUrl());
    assert.equal(next.statusCode, 202, next.body);
    await jobWhen((next.json() as { jobId: string }).jobId, (s) => s !== 'queued' && s !== 'running');
  });

  test('unknown job, unknown workflow, and a Viewer: clear refusals', async () => {
    odataError(await ws.request('GET', `${jobsUrl()}/no-such-job`, { key: ws.keys.viewer }), 404, { target: 'jobId' });
    odataError(await ws.request('POST', `${jobsUrl()}/no-such-job/cancel`), 404, { target: 'jobId' });
    const workflow = await ws.request('POST', jobsUrl('nightly'));
    assert.equal(workflow.statusCode, 404, workflow.body);
    assert.match(workflow.json().error.message, /nightly/);
    assert.equal((await ws.request('POST', jobsUrl(), { key: ws.keys.viewer })).statusCode, 403);
  });
});
