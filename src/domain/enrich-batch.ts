// Enrichment of many profiles at once, in a form that crosses a thread boundary cheaply: the
// input is one string of the fields the plan reads (not the profiles), the output is the stored
// rows as UTF-8 bytes (CustomerId and JSON text per row), in CustomerId order so that a table
// keyed by CustomerId is written by appending. Pure: the refresh runs it in a worker thread.
import { Enricher, fieldText, postalCountryField, postalCountryText, type EnrichmentCounts, type EnrichmentPlan, type EnrichmentRecord } from './enrich.js';
import type { CustomerRecord } from './profile.js';

/**
 * The texts the enrichers read, per profile: CustomerId, one per plan input, the postal country
 * (cellsPerProfile cells), in chunks of PACK_CHUNK profiles: each chunk's cells joined into one
 * string, as UTF-8. Buffers move to a worker thread without a copy, where a string (or an array
 * of strings) would be serialized; one join and one encoding per chunk cost far less than one per
 * cell. A well-formed string survives UTF-8 unchanged, so cell ends count UTF-16 units.
 */
export interface PackedProfiles {
  count: number;
  cellsPerProfile: number;
  /** Each chunk's cells, joined, in UTF-8. */
  bytes: Uint8Array[];
  /** End of each cell in its chunk's joined string. */
  ends: Uint32Array[];
  /**
   * Cells (numbered across chunks) stored as JSON text: those with a lone surrogate, which UTF-8
   * cannot carry (JSON.stringify escapes it). Almost always none.
   */
  escaped: number[];
}

const PACK_CHUNK = 1 << 16;

const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Stored rows: row i's CustomerId is bytes[offsets[2i], offsets[2i+1]), its JSON bytes[offsets[2i+1], offsets[2i+2]). */
export interface EncodedEnrichments {
  bytes: Uint8Array;
  offsets: Uint32Array;
}

export const encodedRowCount = (batch: EncodedEnrichments): number => (batch.offsets.length - 1) / 2;

/** Rows per encoded batch (and per write transaction). */
export const ENRICHMENT_BATCH = 10_000;

export function packProfiles(plan: EnrichmentPlan, customers: CustomerRecord[]): PackedProfiles {
  const countryField = postalCountryField(plan);
  const cellsPerProfile = 2 + plan.inputs.length;
  const packed: PackedProfiles = { count: customers.length, cellsPerProfile, bytes: [], ends: [], escaped: [] };
  const encoder = new TextEncoder();
  for (let from = 0; from < customers.length; from += PACK_CHUNK) {
    const to = Math.min(from + PACK_CHUNK, customers.length);
    const cells: string[] = new Array((to - from) * cellsPerProfile);
    let k = 0;
    for (let p = from; p < to; p++) {
      const c = customers[p];
      cells[k++] = c.CustomerId;
      for (const input of plan.inputs) cells[k++] = fieldText(c[input.field]);
      cells[k++] = postalCountryText(countryField, c);
    }
    let text = cells.join('');
    if (!isWellFormed(text)) {
      for (let i = 0; i < cells.length; i++) {
        if (isWellFormed(cells[i])) continue;
        cells[i] = JSON.stringify(cells[i]);
        packed.escaped.push(from * cellsPerProfile + i);
      }
      text = cells.join('');
    }
    const ends = new Uint32Array(cells.length);
    let end = 0;
    for (let i = 0; i < cells.length; i++) ends[i] = end += cells[i].length;
    packed.bytes.push(encoder.encode(text));
    packed.ends.push(ends);
  }
  return packed;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Enriches every packed profile, handing over the rows in CustomerId order, ENRICHMENT_BATCH at a
 * time. Returns the enricher's counts.
 */
export function enrichPacked(plan: EnrichmentPlan, packed: PackedProfiles, onBatch: (batch: EncodedEnrichments) => void): EnrichmentCounts {
  const { count: n, cellsPerProfile } = packed;
  // ignoreBOM: a cell may begin with U+FEFF, which must stay.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const chunkTexts = packed.bytes.map((b) => decoder.decode(b));
  const escaped = new Set(packed.escaped);
  /** Cell k of profile p. */
  const cell = (p: number, k: number) => {
    const chunk = Math.floor(p / PACK_CHUNK);
    const ends = packed.ends[chunk];
    const c = (p % PACK_CHUNK) * cellsPerProfile + k;
    const text = chunkTexts[chunk].slice(c === 0 ? 0 : ends[c - 1], ends[c]);
    return escaped.size && escaped.has(p * cellsPerProfile + k) ? (JSON.parse(text) as string) : text;
  };
  const ids = new Array<string>(n);
  for (let p = 0; p < n; p++) ids[p] = cell(p, 0);
  const order = Array.from({ length: n }, (_, p) => p).sort((a, b) => byString(ids[a], ids[b]));
  const enricher = new Enricher(plan);
  const inputs = plan.inputs.length;
  const texts = new Array<string>(inputs);
  const encoder = new BatchEncoder();
  for (let from = 0; from < n; from += ENRICHMENT_BATCH) {
    const to = Math.min(from + ENRICHMENT_BATCH, n);
    for (let i = from; i < to; i++) {
      const p = order[i];
      for (let k = 0; k < inputs; k++) texts[k] = cell(p, 1 + k);
      const record = enricher.enrichTexts(ids[p], texts, cell(p, 1 + inputs));
      encoder.add(record.CustomerId, JSON.stringify(record));
    }
    onBatch(encoder.take());
  }
  return enricher.counts;
}

/** Rows in the stored form (for writers given records). */
export function encodeEnrichments(rows: EnrichmentRecord[]): EncodedEnrichments {
  const encoder = new BatchEncoder();
  for (const r of rows) encoder.add(r.CustomerId, JSON.stringify(r));
  return encoder.take();
}

/** The rows of a batch as text: [CustomerId, JSON]. */
export function* decodeEnrichments(batch: EncodedEnrichments): Generator<[string, string]> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const { bytes, offsets } = batch;
  for (let i = 0; i + 2 < offsets.length; i += 2) {
    yield [decoder.decode(bytes.subarray(offsets[i], offsets[i + 1])), decoder.decode(bytes.subarray(offsets[i + 1], offsets[i + 2]))];
  }
}

/** Collects rows as UTF-8 into one growing buffer, with the end of each string. */
class BatchEncoder {
  private readonly encoder = new TextEncoder();
  private buffer = new Uint8Array(1 << 20);
  private used = 0;
  private offsets: number[] = [0];

  add(id: string, json: string): void {
    this.put(id);
    this.put(json);
  }

  private put(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.used + s.length * 3 > this.buffer.length) {
      const bigger = new Uint8Array(Math.max(this.buffer.length * 2, this.used + s.length * 3));
      bigger.set(this.buffer.subarray(0, this.used));
      this.buffer = bigger;
    }
    this.used += this.encoder.encodeInto(s, this.buffer.subarray(this.used)).written;
    this.offsets.push(this.used);
  }

  /** The rows added since the last take, in a buffer of their own. */
  take(): EncodedEnrichments {
    const batch = { bytes: this.buffer.slice(0, this.used), offsets: Uint32Array.from(this.offsets) };
    this.used = 0;
    this.offsets = [0];
    return batch;
  }
}
