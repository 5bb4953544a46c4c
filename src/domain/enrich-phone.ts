// Phone numbers to E.164 with country and line type. The `max` metadata of libphonenumber-js is
// the one that tells mobile from fixed line; parsing needs no network.
import { createRequire } from 'node:module';
import path from 'node:path';
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';

export interface PhoneEnrichment {
  e164: string | null;
  country: string | null;
  /** mobile, fixedLine, fixedLineOrMobile, tollFree, voip, … ; null when unknown or invalid. */
  lineType: string | null;
  valid: boolean;
}

const LINE_TYPES: Record<string, string> = {
  MOBILE: 'mobile',
  FIXED_LINE: 'fixedLine',
  FIXED_LINE_OR_MOBILE: 'fixedLineOrMobile',
  TOLL_FREE: 'tollFree',
  PREMIUM_RATE: 'premiumRate',
  SHARED_COST: 'sharedCost',
  VOIP: 'voip',
  PERSONAL_NUMBER: 'personalNumber',
  PAGER: 'pager',
  UAN: 'uan',
  VOICEMAIL: 'voicemail',
};

const INVALID: PhoneEnrichment = Object.freeze({ e164: null, country: null, lineType: null, valid: false });

type Parse = (text: string, options?: { defaultCountry?: CountryCode }) => PhoneNumber | undefined;
let parser: Parse | undefined;

/**
 * The parser, loaded on first use. libphonenumber-js compiles a RegExp from metadata text on every
 * pattern match (helpers/matchesEntirely), about two thirds of its time; its CommonJS build reads
 * that helper through a shared exports object, so a version that keeps each compiled pattern is
 * put in its place (about three times faster, same results: the patterns have no global flag).
 */
export function phoneParser(): Parse {
  if (parser) return parser;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('libphonenumber-js/max');
  try {
    const helper = require(path.join(path.dirname(entry), '../build/helpers/matchesEntirely.js')) as {
      default: (text: string, pattern: string) => boolean;
      kindredCached?: boolean;
    };
    if (!helper.kindredCached) {
      const compiled = new Map<string, RegExp>();
      helper.default = (text, pattern) => {
        let re = compiled.get(pattern);
        if (!re) compiled.set(pattern, (re = new RegExp(`^(?:${pattern})$`)));
        return re.test(text || '');
      };
      helper.kindredCached = true;
    }
  } catch {
    // Another layout of the package: parse without the cache (slower, same results).
  }
  parser = (require('libphonenumber-js/max') as { parsePhoneNumberFromString: Parse }).parsePhoneNumberFromString;
  return parser;
}

/** `region`: the country assumed for numbers written without a country code (e.g. "US"). */
export function enrichPhone(value: string, region?: string): PhoneEnrichment {
  const text = value.trim();
  if (!text) return INVALID;
  let parsed: PhoneNumber | undefined;
  try {
    parsed = phoneParser()(text, region ? { defaultCountry: region as CountryCode } : undefined);
  } catch {
    return INVALID;
  }
  if (!parsed) return INVALID;
  // With the max metadata, isValid() is exactly "getType() finds a type": ask once.
  const type = parsed.getType();
  if (!type) return INVALID;
  return { e164: parsed.number, country: parsed.country ?? null, lineType: LINE_TYPES[type] ?? type.toLowerCase(), valid: true };
}

/** Formatting that does not change what a number is: variants share one cache entry. */
export function phoneCacheKey(value: string): string {
  return /^[+\d\s().-]+$/.test(value) ? value.replace(/[\s().-]/g, '') : value;
}
