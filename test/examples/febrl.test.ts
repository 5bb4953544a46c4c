// The FEBRL examples (examples/febrl3, examples/febrl4) refreshed end to end and scored against
// the truth in the record ids: rec-N-org and rec-N-dup-K are the same person exactly when N is equal.
// The data lives outside the repository (../shared/datasets/febrl); without it the tests skip.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { loadInstanceDefinition } from '../../src/config/load.js';
import { scoreAgainstTruth } from '../../src/refresh/evaluate.js';
import { runRefresh } from '../../src/refresh/pipeline.js';
import { openTestStore } from '../storage/test-store.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DATASETS = path.resolve(ROOT, '../shared/datasets/febrl');
const MIN_F1 = 0.99;

/** The N of rec-N-org / rec-N-dup-K. */
const febrlPerson = (_dataSource: string, _entity: string, key: string) => /^rec-(\d+)-(?:org|dup-\d+)$/.exec(key)?.[1];

async function refreshAndScore(t: TestContext, example: string, files: string[], expectedRecords: number) {
  const missing = files.filter((f) => !existsSync(path.join(DATASETS, f)));
  if (missing.length) {
    t.skip(`FEBRL data not found: ${missing.map((f) => path.join(DATASETS, f)).join(', ')}`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), `kindred-${example}-`));
  const opened = await openTestStore(dir, `kindred_${example}`);
  const { store } = opened;
  try {
    const file = path.join(ROOT, 'examples', example, 'instance.yaml');
    const { definition, baseDir } = loadInstanceDefinition(file);
    assert.equal(definition.id, example);
    await store.putInstance({ id: definition.id, name: definition.name ?? definition.id, definition, sourceFile: file, baseDir });
    const { run } = await store.createRun(definition.id, 'cli');
    const t0 = performance.now();
    const done = await runRefresh({ store, run });
    const ms = performance.now() - t0;
    assert.equal(done.status, 'successful', done.error ?? undefined);
    // Blocks too large to compare would silently cost recall: there must be none.
    const issues = done.stages.flatMap((s) => s.issues.map((i) => `${s.name}: ${i.message} (${i.samples.join('; ')})`));
    assert.deepEqual(issues, []);

    const s = await scoreAgainstTruth(store, definition.id, febrlPerson);
    t.diagnostic(
      `${example}: precision ${s.precision.toFixed(4)}  recall ${s.recall.toFixed(4)}  F1 ${s.f1.toFixed(4)}  ` +
        `(${s.correctPairs}/${s.predictedPairs} predicted pairs correct, ${s.truePairs} true pairs; ` +
        `${done.summary.profiles} profiles; refresh ${Math.round(ms)} ms)`,
    );
    assert.equal(s.records, expectedRecords);
    assert.ok(s.f1 >= MIN_F1, `F1 ${s.f1} is below ${MIN_F1}`);
  } finally {
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('FEBRL examples', () => {
  test('febrl3: deduplicating dataset3 reaches pairwise F1 >= 0.99', (t) =>
    refreshAndScore(t, 'febrl3', ['dataset3.csv'], 5000));

  test('febrl4: linking dataset4a to dataset4b reaches pairwise F1 >= 0.99', (t) =>
    refreshAndScore(t, 'febrl4', ['dataset4a.csv', 'dataset4b.csv'], 10000));
});
