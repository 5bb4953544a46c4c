// The enrichment of a profile: which unified fields feed which enricher (from the definition, or
// by semantic type), the attributes of the CustomerEnrichment entity, and the enricher that turns
// a CustomerRecord into an enrichment record. Pure: no I/O, no network. Each enricher caches its
// results per distinct input value, since many profiles share domains, countries and names.
import type { ResolvedInstance } from '../config/resolve.js';
import type { ColumnType } from '../config/schema.js';
import { EmailEnricher } from './enrich-email.js';
import { CountryNormalizer, normalizePostalCode } from './enrich-location.js';
import { splitName } from './enrich-name.js';
import { enrichPhone, phoneCacheKey, phoneParser } from './enrich-phone.js';
import type { CustomerRecord, FieldValue } from './profile.js';

export const ENRICHMENT_ENTITY = 'CustomerEnrichment';
export const ENRICHER_KINDS = ['phone', 'email', 'name', 'postalCode', 'country'] as const;
export type EnricherKind = (typeof ENRICHER_KINDS)[number];

/** Semantic types of unified fields that feed an enricher when the definition does not say. */
export const DEFAULT_SEMANTIC_TYPES: Record<EnricherKind, string[]> = {
  phone: ['Identity.Service.Phone'],
  email: ['Identity.Service.Email'],
  name: ['Person.FullName'],
  postalCode: ['Location.PostalCode', 'Location.ZipCode'],
  country: ['Location.Country'],
};

/** Attribute suffixes each enricher adds, after the unified field's name (Phone → PhoneE164). */
const OUTPUTS: Record<EnricherKind, [string, ColumnType][]> = {
  phone: [['E164', 'string'], ['Country', 'string'], ['LineType', 'string'], ['IsValid', 'boolean']],
  email: [['Domain', 'string'], ['IsFreeMail', 'boolean'], ['IsDisposable', 'boolean'], ['IsBusiness', 'boolean'], ['IsValid', 'boolean']],
  name: [['Title', 'string'], ['First', 'string'], ['Middle', 'string'], ['Last', 'string'], ['Suffix', 'string']],
  postalCode: [['Normalized', 'string'], ['IsValid', 'boolean']],
  country: [['Code', 'string']],
};

export interface EnrichmentInput {
  kind: EnricherKind;
  /** The unified Customer field read. */
  field: string;
  /** Attribute names written, in OUTPUTS order. */
  attributes: string[];
}

export interface EnrichmentPlan {
  enabled: boolean;
  inputs: EnrichmentInput[];
  /** Country assumed for phone numbers and postal codes without one. */
  region: string | null;
  /** Every attribute of CustomerEnrichment with its type, CustomerId first. */
  attributes: [string, ColumnType][];
}

/** Unified fields that feed each enricher, for the definition or by semantic type. */
export function enrichmentPlan(instance: ResolvedInstance): EnrichmentPlan {
  const config = instance.definition.enrichment ?? {};
  const enabled = config.enabled ?? true;
  // A field has the semantic types of all its source columns (Email may come from a typed
  // column in one entity and an untyped one in another).
  const semantic = new Map<string, Set<string>>();
  for (const f of instance.mergeFields) {
    const types = new Set<string>();
    for (const c of f.from) {
      const t = instance.entities.get(c.entity)?.columns[c.index]?.semanticType;
      if (t) types.add(t);
    }
    semantic.set(f.name, types);
  }
  const inputs: EnrichmentInput[] = [];
  if (enabled) {
    for (const kind of ENRICHER_KINDS) {
      const fields = config[kind] ?? [...semantic].filter(([, types]) => DEFAULT_SEMANTIC_TYPES[kind].some((t) => types.has(t))).map(([name]) => name);
      for (const field of fields) inputs.push({ kind, field, attributes: OUTPUTS[kind].map(([suffix]) => `${field}${suffix}`) });
    }
  }
  const attributes: [string, ColumnType][] = [['CustomerId', 'string']];
  for (const input of inputs) OUTPUTS[input.kind].forEach(([, type], i) => attributes.push([input.attributes[i], type]));
  return { enabled, inputs, region: config.region ?? instance.definition.defaultPhoneRegion ?? null, attributes };
}

/** Attribute names an enricher of `kind` adds for `field` (for checks of the definition). */
export function enrichmentAttributeNames(kind: EnricherKind, field: string): string[] {
  return OUTPUTS[kind].map(([suffix]) => `${field}${suffix}`);
}

export type EnrichmentRecord = { CustomerId: string } & Record<string, FieldValue>;

const CACHE_LIMIT = 250_000;

/** A per-value cache that starts over when full (bounded memory over millions of distinct values). */
class ValueCache<T> {
  private readonly map = new Map<string, T>();
  hits = 0;
  get(key: string, compute: (key: string) => T): T {
    let v = this.map.get(key);
    if (v !== undefined) {
      this.hits++;
      return v;
    }
    v = compute(key);
    if (this.map.size >= CACHE_LIMIT) this.map.clear();
    this.map.set(key, v);
    return v;
  }
}

export interface EnrichmentCounts {
  profiles: number;
  values: number;
  invalid: number;
  cacheHits: number;
}

export class Enricher {
  private readonly email = new EmailEnricher();
  private readonly countries = new CountryNormalizer();
  private readonly caches: Record<EnricherKind, ValueCache<FieldValue[]>> = {
    phone: new ValueCache(),
    email: new ValueCache(),
    name: new ValueCache(),
    postalCode: new ValueCache(),
    country: new ValueCache(),
  };
  /** Country field used for postal codes: the first country input. */
  private readonly countryField: string | undefined;
  private readonly tally = { profiles: 0, values: 0, invalid: 0 };

  get counts(): EnrichmentCounts {
    return { ...this.tally, cacheHits: Object.values(this.caches).reduce((n, c) => n + c.hits, 0) };
  }

  constructor(readonly plan: EnrichmentPlan) {
    this.countryField = postalCountryField(plan);
    // Load the phone metadata now, not in the middle of the first batch.
    if (plan.inputs.some((i) => i.kind === 'phone')) phoneParser();
  }

  private compute(kind: EnricherKind, value: string, country: string | null): FieldValue[] {
    switch (kind) {
      case 'phone': {
        const p = enrichPhone(value, this.plan.region ?? undefined);
        return [p.e164, p.country, p.lineType, p.valid];
      }
      case 'email': {
        const e = this.email.enrich(value);
        return [e.domain, e.freeMail, e.disposable, e.business, e.valid];
      }
      case 'name': {
        const n = splitName(value);
        return [n.title, n.first, n.middle, n.last, n.suffix];
      }
      case 'postalCode': {
        const p = normalizePostalCode(value, country);
        return [p.postalCode, p.valid];
      }
      case 'country':
        return [this.countries.normalize(value)];
    }
  }

  enrich(customer: CustomerRecord): EnrichmentRecord {
    return this.enrichTexts(customer.CustomerId, this.plan.inputs.map((i) => fieldText(customer[i.field])), postalCountryText(this.countryField, customer));
  }

  /**
   * The enrichment of a profile given as text: `texts[i]` is the value of plan input i (''
   * when absent, see fieldText), `postalCountry` that of postalCountryText.
   */
  enrichTexts(customerId: string, texts: string[], postalCountry: string): EnrichmentRecord {
    const out: EnrichmentRecord = { CustomerId: customerId };
    this.tally.profiles++;
    let country: string | null | undefined;
    const inputs = this.plan.inputs;
    for (let k = 0; k < inputs.length; k++) {
      const input = inputs[k];
      const text = texts[k];
      let values: FieldValue[] | null = null;
      if (text !== '') {
        this.tally.values++;
        if (input.kind === 'postalCode') {
          if (country === undefined) {
            country =
              (postalCountry ? (this.caches.country.get(postalCountry, (v) => this.compute('country', v, null))[0] as string | null) : null) ?? this.plan.region;
          }
          const key = `${country ?? ''}\u0000${text}`;
          values = this.caches.postalCode.get(key, () => this.compute('postalCode', text, country ?? null));
        } else if (input.kind === 'phone') {
          values = this.caches.phone.get(phoneCacheKey(text), () => this.compute('phone', text, null));
        } else if (input.kind === 'email') {
          // Emails are about one per profile: a cache would only add a map entry per profile.
          values = this.compute('email', text, null);
        } else {
          values = this.caches[input.kind].get(text, (v) => this.compute(input.kind, v, null));
        }
        if (values.every((v) => v === null || v === false)) this.tally.invalid++;
      }
      input.attributes.forEach((name, i) => (out[name] = values ? values[i] : null));
    }
    return out;
  }
}

/** A field value as the enrichers read it: '' when absent (null or empty), else its text. */
export function fieldText(raw: FieldValue | undefined): string {
  return raw === null || raw === undefined ? '' : String(raw);
}

/** The field whose country postal codes are read in: the first country input. */
export function postalCountryField(plan: EnrichmentPlan): string | undefined {
  return plan.inputs.find((i) => i.kind === 'country')?.field;
}

/** The text of that field on a profile ('' when none). */
export function postalCountryText(field: string | undefined, customer: CustomerRecord): string {
  const c = field ? customer[field] : null;
  return c ? String(c) : '';
}
