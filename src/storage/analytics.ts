// Sub-port of the Store for measures and segments. Per-customer results (Customer_Measure rows,
// segment members) belong to a generation: written while it is built, visible when it commits,
// deleted with it. Business measure values and segment sizes are kept per run (history), and
// survive the pruning of their generation's rows.
import type { FieldValue } from '../domain/profile.js';

export interface CustomerMeasureRow {
  CustomerId: string;
  [measure: string]: FieldValue;
}

/** What one refresh computed, besides the per-customer rows. */
export interface AnalyticsRunSummary {
  measures: { name: string; kind: 'customer' | 'business'; value: FieldValue; customersWithValue: number | null }[];
  segments: { name: string; size: number }[];
}

export interface MeasureHistoryEntry {
  generation: number;
  jobId: string;
  computedAt: string;
  /** The business measure's value; null for a customer measure. */
  value: FieldValue;
  /** Customer measures: how many customers have a value. */
  customersWithValue: number | null;
}

export interface SegmentHistoryEntry {
  generation: number;
  jobId: string;
  computedAt: string;
  size: number;
}

export interface AnalyticsStore {
  // A generation's rows of Customer_Measure and segment members go through its GenerationWriter.
  /** Business measure values and segment sizes of the run building this generation. */
  writeRunSummary(instanceId: string, generation: number, jobId: string, computedAt: string, summary: AnalyticsRunSummary): Promise<void>;

  /** Customer measures of one customer in the current generation (undefined: no such row). */
  measuresOf(instanceId: string, customerId: string): Promise<Record<string, FieldValue> | undefined>;
  /** Names of the segments the customer is a member of in the current generation, sorted. */
  segmentsOf(instanceId: string, customerId: string): Promise<string[]>;
  /** Members of a segment in the current generation, in CustomerId order (paged). */
  segmentMembers(instanceId: string, segment: string, page?: { skip?: number; top?: number }): Promise<string[]>;
  /** Values of a measure per committed run, newest first. */
  measureHistory(instanceId: string, measure: string, limit?: number): Promise<MeasureHistoryEntry[]>;
  /** Sizes of a segment per committed run, newest first. */
  segmentHistory(instanceId: string, segment: string, limit?: number): Promise<SegmentHistoryEntry[]>;
}
