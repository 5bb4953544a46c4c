// Applying one rule (AND of conditions) to records, with blocking: records are grouped by the
// normalized values of the rule's exact conditions, and only records in the same group are
// compared. Cost grows with the number of records and the size of groups, never with all pairs.
import { isSimilar } from './similarity.js';

/** Normalized values of one condition, one string per record ('' = no value, never matches). */
export interface ConditionValues {
  left: readonly string[];
  /** For deduplication, the same array as left. */
  right: readonly string[];
  /** 1 for exact conditions; a similarity threshold below 1 for fuzzy ones. */
  threshold: number;
}

export interface RuleStats {
  comparisons: number;
  matches: number;
  /** Groups too large to compare pair by pair (fuzzy rules only); their records were not matched by this rule. */
  skippedBlocks: { key: string; size: number }[];
}

export interface RuleInput {
  conditions: ConditionValues[];
  /** Called for every matching pair: left index, right index. */
  onMatch: (left: number, right: number) => void;
  /** Optional: lets callers skip pairs already known to be together. */
  together?: (left: number, right: number) => boolean;
  /** Largest group compared pair by pair when the rule has fuzzy conditions. */
  maxBlockSize?: number;
}

const SEP = '\u0001';

function blockKeys(exact: ConditionValues[], side: 'left' | 'right', count: number): (string | null)[] {
  const keys: (string | null)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    let key = '';
    let ok = true;
    for (let c = 0; c < exact.length; c++) {
      const v = exact[c][side][i];
      if (!v) {
        ok = false;
        break;
      }
      key = c === 0 ? v : key + SEP + v;
    }
    keys[i] = ok ? key : null;
  }
  return keys;
}

function fuzzyMatch(fuzzy: ConditionValues[], l: number, r: number): boolean {
  for (let c = 0; c < fuzzy.length; c++) {
    const a = fuzzy[c].left[l];
    const b = fuzzy[c].right[r];
    if (!a || !b || !isSimilar(a, b, fuzzy[c].threshold)) return false;
  }
  return true;
}

function split(conditions: ConditionValues[]): { exact: ConditionValues[]; fuzzy: ConditionValues[] } {
  const exact = conditions.filter((c) => c.threshold >= 1);
  const fuzzy = conditions.filter((c) => c.threshold < 1);
  if (!exact.length) throw new Error('a rule needs at least one exact condition');
  return { exact, fuzzy };
}

/** Record indexes by block key; records without a key (an empty exact value) are in no block. */
function blocksOf(keys: (string | null)[]): Map<string, number[]> {
  const blocks = new Map<string, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === null) continue;
    const b = blocks.get(k);
    if (b) b.push(i);
    else blocks.set(k, [i]);
  }
  return blocks;
}

/** Compares one pair on the fuzzy conditions and reports a match. */
function comparePair(input: RuleInput, fuzzy: ConditionValues[], stats: RuleStats, l: number, r: number): void {
  if (input.together?.(l, r)) return;
  stats.comparisons++;
  if (fuzzyMatch(fuzzy, l, r)) {
    input.onMatch(l, r);
    stats.matches++;
  }
}

/** Pairs inside one set of records (deduplication). */
export function applyRuleWithin(input: RuleInput): RuleStats {
  const { exact, fuzzy } = split(input.conditions);
  const blocks = blocksOf(blockKeys(exact, 'left', exact[0].left.length));
  const stats: RuleStats = { comparisons: 0, matches: 0, skippedBlocks: [] };
  const max = input.maxBlockSize ?? 2000;
  for (const [key, members] of blocks) {
    if (members.length < 2) continue;
    if (!fuzzy.length) {
      for (let j = 1; j < members.length; j++) {
        input.onMatch(members[0], members[j]);
        stats.matches++;
      }
      continue;
    }
    if (members.length > max) {
      stats.skippedBlocks.push({ key: key.split(SEP).join(' + '), size: members.length });
      continue;
    }
    for (let a = 0; a < members.length; a++) {
      for (let b = a + 1; b < members.length; b++) comparePair(input, fuzzy, stats, members[a], members[b]);
    }
  }
  return stats;
}

/** Pairs between two sets of records (matching one entity to an earlier one). */
export function applyRuleBetween(input: RuleInput): RuleStats {
  const { exact, fuzzy } = split(input.conditions);
  const leftCount = exact[0].left.length;
  const blocks = blocksOf(blockKeys(exact, 'right', exact[0].right.length));
  const leftKeys = blockKeys(exact, 'left', leftCount);
  const stats: RuleStats = { comparisons: 0, matches: 0, skippedBlocks: [] };
  const max = input.maxBlockSize ?? 2000;
  const skipped = new Set<string>();
  const joined = new Set<string>();
  for (let l = 0; l < leftCount; l++) {
    const k = leftKeys[l];
    if (k === null) continue;
    const members = blocks.get(k);
    if (!members) continue;
    if (fuzzy.length && members.length > max) {
      if (!skipped.has(k)) {
        skipped.add(k);
        stats.skippedBlocks.push({ key: k.split(SEP).join(' + '), size: members.length });
      }
      continue;
    }
    if (!fuzzy.length) {
      // Exact-only: every member matches. The first left record of a block joins them all;
      // later ones need to join only one of them, so skewed keys stay linear.
      const all = !joined.has(k);
      if (all) joined.add(k);
      for (let j = 0; j < (all ? members.length : 1); j++) {
        input.onMatch(l, members[j]);
        stats.matches++;
      }
      continue;
    }
    for (const r of members) comparePair(input, fuzzy, stats, l, r);
  }
  return stats;
}
