// Stage 4, match: join records across entities, in matching order (each rule matches an entity
// to an earlier one), then leave out unmatched records of entities that do not include them all.
import { applyRuleBetween } from '../domain/matching.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';
import { reportRule, ruleConditions, type Unification } from './unification.js';

export async function match(env: StageEnv, u: Unification): Promise<Unification> {
  const position = new Map(u.entities.map((e, i) => [e.entity.ref, i]));
  for (const rule of env.instance.matchRules) {
    throwIfCancelled(env.signal);
    const li = position.get(rule.entity)!;
    const ri = position.get(rule.other)!;
    const left = u.entities[li];
    const right = u.entities[ri];
    const lo = u.offsets[li];
    const ro = u.offsets[ri];
    const stats = applyRuleBetween({
      conditions: ruleConditions(u.features, rule, left, right),
      onMatch: (l, r) => {
        u.uf.union(lo + l, ro + r);
      },
      together: (l, r) => u.uf.find(lo + l) === u.uf.find(ro + r),
    });
    reportRule(env, rule, stats);
    await yieldToEventLoop();
  }
  u.features.clear();

  // A record "matched" when its profile holds a record of another entity.
  const entityOf = (g: number) => {
    let i = u.offsets.length - 1;
    while (u.offsets[i] > g) i--;
    return i;
  };
  const needsCheck = u.entities.map((e) => env.instance.includeAllRecords.get(e.entity.ref) === false);
  if (needsCheck.some(Boolean)) {
    const firstEntity = new Int32Array(u.total).fill(-1);
    const mixed = new Uint8Array(u.total);
    for (let g = 0; g < u.total; g++) {
      const root = u.uf.find(g);
      const e = entityOf(g);
      if (firstEntity[root] === -1) firstEntity[root] = e;
      else if (firstEntity[root] !== e) mixed[root] = 1;
    }
    let left = 0;
    for (let g = 0; g < u.total; g++) {
      const e = entityOf(g);
      if (needsCheck[e] && !mixed[u.uf.find(g)]) {
        u.excluded[g] = 1;
        left++;
      }
    }
    if (left) env.report.issues.add('records that matched no other entity were left out (includeAllRecords: false)', `${left} records`);
    env.report.counts.leftOut = left;
  }
  const roots = new Set<number>();
  for (let g = 0; g < u.total; g++) if (!u.excluded[g]) roots.add(u.uf.find(g));
  env.report.counts.profiles = roots.size;
  throwIfCancelled(env.signal);
  return u;
}
