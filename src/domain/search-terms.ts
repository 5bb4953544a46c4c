// Customer search terms: how names, emails and phone numbers are folded so that a search finds
// them however they were written. Queries are folded here the way the store builds its terms at
// refresh time (SQLite: src/storage/sqlite/search.ts, in SQL, calling foldText for unusual names).
import type { ResolvedInstance, ResolvedMergeField } from '../config/resolve.js';
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import { compileNormalizer, type Normalizer } from './normalize.js';

/** Lower case, accents and symbols removed, whitespace collapsed: "Wiśniewski, Róbert" → "wisniewski robert". */
export const foldText: Normalizer = compileNormalizer(['ascii', 'lowercase', 'symbols', 'whitespace']);

/** Name words considered per name (terms start at each of them). */
export const MAX_NAME_WORDS = 4;

/**
 * The stored terms of a name: the folded name from each of its first words on, so a prefix
 * search finds "Karen White" by "kar", "karen wh" or "whi". Deduplicated.
 */
export function nameTerms(name: string): string[] {
  const folded = foldText(name);
  if (!folded) return [];
  const words = folded.split(' ');
  const out: string[] = [];
  for (let i = 0; i < words.length && i < MAX_NAME_WORDS; i++) {
    const term = i === 0 ? folded : words.slice(i).join(' ');
    if (!out.includes(term)) out.push(term);
  }
  return out;
}

/** Stored emails are trimmed with A-Z lowered (what SQL lower() does), so queries fold the same way. */
export function emailTerm(email: string): string {
  return email.trim().replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Stored phones are their digits (separators removed; computed in SQL at refresh time, since
 * parsing every number costs ~12 µs). A query is parsed once (E.164 with the instance's region)
 * and looked up as each way its digits may have been written: with the country code, national,
 * with a trunk 0, with the 00 international prefix, and as typed.
 */
export function phoneCandidates(phone: string, region?: string): { e164: string | null; digits: string[] } {
  const typed = phone.replace(/\D/g, '');
  let parsed;
  try {
    parsed = parsePhoneNumberFromString(phone, region && isSupportedCountry(region) ? { defaultCountry: region as CountryCode } : undefined);
  } catch {
    parsed = undefined;
  }
  const out = new Set<string>();
  if (parsed) {
    const nn = parsed.nationalNumber as string;
    const cc = parsed.countryCallingCode as string;
    for (const d of [`${cc}${nn}`, nn, `0${nn}`, `00${cc}${nn}`]) out.add(d);
  }
  if (typed.length >= 6) out.add(typed);
  return { e164: parsed?.number ?? null, digits: [...out] };
}

/** The kinds of stored terms. */
export type SearchTermKind = 'name' | 'email' | 'phone';

/** The searched fields of a spec with the kind of term each gives, in a fixed order. */
export function searchedFields(spec: SearchSpec): [SearchTermKind, string][] {
  return [
    ...spec.nameFields.map((f): [SearchTermKind, string] => ['name', f]),
    ...spec.emailFields.map((f): [SearchTermKind, string] => ['email', f]),
    ...spec.phoneFields.map((f): [SearchTermKind, string] => ['phone', f]),
  ];
}

/** The digits of a phone written with the usual separators (see phoneCandidates). */
const PHONE_SEPARATORS = /[ \-().+/\u00a0]/g;
const PHONE_DIGITS = /^[0-9]{6,}$/;

/**
 * The stored terms of one customer: `values[i]` is its value of searched field i (see
 * searchedFields); strings and numbers give terms, anything else none. Each (kind, term) is given
 * once, though two fields may share a word.
 */
export function customerTerms(fields: [SearchTermKind, string][], values: ArrayLike<unknown>, emit: (kind: SearchTermKind, term: string) => void): void {
  let seen: Set<string> | undefined;
  const once = (kind: SearchTermKind, term: string) => {
    const key = `${kind} ${term}`;
    if ((seen ??= new Set()).has(key)) return;
    seen.add(key);
    emit(kind, term);
  };
  for (let i = 0; i < fields.length; i++) {
    const v = values[i];
    const text = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
    if (text === null) continue;
    const kind = fields[i][0];
    if (kind === 'name') {
      for (const term of nameTerms(text)) once(kind, term);
    } else if (kind === 'email') {
      const email = emailTerm(text);
      if (email) once(kind, email);
    } else {
      const digits = text.replace(PHONE_SEPARATORS, '');
      if (PHONE_DIGITS.test(digits)) once(kind, digits);
    }
  }
}

/** Which merged Customer fields are searched as what (from their semantic types). */
export interface SearchSpec {
  nameFields: string[];
  emailFields: string[];
  phoneFields: string[];
  phoneRegion?: string;
}

/** Largest code point: prefix + this is above every string that starts with prefix. */
export const PREFIX_END = '\u{10FFFF}';

/** The merged fields searched as names, emails and phones: by semantic type, else by field name. */
export function searchSpecOf(instance: ResolvedInstance): SearchSpec {
  const semantic = (f: ResolvedMergeField) => {
    for (const s of f.from) {
      const t = instance.entities.get(s.entity)?.columns[s.index]?.semanticType;
      if (t) return t;
    }
    return undefined;
  };
  const strings = instance.mergeFields.filter((f) => f.type === 'string');
  const by = (type: string, fallback: RegExp) => {
    const typed = strings.filter((f) => semantic(f) === type).map((f) => f.name);
    return typed.length ? typed : strings.filter((f) => !semantic(f) && fallback.test(f.name)).map((f) => f.name);
  };
  let nameFields = by('Person.FullName', /^(full_?name|name|display_?name)$/i);
  if (!nameFields.length) nameFields = [...by('Person.FirstName', /^first_?name$/i), ...by('Person.LastName', /^(last_?name|surname)$/i)];
  return {
    nameFields,
    emailFields: by('Identity.Service.Email', /e-?mail/i),
    phoneFields: by('Identity.Service.Phone', /phone|mobile/i),
    phoneRegion: instance.definition.defaultPhoneRegion,
  };
}
