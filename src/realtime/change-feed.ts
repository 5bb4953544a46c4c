// The live change feed: every real-time write is published after it commits. This one serves the
// process's own subscribers; on PostgreSQL, postgres-change-feed.ts adds the writes of the other
// nodes.
import type { Change } from '../domain/changes.js';

export type { Change };

export type ChangeListener = (change: Change) => void;

export interface ChangeFeed {
  publish(changes: readonly Change[]): void;
  /** customerId undefined: every change of the instance. Returns the unsubscribe function. */
  subscribe(instanceId: string, customerId: string | undefined, listener: ChangeListener): () => void;
  /**
   * Called when changes may have been missed (on PostgreSQL: the node's listening connection was
   * lost and is back); subscribers should re-read what they show. Returns the unsubscribe function.
   */
  onMissed(listener: () => void): () => void;
  close(): Promise<void>;
}

export class InProcessChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly missedListeners = new Set<() => void>();

  publish(changes: readonly Change[]): void {
    for (const c of changes) {
      for (const key of [c.instanceId, `${c.instanceId}\u0000${c.customerId}`]) {
        const set = this.listeners.get(key);
        if (!set) continue;
        for (const l of set) {
          try {
            l(c);
          } catch {
            // A failing subscriber must not stop the others or the writer.
          }
        }
      }
    }
  }

  subscribe(instanceId: string, customerId: string | undefined, listener: ChangeListener): () => void {
    const key = customerId === undefined ? instanceId : `${instanceId}\u0000${customerId}`;
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size) this.listeners.delete(key);
    };
  }

  onMissed(listener: () => void): () => void {
    this.missedListeners.add(listener);
    return () => this.missedListeners.delete(listener);
  }

  /** Tells every onMissed listener that changes may have been missed. */
  missed(): void {
    for (const l of this.missedListeners) {
      try {
        l();
      } catch {
        // as in publish
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.missedListeners.clear();
  }
}
