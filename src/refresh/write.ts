// Stage write: store the new generation in batches; the commit later switches readers to it atomically.
// The stage overlaps the stages after merge: each hands its rows to the generation writer as soon
// as they exist (profiles after merge, activities after activities, …), and a store that loads a
// large generation in a thread of its own writes them while the next stage computes.
// Rows go in primary-key order: B-tree appends instead of random inserts, about twice as fast.
import { fieldSourceLegendOf } from '../domain/field-sources.js';
import type { ActivityRecord, AlternateKeyRecord, CustomerRecord } from '../domain/profile.js';
import { searchSpecOf } from '../domain/search-terms.js';
import { orderByString, permuteInPlace } from '../domain/string-order.js';
import { unifiedSchema } from '../domain/unified-schema.js';
import type { GenerationWriter } from '../storage/store.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';

export const WRITE_BATCH = 10_000;

/** The write stage's state across its parts: rows handed over so far, and the work still running. */
export class GenerationWrite {
  private done = 0;
  private total = 0;
  private t0 = performance.now();
  private readonly running: { name: string; timed: Promise<{ result: number; ms: number }> }[] = [];

  constructor(
    readonly env: StageEnv,
    readonly writer: GenerationWriter,
  ) {}

  /** More rows to come (for the progress bar). */
  expect(rows: number): void {
    this.total += rows;
  }

  /** Hands `rows` to `put` a batch at a time; `put` gets the batch and where it starts. */
  async inBatches<T>(rows: T[], put: (batch: T[], from: number) => Promise<void>): Promise<void> {
    for (let i = 0; i < rows.length; i += WRITE_BATCH) {
      throwIfCancelled(this.env.signal);
      const batch = rows.slice(i, i + WRITE_BATCH);
      await put(batch, i);
      this.done += batch.length;
      this.env.progress('write', this.done, this.total);
      // Keep the server answering while a large generation is written.
      await yieldToEventLoop();
    }
  }

  /** Records `${name}Ms`: the time since the last lap (of this part, for the parts that overlap other stages). */
  lap(name: string): void {
    const t = performance.now();
    this.env.report.counts[`${name}Ms`] = Math.round(t - this.t0);
    this.t0 = t;
  }

  restartClock(): void {
    this.t0 = performance.now();
  }

  /**
   * Work that goes on behind the caller (search terms, filter indexes): awaited by finish(), which
   * records its result as `name` and the time from handing it over to its end as `${name}Ms`.
   */
  later(name: string, work: Promise<number>): void {
    const started = performance.now();
    const timed = work.then((result) => ({ result, ms: Math.round(performance.now() - started) }));
    // Rejections are looked at in finish(); until then they must not count as unhandled.
    timed.catch(() => {});
    this.running.push({ name, timed });
  }

  /** Waits for everything handed over to be stored; throws the first failure. */
  async finish(): Promise<void> {
    await this.writer.flush();
    // In the order handed over, so that the counts read the same on every store.
    for (const { name, timed } of this.running) {
      const { result, ms } = await timed;
      this.env.report.counts[name] = result;
      this.env.report.counts[`${name}Ms`] = ms;
    }
    this.env.report.counts.generation = this.writer.generation;
  }
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** In key order: by data source and entity (a few of them), then by the value; returns the order applied. */
function sortAlternateKeys(keys: AlternateKeyRecord[]): number[] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const group = `${keys[i].DataSourceName}\u0000${keys[i].EntityName}`;
    let members = groups.get(group);
    if (!members) groups.set(group, (members = []));
    members.push(i);
  }
  const order: number[] = [];
  for (const group of [...groups.keys()].sort(byString)) {
    const members = groups.get(group)!;
    for (const k of orderByString(members.length, (m) => keys[members[m]].AlternateValue)) order.push(members[k]);
  }
  permuteInPlace(keys, order);
  return order;
}

/** ISO times of `count` last-modified times (ms since epoch, NaN: unknown) from `from` on; null for unknown. */
function isoTimes(ms: number[], from: number, count: number): (string | null)[] {
  const out: (string | null)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const t = ms[from + i];
    out[i] = Number.isNaN(t) ? null : new Date(t).toISOString();
  }
  return out;
}

export interface ProfilesInput {
  customers: CustomerRecord[];
  sourceModified: (string | null)[];
  /** Per customer: which source column each merged field came from (see merge). */
  fieldSources?: string[];
  alternateKeys: AlternateKeyRecord[];
  /** Per alternate key: its source record's last-modified time in ms since epoch, NaN when unknown (see merge). */
  alternateKeyModified?: number[];
}

/**
 * Customers (then their search terms and filter indexes) and alternate keys. The arrays are sorted
 * in place: customers (with sourceModified and fieldSources) by CustomerId, so that later writers
 * of per-customer rows (measures, enrich) append too; alternate keys (with alternateKeyModified) by their key.
 */
export async function writeProfiles(w: GenerationWrite, input: ProfilesInput): Promise<void> {
  const { env, writer } = w;
  w.restartClock();
  w.expect(input.customers.length + input.alternateKeys.length);
  const order = orderByString(input.customers.length, (i) => input.customers[i].CustomerId);
  const customers = permuteInPlace(input.customers, order);
  const modified = permuteInPlace(input.sourceModified, order);
  const sources = input.fieldSources && permuteInPlace(input.fieldSources, order);
  if (sources) await writer.setFieldSourceLegend(fieldSourceLegendOf(env.instance));
  await w.inBatches(customers, (b, from) => writer.writeCustomers(b, modified.slice(from, from + b.length), sources?.slice(from, from + b.length)));
  w.lap('customers');
  const keyOrder = sortAlternateKeys(input.alternateKeys);
  const keyModified = input.alternateKeyModified && permuteInPlace(input.alternateKeyModified, keyOrder);
  await w.inBatches(input.alternateKeys, (b, from) => writer.writeAlternateKeys(b, keyModified && isoTimes(keyModified, from, b.length)));
  w.lap('alternateKeys');
  // Customer search terms (names, emails, phones), then indexes for $filter on the attributes the
  // definition lists (filterIndex): built from the customers written, behind the caller (the next
  // stage computes meanwhile). Called with an empty list too: a store that keeps indexes across
  // generations (PostgreSQL) then drops those an earlier definition asked for.
  throwIfCancelled(env.signal);
  w.later('searchTerms', writer.buildSearchTerms(searchSpecOf(env.instance)));
  const filterIndex = env.instance.definition.filterIndex ?? [];
  const types = unifiedSchema(env.instance).customer.queryTypes;
  w.later('filterIndexes', writer.indexCustomerAttributes(filterIndex.map((name) => ({ name, type: types[name] }))));
  await writer.complete('customers');
  await writer.complete('alternateKeys');
  env.report.counts.customers = input.customers.length;
  env.report.counts.alternateKeys = input.alternateKeys.length;
}

/** Activities, sorted in place by ActivityId. */
export async function writeActivities(w: GenerationWrite, activities: ActivityRecord[]): Promise<void> {
  w.restartClock();
  w.expect(activities.length);
  permuteInPlace(
    activities,
    orderByString(activities.length, (i) => activities[i].ActivityId),
  );
  await w.inBatches(activities, (b) => w.writer.writeActivities(b));
  await w.writer.complete('activities');
  w.lap('activities');
  w.env.report.counts.activities = activities.length;
}
