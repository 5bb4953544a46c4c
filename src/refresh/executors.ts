// How a queued run is executed: in this thread (tests) or in a process of its own (the server and
// `kindred refresh`).
import type { RunRecord } from '../domain/run.js';
import type { Store } from '../storage/store.js';
import type { StageProgress } from './context.js';
import { notifyRefreshEnded } from '../notify/refresh.js';
import { REFRESH_PROCESS_FLAGS, runRefresh, type StageListener } from './pipeline.js';
import type { RefreshWorkerData, RefreshWorkerMessage, RefreshWorkerRequest } from './worker.js';
import { forkModule } from '../workers.js';

export type RefreshExecutor = (run: RunRecord, signal: AbortSignal, onProgress?: StageProgress, onStage?: StageListener) => Promise<RunRecord>;

export function inlineExecutor(store: Store): RefreshExecutor {
  return (run, signal, onProgress, onStage) => runRefresh({ store, run, signal, onProgress, onStage });
}

/**
 * Each run in a child process (worker.ts) that opens the same store: the server's event loop keeps
 * answering while unification works through millions of records, the run gets V8 flags of its own
 * (REFRESH_PROCESS_FLAGS; garbage collection settings are per process), and if it runs out of
 * memory or crashes, only the run fails.
 */
export function processExecutor(store: Store, storeConfig: RefreshWorkerData['store']): RefreshExecutor {
  return (run, signal, onProgress, onStage) =>
    new Promise<RunRecord>((resolve) => {
      const child = forkModule(new URL('./worker.js', import.meta.url), [...REFRESH_PROCESS_FLAGS]);
      const send = (m: RefreshWorkerRequest) => {
        if (child.connected) child.send(m);
      };
      let settled = false;
      const onAbort = () => send({ type: 'cancel' });
      signal.addEventListener('abort', onAbort, { once: true });
      // Whatever happens to the process, the run gets a recorded end.
      const fail = async (message: string) => {
        if (settled) return;
        settled = true;
        const endedAt = new Date().toISOString();
        await store.updateRun(run.instanceId, run.jobId, { status: 'failed', endedAt, error: message }).catch(() => {});
        const failed: RunRecord = { ...run, status: 'failed', endedAt, error: message };
        // The process could not send refreshFailed itself.
        await notifyRefreshEnded(store, failed);
        resolve(failed);
      };
      child.on('message', (m: RefreshWorkerMessage) => {
        if (m.type === 'progress') onProgress?.(m.stage as never, m.done, m.total);
        else if (m.type === 'stage') onStage?.(m.stage);
        else if (m.type === 'done') {
          settled = true;
          resolve(m.run);
        } else if (m.type === 'error') void fail(`refresh process failed: ${m.message}`);
      });
      child.on('error', (err) => void fail(`refresh process failed: ${err.message}`));
      child.on('exit', (code, sig) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) void fail(`refresh process exited with ${sig ? `signal ${sig}` : `code ${code}`}`);
      });
      send({ type: 'start', data: { store: storeConfig, run } });
      if (signal.aborted) onAbort();
    });
}
