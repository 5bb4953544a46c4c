// The live change feed: every real-time write is published after it commits. The interface lets
// several server processes share a feed later (a PostgreSQL or NATS implementation); this one
// serves the processes' own subscribers.
export interface Change {
  instanceId: string;
  customerId: string;
  kind: 'profile' | 'activity';
  /** When the write committed (ISO). */
  at: string;
  /** Changed attributes (profile updates). */
  attributes?: string[];
  activityId?: string;
  validUntil?: string;
}

export type ChangeListener = (change: Change) => void;

export interface ChangeFeed {
  publish(changes: readonly Change[]): void;
  /** customerId undefined: every change of the instance. Returns the unsubscribe function. */
  subscribe(instanceId: string, customerId: string | undefined, listener: ChangeListener): () => void;
  close(): Promise<void>;
}

export class InProcessChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<string, Set<ChangeListener>>();

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

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
