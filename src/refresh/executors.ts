// How a queued run is executed: in this thread (CLI, tests) or in a worker thread (the server).
import type { Worker } from 'node:worker_threads';
import type { RunRecord } from '../domain/run.js';
import type { Store } from '../storage/store.js';
import type { StageProgress } from './context.js';
import { notifyRefreshEnded } from '../notify/refresh.js';
import { REFRESH_INITIAL_OLD_GENERATION_MIB, REFRESH_SEMI_SPACE_MIB, REFRESH_YOUNG_GENERATION_MIB, runRefresh, type StageListener } from './pipeline.js';
import type { RefreshWorkerData, RefreshWorkerMessage } from './worker.js';
import { startModuleWorkerWithHeap } from '../workers.js';

export type RefreshExecutor = (run: RunRecord, signal: AbortSignal, onProgress?: StageProgress, onStage?: StageListener) => Promise<RunRecord>;

export function inlineExecutor(store: Store): RefreshExecutor {
  return (run, signal, onProgress, onStage) => runRefresh({ store, run, signal, onProgress, onStage });
}

function startWorker(workerData: RefreshWorkerData): Worker {
  return startModuleWorkerWithHeap(
    new URL('./worker.js', import.meta.url),
    workerData,
    { maxYoungGenerationSizeMb: REFRESH_YOUNG_GENERATION_MIB },
    { initialOldSpaceMiB: REFRESH_INITIAL_OLD_GENERATION_MIB, minSemiSpaceMiB: REFRESH_SEMI_SPACE_MIB },
  );
}

export function workerExecutor(store: Store, storeConfig: RefreshWorkerData['store']): RefreshExecutor {
  return (run, signal, onProgress, onStage) =>
    new Promise<RunRecord>((resolve) => {
      const worker = startWorker({ store: storeConfig, run });
      let settled = false;
      const onAbort = () => worker.postMessage({ type: 'cancel' });
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      // Whatever happens to the worker, the run gets a recorded end.
      const fail = async (message: string) => {
        if (settled) return;
        settled = true;
        const endedAt = new Date().toISOString();
        await store.updateRun(run.instanceId, run.jobId, { status: 'failed', endedAt, error: message }).catch(() => {});
        const failed: RunRecord = { ...run, status: 'failed', endedAt, error: message };
        // The worker could not send refreshFailed itself.
        await notifyRefreshEnded(store, failed);
        resolve(failed);
      };
      worker.on('message', (m: RefreshWorkerMessage) => {
        if (m.type === 'progress') onProgress?.(m.stage as never, m.done, m.total);
        else if (m.type === 'stage') onStage?.(m.stage);
        else if (m.type === 'done') {
          settled = true;
          resolve(m.run);
        } else if (m.type === 'error') void fail(`refresh worker failed: ${m.message}`);
      });
      worker.on('error', (err) => void fail(`refresh worker failed: ${err.message}`));
      worker.on('exit', (code) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) void fail(`refresh worker exited with code ${code}`);
      });
    });
}
