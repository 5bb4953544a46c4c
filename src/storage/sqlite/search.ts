// SQLite adapter of the search sub-port. Terms are built in one INSERT ... SELECT over the new
// generation's customers, sorted by the primary key so the B-tree is appended, not reshuffled.
// The folding runs in JavaScript functions registered on the connection (no index depends on
// them, so other tools can still open the database).
import type Database from 'better-sqlite3';
import { emailTerm, nameTerms, phoneTerm, PREFIX_END, type SearchSpec } from '../../domain/search-terms.js';
import type { SearchHit, SearchQuery, SearchStore } from '../search.js';

const CURRENT = '(SELECT current_generation FROM instances WHERE id = @instanceId)';

const field = (name: string) => `json_extract(c.data, '$."${name.replace(/"/g, '""')}"')`;

export class SqliteSearchStore implements SearchStore {
  constructor(private readonly db: Database.Database) {
    const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);
    db.function('kindred_name_terms', { deterministic: true }, (v: unknown) => {
      const s = text(v);
      const terms = s === null ? [] : nameTerms(s);
      return terms.length ? JSON.stringify(terms) : null;
    });
    db.function('kindred_email_term', { deterministic: true }, (v: unknown) => {
      const s = text(v);
      return s === null ? null : emailTerm(s) || null;
    });
    db.function('kindred_phone_term', { deterministic: true }, (v: unknown, region: unknown) => {
      const s = text(v);
      return s === null ? null : phoneTerm(s, typeof region === 'string' ? region : undefined) || null;
    });
  }

  async buildTerms(instanceId: string, generation: number, spec: SearchSpec): Promise<number> {
    const from = 'FROM customers c WHERE c.instance_id = @instanceId AND c.generation = @generation';
    const parts: string[] = [];
    for (const f of spec.nameFields)
      parts.push(`SELECT 'name' AS kind, t.value AS term, c.customer_id AS customer_id FROM customers c, json_each(kindred_name_terms(${field(f)})) t
        WHERE c.instance_id = @instanceId AND c.generation = @generation`);
    for (const f of spec.emailFields) parts.push(`SELECT 'email', kindred_email_term(${field(f)}) AS term, c.customer_id ${from} AND term IS NOT NULL`);
    for (const f of spec.phoneFields)
      parts.push(`SELECT 'phone', kindred_phone_term(${field(f)}, @region) AS term, c.customer_id ${from} AND term IS NOT NULL`);
    if (!parts.length) return 0;
    const sql = `INSERT OR IGNORE INTO search_terms (instance_id, generation, kind, term, customer_id)
      SELECT @instanceId, @generation, kind, term, customer_id FROM (${parts.join(' UNION ALL ')}) ORDER BY kind, term, customer_id`;
    return this.db.transaction(() => this.db.prepare(sql).run({ instanceId, generation, region: spec.phoneRegion ?? null }).changes)();
  }

  async find(instanceId: string, query: SearchQuery, top: number): Promise<SearchHit[]> {
    const hits: SearchHit[] = [];
    const seen = new Set<string>();
    const add = (customerId: string, matchedOn: SearchHit['matchedOn'], matchedValue: string) => {
      if (hits.length >= top || seen.has(customerId)) return;
      seen.add(customerId);
      hits.push({ customerId, matchedOn, matchedValue });
    };
    if (query.key) {
      const stmt = this.db.prepare(
        `SELECT customer_id FROM alternate_keys WHERE instance_id = @instanceId AND generation = ${CURRENT}
         AND data_source = @dataSource AND entity = @entity AND alternate_value = @value`,
      );
      for (const e of query.key.entities) {
        const r = stmt.get({ instanceId, dataSource: e.dataSource, entity: e.entity, value: query.key.value }) as { customer_id: string } | undefined;
        if (r) add(r.customer_id, 'key', query.key.value);
      }
    }
    const exact = this.db.prepare(
      `SELECT customer_id FROM search_terms WHERE instance_id = @instanceId AND generation = ${CURRENT} AND kind = @kind AND term = @term
       ORDER BY customer_id LIMIT @limit`,
    );
    for (const kind of ['email', 'phone'] as const) {
      const term = query[kind];
      if (!term || hits.length >= top) continue;
      for (const r of exact.all({ instanceId, kind, term, limit: top }) as { customer_id: string }[]) add(r.customer_id, kind, term);
    }
    if (query.namePrefix && hits.length < top) {
      // A customer can match with several of its terms: read a few more than needed.
      const rows = this.db
        .prepare(
          `SELECT term, customer_id FROM search_terms WHERE instance_id = @instanceId AND generation = ${CURRENT} AND kind = 'name'
           AND term >= @low AND term < @high ORDER BY term, customer_id LIMIT @limit`,
        )
        .all({ instanceId, low: query.namePrefix, high: query.namePrefix + PREFIX_END, limit: top * 4 }) as { term: string; customer_id: string }[];
      for (const r of rows) add(r.customer_id, 'name', r.term);
    }
    return hits;
  }
}
