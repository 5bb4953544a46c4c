// Stage 3, dedupe: find records of the same person inside each customer entity.
import { applyRuleWithin } from '../domain/matching.js';
import { UnionFind } from '../domain/union-find.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv, type TypedEntityRows } from './context.js';
import { FeatureCache, reportRule, ruleConditions, type Unification } from './unification.js';

export async function dedupe(env: StageEnv, typed: Map<string, TypedEntityRows>): Promise<Unification> {
  const entities = env.instance.customerEntities.map((e) => typed.get(e.ref)!);
  const offsets: number[] = [];
  let total = 0;
  for (const e of entities) {
    offsets.push(total);
    total += e.rows.length;
  }
  const uf = new UnionFind(total);
  const features = new FeatureCache();
  let merged = 0;
  for (let i = 0; i < entities.length; i++) {
    const data = entities[i];
    const config = env.instance.dedupe.get(data.entity.ref);
    if (!config) continue;
    const off = offsets[i];
    let entityMerged = 0;
    for (const rule of config.rules) {
      throwIfCancelled(env.signal);
      const stats = applyRuleWithin({
        conditions: ruleConditions(features, rule, data, data),
        onMatch: (a, b) => {
          if (uf.union(off + a, off + b)) entityMerged++;
        },
        together: (a, b) => uf.find(off + a) === uf.find(off + b),
      });
      reportRule(env, rule, stats);
      env.progress('dedupe', i + 1, entities.length);
      await yieldToEventLoop();
    }
    env.report.counts[`${data.entity.ref}: records`] = data.rows.length;
    env.report.counts[`${data.entity.ref}: duplicates`] = entityMerged;
    merged += entityMerged;
  }
  env.report.counts.duplicates = merged;
  return { entities, offsets, total, uf, excluded: new Uint8Array(total), features };
}
