// SQLite adapter of the telemetry sub-port.
import type Database from 'better-sqlite3';
import type { RunStats, TelemetryMinute, TelemetryStore } from '../telemetry.js';

type Row = Record<string, unknown>;

/** "index:count,index:count" */
function encode(latency: readonly [number, number][]): string {
  return latency.map(([i, c]) => `${i}:${c}`).join(',');
}

function decode(text: string): [number, number][] {
  if (!text) return [];
  return text.split(',').map((pair) => {
    const colon = pair.indexOf(':');
    return [Number(pair.slice(0, colon)), Number(pair.slice(colon + 1))];
  });
}

function addSparse(a: [number, number][], b: readonly [number, number][]): [number, number][] {
  const m = new Map(a);
  for (const [i, c] of b) m.set(i, (m.get(i) ?? 0) + c);
  return [...m.entries()].sort((x, y) => x[0] - y[0]);
}

export class SqliteTelemetryStore implements TelemetryStore {
  private readonly select: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly add: Database.Transaction<(rows: readonly TelemetryMinute[]) => void>;

  constructor(private readonly db: Database.Database) {
    const key = 'instance_id = @instanceId AND minute = @minute AND method = @method AND entity = @entity AND caller = @caller AND status = @status AND error_code = @errorCode';
    this.select = db.prepare(`SELECT requests, bytes_in, bytes_out, latency_histogram FROM telemetry_minutes WHERE ${key}`);
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO telemetry_minutes (instance_id, minute, method, entity, caller, status, error_code, requests, bytes_in, bytes_out, latency_histogram)
       VALUES (@instanceId, @minute, @method, @entity, @caller, @status, @errorCode, @requests, @bytesIn, @bytesOut, @histogram)`,
    );
    // Read, add, write in one transaction: histograms are merged here, not in SQL.
    this.add = db.transaction((rows: readonly TelemetryMinute[]) => {
      for (const r of rows) {
        const params = { instanceId: r.instanceId, minute: r.minute, method: r.method, entity: r.entity, caller: r.caller, status: r.status, errorCode: r.errorCode };
        const old = this.select.get(params) as Row | undefined;
        const latency = old ? addSparse(decode(old.latency_histogram as string), r.latency) : r.latency;
        this.upsert.run({
          ...params,
          requests: r.requests + ((old?.requests as number) ?? 0),
          bytesIn: r.bytesIn + ((old?.bytes_in as number) ?? 0),
          bytesOut: r.bytesOut + ((old?.bytes_out as number) ?? 0),
          histogram: encode(latency),
        });
      }
    });
  }

  async addMinutes(rows: readonly TelemetryMinute[]): Promise<void> {
    // IMMEDIATE: a read transaction that later upgrades fails at once (SQLITE_BUSY, no busy wait)
    // when the real-time writer thread committed meanwhile; taking the write lock first waits.
    if (rows.length) this.add.immediate(rows);
  }

  async readMinutes(instanceId: string, fromMinute: number, toMinute: number): Promise<TelemetryMinute[]> {
    const rows = this.db
      .prepare(
        `SELECT minute, method, entity, caller, status, error_code, requests, bytes_in, bytes_out, latency_histogram FROM telemetry_minutes
         WHERE instance_id = ? AND minute >= ? AND minute < ? ORDER BY minute`,
      )
      .raw()
      .all(instanceId, fromMinute, toMinute) as unknown[][];
    return rows.map((r) => ({
      instanceId,
      minute: r[0] as number,
      method: r[1] as string,
      entity: r[2] as string,
      caller: r[3] as string,
      status: r[4] as number,
      errorCode: r[5] as string,
      requests: r[6] as number,
      bytesIn: r[7] as number,
      bytesOut: r[8] as number,
      latency: decode(r[9] as string),
    }));
  }

  async purgeBefore(minute: number): Promise<number> {
    return this.db.prepare('DELETE FROM telemetry_minutes WHERE minute < ?').run(minute).changes;
  }

  async runStats(): Promise<RunStats[]> {
    const rows = this.db
      .prepare(
        `SELECT instance_id, status, COUNT(*) AS n,
           (SELECT CAST(ROUND((julianday(r2.ended_at) - julianday(r2.started_at)) * 86400000) AS INTEGER) FROM runs r2
            WHERE r2.instance_id = r.instance_id AND r2.status = r.status AND r2.ended_at IS NOT NULL AND r2.started_at IS NOT NULL
            ORDER BY r2.submitted_at DESC LIMIT 1) AS last_ms
         FROM runs r GROUP BY instance_id, status ORDER BY instance_id, status`,
      )
      .all() as Row[];
    return rows.map((r) => ({
      instanceId: r.instance_id as string,
      status: r.status as string,
      count: r.n as number,
      lastDurationMs: (r.last_ms as number | null) ?? null,
    }));
  }
}
