// After a refresh ends: refreshSucceeded / refreshFailed webhooks, then threshold crossings of
// segment sizes and business measures. Never fails the refresh: each delivery records its own fate.
import type { RunRecord } from '../domain/run.js';
import type { Store } from '../storage/store.js';
import { Notifier, thresholdValues } from './notifier.js';

export async function notifyRefreshEnded(store: Store, run: RunRecord, signal?: AbortSignal, log?: (message: string) => void): Promise<void> {
  try {
    const instance = await store.getInstance(run.instanceId);
    if (!instance?.definition.notifications?.length) return;
    const notifier = new Notifier(store);
    await notifier.refreshEnded(instance, run, signal);
    if (run.status === 'successful') await notifier.thresholds(instance, await thresholdValues(store, instance), run.jobId, signal);
  } catch (err) {
    log?.(`notifications of run ${run.jobId}: ${(err as Error).message}`);
  }
}
