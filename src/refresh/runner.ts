// Starts refreshes: by hand, from the API, or on each instance's cron schedule. One run at a
// time per instance across every process on the database: the process that executes a run holds
// the instance's refresh claim (Store.claimRefresh) from before the run is created until it ended,
// and the store refuses a second active run. Running jobs can be cancelled.
import { setTimeout as sleep } from 'node:timers/promises';
import { Cron } from 'croner';
import type { RunRecord } from '../domain/run.js';
import type { RefreshClaim, Store } from '../storage/store.js';
import type { StageProgress } from './context.js';
import { inlineExecutor, type RefreshExecutor } from './executors.js';

export interface RefreshRunnerOptions {
  store: Store;
  /** Where runs execute; default: in this thread. */
  execute?: RefreshExecutor;
  onProgress?: (run: RunRecord) => StageProgress | undefined;
  log?: (message: string) => void;
}

/** How long a start waits for the process holding an instance's claim to show its run (or let go). */
const CLAIM_RETRY_MS = 50;
const CLAIM_ATTEMPTS = 200;
/** Timers of several nodes fire a little apart: a slot is the cron time at most this long after the timer fired. */
const SLOT_TOLERANCE_MS = 500;

export class RefreshRunner {
  private readonly controllers = new Map<string, AbortController>();
  private readonly running = new Map<string, Promise<RunRecord>>();
  private readonly schedules = new Map<string, Cron>();

  constructor(private readonly options: RefreshRunnerOptions) {}

  /**
   * Queues a run and starts it; when one is already active (in this process or another), returns
   * that one (created: false). A scheduled start names its slot, which runs once across processes.
   */
  async start(
    instanceId: string,
    trigger: RunRecord['trigger'],
    options: { scheduledFor?: string } = {},
  ): Promise<{ run: RunRecord; created: boolean; done: Promise<RunRecord> }> {
    const active = (run: RunRecord) => ({ run, created: false, done: this.running.get(run.jobId) ?? Promise.resolve(run) });
    const claim = await this.claim(instanceId);
    if ('run' in claim) return active(claim.run);
    let created: { run: RunRecord; created: boolean };
    try {
      created = await this.options.store.createRun(instanceId, trigger, options);
    } catch (err) {
      await claim.release();
      throw err;
    }
    const { run } = created;
    if (!created.created) {
      await claim.release();
      return active(run);
    }
    const controller = new AbortController();
    this.controllers.set(run.jobId, controller);
    const execute = this.options.execute ?? inlineExecutor(this.options.store);
    const done = execute(run, controller.signal, this.options.onProgress?.(run)).finally(async () => {
      this.controllers.delete(run.jobId);
      this.running.delete(run.jobId);
      await claim.release();
    });
    this.running.set(run.jobId, done);
    return { run, created: true, done };
  }

  /** The instance's refresh claim, or the active run of whoever holds it. */
  private async claim(instanceId: string): Promise<RefreshClaim | { run: RunRecord }> {
    const { store } = this.options;
    for (let attempt = 0; ; attempt++) {
      const claim = await store.claimRefresh(instanceId);
      if (claim) return claim;
      const run = await store.activeRun(instanceId);
      if (run) return { run };
      // The holder is between claiming and creating its run, or has just recorded the run's end.
      if (attempt === CLAIM_ATTEMPTS) throw new Error(`the refresh of '${instanceId}' is claimed by another process that shows no run`);
      await sleep(CLAIM_RETRY_MS);
    }
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
    const job = new Cron(cron, { timezone, protect: true }, async (self) => {
      try {
        // Every node computes the same slot (clocks in sync), and the store runs a slot once.
        const slot = self.previousRuns(1, new Date(Date.now() + SLOT_TOLERANCE_MS))[0] ?? new Date();
        const { created, run } = await this.start(instanceId, 'schedule', { scheduledFor: slot.toISOString() });
        if (!created) this.options.log?.(`schedule of ${instanceId}: run ${run.jobId} is active or ran this slot, skipped`);
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
