// Sub-port of the Store: the CustomerEnrichment rows of each generation. Written by the enrich
// stage into the generation being built, so readers switch to them with the generation's commit.
import type { EncodedEnrichments } from '../domain/enrich-batch.js';
import type { EnrichmentRecord } from '../domain/enrich.js';

export interface EnrichmentStore {
  /**
   * Adds rows to a generation that is being built (invisible until it is committed). Each row's
   * JSON is stored as it is; the refresh gives them in CustomerId order (see encodeEnrichments).
   */
  write(instanceId: string, generation: number, rows: EncodedEnrichments): Promise<void>;
  /** The enrichment of one customer in the current generation. */
  of(instanceId: string, customerId: string): Promise<EnrichmentRecord | undefined>;
  /** Rows in the current generation. */
  count(instanceId: string): Promise<number>;
}
