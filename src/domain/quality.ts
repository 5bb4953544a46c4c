// Pairwise precision, recall and F1 of a clustering against a ground truth, counted from
// cluster sizes (never by listing pairs), so it works for millions of records.
export interface PairwiseScores {
  records: number;
  truePairs: number;
  predictedPairs: number;
  correctPairs: number;
  precision: number;
  recall: number;
  f1: number;
}

const pairs = (n: number) => (n * (n - 1)) / 2;

/**
 * predicted: record id → profile id; truth: record id → true entity id. Only records present in
 * both are scored (a record missing from the prediction counts as a profile of its own).
 */
export function pairwiseScores(predicted: Map<string, string>, truth: Map<string, string>): PairwiseScores {
  const predSize = new Map<string, number>();
  const trueSize = new Map<string, number>();
  const bothSize = new Map<string, number>();
  let records = 0;
  for (const [record, entity] of truth) {
    const profile = predicted.get(record) ?? `\u0000${record}`;
    records++;
    trueSize.set(entity, (trueSize.get(entity) ?? 0) + 1);
    predSize.set(profile, (predSize.get(profile) ?? 0) + 1);
    const both = `${profile}\u0001${entity}`;
    bothSize.set(both, (bothSize.get(both) ?? 0) + 1);
  }
  let truePairs = 0;
  let predictedPairs = 0;
  let correctPairs = 0;
  for (const n of trueSize.values()) truePairs += pairs(n);
  for (const n of predSize.values()) predictedPairs += pairs(n);
  for (const n of bothSize.values()) correctPairs += pairs(n);
  const precision = predictedPairs ? correctPairs / predictedPairs : 1;
  const recall = truePairs ? correctPairs / truePairs : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { records, truePairs, predictedPairs, correctPairs, precision, recall, f1 };
}
