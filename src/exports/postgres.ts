// Export to a PostgreSQL table, upserted by the entity's key (CustomerId for profiles). The whole
// export is one transaction: rows that are no longer part of it (a customer who left the segment
// or was merged away) are deleted at the end, so readers see the previous export or this one.
import pg from 'pg';
import type { ExportTargetDef } from '../config/outputs.js';
import type { ColumnType } from '../config/schema.js';
import type { ExportContext, ExportSink } from './sink.js';

const PG_TYPES: Record<ColumnType, string> = {
  string: 'text',
  integer: 'bigint',
  decimal: 'numeric',
  boolean: 'boolean',
  date: 'date',
  datetime: 'timestamptz',
};

/** Columns Kindred adds: which export run wrote the row, and when. */
const RUN_COLUMN = '_kindred_run';
const AT_COLUMN = '_kindred_exported_at';
const MAX_PARAMETERS = 60_000;

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function connectionStringOf(target: ExportTargetDef, env: NodeJS.ProcessEnv = process.env): string {
  if (target.connectionString) return target.connectionString;
  const value = target.connectionStringEnv ? env[target.connectionStringEnv] : undefined;
  if (!value) throw new Error(`the environment variable ${target.connectionStringEnv} (the PostgreSQL connection string) is not set`);
  return value;
}

class PostgresSink implements ExportSink {
  batches = 0;
  private constructor(
    private readonly client: pg.Client,
    private readonly table: string,
    private readonly description_: string,
    private readonly ctx: ExportContext,
    private readonly exportedAt: string,
  ) {}

  static async open(target: ExportTargetDef, ctx: ExportContext): Promise<PostgresSink> {
    const client = new pg.Client({ connectionString: connectionStringOf(target), connectionTimeoutMillis: 10_000 });
    client.on('error', () => {}); // a dropped connection fails the next query, which is reported
    await client.connect();
    const schema = target.schema ?? 'public';
    const table = `${quoteIdent(schema)}.${quoteIdent(target.table!)}`;
    try {
      await client.query('BEGIN');
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      const columns = ctx.fields.map((f) => `${quoteIdent(f.name)} ${PG_TYPES[f.type]}${ctx.keys.includes(f.name) ? ' NOT NULL' : ''}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${table} (${[...columns, `${RUN_COLUMN} text NOT NULL`, `${AT_COLUMN} timestamptz NOT NULL`].join(', ')},
         PRIMARY KEY (${ctx.keys.map(quoteIdent).join(', ')}))`,
      );
      // A table from an earlier export with fewer fields gets the new ones.
      for (const f of ctx.fields) await client.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${quoteIdent(f.name)} ${PG_TYPES[f.type]}`);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      await client.end().catch(() => {});
      throw err;
    }
    const url = new URL(connectionStringOf(target).replace(/^postgres(ql)?:/, 'http:'));
    return new PostgresSink(client, table, `postgres ${url.hostname}:${url.port || 5432}${url.pathname} ${schema}.${target.table}`, ctx, new Date().toISOString());
  }

  get description(): string {
    return this.description_;
  }

  async write(rows: Record<string, unknown>[]): Promise<void> {
    const names = this.ctx.fields.map((f) => f.name);
    const perRow = names.length + 2;
    const chunk = Math.max(1, Math.floor(MAX_PARAMETERS / perRow));
    const columns = [...names.map(quoteIdent), RUN_COLUMN, AT_COLUMN].join(', ');
    const updates = [...names.filter((n) => !this.ctx.keys.includes(n)).map(quoteIdent), RUN_COLUMN, AT_COLUMN]
      .map((c) => `${c} = EXCLUDED.${c}`)
      .join(', ');
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk);
      const params: unknown[] = [];
      const tuples = part.map((row) => {
        const start = params.length;
        for (const n of names) params.push(row[n] ?? null);
        params.push(this.ctx.runId, this.exportedAt);
        return `(${Array.from({ length: perRow }, (_, k) => `$${start + k + 1}`).join(', ')})`;
      });
      await this.client.query(
        `INSERT INTO ${this.table} (${columns}) VALUES ${tuples.join(', ')}
         ON CONFLICT (${this.ctx.keys.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates}`,
        params,
      );
    }
    this.batches++;
  }

  async complete(): Promise<void> {
    try {
      await this.client.query(`DELETE FROM ${this.table} WHERE ${RUN_COLUMN} <> $1`, [this.ctx.runId]);
      await this.client.query('COMMIT');
    } finally {
      await this.client.end().catch(() => {});
    }
  }

  async abort(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => {});
    await this.client.end().catch(() => {});
  }
}

export function postgresSink(target: ExportTargetDef, ctx: ExportContext): Promise<ExportSink> {
  return PostgresSink.open(target, ctx);
}
