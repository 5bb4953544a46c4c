// PostgreSQL adapter of the search sub-port. Terms are computed in JavaScript with the domain's own
// folding (domain/search-terms.ts), from the searched fields only, read a page of customers at a
// time in primary-key order, and bulk inserted; PostgreSQL has no built-in equivalent of foldText
// (unaccent is an extension, and its rules differ).
import type pg from 'pg';
import { customerTerms, PREFIX_END, searchedFields, type SearchSpec } from '../../domain/search-terms.js';
import type { MatchedOn, SearchHit, SearchQuery, SearchStore } from '../search.js';
import { copyRows, current, rows, transaction } from './statements.js';

/** Customers read per page while building terms. */
export const BUILD_PAGE = 5000;

export class PostgresSearchStore implements SearchStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Name terms (the folded name from each of its first 4 words on), lower-case emails and phone
   * digits of the generation's customers, in one transaction. Cost is in the refresh's write stage.
   */
  async buildTerms(instanceId: string, generation: number, spec: SearchSpec): Promise<number> {
    const kinds = searchedFields(spec);
    if (!kinds.length) return 0;
    const fields = kinds.map(([, f], i) => `data->($${i + 4}::text)`).join(', ');
    return transaction(this.pool, async (client) => {
      let after: string | null = null;
      let total = 0;
      for (;;) {
        const result = await client.query({
          text: `SELECT customer_id, ${fields} FROM customers WHERE instance_id = $1 AND generation = $2 AND ($3::text IS NULL OR customer_id > $3)
                 ORDER BY customer_id LIMIT ${BUILD_PAGE}`,
          values: [instanceId, generation, after, ...kinds.map(([, f]) => f)],
          rowMode: 'array',
        });
        const page = result.rows as unknown[][];
        const terms: string[][] = [];
        for (const r of page) {
          const customerId = r[0] as string;
          customerTerms(kinds, r.slice(1), (kind, term) => terms.push([kind, term, customerId]));
        }
        await copyRows(
          client,
          'search_terms',
          [
            { column: 'instance_id', type: 'text', value: instanceId },
            { column: 'generation', type: 'int', value: generation },
          ],
          [
            { column: 'kind', type: 'text' },
            { column: 'term', type: 'text' },
            { column: 'customer_id', type: 'text' },
          ],
          terms,
        );
        total += terms.length;
        if (page.length < BUILD_PAGE) return total;
        after = page[page.length - 1][0] as string;
      }
    });
  }

  async find(instanceId: string, query: SearchQuery, top: number): Promise<SearchHit[]> {
    const hits: SearchHit[] = [];
    const seen = new Set<string>();
    const add = (customerId: string, matchedOn: MatchedOn, matchedValue: string) => {
      if (hits.length >= top || seen.has(customerId)) return;
      seen.add(customerId);
      hits.push({ customerId, matchedOn, matchedValue });
    };
    if (query.key) {
      for (const e of query.key.entities) {
        const found = await rows(
          this.pool,
          `SELECT customer_id FROM alternate_keys WHERE instance_id = $1 AND generation = ${current(1)}
           AND data_source = $2 AND entity = $3 AND alternate_value = $4`,
          [instanceId, e.dataSource, e.entity, query.key.value],
        );
        for (const r of found) add(r.customer_id as string, 'key', query.key.value);
      }
    }
    const exactTerms: ['email' | 'phone', string][] = [];
    if (query.email) exactTerms.push(['email', query.email]);
    for (const p of query.phones ?? []) exactTerms.push(['phone', p]);
    for (const [kind, term] of exactTerms) {
      if (hits.length >= top) break;
      const found = await rows(
        this.pool,
        `SELECT customer_id FROM search_terms WHERE instance_id = $1 AND generation = ${current(1)} AND kind = $2 AND term = $3
         ORDER BY customer_id LIMIT $4`,
        [instanceId, kind, term, top],
      );
      for (const r of found) add(r.customer_id as string, kind, term);
    }
    if (query.namePrefix && hits.length < top) {
      // A customer can match with several of its terms: read a few more than needed.
      const found = await rows(
        this.pool,
        `SELECT term, customer_id FROM search_terms WHERE instance_id = $1 AND generation = ${current(1)} AND kind = 'name'
         AND term >= $2 AND term < $3 ORDER BY term, customer_id LIMIT $4`,
        [instanceId, query.namePrefix, query.namePrefix + PREFIX_END, top * 4],
      );
      for (const r of found) add(r.customer_id as string, 'name', r.term as string);
    }
    return hits;
  }
}
