// Countries to ISO 3166-1 alpha-2 and postal codes to their country's canonical form. Country
// names come from ICU (Intl.DisplayNames) in several languages, so no list needs maintaining here.
import { getCountries } from 'libphonenumber-js/max';

const NAME_LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'sv', 'da', 'pl'];

/** Common spellings ICU does not give, and alpha-3 codes of frequent countries. */
const ALIASES: Record<string, string> = {
  usa: 'US', 'u.s.a.': 'US', 'u.s.': 'US', america: 'US', 'united states of america': 'US', uk: 'GB', 'u.k.': 'GB', 'great britain': 'GB',
  england: 'GB', scotland: 'GB', wales: 'GB', 'northern ireland': 'GB', holland: 'NL', 'the netherlands': 'NL', deutschland: 'DE',
  gbr: 'GB', deu: 'DE', fra: 'FR', esp: 'ES', ita: 'IT', nld: 'NL', bel: 'BE', aut: 'AT', che: 'CH', swe: 'SE', nor: 'NO', dnk: 'DK',
  fin: 'FI', pol: 'PL', prt: 'PT', irl: 'IE', can: 'CA', mex: 'MX', bra: 'BR', arg: 'AR', aus: 'AU', nzl: 'NZ', jpn: 'JP', chn: 'CN',
  ind: 'IN', kor: 'KR', zaf: 'ZA', rus: 'RU', tur: 'TR', grc: 'GR', cze: 'CZ', hun: 'HU', rou: 'RO', lux: 'LU', sgp: 'SG', are: 'AE',
  'south korea': 'KR', 'north korea': 'KP', russia: 'RU', 'czech republic': 'CZ', 'ivory coast': 'CI', uae: 'AE', 'hong kong': 'HK',
};

const fold = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9.' ]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

export class CountryNormalizer {
  private readonly byName = new Map<string, string>();
  private readonly codes: Set<string>;

  constructor() {
    this.codes = new Set(getCountries() as string[]);
    for (const lang of NAME_LANGUAGES) {
      const names = new Intl.DisplayNames([lang], { type: 'region', fallback: 'none' });
      for (const code of this.codes) {
        const name = names.of(code);
        if (name) this.byName.set(fold(name), code);
      }
    }
    for (const [alias, code] of Object.entries(ALIASES)) this.byName.set(alias, code);
  }

  /** ISO 3166-1 alpha-2, or null when the text names no known country. */
  normalize(value: string): string | null {
    const text = value.trim();
    if (/^[A-Za-z]{2}$/.test(text)) {
      const code = text.toUpperCase();
      if (code === 'UK') return 'GB';
      return this.codes.has(code) ? code : null;
    }
    return this.byName.get(fold(text)) ?? this.byName.get(fold(text).replace(/\./g, '')) ?? null;
  }
}

/** Canonical postal code formats of countries with a fixed pattern; others are upper-cased and trimmed. */
const POSTAL: Record<string, { pattern: RegExp; format: (m: RegExpMatchArray) => string }> = {
  US: { pattern: /^(\d{5})(?:-?(\d{4}))?$/, format: (m) => (m[2] ? `${m[1]}-${m[2]}` : m[1]) },
  CA: { pattern: /^([A-Z]\d[A-Z]) ?(\d[A-Z]\d)$/, format: (m) => `${m[1]} ${m[2]}` },
  GB: { pattern: /^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$/, format: (m) => `${m[1]} ${m[2]}` },
  NL: { pattern: /^(\d{4}) ?([A-Z]{2})$/, format: (m) => `${m[1]} ${m[2]}` },
  DE: { pattern: /^(\d{5})$/, format: (m) => m[1] },
  FR: { pattern: /^(\d{5})$/, format: (m) => m[1] },
  ES: { pattern: /^(\d{5})$/, format: (m) => m[1] },
  IT: { pattern: /^(\d{5})$/, format: (m) => m[1] },
  AT: { pattern: /^(\d{4})$/, format: (m) => m[1] },
  CH: { pattern: /^(\d{4})$/, format: (m) => m[1] },
  BE: { pattern: /^(\d{4})$/, format: (m) => m[1] },
  DK: { pattern: /^(\d{4})$/, format: (m) => m[1] },
  AU: { pattern: /^(\d{4})$/, format: (m) => m[1] },
  SE: { pattern: /^(\d{3}) ?(\d{2})$/, format: (m) => `${m[1]} ${m[2]}` },
  PL: { pattern: /^(\d{2})-?(\d{3})$/, format: (m) => `${m[1]}-${m[2]}` },
  PT: { pattern: /^(\d{4})-?(\d{3})$/, format: (m) => `${m[1]}-${m[2]}` },
  BR: { pattern: /^(\d{5})-?(\d{3})$/, format: (m) => `${m[1]}-${m[2]}` },
  JP: { pattern: /^(\d{3})-?(\d{4})$/, format: (m) => `${m[1]}-${m[2]}` },
  IE: { pattern: /^([A-Z]\d[\dW]) ?([A-Z\d]{4})$/, format: (m) => `${m[1]} ${m[2]}` },
};

export interface PostalEnrichment {
  postalCode: string | null;
  /** true when the code has the shape its country uses (false: unknown country or no match). */
  valid: boolean;
}

/** `country`: ISO alpha-2 of the address, when known. */
export function normalizePostalCode(value: string, country: string | null): PostalEnrichment {
  const text = value.trim().toUpperCase().replace(/\s+/g, ' ');
  if (!text) return { postalCode: null, valid: false };
  const rule = country ? POSTAL[country] : undefined;
  if (!rule) return { postalCode: text, valid: false };
  // Spreadsheets drop leading zeros of US ZIP codes: 2134 is 02134.
  const candidate = country === 'US' && /^\d{3,4}$/.test(text) ? text.padStart(5, '0') : text;
  const m = candidate.match(rule.pattern) ?? candidate.replace(/[\s-]/g, '').match(rule.pattern);
  return m ? { postalCode: rule.format(m), valid: true } : { postalCode: text, valid: false };
}
