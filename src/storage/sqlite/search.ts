// SQLite adapter of the search sub-port. Terms are built in one INSERT ... SELECT over the new
// generation's customers, sorted by the primary key so the B-tree is appended, not reshuffled.
// The folding runs in JavaScript functions registered on the connection (no index depends on
// them, so other tools can still open the database).
import type Database from 'better-sqlite3';
import { foldText, MAX_NAME_WORDS, PREFIX_END, type SearchSpec } from '../../domain/search-terms.js';
import type { SearchHit, SearchQuery, SearchStore } from '../search.js';
import type { GenerationTables } from './statements.js';

const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';
/** The temporary table a generation's search terms are sorted into (buildTerms). */
const BUILD_TABLE = 'kindred_search_terms_build';
/** Search terms copied per transaction from there: about 0.1 s of holding the write lock. */
const TERMS_PER_TRANSACTION = 100_000;


/** Letters, digits and single inner spaces only: lower() folds it as foldText would. */
const isPlain = (v: string) => `(${v} NOT GLOB '*[^A-Za-z0-9 ]*' AND ${v} NOT GLOB '*  *' AND ${v} NOT GLOB ' *' AND ${v} NOT GLOB '* ')`;

/** The digits of a phone written with the usual separators (domain/search-terms phoneDigits). */
const digits = (v: string) =>
  `replace(replace(replace(replace(replace(replace(replace(replace(${v}, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', ''), '/', ''), char(160), '')`;
const isPhoneDigits = (v: string) => `(length(${v}) >= 6 AND ${v} NOT GLOB '*[^0-9]*')`;

export class SqliteSearchStore implements SearchStore {
  constructor(
    private readonly db: Database.Database,
    private readonly tables: GenerationTables,
  ) {
    // Only names that are not plain (letters, digits, single spaces) come here: accents, commas,
    // apostrophes. Plain names are folded by SQLite's lower(), which gives the same result.
    db.function('kindred_fold', { deterministic: true }, (v: unknown) => {
      const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
      return foldText(s) || null;
    });
  }

  /**
   * One INSERT ... SELECT over the new generation's customers: name terms (the folded name from
   * each of its first 4 words on), lower-case emails, phone digits; sorted by the primary key.
   * Each customer's JSON is parsed once, not once per searched field.
   * Cost is in the refresh's write stage (see README, customer search).
   */
  async buildTerms(instanceId: string, generation: number, spec: SearchSpec): Promise<number> {
    const searched = [...new Set([...spec.nameFields, ...spec.emailFields, ...spec.phoneFields])];
    if (!searched.length) return 0;
    const quoted = (fields: string[]) => fields.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
    const keyIn = (fields: string[]) => `k IN (${quoted(fields)})`;
    // The searched fields of each customer: json_extract per field, all on one parse of its JSON
    // (SQLite keeps the parse for the statement's next calls); json_each made a row of every field.
    const fields = searched.map((f) => `(${quoted([f])}, ${quoted([`$."${f.replace(/"/g, '\\"')}"`])})`).join(', ');
    const ctes = [
      `fields(k, path) AS (VALUES ${fields})`,
      `vals AS MATERIALIZED (SELECT c.customer_id, f.k, json_extract(c.data, f.path) AS v
         FROM ${this.tables.table('customers', instanceId, generation)} c CROSS JOIN fields f
         WHERE c.instance_id = @instanceId AND c.generation = @generation AND v IS NOT NULL)`,
    ];
    const parts: string[] = [];
    if (spec.nameFields.length) {
      ctes.push(
        `folded AS MATERIALIZED (
           SELECT customer_id, CASE WHEN ${isPlain('v')} THEN lower(v) ELSE kindred_fold(v) END AS f
           FROM vals WHERE ${keyIn(spec.nameFields)} AND v IS NOT NULL)`,
        `words(customer_id, term, depth) AS (
           SELECT customer_id, f, 1 FROM folded WHERE f IS NOT NULL
           UNION ALL
           SELECT customer_id, substr(term, instr(term, ' ') + 1), depth + 1 FROM words WHERE depth < ${MAX_NAME_WORDS} AND instr(term, ' ') > 0)`,
      );
      parts.push(`SELECT 'name' AS kind, term, customer_id FROM words WHERE term != ''`);
    }
    if (spec.emailFields.length) parts.push(`SELECT 'email', lower(trim(v)) AS term, customer_id FROM vals WHERE ${keyIn(spec.emailFields)} AND term != ''`);
    if (spec.phoneFields.length) parts.push(`SELECT 'phone', ${digits('v')} AS term, customer_id FROM vals WHERE ${keyIn(spec.phoneFields)} AND ${isPhoneDigits('term')}`);
    const terms = this.tables.table('search_terms', instanceId, generation);
    // Computed and sorted into a temporary table first (it belongs to this connection: only a
    // read of the database, no write lock), then copied over in chunks of a short transaction
    // each, so that other connections' writes (the run's progress, real-time writes) wait for a
    // chunk at most, not for the whole build (some 10 s at a million profiles).
    this.db.exec(`DROP TABLE IF EXISTS temp.${BUILD_TABLE}`);
    this.db
      .prepare(`CREATE TEMP TABLE ${BUILD_TABLE} AS WITH RECURSIVE ${ctes.join(',\n')} SELECT kind, term, customer_id FROM (${parts.join(' UNION ALL ')}) ORDER BY kind, term, customer_id`)
      .run({ instanceId, generation });
    try {
      const last = this.db.prepare(`SELECT COALESCE(MAX(rowid), 0) FROM temp.${BUILD_TABLE}`).pluck().get() as number;
      const copy = this.db.prepare(
        `INSERT OR IGNORE INTO ${terms} (instance_id, generation, kind, term, customer_id)
         SELECT @instanceId, @generation, kind, term, customer_id FROM temp.${BUILD_TABLE} WHERE rowid > @after AND rowid <= @until ORDER BY rowid`,
      );
      let inserted = 0;
      for (let after = 0; after < last; after += TERMS_PER_TRANSACTION) {
        inserted += this.db.transaction(() => copy.run({ instanceId, generation, after, until: after + TERMS_PER_TRANSACTION }).changes)();
      }
      return inserted;
    } finally {
      this.db.exec(`DROP TABLE temp.${BUILD_TABLE}`);
    }
  }

  async find(instanceId: string, query: SearchQuery, top: number): Promise<SearchHit[]> {
    const hits: SearchHit[] = [];
    const seen = new Set<string>();
    const add = (customerId: string, matchedOn: SearchHit['matchedOn'], matchedValue: string) => {
      if (hits.length >= top || seen.has(customerId)) return;
      seen.add(customerId);
      hits.push({ customerId, matchedOn, matchedValue });
    };
    const key = query.key;
    if (key) {
      this.tables.readCurrent(instanceId, 'alternate_keys', (keys) => {
        const stmt = this.db.prepare(
          `SELECT customer_id FROM ${keys} WHERE instance_id = @instanceId AND generation = ${CURRENT}
           AND data_source = @dataSource AND entity = @entity AND alternate_value = @value`,
        );
        for (const e of key.entities) {
          const r = stmt.get({ instanceId, dataSource: e.dataSource, entity: e.entity, value: key.value }) as { customer_id: string } | undefined;
          if (r) add(r.customer_id, 'key', key.value);
        }
      });
    }
    this.tables.readCurrent(instanceId, 'search_terms', (terms) => {
      const exact = this.db.prepare(
        `SELECT customer_id FROM ${terms} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND kind = @kind AND term = @term
         ORDER BY customer_id LIMIT @limit`,
      );
      const exactTerms: ['email' | 'phone', string][] = [];
      if (query.email) exactTerms.push(['email', query.email]);
      for (const p of query.phones ?? []) exactTerms.push(['phone', p]);
      for (const [kind, term] of exactTerms) {
        if (hits.length >= top) break;
        for (const r of exact.all({ instanceId, kind, term, limit: top }) as { customer_id: string }[]) add(r.customer_id, kind, term);
      }
      if (query.namePrefix && hits.length < top) {
        // A customer can match with several of its terms: read a few more than needed.
        const rows = this.db
          .prepare(
            `SELECT term, customer_id FROM ${terms} WHERE instance_id = @instanceId AND generation = ${CURRENT} AND kind = 'name'
             AND term >= @low AND term < @high ORDER BY term, customer_id LIMIT @limit`,
          )
          .all({ instanceId, low: query.namePrefix, high: query.namePrefix + PREFIX_END, limit: top * 4 }) as { term: string; customer_id: string }[];
        for (const r of rows) add(r.customer_id, 'name', r.term);
      }
    });
    return hits;
  }
}
