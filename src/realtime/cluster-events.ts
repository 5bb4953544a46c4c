// The cluster events a node hears (domain/cluster-events.ts), handed to the services that cache
// what they announce (services.ts). On PostgreSQL the node's listening connection feeds it
// (postgres-change-feed.ts); `resync` means that connection was lost and is back: anything may
// have changed meanwhile, so caches drop everything and schedules are read again.
import type { ClusterEvent } from '../domain/cluster-events.js';

export type ClusterSignal = ClusterEvent | { kind: 'resync' };
export type ClusterListener = (signal: ClusterSignal) => void;

export class ClusterEvents {
  private readonly listeners = new Set<ClusterListener>();

  on(listener: ClusterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(signal: ClusterSignal): void {
    for (const l of this.listeners) {
      try {
        l(signal);
      } catch {
        // One failing listener must not keep the others from hearing it.
      }
    }
  }
}
