// Exports outside a refresh: started by hand (API) or on each export's own cron schedule. One run
// at a time per export; runs started here can be cancelled by closing the service.
import { Cron } from 'croner';
import type { ExportDef } from '../config/outputs.js';
import type { ExportRunRecord } from '../storage/exports.js';
import type { InstanceRecord, Store } from '../storage/store.js';
import { runExport } from './run.js';

export class ExportAlreadyRunning extends Error {
  constructor(readonly runId: string) {
    super(`export run ${runId} is still running`);
  }
}

export class ExportService {
  private readonly running = new Map<string, { runId: string | null; done: Promise<ExportRunRecord> }>();
  private readonly schedules = new Map<string, Map<string, Cron>>();
  private readonly controller = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly log?: (message: string) => void,
  ) {}

  /** Starts a run; resolves once it is recorded, with the record (status running) and its end. */
  async start(instance: InstanceRecord, def: ExportDef, trigger: 'manual' | 'schedule'): Promise<{ run: ExportRunRecord; done: Promise<ExportRunRecord> }> {
    // The generation to export is the one current now (callers may hold an older record).
    instance = (await this.store.getInstance(instance.id)) ?? instance;
    const key = `${instance.id}\u0000${def.name}`;
    const active = this.running.get(key);
    if (active) throw new ExportAlreadyRunning(active.runId ?? '(starting)');
    let started!: (run: ExportRunRecord) => void;
    const recorded = new Promise<ExportRunRecord>((resolve) => (started = resolve));
    const entry: { runId: string | null; done: Promise<ExportRunRecord> } = { runId: null, done: Promise.resolve(null as never) };
    this.running.set(key, entry);
    entry.done = runExport({
      store: this.store,
      instance,
      def,
      trigger,
      signal: this.controller.signal,
      onStart: (run) => {
        entry.runId = run.runId;
        started(run);
      },
    }).finally(() => this.running.delete(key));
    // Callers may not wait for the end: a failure to record it must not go unhandled.
    entry.done.catch((err) => this.log?.(`export ${instance.id}/${def.name}: ${(err as Error).message}`));
    // A failure before the run is recorded (the store refusing it) surfaces to the caller.
    const run = await Promise.race([recorded, entry.done.then((r) => r)]);
    return { run, done: entry.done };
  }

  /** (Re)installs the cron schedules of an instance's exports. */
  schedule(instance: InstanceRecord): void {
    for (const c of this.schedules.get(instance.id)?.values() ?? []) c.stop();
    this.schedules.delete(instance.id);
    const jobs = new Map<string, Cron>();
    for (const def of instance.definition.exports ?? []) {
      if (!def.schedule) continue;
      jobs.set(
        def.name,
        new Cron(def.schedule.cron, { timezone: def.schedule.timezone, protect: true }, async () => {
          try {
            // The definition may have changed since the schedule was installed: read it now.
            const current = await this.store.getInstance(instance.id);
            const now = current?.definition.exports?.find((x) => x.name === def.name);
            if (!current || !now) return;
            const { done } = await this.start(current, now, 'schedule');
            const run = await done;
            if (run.status !== 'successful') this.log?.(`export ${instance.id}/${def.name} failed: ${run.error}`);
          } catch (err) {
            this.log?.(`scheduled export ${instance.id}/${def.name}: ${(err as Error).message}`);
          }
        }),
      );
    }
    if (jobs.size) this.schedules.set(instance.id, jobs);
  }

  nextScheduled(instanceId: string, exportName: string): Date | null {
    return this.schedules.get(instanceId)?.get(exportName)?.nextRun() ?? null;
  }

  async close(): Promise<void> {
    for (const jobs of this.schedules.values()) for (const c of jobs.values()) c.stop();
    this.schedules.clear();
    this.controller.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }
}
