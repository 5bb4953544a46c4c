// Instance definitions as the API uses them: resolved and with their unified schema, cached per
// instance and rebuilt when the stored definition changes. A change made through any node drops the
// entry at once on every node (services.ts follows the cluster events); the store is asked again
// after ttlMs anyway, which bounds staleness when an announcement is lost.
import { resolveInstance, type ResolvedInstance } from '../config/resolve.js';
import { unifiedSchema, type UnifiedSchema } from '../domain/unified-schema.js';
import type { InstanceRecord, Store } from '../storage/store.js';
import { ApiError } from './errors.js';

export interface CatalogEntry {
  record: InstanceRecord;
  resolved: ResolvedInstance;
  schema: UnifiedSchema;
}

export class InstanceCatalog {
  private readonly entries = new Map<string, { entry: CatalogEntry; checkedAt: number }>();

  /** ttlMs: how long a cached definition is trusted before the store is asked again (other processes may change it). */
  constructor(
    private readonly store: Store,
    private readonly ttlMs = 2000,
  ) {}

  async get(instanceId: string): Promise<CatalogEntry | undefined> {
    const now = Date.now();
    const cached = this.entries.get(instanceId);
    if (cached && now - cached.checkedAt < this.ttlMs) return cached.entry;
    const record = await this.store.getInstance(instanceId);
    if (!record) {
      this.entries.delete(instanceId);
      return undefined;
    }
    if (cached && cached.entry.record.updatedAt === record.updatedAt) {
      // Keep the resolved model; only the generation pointer may have moved.
      cached.entry.record = record;
      cached.checkedAt = now;
      return cached.entry;
    }
    const resolved = resolveInstance(record.definition, record.baseDir);
    const entry = { record, resolved, schema: unifiedSchema(resolved) };
    this.entries.set(instanceId, { entry, checkedAt: now });
    return entry;
  }

  /** The instance, or the API's 404 naming it. */
  async require(instanceId: string): Promise<CatalogEntry> {
    const entry = await this.get(instanceId);
    if (!entry) throw new ApiError('NotFound', `instance '${instanceId}' does not exist`, 'instanceId');
    return entry;
  }

  invalidate(instanceId: string): void {
    this.entries.delete(instanceId);
  }

  /** Drops every cached definition (announcements may have been missed). */
  clear(): void {
    this.entries.clear();
  }
}
