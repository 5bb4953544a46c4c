// Scores the unification of the current generation against a ground truth: which source records
// are really the same person. Used by the example tests (FEBRL) and the benchmark (generator truth).
import { recordKey } from '../domain/profile.js';
import { pairwiseScores, type PairwiseScores } from '../domain/quality.js';
import type { Store } from '../storage/store.js';

/**
 * The true entity (person) of a source record, or undefined when the truth does not know the
 * record (it is then left out of the score).
 */
export type TruthOf = (dataSource: string, entity: string, key: string) => string | undefined;

/**
 * Pairwise precision/recall/F1 of the current generation's profiles (AlternateKey: record →
 * CustomerId) against `truthOf`. Only records the truth knows are scored. Throws when the
 * instance has no current generation (nothing has been refreshed yet).
 */
export async function scoreAgainstTruth(store: Store, instanceId: string, truthOf: TruthOf): Promise<PairwiseScores> {
  const record = await store.getInstance(instanceId);
  if (!record) throw new Error(`instance '${instanceId}' does not exist`);
  if (record.currentGeneration === null) throw new Error(`instance '${instanceId}' has no unified data yet (run a refresh first)`);
  const predicted = new Map<string, string>();
  const truth = new Map<string, string>();
  for await (const batch of store.scan(instanceId, 'AlternateKey')) {
    for (const row of batch) {
      const dataSource = String(row.DataSourceName);
      const entity = String(row.EntityName);
      const key = String(row.AlternateValue);
      const person = truthOf(dataSource, entity, key);
      if (person === undefined) continue;
      const id = recordKey(dataSource, entity, key);
      predicted.set(id, String(row.CustomerId));
      truth.set(id, person);
    }
  }
  return pairwiseScores(predicted, truth);
}
