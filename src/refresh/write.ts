// Stage 7, write: store the new generation in batches, then switch readers to it atomically.
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord } from '../domain/profile.js';
import type { GenerationWriter } from '../storage/store.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';

const BATCH = 5_000;

export interface WriteInput {
  customers: CustomerRecord[];
  sourceModified: (string | null)[];
  alternateKeys: AlternateKeyRecord[];
  activities: ActivityRecord[];
}

/** Writes everything; the caller commits (together with the run record) or aborts. */
export async function write(env: StageEnv, writer: GenerationWriter, input: WriteInput): Promise<void> {
  const total = input.customers.length + input.alternateKeys.length + input.activities.length;
  let done = 0;
  const inBatches = async <T>(rows: T[], put: (batch: T[], from: number) => Promise<void>) => {
    for (let i = 0; i < rows.length; i += BATCH) {
      throwIfCancelled(env.signal);
      const batch = rows.slice(i, i + BATCH);
      await put(batch, i);
      done += batch.length;
      env.progress('write', done, total);
      // Keep the server answering while a large generation is written.
      await yieldToEventLoop();
    }
  };
  await inBatches(input.customers, (b, from) => writer.writeCustomers(b, input.sourceModified.slice(from, from + b.length)));
  await inBatches(input.alternateKeys, (b) => writer.writeAlternateKeys(b));
  await inBatches(input.activities, (b) => writer.writeActivities(b));
  env.report.counts.customers = input.customers.length;
  env.report.counts.alternateKeys = input.alternateKeys.length;
  env.report.counts.activities = input.activities.length;
  env.report.counts.generation = writer.generation;
}
