// What one node tells the others (a PostgreSQL NOTIFY payload, sent inside the transaction of the
// change) so that they drop what they cached: an instance definition changed (the catalog, the
// refresh and export schedules), or keys and roles changed (the API key cache). Pure; no I/O.

export type ClusterEvent = { kind: 'instance'; instanceId: string } | { kind: 'access' };

export function encodeClusterEvent(event: ClusterEvent): string {
  return JSON.stringify(event.kind === 'instance' ? { k: 'i', id: event.instanceId } : { k: 'a' });
}

/** The event of a payload made by encodeClusterEvent; null for anything else. */
export function decodeClusterEvent(text: string): ClusterEvent | null {
  let message: { k?: unknown; id?: unknown };
  try {
    message = JSON.parse(text) as { k?: unknown; id?: unknown };
  } catch {
    return null;
  }
  if (message?.k === 'i' && typeof message.id === 'string') return { kind: 'instance', instanceId: message.id };
  if (message?.k === 'a') return { kind: 'access' };
  return null;
}
