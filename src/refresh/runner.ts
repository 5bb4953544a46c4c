// Starts refreshes: by hand, from the API, or on each instance's cron schedule. One run at a
// time per instance (the store refuses a second active run); running jobs can be cancelled.
import { Cron } from 'croner';
import type { RunRecord } from '../domain/run.js';
import type { Store } from '../storage/store.js';
import type { StageProgress } from './context.js';
import { inlineExecutor, type RefreshExecutor } from './executors.js';

export interface RefreshRunnerOptions {
  store: Store;
  /** Where runs execute; default: in this thread. */
  execute?: RefreshExecutor;
  onProgress?: (run: RunRecord) => StageProgress | undefined;
  log?: (message: string) => void;
}

export class RefreshRunner {
  private readonly controllers = new Map<string, AbortController>();
  private readonly running = new Map<string, Promise<RunRecord>>();
  private readonly schedules = new Map<string, Cron>();

  constructor(private readonly options: RefreshRunnerOptions) {}

  /** Queues a run and starts it; when one is already active, returns that one (created: false). */
  async start(instanceId: string, trigger: RunRecord['trigger']): Promise<{ run: RunRecord; created: boolean; done: Promise<RunRecord> }> {
    const { run, created } = await this.options.store.createRun(instanceId, trigger);
    if (!created) return { run, created, done: this.running.get(run.jobId) ?? Promise.resolve(run) };
    const controller = new AbortController();
    this.controllers.set(run.jobId, controller);
    const execute = this.options.execute ?? inlineExecutor(this.options.store);
    const done = execute(run, controller.signal, this.options.onProgress?.(run)).finally(() => {
      this.controllers.delete(run.jobId);
      this.running.delete(run.jobId);
    });
    this.running.set(run.jobId, done);
    return { run, created, done };
  }

  /** Cancels a queued or running job of this process. Returns false when it is not active here. */
  cancel(jobId: string): boolean {
    const c = this.controllers.get(jobId);
    if (!c) return false;
    c.abort();
    return true;
  }

  /** (Re)installs the cron schedule of an instance; no schedule removes it. */
  schedule(instanceId: string, cron: string | undefined, timezone?: string): void {
    this.schedules.get(instanceId)?.stop();
    this.schedules.delete(instanceId);
    if (!cron) return;
    const job = new Cron(cron, { timezone, protect: true }, async () => {
      try {
        const { created, run } = await this.start(instanceId, 'schedule');
        if (!created) this.options.log?.(`schedule of ${instanceId}: run ${run.jobId} still active, skipped`);
      } catch (err) {
        this.options.log?.(`schedule of ${instanceId} failed to start: ${(err as Error).message}`);
      }
    });
    this.schedules.set(instanceId, job);
  }

  nextScheduled(instanceId: string): Date | null {
    return this.schedules.get(instanceId)?.nextRun() ?? null;
  }

  /** Stops schedules and cancels running jobs, waiting for them to record their end. */
  async close(): Promise<void> {
    for (const s of this.schedules.values()) s.stop();
    this.schedules.clear();
    for (const c of this.controllers.values()) c.abort();
    await Promise.allSettled([...this.running.values()]);
  }
}
