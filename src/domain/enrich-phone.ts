// Phone numbers to E.164 with country and line type. The `max` metadata of libphonenumber-js is
// the one that tells mobile from fixed line; parsing needs no network.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

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

/** `region`: the country assumed for numbers written without a country code (e.g. "US"). */
export function enrichPhone(value: string, region?: string): PhoneEnrichment {
  const text = value.trim();
  if (!text) return INVALID;
  let parsed;
  try {
    parsed = parsePhoneNumberFromString(text, region ? { defaultCountry: region as CountryCode } : undefined);
  } catch {
    return INVALID;
  }
  if (!parsed || !parsed.isValid()) return INVALID;
  const type = parsed.getType();
  return { e164: parsed.number, country: parsed.country ?? null, lineType: type ? (LINE_TYPES[type] ?? type.toLowerCase()) : null, valid: true };
}
