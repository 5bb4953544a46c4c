import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileNormalizer, normalizeValue } from '../../src/domain/normalize.js';

describe('compileNormalizer', () => {
  it('applies steps in order', () => {
    const fn = compileNormalizer(['whitespace', 'lowercase', 'ascii']);
    assert.equal(fn('  José  ÅSTRÖM '), 'jose astrom');
    // ascii before lowercase vs after gives the same here, but symbols before/after whitespace differs
    assert.equal(normalizeValue('a - b', ['whitespace', 'symbols']), 'a b');
    assert.equal(normalizeValue('a - b', ['symbols']), 'a b');
  });

  it('returns "" when nothing meaningful remains', () => {
    const fn = compileNormalizer(['whitespace']);
    assert.equal(fn(''), '');
    assert.equal(fn('   \t\n '), '');
    assert.equal(compileNormalizer([])('   '), '');
    assert.equal(compileNormalizer([])(''), '');
    assert.equal(normalizeValue('!!! ---', ['symbols']), '');
    assert.equal(normalizeValue('日本', ['ascii']), '');
  });

  it('with no steps returns the value unchanged (unless blank)', () => {
    assert.equal(compileNormalizer([])(' Ab '), ' Ab ');
  });

  it('tolerates non-string input at runtime', () => {
    const fn = compileNormalizer(['whitespace']);
    assert.equal(fn(null as unknown as string), '');
    assert.equal(fn(undefined as unknown as string), '');
    assert.equal(fn(42 as unknown as string), '42');
  });

  it('rejects unknown steps and unknown phone regions', () => {
    assert.throws(() => compileNormalizer(['soundex' as never]), /Unknown normalization/);
    assert.throws(() => compileNormalizer(['phone'], { phoneRegion: 'XX' }), /Unknown phone region/);
    // the region is only checked when a phone step is present
    assert.doesNotThrow(() => compileNormalizer(['lowercase'], { phoneRegion: 'XX' }));
  });
});

describe('whitespace', () => {
  const fn = compileNormalizer(['whitespace']);
  it('trims and collapses runs of whitespace', () => {
    assert.equal(fn('  a   b\t\tc \n d  '), 'a b c d');
    assert.equal(fn('a\u00A0b'), 'a b');
    assert.equal(fn('a b'), 'a b');
    assert.equal(fn('ab'), 'ab');
  });
});

describe('lowercase', () => {
  it('lowercases Unicode', () => {
    assert.equal(normalizeValue('ÀBC Déf', ['lowercase']), 'àbc déf');
  });
});

describe('ascii', () => {
  const fn = compileNormalizer(['ascii']);
  it('leaves pure ASCII alone', () => {
    assert.equal(fn('Hello, World! 123'), 'Hello, World! 123');
  });
  it('strips diacritics', () => {
    assert.equal(fn('Crème Brûlée Ñandú Škoda Ångström'), 'Creme Brulee Nandu Skoda Angstrom');
  });
  it('folds letters NFKD does not decompose', () => {
    assert.equal(fn('Straße STRAẞE'), 'Strasse STRASSE');
    assert.equal(fn('æ Æ œ Œ ø Ø ł Ł đ Đ þ Þ ı'), 'ae AE oe OE o O l L d D th TH i');
    assert.equal(fn('Łukasz Søren Þór'), 'Lukasz Soren THor');
  });
  it('decomposes compatibility characters', () => {
    assert.equal(fn('ﬁne Ｗｉｄｅ'), 'fine Wide');
  });
  it('drops what cannot be transliterated', () => {
    assert.equal(fn('Tokyo 東京'), 'Tokyo ');
    assert.equal(fn('price €5'), 'price 5');
  });
});

describe('symbols', () => {
  const fn = compileNormalizer(['symbols']);
  it('removes everything but letters, digits and whitespace, then collapses whitespace', () => {
    assert.equal(fn('ACME, Inc.'), 'ACME Inc');
    assert.equal(fn('  a - b!! c  '), 'a b c');
    assert.equal(fn('foo-bar_baz'), 'foobarbaz');
  });
  it('is Unicode-aware', () => {
    assert.equal(fn('Müller & Söhne GmbH'), 'Müller Söhne GmbH');
    assert.equal(fn('テスト、漢字！ ١٢٣'), 'テスト漢字 ١٢٣');
    // combining marks belong to their letter
    assert.equal(fn('Jose\u0301!'), 'Jose\u0301');
  });
});

describe('numerals', () => {
  const fn = compileNormalizer(['numerals']);
  it('maps Unicode decimal digits to ASCII', () => {
    assert.equal(fn('١٢٣'), '123');
    assert.equal(fn('۰۱۲۳۴۵۶۷۸۹'), '0123456789'); // extended Arabic-Indic
    assert.equal(fn('०१२३४५६७८९'), '0123456789'); // Devanagari
    assert.equal(fn('０１２３４５６７８９'), '0123456789'); // full-width
    assert.equal(fn('๑๒๓'), '123'); // Thai
    assert.equal(fn('𝟕𝟖𝟗'), '789'); // mathematical bold
  });
  it('leaves other text alone (apart from NFKC)', () => {
    assert.equal(fn('Unit ٤ B'), 'Unit 4 B');
    assert.equal(fn('abc 123'), 'abc 123');
  });
});

describe('phone', () => {
  const us = compileNormalizer(['phone'], { phoneRegion: 'US' });
  const none = compileNormalizer(['phone']);

  it('formats national numbers with the default region as E.164', () => {
    assert.equal(us('(415) 555-2671'), '+14155552671');
    assert.equal(us('415.555.2671'), '+14155552671');
    assert.equal(us('1-415-555-2671'), '+14155552671');
    assert.equal(normalizeValue('020 7946 0958', ['phone'], { phoneRegion: 'GB' }), '+442079460958');
  });

  it('formats international numbers as E.164 with or without a region', () => {
    assert.equal(none('+44 20 7946 0958'), '+442079460958');
    assert.equal(us('+44 20 7946 0958'), '+442079460958');
    assert.equal(us('+44 (0)20 7946 0958'), '+442079460958');
    assert.equal(none('+1 (415) 555-2671'), '+14155552671');
  });

  it('accepts non-ASCII digits', () => {
    assert.equal(us('４１５-５５５-２６７１'), '+14155552671');
  });

  it('drops the extension', () => {
    assert.equal(us('415-555-2671 ext. 12'), '+14155552671');
  });

  it('falls back to digits (keeping a leading +) when not a possible number', () => {
    assert.equal(none('(415) 555-2671'), '4155552671'); // no region to resolve it
    assert.equal(us('555-26'), '55526');
    assert.equal(us('+12'), '+12');
    assert.equal(us(' +999 12-34'), '+9991234');
  });

  it('returns "" for garbage without digits', () => {
    assert.equal(us('hello'), '');
    assert.equal(us('n/a'), '');
    assert.equal(us('---'), '');
    assert.equal(us('   '), '');
    assert.equal(us(''), '');
  });

  it('gives the same answer for repeated values (memoized)', () => {
    for (let i = 0; i < 3; i++) assert.equal(us('(415) 555-2671'), '+14155552671');
  });
});

describe('name', () => {
  const fn = compileNormalizer(['name']);
  it('reorders "Last, First" and removes titles', () => {
    assert.equal(fn('Dr. Smith, John'), 'john smith');
    assert.equal(fn('Smith, John, Jr.'), 'john smith');
    assert.equal(fn('Smith, Mr. John'), 'john smith');
  });
  it('removes titles and suffixes anywhere', () => {
    assert.equal(fn('Mr. John Smith Jr.'), 'john smith');
    assert.equal(fn('PROF. JANE DOE III'), 'jane doe');
    assert.equal(fn('John Smith, Jr.'), 'john smith');
    assert.equal(fn('Sir Elton John II'), 'elton john');
  });
  it('folds diacritics, lowercases and removes punctuation', () => {
    assert.equal(fn("  Seán  O'Brien-Ó Súilleabháin "), 'sean obrien o suilleabhain');
    assert.equal(fn('José Ångström'), 'jose angstrom');
    assert.equal(fn('Łukasz Żółw'), 'lukasz zolw');
    assert.equal(fn('Jean–Luc “JL” Picard'), 'jean luc jl picard');
  });
  it('keeps letters of non-Latin scripts', () => {
    assert.equal(fn('Иван Петров'), 'иван петров');
    assert.equal(fn('山田, 太郎'), '太郎 山田');
  });
  it('does not treat title words inside other words as titles', () => {
    assert.equal(fn('Drew Mrsic'), 'drew mrsic');
  });
  it('returns "" when only titles or punctuation remain', () => {
    assert.equal(fn('Mr.'), '');
    assert.equal(fn(', ,'), '');
    assert.equal(fn(''), '');
  });
});

describe('email', () => {
  const fn = compileNormalizer(['email']);
  it('lowercases, trims and strips +tags', () => {
    assert.equal(fn('  Jane.Doe+Promo@Example.COM '), 'jane.doe@example.com');
  });
  it('removes dots for gmail and maps googlemail.com to gmail.com', () => {
    assert.equal(fn('John.Smith+news@GoogleMail.com'), 'johnsmith@gmail.com');
    assert.equal(fn('j.o.h.n@gmail.com'), 'john@gmail.com');
  });
  it('keeps dots for other domains', () => {
    assert.equal(fn('john.smith@outlook.com'), 'john.smith@outlook.com');
  });
  it('returns "" without an @ that has text on both sides', () => {
    assert.equal(fn('not an email'), '');
    assert.equal(fn('@example.com'), '');
    assert.equal(fn('john@'), '');
    assert.equal(fn('@'), '');
    assert.equal(fn('+tag@example.com'), '');
    assert.equal(fn('   '), '');
  });
});
