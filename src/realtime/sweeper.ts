// Purges expired real-time data. Reads never return expired data anyway (they compare with the
// clock); the sweeper only keeps the tables small.
import type { Store } from '../storage/store.js';

export class ExpirySweeper {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly intervalMs: number,
    private readonly log?: (message: string) => void,
  ) {}

  start(): void {
    if (this.timer || this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  async sweep(now = new Date()): Promise<{ overrides: number; activities: number }> {
    try {
      return await this.store.sweepExpired(now.toISOString());
    } catch (err) {
      this.log?.(`expiry sweep failed: ${(err as Error).message}`);
      return { overrides: 0, activities: 0 };
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
