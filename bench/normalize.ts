/**
 * Micro-benchmark for the value normalizers: 1,000,000 synthetic values per step.
 * Run with: node --import tsx bench/normalize.ts [count]
 */
import { compileNormalizer, type Normalizer } from '../src/domain/normalize.js';
import { isSimilar } from '../src/domain/similarity.js';
import type { Normalization } from '../src/config/schema.js';

const N = Number(process.argv[2] ?? 1_000_000);

// Deterministic PRNG so runs are comparable.
let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const digits = (n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 10);
  return s;
};

const FIRST = ['John', 'Jane', 'José', 'Zoë', 'Łukasz', 'Søren', 'Ana', 'François', 'Mohammed', 'Émilie', 'Björn', 'Li'];
const LAST = ['Smith', 'Ångström', "O'Brien", 'Müller', 'García', 'Nguyễn', 'Doe', 'Straße', 'Kowalski', 'Dupont'];
const DOMAINS = ['gmail.com', 'GoogleMail.com', 'example.com', 'Outlook.com', 'yahoo.co.uk'];

function textValue(i: number): string {
  // ~70% pure ASCII, the rest with diacritics, plus irregular whitespace and punctuation
  const first = i % 10 < 7 ? pick(FIRST.filter((n) => /^[\x00-\x7F]*$/.test(n))) : pick(FIRST);
  return `  ${first}   ${pick(LAST)}, Inc.\t${i} `;
}
function numeralValue(i: number): string {
  return i % 4 === 0 ? `Unit ${String(i).replace(/\d/g, (d) => String.fromCharCode(0x0660 + Number(d)))}` : `Unit ${i}`;
}
function phoneValue(i: number): string {
  const area = String(200 + Math.floor(rand() * 800));
  const ex = String(200 + Math.floor(rand() * 800));
  const line = digits(4);
  switch (i % 5) {
    case 0:
      return `(${area}) ${ex}-${line}`;
    case 1:
      return `+1 ${area}.${ex}.${line}`;
    case 2:
      return `+44 20 ${digits(4)} ${digits(4)}`;
    case 3:
      return `${area}${ex}${line}`;
    default:
      return i % 10 === 4 ? 'n/a' : `555-${digits(2)}`;
  }
}
function nameValue(i: number): string {
  const title = i % 7 === 0 ? 'Dr. ' : i % 11 === 0 ? 'Mr ' : '';
  return i % 3 === 0 ? `${title}${pick(LAST)}, ${pick(FIRST)}` : `${title}${pick(FIRST)} ${pick(LAST)}${i % 13 === 0 ? ' Jr.' : ''}`;
}
function emailValue(i: number): string {
  return ` ${pick(FIRST).toLowerCase()}.${pick(LAST).toLowerCase()}${i % 4 === 0 ? '+news' : ''}${i}@${pick(DOMAINS)}`;
}

function makeValues(gen: (i: number) => string, count: number, distinct = count): string[] {
  const pool = Array.from({ length: distinct }, (_, i) => gen(i));
  if (distinct === count) return pool;
  return Array.from({ length: count }, () => pool[Math.floor(rand() * distinct)]!);
}

function run(label: string, fn: Normalizer, values: readonly string[]): void {
  // warm-up
  for (let i = 0; i < Math.min(20_000, values.length); i++) fn(values[i]!);
  let nonEmpty = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < values.length; i++) if (fn(values[i]!) !== '') nonEmpty++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = Math.round(values.length / seconds).toLocaleString('en-US');
  console.log(`${label.padEnd(34)} ${rate.padStart(12)} values/s  (${seconds.toFixed(2)} s, ${nonEmpty} non-empty)`);
}

const cases: [string, Normalization[], (i: number) => string][] = [
  ['whitespace', ['whitespace'], textValue],
  ['lowercase', ['lowercase'], textValue],
  ['ascii', ['ascii'], textValue],
  ['symbols', ['symbols'], textValue],
  ['numerals', ['numerals'], numeralValue],
  ['name', ['name'], nameValue],
  ['email', ['email'], emailValue],
  ['whitespace+lowercase+ascii', ['whitespace', 'lowercase', 'ascii'], textValue],
];

console.log(`Node ${process.version}, ${N.toLocaleString('en-US')} values per step`);
for (const [label, steps, gen] of cases) run(label, compileNormalizer(steps), makeValues(gen, N));
// A fresh normalizer per run so the phone memo starts empty.
run('phone (US, all distinct)', compileNormalizer(['phone'], { phoneRegion: 'US' }), makeValues(phoneValue, N));
run('phone (US, 100k distinct)', compileNormalizer(['phone'], { phoneRegion: 'US' }), makeValues(phoneValue, N, 100_000));

// isSimilar over name pairs, for reference
{
  const names = makeValues(nameValue, 2_000).map(compileNormalizer(['name']));
  const pairs = Math.min(N, 1_000_000);
  let hits = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < pairs; i++) if (isSimilar(names[i % 2_000]!, names[(i * 7 + 1) % 2_000]!, 0.8)) hits++;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${'isSimilar @0.8 (name pairs)'.padEnd(34)} ${Math.round(pairs / seconds).toLocaleString('en-US').padStart(12)} pairs/s   (${seconds.toFixed(2)} s, ${hits} similar)`);
}
