// PostgreSQL adapter of the telemetry sub-port. Several processes add to the same minutes: each
// batch is one INSERT ... ON CONFLICT DO UPDATE that adds counts and merges histograms in SQL, so
// no read-modify-write can lose another process's requests.
import type pg from 'pg';
import type { RunStats, TelemetryMinute, TelemetryStore } from '../telemetry.js';
import { rows, run } from './statements.js';

const keyOf = (r: TelemetryMinute) => [r.instanceId, r.minute, r.method, r.entity, r.caller, r.status, r.errorCode] as const;

/**
 * Rows with the same key added together (one INSERT cannot update a row twice), in key order:
 * concurrent batches lock their rows in the same order and so never deadlock.
 */
function combine(list: readonly TelemetryMinute[]): TelemetryMinute[] {
  const byKey = new Map<string, { row: TelemetryMinute; latency: Map<number, number> }>();
  for (const r of list) {
    const k = JSON.stringify(keyOf(r));
    let entry = byKey.get(k);
    if (!entry) {
      entry = { row: { ...r, requests: 0, bytesIn: 0, bytesOut: 0 }, latency: new Map() };
      byKey.set(k, entry);
    }
    entry.row.requests += r.requests;
    entry.row.bytesIn += r.bytesIn;
    entry.row.bytesOut += r.bytesOut;
    for (const [i, c] of r.latency) entry.latency.set(i, (entry.latency.get(i) ?? 0) + c);
  }
  const out = [...byKey.values()].map(({ row, latency }) => ({ ...row, latency: [...latency.entries()].sort((a, b) => a[0] - b[0]) }));
  const compare = (a: TelemetryMinute, b: TelemetryMinute) => {
    const x = keyOf(a);
    const y = keyOf(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  };
  return out.sort(compare);
}

/** The stored histogram plus the added one: counts of the same bucket summed, buckets in order. */
const MERGED_HISTOGRAM = `(SELECT COALESCE(jsonb_agg(jsonb_build_array(b.i, b.n) ORDER BY b.i), '[]'::jsonb)
  FROM (SELECT (e->>0)::int AS i, SUM((e->>1)::bigint) AS n
        FROM jsonb_array_elements(telemetry_minutes.latency_histogram || excluded.latency_histogram) AS e GROUP BY 1) AS b)`;

export class PostgresTelemetryStore implements TelemetryStore {
  constructor(private readonly pool: pg.Pool) {}

  async addMinutes(list: readonly TelemetryMinute[]): Promise<void> {
    if (!list.length) return;
    const combined = combine(list);
    const column = <T>(f: (r: TelemetryMinute) => T) => combined.map(f);
    await run(
      this.pool,
      `INSERT INTO telemetry_minutes (instance_id, minute, method, entity, caller, status, error_code, requests, bytes_in, bytes_out, latency_histogram)
       SELECT i, m, me, e, c, s, ec, r, bi, bo, h::jsonb
       FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
         AS u(i, m, me, e, c, s, ec, r, bi, bo, h)
       ON CONFLICT (instance_id, minute, method, entity, caller, status, error_code) DO UPDATE SET
         requests = telemetry_minutes.requests + excluded.requests,
         bytes_in = telemetry_minutes.bytes_in + excluded.bytes_in,
         bytes_out = telemetry_minutes.bytes_out + excluded.bytes_out,
         latency_histogram = ${MERGED_HISTOGRAM}`,
      [
        column((r) => r.instanceId),
        column((r) => r.minute),
        column((r) => r.method),
        column((r) => r.entity),
        column((r) => r.caller),
        column((r) => r.status),
        column((r) => r.errorCode),
        column((r) => r.requests),
        column((r) => r.bytesIn),
        column((r) => r.bytesOut),
        column((r) => JSON.stringify(r.latency)),
      ],
    );
  }

  async readMinutes(instanceId: string, fromMinute: number, toMinute: number): Promise<TelemetryMinute[]> {
    const list = await rows(
      this.pool,
      `SELECT minute, method, entity, caller, status, error_code, requests, bytes_in, bytes_out, latency_histogram FROM telemetry_minutes
       WHERE instance_id = $1 AND minute >= $2 AND minute < $3 ORDER BY minute, method, entity, caller, status, error_code`,
      [instanceId, fromMinute, toMinute],
    );
    // BIGINT columns arrive as strings (node-postgres keeps 64-bit values exact); counts fit a number.
    return list.map((r) => ({
      instanceId,
      minute: r.minute as number,
      method: r.method as string,
      entity: r.entity as string,
      caller: r.caller as string,
      status: r.status as number,
      errorCode: r.error_code as string,
      requests: Number(r.requests),
      bytesIn: Number(r.bytes_in),
      bytesOut: Number(r.bytes_out),
      latency: r.latency_histogram as [number, number][],
    }));
  }

  async purgeBefore(minute: number): Promise<number> {
    return run(this.pool, 'DELETE FROM telemetry_minutes WHERE minute < $1', [minute]);
  }

  async runStats(): Promise<RunStats[]> {
    const list = await rows(
      this.pool,
      `SELECT instance_id, status, COUNT(*)::int AS n,
         (SELECT ROUND(EXTRACT(EPOCH FROM (r2.ended_at::timestamptz - r2.started_at::timestamptz)) * 1000)::int FROM runs r2
          WHERE r2.instance_id = r.instance_id AND r2.status = r.status AND r2.ended_at IS NOT NULL AND r2.started_at IS NOT NULL
          ORDER BY r2.submitted_at DESC, r2.seq DESC LIMIT 1) AS last_ms
       FROM runs r GROUP BY instance_id, status ORDER BY instance_id, status COLLATE "C"`,
    );
    return list.map((r) => ({
      instanceId: r.instance_id as string,
      status: r.status as string,
      count: r.n as number,
      lastDurationMs: (r.last_ms as number | null) ?? null,
    }));
  }
}
