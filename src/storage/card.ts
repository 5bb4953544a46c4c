// Sub-port of the Store: what the customer card reads beyond the Store's own reads: where each
// merged field came from, and the activity timeline with filters and types.
import type { ActivityRecord } from '../domain/profile.js';
import type { FieldSourceLegend } from '../domain/field-sources.js';

export interface TimelineQuery {
  /** Only these ActivityTypes (none: every type). */
  types?: string[];
  /** ISO; ActivityTime >= from. */
  from?: string;
  /** ISO; ActivityTime < to. */
  to?: string;
  top: number;
  skip: number;
}

export type TimelineActivity = ActivityRecord & { caller?: string | null };

export interface CardStore {
  /** The customer's encoded field sources and the generation's legend (null when the generation has none). */
  fieldSources(instanceId: string, customerId: string): Promise<{ legend: FieldSourceLegend; encoded: string } | null>;
  /** Batch and live real-time activities of a customer, newest first, filtered and paged. */
  timeline(instanceId: string, customerId: string, query: TimelineQuery, nowIso: string): Promise<TimelineActivity[]>;
  /** The distinct ActivityTypes of a customer's activities (batch and live real-time), sorted. */
  activityTypes(instanceId: string, customerId: string, nowIso: string): Promise<string[]>;
}
