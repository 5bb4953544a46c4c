// Typed access to autocannon's programmatic API (the package ships no types). Only the parts
// bench/realtime.ts uses are declared.
import { createRequire } from 'node:module';

export interface AcRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Called before every request of this entry; returns the request to send. */
  setupRequest?: (request: AcRequest, context: Record<string, unknown>) => AcRequest | null | undefined;
  /** Called with every response of this entry (autocannon then buffers the body). */
  onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
}

export interface AcOptions {
  url: string;
  connections?: number;
  pipelining?: number;
  /** Seconds. */
  duration?: number;
  /** Seconds before a request counts as timed out. */
  timeout?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  requests?: AcRequest[];
  title?: string;
  /** Requests per second over all connections (none: as fast as they go). */
  overallRate?: number;
}

/** Statistics of one histogram (latency in ms, requests per second, bytes per second). */
export interface AcHistogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  total: number;
  p0_001?: number;
  p1?: number;
  p2_5: number;
  p10: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p97_5: number;
  p99: number;
  p99_9: number;
  p99_99?: number;
  sent?: number;
  totalCount?: number;
}

export interface AcResult {
  title?: string;
  url: string;
  connections: number;
  pipelining: number;
  /** Seconds, as measured by autocannon. */
  duration: number;
  start: Date;
  finish: Date;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
  statusCodeStats: Record<string, { count: number }>;
  latency: AcHistogram;
  requests: AcHistogram;
  throughput: AcHistogram;
}

/** The running load: a promise of the result, and stop() to end it early. */
export interface AcTracker extends PromiseLike<AcResult> {
  stop(): void;
}

type Autocannon = (options: AcOptions) => AcTracker;

export const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
