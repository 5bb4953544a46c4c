// One process owns a SQLite database (the server, or a CLI command beside it): the refresh claim
// is held in memory, and the database's own locking serializes everything else. The PostgreSQL
// adapter's coordination.ts does the same across processes with advisory locks.
import type { RefreshClaim } from '../store.js';

export class RefreshClaims {
  private readonly held = new Set<string>();

  /** Instances whose refresh is claimed now (failInterruptedRuns leaves their runs alone). */
  instances(): string[] {
    return [...this.held];
  }

  /** The claim of an instance's refresh, or null when this process already holds it. */
  claim(instanceId: string): RefreshClaim | null {
    if (this.held.has(instanceId)) return null;
    this.held.add(instanceId);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.held.delete(instanceId);
      },
    };
  }
}
