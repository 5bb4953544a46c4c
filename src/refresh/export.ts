// Stage export: after the generation is committed, every export that runs after a refresh
// (afterRefresh, default true) reads it and writes its target. A failed export does not undo the
// refresh: the stage records it (issues, counts) and its run says why.
import { runExport } from '../exports/run.js';
import type { Store } from '../storage/store.js';
import type { StageEnv } from './context.js';

export interface ExportStageInput {
  store: Store;
  jobId: string;
}

export async function exportAfterRefresh(env: StageEnv, input: ExportStageInput): Promise<void> {
  const { counts, issues } = env.report;
  counts.exports = 0;
  counts.successful = 0;
  counts.failed = 0;
  counts.rows = 0;
  const instance = await input.store.getInstance(env.instance.id);
  if (!instance) throw new Error(`instance '${env.instance.id}' does not exist`);
  const defs = (instance.definition.exports ?? []).filter((x) => x.afterRefresh !== false);
  for (let i = 0; i < defs.length; i++) {
    if (env.signal.aborted) {
      issues.add('cancelled before every export ran', defs[i].name);
      break;
    }
    const run = await runExport({ store: input.store, instance, def: defs[i], trigger: 'refresh', jobId: input.jobId, signal: env.signal });
    counts.exports++;
    counts.rows += run.rows;
    if (run.status === 'successful') counts.successful++;
    else {
      counts.failed++;
      issues.add(`export failed`, `${run.exportName}: ${run.error}`);
    }
    env.progress('export', i + 1, defs.length);
  }
}
