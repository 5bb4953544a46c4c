// Shared by the SQLite adapter's files: the prepared-statement cache and SQL fragments.
import type Database from 'better-sqlite3';

export type Row = Record<string, unknown>;

/** The generation readers see, for statements that bind @instanceId. */
export const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';

const STATEMENT_CACHE = 500;

/** Prepared statements by SQL, least recently used dropped first (filters make many shapes). */
export function cachedStatement(db: Database.Database, cache: Map<string, Database.Statement>, sql: string): Database.Statement {
  let s = cache.get(sql);
  if (s) {
    cache.delete(sql);
  } else {
    s = db.prepare(sql);
    if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
  }
  cache.set(sql, s);
  return s;
}

/**
 * Per-generation data lives in tables of its own per generation: the refresh loads them in
 * primary-key order with no secondary index (B-tree appends only), then creates the indexes in
 * one sorted pass each, and a retired generation goes with DROP TABLE. Random inserts into a
 * shared index on customer_id made every commit rewrite about a page per row, and appends to a
 * shared WITHOUT ROWID table rebalance three pages every few rows (no quick balance for index
 * B-trees) and put rows over ~1,000 bytes (customers) on overflow pages.
 * The columns are those of the shared tables of the migrations, which still hold the generations
 * written before (read through GenerationTables' fallback).
 */
export type GenerationTableName =
  | 'customers'
  | 'customer_measures'
  | 'segment_members'
  | 'search_terms'
  | 'alternate_keys'
  | 'activities'
  | 'customer_enrichments';

export const GENERATION_TABLES: Record<
  GenerationTableName,
  { columns: string; withoutRowid: boolean; indexes: Record<string, { columns: string; unique?: true }> }
> = {
  // Rows of ~1 KB appended to a rowid table fill whole pages; the key is a unique index built at commit.
  customers: {
    columns: `instance_id TEXT NOT NULL, generation INTEGER NOT NULL, customer_id TEXT NOT NULL, data TEXT NOT NULL,
      source_modified TEXT, field_sources TEXT`,
    withoutRowid: false,
    indexes: { key: { columns: '(instance_id, generation, customer_id)', unique: true } },
  },
  customer_measures: {
    columns: 'instance_id TEXT NOT NULL, generation INTEGER NOT NULL, customer_id TEXT NOT NULL, data TEXT NOT NULL',
    withoutRowid: false,
    indexes: { key: { columns: '(instance_id, generation, customer_id)', unique: true } },
  },
  // Written segment by segment, each in CustomerId order: appends to the key, one pass per segment
  // through a customer_id index (built at commit instead).
  segment_members: {
    columns: `instance_id TEXT NOT NULL, generation INTEGER NOT NULL, segment TEXT NOT NULL, customer_id TEXT NOT NULL,
      PRIMARY KEY (instance_id, generation, segment, customer_id)`,
    withoutRowid: true,
    indexes: { customer: { columns: '(instance_id, generation, customer_id)' } },
  },
  // Built in one INSERT ... SELECT sorted by the key (search.ts); a retired generation's terms go with
  // DROP TABLE instead of deletes by the thousand.
  search_terms: {
    columns: `instance_id TEXT NOT NULL, generation INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('name', 'email', 'phone')),
      term TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (instance_id, generation, kind, term, customer_id)`,
    withoutRowid: true,
    indexes: {},
  },
  // source_modified: the record's last-modified time (ISO); tables of generations written before
  // it (and the shared table) lack the column, see SqliteStore.carryOverlay.
  alternate_keys: {
    columns: `instance_id TEXT NOT NULL, generation INTEGER NOT NULL, data_source TEXT NOT NULL, entity TEXT NOT NULL,
      alternate_value TEXT NOT NULL, customer_id TEXT NOT NULL, source_modified TEXT,
      PRIMARY KEY (instance_id, generation, data_source, entity, alternate_value)`,
    withoutRowid: true,
    indexes: { customer: { columns: '(instance_id, generation, customer_id)' } },
  },
  // Rows of ~600 bytes: as customers.
  activities: {
    columns: `instance_id TEXT NOT NULL, generation INTEGER NOT NULL, activity_id TEXT NOT NULL, customer_id TEXT NOT NULL,
      activity_time TEXT NOT NULL, data TEXT NOT NULL`,
    withoutRowid: false,
    indexes: {
      key: { columns: '(instance_id, generation, activity_id)', unique: true },
      customer: { columns: '(instance_id, generation, customer_id, activity_time)' },
    },
  },
  // Rows of ~450 bytes, written in CustomerId order while the write stage runs (refresh/enrich.ts):
  // appended like activities, the key built at commit; a retired generation's go with DROP TABLE.
  customer_enrichments: {
    columns: 'instance_id TEXT NOT NULL, generation INTEGER NOT NULL, customer_id TEXT NOT NULL, data TEXT NOT NULL',
    withoutRowid: false,
    indexes: { key: { columns: '(instance_id, generation, customer_id)', unique: true } },
  },
};

/** Rows per statement of a BulkInsert: one statement step per 50 rows instead of one per row. */
const ROWS_PER_INSERT = 50;

/**
 * Appends rows to one generation's table with multi-row `INSERT … VALUES (…), (…)` statements,
 * which save about a third of the per-row cost of single-row ones (2.5 against 3.8 µs a row
 * measured for activity rows). Every row starts with the generation's instance_id and generation,
 * bound once: the argument array is reused, and loading a generation allocates nothing per row here.
 */
export class BulkInsert {
  private readonly many: Database.Statement;
  private readonly one: Database.Statement;
  private readonly manyArgs: unknown[];
  private readonly oneArgs: unknown[];
  /** Values a row binds: instance_id, generation, then `columns`. */
  private readonly width: number;

  constructor(
    db: Database.Database,
    table: string,
    instanceId: string,
    generation: number,
    /** The columns after instance_id and generation. */
    columns: readonly string[],
    /** Per column, how its value is bound (default `?`), e.g. `CAST(? AS TEXT)`. */
    placeholders: readonly string[] = columns.map(() => '?'),
  ) {
    this.width = columns.length + 2;
    const row = `(?, ?, ${placeholders.join(', ')})`;
    const head = `INSERT INTO ${table} (instance_id, generation, ${columns.join(', ')}) VALUES `;
    this.many = db.prepare(head + Array.from({ length: ROWS_PER_INSERT }, () => row).join(', '));
    this.one = db.prepare(head + row);
    this.manyArgs = new Array(ROWS_PER_INSERT * this.width);
    this.oneArgs = new Array(this.width);
    for (const [args, rows] of [[this.manyArgs, ROWS_PER_INSERT], [this.oneArgs, 1]] as const) {
      for (let k = 0; k < rows; k++) {
        args[k * this.width] = instanceId;
        args[k * this.width + 1] = generation;
      }
    }
  }

  /** Inserts `count` rows; `fill(i, out, at)` writes row i's values of `columns`, in order, into out[at…]. */
  run(count: number, fill: (i: number, out: unknown[], at: number) => void): void {
    let i = 0;
    for (; i + ROWS_PER_INSERT <= count; i += ROWS_PER_INSERT) {
      for (let k = 0; k < ROWS_PER_INSERT; k++) fill(i + k, this.manyArgs, k * this.width + 2);
      this.many.run(this.manyArgs);
    }
    for (; i < count; i++) {
      fill(i, this.oneArgs, 2);
      this.one.run(this.oneArgs);
    }
  }
}

/** A unified attribute inside a row's JSON `data`, as filters and the filter index both write it (they must match). */
export function jsonAttribute(name: string): string {
  return `json_extract(data, '$."${name.replace(/"/g, '""').replace(/'/g, "''")}"')`;
}

/** Index names of a customers table that index an attribute for $filter: `${prefix}${attribute}`. */
export const FILTER_INDEX_PREFIX = 'filter:';

export const isGenerationTable = (table: string): table is GenerationTableName => Object.hasOwn(GENERATION_TABLES, table);

const quoteName = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The name of a generation's own table (quoted for SQL). */
export function ownTableName(base: GenerationTableName, instanceId: string, generation: number): string {
  return quoteName(`${base}/${instanceId}/${generation}`);
}

/** The name of an index of a generation's own table (quoted for SQL). */
export function ownIndexName(base: GenerationTableName, instanceId: string, generation: number, index: string): string {
  return quoteName(`${base}/${instanceId}/${generation}/${index}`);
}

/**
 * Finds the tables of generations on one connection. A generation's own table is looked up once
 * and remembered (it lives as long as its generation); the generation readers see is not.
 */
export class GenerationTables {
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly known = new Set<string>();

  constructor(private readonly db: Database.Database) {}

  /**
   * The table holding a generation's `base` rows: its own table, or the shared one for a
   * generation written before generations had their own tables. Either has the same columns.
   */
  table(base: GenerationTableName, instanceId: string, generation: number): string {
    const own = ownTableName(base, instanceId, generation);
    if (this.known.has(own)) return own;
    const exists = cachedStatement(this.db, this.stmts, `SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(
      `${base}/${instanceId}/${generation}`,
    );
    if (!exists) return base;
    this.known.add(own);
    return own;
  }

  /** The generation readers see, or null before the first successful refresh. */
  current(instanceId: string): number | null {
    const r = cachedStatement(this.db, this.stmts, 'SELECT current_generation AS g FROM instances WHERE id = ?').get(instanceId) as Row | undefined;
    return (r?.g as number | null | undefined) ?? null;
  }

  /**
   * Runs `read` on the current generation's `base` table inside one read transaction, so that a
   * generation switched and dropped by another connection meanwhile cannot pull the table away.
   * Without a current generation it gets the shared table, where `generation = CURRENT` finds nothing.
   */
  readCurrent<T>(instanceId: string, base: GenerationTableName, read: (table: string) => T): T {
    return this.db.transaction(() => read(this.currentTable(instanceId, base)))();
  }

  /** The current generation's `base` table; the caller holds a transaction across this and its use. */
  currentTable(instanceId: string, base: GenerationTableName): string {
    const generation = this.current(instanceId);
    return generation === null ? base : this.table(base, instanceId, generation);
  }
}
