// Stage 7, write: store the new generation in batches, then switch readers to it atomically.
// Rows go in primary-key order: B-tree appends instead of random inserts, about twice as fast.
import { fieldSourceLegendOf } from '../domain/field-sources.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord } from '../domain/profile.js';
import { searchSpecOf } from '../domain/search-terms.js';
import { unifiedSchema } from '../domain/unified-schema.js';
import type { GenerationWriter } from '../storage/store.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';

const BATCH = 10_000;

/** The arrays are sorted in place: customers (with sourceModified and fieldSources) by CustomerId, the others by primary key. */
export interface WriteInput {
  customers: CustomerRecord[];
  sourceModified: (string | null)[];
  /** Per customer: which source column each merged field came from (see merge). */
  fieldSources?: string[];
  alternateKeys: AlternateKeyRecord[];
  activities: ActivityRecord[];
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
  let t0 = performance.now();
  const lap = (name: string) => {
    const t = performance.now();
    env.report.counts[`${name}Ms`] = Math.round(t - t0);
    t0 = t;
  };
  // Sorted in place (with their parallel arrays): later writers of per-customer rows (enrich) append too.
  const order = input.customers.map((_, i) => i).sort((a, b) => byString(input.customers[a].CustomerId, input.customers[b].CustomerId));
  const permute = <T>(rows: T[]) => {
    const copy = rows.slice();
    for (let k = 0; k < order.length; k++) rows[k] = copy[order[k]];
    return rows;
  };
  const customers = permute(input.customers);
  const modified = permute(input.sourceModified);
  const sources = input.fieldSources && permute(input.fieldSources);
  if (sources) await writer.setFieldSourceLegend(fieldSourceLegendOf(env.instance));
  await inBatches(customers, (b, from) => writer.writeCustomers(b, modified.slice(from, from + b.length), sources?.slice(from, from + b.length)));
  lap('customers');
  input.alternateKeys.sort(
    (a, b) => byString(a.DataSourceName, b.DataSourceName) || byString(a.EntityName, b.EntityName) || byString(a.AlternateValue, b.AlternateValue),
  );
  await inBatches(input.alternateKeys, (b) => writer.writeAlternateKeys(b));
  lap('alternateKeys');
  input.activities.sort((a, b) => byString(a.ActivityId, b.ActivityId));
  await inBatches(input.activities, (b) => writer.writeActivities(b));
  lap('activities');
  // Customer search terms (names, emails, phones) of the new generation, in one sorted insert.
  throwIfCancelled(env.signal);
  env.report.counts.searchTerms = await writer.buildSearchTerms(searchSpecOf(env.instance));
  lap('searchTerms');
  // Indexes for $filter on the attributes the definition lists (filterIndex).
  // Called with an empty list too: a store that keeps indexes across generations (PostgreSQL) then
  // drops those an earlier definition asked for.
  const filterIndex = env.instance.definition.filterIndex ?? [];
  throwIfCancelled(env.signal);
  const types = unifiedSchema(env.instance).customer.queryTypes;
  await writer.indexCustomerAttributes(filterIndex.map((name) => ({ name, type: types[name] })));
  if (filterIndex.length) lap('filterIndex');
  env.report.counts.customers = input.customers.length;
  env.report.counts.alternateKeys = input.alternateKeys.length;
  env.report.counts.activities = input.activities.length;
  env.report.counts.generation = writer.generation;
}
