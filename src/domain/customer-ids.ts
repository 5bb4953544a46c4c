// Stable CustomerIds across refreshes. A profile keeps its id while its records stay together;
// when profiles merge, the one with most records keeps its id and the others become
// PreviousCustomerId; when a profile splits, its largest part keeps the id.
import { deterministicId } from './profile.js';

export interface ClusterIdentity {
  /** The smallest record key of the cluster: a stable, deterministic name for a new profile. */
  anchor: string;
  /** Old CustomerId → how many of the cluster's records had it. */
  oldIds: Map<string, number>;
}

export interface IdAssignment {
  ids: string[];
  /** ';'-joined, sorted; null when none. */
  previous: (string | null)[];
  kept: number;
  created: number;
  retired: number;
  /** Each retired id and the id of the profile that absorbed it. */
  remap: [string, string][];
}

export function assignCustomerIds(
  instanceId: string,
  clusters: ClusterIdentity[],
  /** PreviousCustomerId of the current profiles, so history carries over. */
  history: Map<string, string>,
): IdAssignment {
  const candidates: { oldId: string; cluster: number; count: number }[] = [];
  const everyOldId = new Set<string>();
  clusters.forEach((c, cluster) => {
    for (const [oldId, count] of c.oldIds) {
      candidates.push({ oldId, cluster, count });
      everyOldId.add(oldId);
    }
  });
  candidates.sort(
    (a, b) =>
      b.count - a.count ||
      (a.oldId < b.oldId ? -1 : a.oldId > b.oldId ? 1 : 0) ||
      (clusters[a.cluster].anchor < clusters[b.cluster].anchor ? -1 : 1),
  );
  const ids: (string | undefined)[] = new Array(clusters.length);
  const taken = new Set<string>();
  for (const c of candidates) {
    if (ids[c.cluster] !== undefined || taken.has(c.oldId)) continue;
    ids[c.cluster] = c.oldId;
    taken.add(c.oldId);
  }
  const kept = taken.size;
  let created = 0;
  for (let i = 0; i < clusters.length; i++) {
    if (ids[i] !== undefined) continue;
    let salt = 0;
    let id = deterministicId('customer', instanceId, clusters[i].anchor);
    // Never reuse an id that meant another profile before.
    while (everyOldId.has(id) || taken.has(id)) id = deterministicId('customer', instanceId, clusters[i].anchor, String(++salt));
    ids[i] = id;
    taken.add(id);
    created++;
  }
  const retiredIds = new Set([...everyOldId].filter((id) => !taken.has(id)));
  const remap: [string, string][] = [];
  clusters.forEach((c, i) => {
    for (const oldId of c.oldIds.keys()) if (retiredIds.has(oldId)) remap.push([oldId, ids[i]!]);
  });
  const previous = clusters.map((c, i) => {
    const own = ids[i]!;
    const prev = new Set<string>();
    for (const oldId of c.oldIds.keys()) {
      if (oldId !== own && !retiredIds.has(oldId)) continue; // kept by another profile
      if (oldId !== own) prev.add(oldId);
      for (const h of history.get(oldId)?.split(';') ?? []) if (h && h !== own) prev.add(h);
    }
    return prev.size ? [...prev].sort().join(';') : null;
  });
  return { ids: ids as string[], previous, kept, created, retired: retiredIds.size, remap };
}
