// Sub-port of the Store: real-time API telemetry kept per minute (not per request), and the few
// aggregate numbers /metrics reads from the store.

/** One minute of one (instance, method, entity, caller, status, error code) combination. */
export interface TelemetryMinute {
  instanceId: string;
  /** Minutes since the Unix epoch (UTC). */
  minute: number;
  method: string;
  entity: string;
  caller: string;
  status: number;
  /** '' for successful requests. */
  errorCode: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** Latency histogram, sparse: [bucket index, count] (buckets: realtime/telemetry.ts). */
  latency: [number, number][];
}

export interface RunStats {
  instanceId: string;
  status: string;
  count: number;
  /** Duration of the instance's latest finished run with this status (ms), if any. */
  lastDurationMs: number | null;
}

export interface TelemetryStore {
  /** Adds the rows to what is stored (same key: counts and histograms add up). */
  addMinutes(rows: readonly TelemetryMinute[]): Promise<void>;
  /** Rows of an instance with fromMinute <= minute < toMinute. */
  readMinutes(instanceId: string, fromMinute: number, toMinute: number): Promise<TelemetryMinute[]>;
  /** Deletes minutes before `minute`; returns how many rows. */
  purgeBefore(minute: number): Promise<number>;
  /** Refresh runs per instance and status (for /metrics). */
  runStats(): Promise<RunStats[]>;
}
