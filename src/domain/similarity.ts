/**
 * String similarity used by fuzzy match conditions: normalized Levenshtein similarity,
 * 1 for identical strings down to 0 for completely different ones.
 */
import { distance } from 'fastest-levenshtein';

export type PrecisionLevel = 'exact' | 'low' | 'medium' | 'high';

const PRECISION_THRESHOLDS: ReadonlyMap<string, number> = new Map<PrecisionLevel, number>([
  ['exact', 1],
  ['low', 0.3],
  ['medium', 0.6],
  ['high', 0.8],
]);

/**
 * (L - editDistance(a, b)) / L with L = max(len(a), len(b)), lengths in UTF-16 code units.
 * Empty strings never match, so an empty argument yields 0.
 */
export function similarity(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0;
  if (a === b) return 1;
  const longest = a.length > b.length ? a.length : b.length;
  return (longest - distance(a, b)) / longest;
}

/** Maps a configured precision to a similarity threshold in (0, 1]. Throws on anything else. */
export function precisionThreshold(p: PrecisionLevel | number): number {
  if (typeof p === 'number') {
    if (!(p > 0 && p <= 1)) throw new RangeError(`Precision must be in (0, 1], got ${p}`);
    return p;
  }
  const threshold = PRECISION_THRESHOLDS.get(p);
  if (threshold === undefined) throw new RangeError(`Unknown precision "${String(p)}"`);
  return threshold;
}

/**
 * similarity(a, b) >= threshold, skipping the edit-distance computation when the length
 * difference alone already rules the pair out (distance >= |len(a) - len(b)|).
 */
export function isSimilar(a: string, b: string, threshold: number): boolean {
  const la = a.length;
  const lb = b.length;
  if (la === 0 || lb === 0) return false;
  if (a === b) return true;
  if (threshold >= 1) return false;
  const longest = la > lb ? la : lb;
  const shortest = la > lb ? lb : la;
  // Best possible score is shortest / longest (distance is at least the length difference).
  if (shortest / longest < threshold) return false;
  return (longest - distance(a, b)) / longest >= threshold;
}
