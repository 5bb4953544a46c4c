// Telemetry of the real-time API, kept compactly: requests are added to in-memory cells keyed by
// (instance, minute, method, entity, caller, status, error code) with counts, bytes and a fixed
// log-scale latency histogram, flushed to the store every few seconds. Histograms with the same
// buckets add up, so percentiles can be computed over any set of minutes and groups.
// Also the process-wide counters /metrics exposes (ServerMetrics).
import type { TelemetryMinute, TelemetryStore } from '../storage/telemetry.js';

// ---------------------------------------------------------------------------------------------
// Latency histogram: bucket i holds latencies in (LOWEST * 2^((i-1)/4), LOWEST * 2^(i/4)] ms,
// bucket 0 everything up to LOWEST; 4 buckets per doubling is about ±9 % per percentile.

const LOWEST_MS = 0.01;
const PER_DOUBLING = 4;
export const LATENCY_BUCKETS = 100; // up to ~0.01 ms * 2^24.75, about 4.6 minutes

export function latencyBucket(ms: number): number {
  if (!(ms > LOWEST_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / LOWEST_MS) * PER_DOUBLING);
  return i >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : i;
}

/** Upper bound of a bucket in ms. */
export function bucketUpperMs(i: number): number {
  return LOWEST_MS * 2 ** (i / PER_DOUBLING);
}

/** The q-quantile (0..1) of a dense histogram, as its bucket's upper bound in ms (null when empty). */
export function quantile(hist: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (!total) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return Math.round(bucketUpperMs(i) * 1000) / 1000;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Recorder

interface Cell {
  instanceId: string;
  minute: number;
  method: string;
  entity: string;
  caller: string;
  status: number;
  errorCode: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  hist: Uint32Array;
}

/** Adds `from`'s counts into `into` (same key). */
function addCell(into: Cell, from: Cell): void {
  into.requests += from.requests;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  for (let i = 0; i < into.hist.length; i++) into.hist[i] += from.hist[i];
}

export interface RecorderOptions {
  /** How often cells are written to the store (ms); 0: only on flush()/close(). */
  flushMs?: number;
  /** Minutes older than this are purged (days). */
  retentionDays?: number;
  log?: (message: string) => void;
}

const MAX_LABEL = 100;
const label = (s: string) => (s.length > MAX_LABEL ? s.slice(0, MAX_LABEL) : s);

export class TelemetryRecorder {
  private cells = new Map<string, Cell>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastPurge = 0;
  readonly metrics = new ServerMetrics();
  private readonly flushMs: number;
  readonly retentionDays: number;

  constructor(
    readonly store: TelemetryStore,
    private readonly options: RecorderOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 5000;
    this.retentionDays = options.retentionDays ?? 30;
  }

  start(): void {
    if (this.timer || this.flushMs <= 0) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /**
   * One request of the real-time API (on the request path: a map lookup and a few additions).
   * `items`: how many records it carried ($batch counts each item).
   */
  record(
    instanceId: string,
    method: string,
    entity: string,
    caller: string,
    status: number,
    errorCode: string,
    bytesIn: number,
    bytesOut: number,
    latencyMs: number,
    items = 1,
    now = Date.now(),
  ): void {
    if (this.timer === null && this.flushMs > 0) this.start();
    const minute = Math.floor(now / 60_000);
    const key = `${minute}\u0000${instanceId}\u0000${method}\u0000${entity}\u0000${caller}\u0000${status}\u0000${errorCode}`;
    let cell = this.cells.get(key);
    if (!cell) {
      cell = {
        instanceId,
        minute,
        method: label(method),
        entity: label(entity),
        caller: label(caller),
        status,
        errorCode: label(errorCode),
        requests: 0,
        bytesIn: 0,
        bytesOut: 0,
        hist: new Uint32Array(LATENCY_BUCKETS),
      };
      this.cells.set(key, cell);
    }
    cell.requests += items;
    cell.bytesIn += bytesIn;
    cell.bytesOut += bytesOut;
    cell.hist[latencyBucket(latencyMs)]++;
  }

  /** Writes the cells gathered so far; readers call it first so they see every recorded request. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.cells.size) return this.purgeIfDue();
    const cells = this.cells;
    this.cells = new Map();
    const rows: TelemetryMinute[] = [];
    for (const c of cells.values()) {
      const latency: [number, number][] = [];
      for (let i = 0; i < c.hist.length; i++) if (c.hist[i]) latency.push([i, c.hist[i]]);
      rows.push({
        instanceId: c.instanceId,
        minute: c.minute,
        method: c.method,
        entity: c.entity,
        caller: c.caller,
        status: c.status,
        errorCode: c.errorCode,
        requests: c.requests,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        latency,
      });
    }
    this.flushing = (async () => {
      try {
        await this.store.addMinutes(rows);
      } catch (err) {
        // Keep the numbers for the next attempt rather than losing them.
        for (const [k, c] of cells) {
          const later = this.cells.get(k);
          if (later) addCell(c, later);
          this.cells.set(k, c);
        }
        this.options.log?.(`telemetry flush failed: ${(err as Error).message}`);
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
    await this.purgeIfDue();
  }

  private async purgeIfDue(now = Date.now()): Promise<void> {
    if (now - this.lastPurge < 3_600_000) return;
    this.lastPurge = now;
    await this.purge(now);
  }

  /** Deletes minutes older than the retention; returns how many rows. */
  async purge(now = Date.now()): Promise<number> {
    try {
      return await this.store.purgeBefore(Math.floor((now - this.retentionDays * 86_400_000) / 60_000));
    } catch (err) {
      this.options.log?.(`telemetry purge failed: ${(err as Error).message}`);
      return 0;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}

// ---------------------------------------------------------------------------------------------
// Queries over stored minutes

export const GROUP_BY = ['none', 'method', 'entity', 'caller', 'result', 'errorCode'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface TelemetryBucket {
  start: string;
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface TelemetryReport {
  from: string;
  to: string;
  interval: string;
  groupBy: GroupBy;
  series: { key: string; buckets: TelemetryBucket[] }[];
  totals: Omit<TelemetryBucket, 'start'>;
  errorCodes: { code: string; count: number }[];
}

export function resultOf(status: number): string {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : '2xx';
}

function groupKey(r: TelemetryMinute, groupBy: GroupBy): string {
  switch (groupBy) {
    case 'none':
      return 'all';
    case 'method':
      return r.method;
    case 'entity':
      return r.entity;
    case 'caller':
      return r.caller;
    case 'result':
      return resultOf(r.status);
    case 'errorCode':
      return r.errorCode || 'none';
  }
}

interface Acc {
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  hist: Float64Array;
}

const newAcc = (): Acc => ({ requests: 0, errors: 0, bytesIn: 0, bytesOut: 0, hist: new Float64Array(LATENCY_BUCKETS) });

function addTo(acc: Acc, r: TelemetryMinute): void {
  acc.requests += r.requests;
  if (r.status >= 400) acc.errors += r.requests;
  acc.bytesIn += r.bytesIn;
  acc.bytesOut += r.bytesOut;
  for (const [i, c] of r.latency) acc.hist[i] += c;
}

function finish(acc: Acc): Omit<TelemetryBucket, 'start'> {
  return {
    requests: acc.requests,
    errors: acc.errors,
    bytesIn: acc.bytesIn,
    bytesOut: acc.bytesOut,
    p50: quantile(acc.hist, 0.5),
    p95: quantile(acc.hist, 0.95),
    p99: quantile(acc.hist, 0.99),
  };
}

/**
 * Buckets of `intervalMinutes` from `fromMinute` (inclusive) to `toMinute` (exclusive), one
 * series per group; empty buckets are listed with zeros so charts have a continuous time axis.
 */
export function summarize(
  rows: readonly TelemetryMinute[],
  options: { fromMinute: number; toMinute: number; intervalMinutes: number; interval: string; groupBy: GroupBy },
): TelemetryReport {
  const { fromMinute, toMinute, intervalMinutes, groupBy } = options;
  const count = Math.max(1, Math.ceil((toMinute - fromMinute) / intervalMinutes));
  const series = new Map<string, Acc[]>();
  const total = newAcc();
  const codes = new Map<string, number>();
  for (const r of rows) {
    const b = Math.floor((r.minute - fromMinute) / intervalMinutes);
    if (b < 0 || b >= count) continue;
    const key = groupKey(r, groupBy);
    let accs = series.get(key);
    if (!accs) series.set(key, (accs = Array.from({ length: count }, newAcc)));
    addTo(accs[b], r);
    addTo(total, r);
    if (r.errorCode) codes.set(r.errorCode, (codes.get(r.errorCode) ?? 0) + r.requests);
  }
  const iso = (minute: number) => new Date(minute * 60_000).toISOString();
  return {
    from: iso(fromMinute),
    to: iso(toMinute),
    interval: options.interval,
    groupBy,
    series: [...series.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([key, accs]) => ({ key, buckets: accs.map((acc, i) => ({ start: iso(fromMinute + i * intervalMinutes), ...finish(acc) })) })),
    totals: finish(total),
    errorCodes: [...codes.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([code, n]) => ({ code, count: n })),
  };
}

// ---------------------------------------------------------------------------------------------
// Process-wide counters for /metrics (Prometheus)

/** Seconds; the usual Prometheus HTTP buckets. */
export const HTTP_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HttpSeries {
  route: string;
  method: string;
  status: number;
  count: number;
  sumSeconds: number;
  /** Per bucket of HTTP_BUCKETS_S (not cumulative) plus +Inf at the end. */
  buckets: Uint32Array;
}

export class ServerMetrics {
  readonly http = new Map<string, HttpSeries>();
  /** `${kind}\u0000${result}` → count (kind: profile | activity; result: success | failure). */
  readonly realtimeWrites = new Map<string, number>();
  feedSubscribers = 0;
  readonly startedAt = Date.now();

  observeHttp(route: string, method: string, status: number, seconds: number): void {
    const key = `${route}\u0000${method}\u0000${status}`;
    let s = this.http.get(key);
    if (!s) this.http.set(key, (s = { route, method, status, count: 0, sumSeconds: 0, buckets: new Uint32Array(HTTP_BUCKETS_S.length + 1) }));
    s.count++;
    s.sumSeconds += seconds;
    let i = 0;
    while (i < HTTP_BUCKETS_S.length && seconds > HTTP_BUCKETS_S[i]) i++;
    s.buckets[i]++;
  }

  countRealtimeWrites(kind: 'profile' | 'activity', success: boolean, n: number): void {
    const key = `${kind}\u0000${success ? 'success' : 'failure'}`;
    this.realtimeWrites.set(key, (this.realtimeWrites.get(key) ?? 0) + n);
  }
}
