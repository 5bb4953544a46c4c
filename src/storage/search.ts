// Sub-port of the Store: indexed customer search over the current generation (name prefix,
// exact email, phone and source key). Terms are built per generation before it commits; real-time
// overrides are not searched (the batch values are).
import type { SearchSpec } from '../domain/search-terms.js';

export type MatchedOn = 'name' | 'email' | 'phone' | 'key';

export interface SearchHit {
  customerId: string;
  matchedOn: MatchedOn;
  /** The stored term or key that matched (folded name, lower-case email, phone digits, source key). */
  matchedValue: string;
}

export interface SearchQuery {
  /** Folded name prefix (domain/search-terms foldText). */
  namePrefix?: string;
  /** Email, trimmed, A-Z in lower case (domain/search-terms emailTerm). */
  email?: string;
  /** Digit strings a stored phone may have (domain/search-terms phoneCandidates). */
  phones?: string[];
  /** A source key, looked up exactly in these customer entities. */
  key?: { value: string; entities: { dataSource: string; entity: string }[] };
}

export interface SearchStore {
  /** Builds the search terms of a generation that is being written (not yet committed); returns how many. */
  buildTerms(instanceId: string, generation: number, spec: SearchSpec): Promise<number>;
  /** Matches in order key, email, phone, name; at most `top`, one per customer. */
  find(instanceId: string, query: SearchQuery, top: number): Promise<SearchHit[]>;
}
