// State shared by the dedupe, match and merge stages: every customer record gets a global index
// (entities in matching order), and one union-find holds which records are the same person.
import type { ResolvedRule } from '../config/resolve.js';
import { compileNormalizer } from '../domain/normalize.js';
import type { ConditionValues, RuleStats } from '../domain/matching.js';
import { precisionThreshold } from '../domain/similarity.js';
import { UnionFind } from '../domain/union-find.js';
import type { StageEnv, TypedEntityRows } from './context.js';

export interface Unification {
  /** Customer entities in matching order. */
  entities: TypedEntityRows[];
  offsets: number[];
  total: number;
  uf: UnionFind;
  /** 1 for records left out of profiles (includeAllRecords: false and matched nothing). */
  excluded: Uint8Array;
  features: FeatureCache;
}

/** Normalized column values, computed once per (entity, column, normalization) and shared by rules. */
export class FeatureCache {
  private readonly cache = new Map<string, string[]>();

  values(data: TypedEntityRows, column: string, steps: readonly string[] | undefined, region: string | undefined): string[] {
    const key = `${data.entity.ref}|${column}|${(steps ?? []).join(',')}|${region ?? ''}`;
    let out = this.cache.get(key);
    if (out) return out;
    const idx = data.entity.columnIndex.get(column)!;
    const norm = compileNormalizer((steps ?? []) as never, { phoneRegion: region });
    out = new Array(data.rows.length);
    for (let i = 0; i < data.rows.length; i++) {
      const v = data.rows[i][idx];
      out[i] = v === null ? '' : norm(String(v));
    }
    this.cache.set(key, out);
    return out;
  }

  clear(): void {
    this.cache.clear();
  }
}

export function ruleConditions(features: FeatureCache, rule: ResolvedRule, left: TypedEntityRows, right: TypedEntityRows): ConditionValues[] {
  return rule.conditions.map((c) => ({
    left: features.values(left, c.field, c.normalize, c.phoneRegion),
    right: features.values(right, c.otherField, c.normalize, c.phoneRegion),
    threshold: precisionThreshold(c.precision ?? 'exact'),
  }));
}

export function reportRule(env: StageEnv, rule: ResolvedRule, stats: RuleStats): void {
  env.report.counts[`${rule.name}: matches`] = stats.matches;
  if (stats.comparisons) env.report.counts[`${rule.name}: comparisons`] = stats.comparisons;
  for (const b of stats.skippedBlocks) {
    env.report.issues.add(
      `${rule.name}: groups too large to compare pair by pair were skipped; add a more selective exact condition`,
      `'${b.key}': ${b.size} records`,
    );
  }
}
