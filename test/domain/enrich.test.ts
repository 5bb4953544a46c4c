// The enrichers: pure functions over one value, and the Enricher that applies a plan to profiles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveInstance } from '../../src/config/resolve.js';
import { EmailEnricher, FREE_MAIL_DOMAINS } from '../../src/domain/enrich-email.js';
import { CountryNormalizer, normalizePostalCode } from '../../src/domain/enrich-location.js';
import { splitName } from '../../src/domain/enrich-name.js';
import { enrichPhone, phoneCacheKey } from '../../src/domain/enrich-phone.js';
import { Enricher, enrichmentPlan } from '../../src/domain/enrich.js';
import { enrichDefinition } from './enrich-definition.js';

test('phone numbers: E.164, country and line type; invalid numbers are flagged, not guessed', () => {
  assert.deepEqual(enrichPhone('(415) 555-2671', 'US'), { e164: '+14155552671', country: 'US', lineType: 'fixedLineOrMobile', valid: true });
  assert.deepEqual(enrichPhone('+33 6 12 34 56 78', 'US'), { e164: '+33612345678', country: 'FR', lineType: 'mobile', valid: true });
  assert.deepEqual(enrichPhone('030 901820', 'DE'), { e164: '+4930901820', country: 'DE', lineType: 'fixedLine', valid: true });
  assert.equal(enrichPhone('+44 800 123 4567').lineType, 'tollFree');
  assert.equal(enrichPhone('0612345678', 'FR').e164, '+33612345678', 'national format with the region');
  assert.equal(enrichPhone('0612345678').valid, false, 'no region and no country code: not guessed');
  for (const bad of ['', '   ', '12', 'call me', '+1 555 0000 0000 000']) assert.deepEqual(enrichPhone(bad, 'US'), { e164: null, country: null, lineType: null, valid: false }, bad);
  assert.equal(phoneCacheKey('+1 (415) 555-2671'), phoneCacheKey('+1.415.555.2671'));
  assert.notEqual(phoneCacheKey('415 555 2671 ext. 12'), phoneCacheKey('4155552671'));
});

test('email: domain, free mail, disposable (from the maintained list, wildcards included) and business', () => {
  const e = new EmailEnricher();
  assert.deepEqual(e.enrich(' Anna.Mueller@GMAIL.com '), { domain: 'gmail.com', valid: true, freeMail: true, disposable: false, business: false });
  assert.deepEqual(e.enrich('x@mailinator.com'), { domain: 'mailinator.com', valid: true, freeMail: false, disposable: true, business: false });
  assert.deepEqual(e.enrich('carla@acme-widgets.io'), { domain: 'acme-widgets.io', valid: true, freeMail: false, disposable: false, business: true });
  assert.equal(e.enrich('someone@sub.mailinator.com').disposable, true, 'a subdomain of a disposable domain');
  for (const bad of ['no-at-sign', '@example.com', 'a@b', 'a b@example.com', 'a@-x.com', 'a@example.']) assert.equal(e.enrich(bad).valid, false, bad);
  assert.ok(FREE_MAIL_DOMAINS.every((d) => d === d.toLowerCase() && !e.isDisposable(d)), 'free-mail providers are not in the disposable list');
});

test('names: title, first, middle, last and suffix, in either order, with surname particles', () => {
  const n = (title: string | null, first: string | null, middle: string | null, last: string | null, suffix: string | null) => ({ title, first, middle, last, suffix });
  assert.deepEqual(splitName('Anna Müller'), n(null, 'Anna', null, 'Müller', null));
  assert.deepEqual(splitName('Stone, Bob'), n(null, 'Bob', null, 'Stone', null));
  assert.deepEqual(splitName('Dr. Anna Maria  Müller'), n('Dr.', 'Anna', 'Maria', 'Müller', null));
  assert.deepEqual(splitName('Ludwig Mies van der Rohe'), n(null, 'Ludwig', 'Mies', 'van der Rohe', null));
  assert.deepEqual(splitName('Martin Luther King, Jr.'), n(null, 'Martin', 'Luther', 'King', 'Jr.'));
  assert.deepEqual(splitName('John Smith III'), n(null, 'John', null, 'Smith', 'III'));
  assert.deepEqual(splitName('García López, Sr. José'), n('Sr.', 'José', null, 'García López', null));
  assert.deepEqual(splitName('Cher'), n(null, 'Cher', null, null, null));
  assert.deepEqual(splitName('  '), n(null, null, null, null, null));
});

test('countries to ISO 3166-1 alpha-2 from codes, names in several languages and aliases', () => {
  const c = new CountryNormalizer();
  const cases: [string, string | null][] = [
    ['de', 'DE'], ['Germany', 'DE'], ['Deutschland', 'DE'], ['Allemagne', 'DE'], ['USA', 'US'], ['united states', 'US'], ['U.S.A.', 'US'],
    ['UK', 'GB'], ['England', 'GB'], ['España', 'ES'], ['Espana', 'ES'], ['Côte d’Ivoire', 'CI'], ['NLD', 'NL'], ['Atlantis', null], ['XX', null], ['', null],
  ];
  for (const [input, expected] of cases) assert.equal(c.normalize(input), expected, input);
});

test('postal codes in their country’s canonical form', () => {
  assert.deepEqual(normalizePostalCode('sw1a1aa', 'GB'), { postalCode: 'SW1A 1AA', valid: true });
  assert.deepEqual(normalizePostalCode('2134', 'US'), { postalCode: '02134', valid: true }, 'a ZIP code that lost its leading zero');
  assert.deepEqual(normalizePostalCode('94105 1234', 'US'), { postalCode: '94105-1234', valid: true });
  assert.deepEqual(normalizePostalCode('k1a0b1', 'CA'), { postalCode: 'K1A 0B1', valid: true });
  assert.deepEqual(normalizePostalCode('1234ab', 'NL'), { postalCode: '1234 AB', valid: true });
  assert.deepEqual(normalizePostalCode('00-950', 'PL'), { postalCode: '00-950', valid: true });
  assert.deepEqual(normalizePostalCode('1234', 'DE'), { postalCode: '1234', valid: false });
  assert.deepEqual(normalizePostalCode(' ab 12 ', null), { postalCode: 'AB 12', valid: false }, 'no country: tidied only');
});

const definition = enrichDefinition;

test('the plan follows semantic types by default and the definition when it says otherwise', () => {
  const plan = enrichmentPlan(resolveInstance(definition(), '/tmp'));
  assert.deepEqual(plan.inputs.map((i) => [i.kind, i.field]), [['phone', 'Tel'], ['email', 'Mail'], ['name', 'Name'], ['postalCode', 'Zip'], ['country', 'Country']]);
  assert.equal(plan.region, 'US');
  assert.deepEqual(plan.attributes.slice(0, 5), [['CustomerId', 'string'], ['TelE164', 'string'], ['TelCountry', 'string'], ['TelLineType', 'string'], ['TelIsValid', 'boolean']]);
  const custom = enrichmentPlan(resolveInstance(definition('enrichment:\n  email: [Other]\n  phone: []\n  region: GB\n'), '/tmp'));
  assert.deepEqual(custom.inputs.map((i) => [i.kind, i.field]), [['email', 'Other'], ['name', 'Name'], ['postalCode', 'Zip'], ['country', 'Country']]);
  assert.equal(custom.region, 'GB');
  const off = enrichmentPlan(resolveInstance(definition('enrichment: { enabled: false }\n'), '/tmp'));
  assert.deepEqual(off.attributes, [['CustomerId', 'string']]);
});

test('the Enricher: one record per profile, postal codes in the profile’s country, a cache per distinct value', () => {
  const enricher = new Enricher(enrichmentPlan(resolveInstance(definition(), '/tmp')));
  const a = enricher.enrich({ CustomerId: 'a', Name: 'Ms Jane Q. Public', Mail: 'jane@gmail.com', Tel: '(415) 555-2671', Zip: 'sw1a1aa', Country: 'United Kingdom' });
  assert.deepEqual(a, {
    CustomerId: 'a',
    TelE164: '+14155552671', TelCountry: 'US', TelLineType: 'fixedLineOrMobile', TelIsValid: true,
    MailDomain: 'gmail.com', MailIsFreeMail: true, MailIsDisposable: false, MailIsBusiness: false, MailIsValid: true,
    NameTitle: 'Ms', NameFirst: 'Jane', NameMiddle: 'Q.', NameLast: 'Public', NameSuffix: null,
    ZipNormalized: 'SW1A 1AA', ZipIsValid: true,
    CountryCode: 'GB',
  });
  const b = enricher.enrich({ CustomerId: 'b', Zip: '2134', Tel: '+1 415 555 2671', Mail: null });
  assert.equal(b.ZipNormalized, '02134', 'no country on the profile: the region');
  assert.equal(b.TelE164, '+14155552671');
  assert.equal(b.MailDomain, null);
  assert.equal(b.NameFirst, null);
  assert.equal(enricher.enrich({ CustomerId: 'c', Tel: '415.555.2671' }).TelE164, '+14155552671');
  const counts = enricher.counts;
  assert.equal(counts.profiles, 3);
  assert.equal(counts.values, 5 + 2 + 1);
  assert.equal(counts.cacheHits, 2, 'the same phone number in other formats is parsed once');
});
