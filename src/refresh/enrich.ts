// Stage enrich: phone numbers, email domains, names, postal codes and countries of every unified
// profile, written into the generation being built (readers switch to them with its commit; a
// failed refresh changes nothing). Pure functions with a cache per distinct value: no network.
import { Enricher, enrichmentPlan } from '../domain/enrich.js';
import type { CustomerRecord } from '../domain/profile.js';
import type { Store } from '../storage/store.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';

const BATCH = 10_000;

export interface EnrichInput {
  store: Store;
  generation: number;
  customers: CustomerRecord[];
}

export async function enrich(env: StageEnv, input: EnrichInput): Promise<void> {
  const plan = enrichmentPlan(env.instance);
  const enricher = new Enricher(plan);
  const { customers } = input;
  let computeMs = 0;
  let writeMs = 0;
  for (let i = 0; i < customers.length; i += BATCH) {
    throwIfCancelled(env.signal);
    const end = Math.min(i + BATCH, customers.length);
    const rows = new Array(end - i);
    const t0 = performance.now();
    for (let j = i; j < end; j++) rows[j - i] = enricher.enrich(customers[j]);
    const t1 = performance.now();
    await input.store.enrichment.write(env.instance.id, input.generation, rows);
    computeMs += t1 - t0;
    writeMs += performance.now() - t1;
    env.progress('enrich', end, customers.length);
    await yieldToEventLoop();
  }
  env.report.counts.computeMs = Math.round(computeMs);
  env.report.counts.writeMs = Math.round(writeMs);
  const counts = enricher.counts;
  env.report.counts.profiles = counts.profiles;
  env.report.counts.fields = plan.inputs.length;
  env.report.counts.values = counts.values;
  env.report.counts.unrecognized = counts.invalid;
  env.report.counts.cacheHits = counts.cacheHits;
  if (!plan.enabled) env.report.issues.add('enrichment is disabled in the definition (enrichment.enabled: false)');
  else if (!plan.inputs.length)
    env.report.issues.add('no field to enrich: give fields in enrichment (phone, email, name, postalCode, country) or semantic types to the source columns');
  for (const input of plan.inputs) {
    if (!env.instance.mergeFields.some((f) => f.name === input.field)) env.report.issues.add(`enrichment field '${input.field}' is not a unified field`);
  }
}
