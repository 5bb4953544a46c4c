// The enrich stage's computation: in a worker thread or in this one, the same stored rows as the
// Enricher gives profile by profile, in CustomerId order; a failing worker fails with a clear
// message, a cancelled refresh stops it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveInstance } from '../../src/config/resolve.js';
import { decodeEnrichments, encodedRowCount, ENRICHMENT_BATCH, type EncodedEnrichments } from '../../src/domain/enrich-batch.js';
import { Enricher, enrichmentPlan, type EnrichmentPlan } from '../../src/domain/enrich.js';
import type { CustomerRecord } from '../../src/domain/profile.js';
import { RefreshCancelled } from '../../src/refresh/context.js';
import { startEnrich, type PendingEnrichment } from '../../src/refresh/enrich.js';
import { enrichDefinition } from '../domain/enrich-definition.js';

const plan = enrichmentPlan(resolveInstance(enrichDefinition(), '/tmp'));

/** Profiles with repeated, absent, odd (non-ASCII, numeric, falsy) and invalid values, ids not in order. */
function profiles(n: number): CustomerRecord[] {
  const names = ['Ms Jane Q. Public', 'Zoë Ångström', 'Dr. Hiro Tanaka Jr.', '', null, 'Lone \ud800 Surrogate', 'Emoji 😀 Pair'];
  const tels = ['(415) 555-2671', '+1 415 555 2671', '+33 6 12 34 56 78', 'call me', '030 901820', null];
  const countries = ['United Kingdom', 'DE', 'us', 0, '', null];
  const out: CustomerRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      CustomerId: `id-${(i * 7919) % n}-${'ßx'[i % 2]}`,
      Name: names[i % names.length],
      Mail: i % 9 ? `p${i}@${['gmail.com', 'mailinator.com', 'acme.io'][i % 3]}` : 'not-an-email',
      Tel: tels[i % tels.length] ?? (i % 11 === 0 ? 4155552671 : null),
      Zip: [`${10000 + (i % 500)}`, 'sw1a1aa', '2134', ''][i % 4],
      Country: countries[i % countries.length],
    });
  }
  return out;
}

/** The batches a sink gets, in the order it gets them. */
function collect(pending: PendingEnrichment): EncodedEnrichments[] {
  const batches: EncodedEnrichments[] = [];
  pending.writeTo(async (b) => void batches.push(b));
  return batches;
}

async function rowsOf(pending: PendingEnrichment): Promise<[string, string][]> {
  const batches = collect(pending);
  await pending.finished();
  return batches.flatMap((b) => [...decodeEnrichments(b)]);
}

test('in a worker thread and in this one: the Enricher’s records, as JSON, in CustomerId order', async () => {
  const customers = profiles(2 * ENRICHMENT_BATCH + 17);
  customers[0].CustomerId = '\ufeffa BOM first';
  const enricher = new Enricher(plan);
  const expected = customers
    .map((c) => enricher.enrich(c))
    .sort((a, b) => (a.CustomerId < b.CustomerId ? -1 : 1))
    .map((r): [string, string] => [r.CustomerId, JSON.stringify(r)]);
  const signal = new AbortController().signal;
  const inline = startEnrich({ signal, plan, customers, worker: false });
  const worker = startEnrich({ signal, plan, customers, worker: true });
  assert.equal(inline.inWorker, false);
  assert.equal(worker.inWorker, true);
  assert.deepEqual(await rowsOf(inline), expected);
  assert.deepEqual(await rowsOf(worker), expected);
  const counts = (await worker.finished()).counts;
  assert.deepEqual(counts, enricher.counts);
  assert.equal(worker.computed(), customers.length);
});

test('from a worker, each batch goes to the sink as it arrives; batches that came before the sink are handed over when it is given', async () => {
  const customers = profiles(5 * ENRICHMENT_BATCH);
  const pending = startEnrich({ signal: new AbortController().signal, plan, customers, worker: true });
  // Give the sink only once some batches are here.
  while (pending.computed() < 2 * ENRICHMENT_BATCH) await new Promise((r) => setTimeout(r, 5));
  const got: { rows: number; computedThen: number }[] = [];
  pending.writeTo(async (b) => void got.push({ rows: encodedRowCount(b), computedThen: pending.computed() }));
  assert.ok(got.length >= 2, `the ${got.length} early batches are handed over at once`);
  await pending.finished();
  assert.deepEqual(
    got.map((g) => g.rows),
    [1, 2, 3, 4, 5].map(() => ENRICHMENT_BATCH),
  );
  const late = got.slice(2);
  assert.ok(
    late.some((g) => g.computedThen < customers.length),
    'some batch reached the sink before the last one was computed: ' + JSON.stringify(got.map((g) => g.computedThen)),
  );
});

test('a failing sink fails the enrichment; without a sink it says so', async () => {
  const failingSink = startEnrich({ signal: new AbortController().signal, plan, customers: profiles(100), worker: true });
  failingSink.writeTo(async () => {
    throw new Error('disk full');
  });
  await assert.rejects(failingSink.finished(), /^Error: disk full$/);
  const inline = startEnrich({ signal: new AbortController().signal, plan, customers: profiles(100), worker: false });
  inline.writeTo(async () => {
    throw new Error('disk full');
  });
  await assert.rejects(inline.finished(), /^Error: disk full$/);
  const noSink = startEnrich({ signal: new AbortController().signal, plan, customers: profiles(100), worker: true });
  await assert.rejects(noSink.finished(), /nothing was given to write them to/);
});

test('a failing worker fails with a clear message; a cancelled refresh stops the worker', async () => {
  const broken = { ...plan, inputs: [{ kind: 'no-such-kind', field: 'Name', attributes: ['X'] }] } as unknown as EnrichmentPlan;
  const failing = startEnrich({ signal: new AbortController().signal, plan: broken, customers: profiles(10), worker: true });
  collect(failing);
  await assert.rejects(failing.finished(), /^Error: enrichment worker failed: /);

  const controller = new AbortController();
  const cancelled = startEnrich({ signal: controller.signal, plan, customers: profiles(50_000), worker: true });
  collect(cancelled);
  controller.abort();
  await assert.rejects(cancelled.finished(), RefreshCancelled);
});
