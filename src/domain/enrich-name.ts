// Full names split into title, first, middle, last and suffix. Handles "Last, First Middle",
// titles (Mr, Dr, Prof, Frau, …), suffixes (Jr, III, PhD, …) and surname particles (van der, de la).

export interface NameParts {
  title: string | null;
  first: string | null;
  middle: string | null;
  last: string | null;
  suffix: string | null;
}

const TITLES = new Set(
  ['mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'professor', 'sir', 'dame', 'lord', 'lady', 'rev', 'fr', 'herr', 'frau', 'mme', 'mlle', 'm', 'sr', 'sra', 'srta', 'don', 'dona', 'doña', 'sig', 'sig.ra', 'capt', 'col', 'gen', 'hon'],
);
// "Sr" is a title in Spanish ("Sr. García") and a suffix in English ("John Smith Sr"): position decides.
const SUFFIXES = new Set(['jr', 'sr', 'ii', 'iii', 'iv', 'v', 'phd', 'md', 'esq', 'dds', 'mba', 'cpa', 'dvm', 'jd', 'rn']);
const PARTICLES = new Set(['van', 'von', 'der', 'den', 'de', 'del', 'della', 'di', 'da', 'dos', 'das', 'du', 'la', 'le', 'st', 'st.', 'ter', 'ten', 'bin', 'ibn', 'al', 'el', 'mac', "o'"]);

const bare = (token: string) => token.toLowerCase().replace(/[.,]/g, '');
const EMPTY: NameParts = Object.freeze({ title: null, first: null, middle: null, last: null, suffix: null });

export function splitName(value: string): NameParts {
  let text = value.replace(/\s+/g, ' ').trim();
  if (!text) return EMPTY;
  const titles: string[] = [];
  const suffixes: string[] = [];
  let tokens: string[];
  let last: string[] = [];
  const comma = text.indexOf(',');
  if (comma >= 0) {
    // "Stone, Bob" or "Bob Stone, Jr."
    const before = text.slice(0, comma).trim();
    const after = text.slice(comma + 1).replace(/,/g, ' ').trim().split(' ').filter(Boolean);
    if (after.length && after.every((t) => SUFFIXES.has(bare(t)))) {
      suffixes.push(...after);
      text = before;
      tokens = text.split(' ');
    } else {
      last = before.split(' ');
      tokens = after;
    }
  } else {
    tokens = text.split(' ');
  }
  while (tokens.length > 1 && TITLES.has(bare(tokens[0]))) titles.push(tokens.shift()!);
  if (last.length) {
    while (last.length > 1 && TITLES.has(bare(last[0]))) titles.push(last.shift()!);
    while (tokens.length > 1 && SUFFIXES.has(bare(tokens[tokens.length - 1]))) suffixes.unshift(tokens.pop()!);
  } else {
    while (tokens.length > 2 && SUFFIXES.has(bare(tokens[tokens.length - 1]))) suffixes.unshift(tokens.pop()!);
    if (tokens.length > 1) {
      // The surname starts at its first particle (Ludwig van der Rohe), else it is the last word.
      let start = tokens.length - 1;
      while (start > 1 && PARTICLES.has(bare(tokens[start - 1]))) start--;
      last = tokens.slice(start);
      tokens = tokens.slice(0, start);
    }
  }
  const join = (parts: string[]) => (parts.length ? parts.join(' ') : null);
  return {
    title: join(titles),
    first: tokens[0] ?? null,
    middle: join(tokens.slice(1)),
    last: join(last),
    suffix: join(suffixes),
  };
}
