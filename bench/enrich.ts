// Enrichment over many profiles (default 1,000,000): the enrich stage's pure work (phone, email,
// name, postal code, country) with a realistic share of repeated values, in memory, no I/O.
// Usage: node --import tsx bench/enrich.ts [--profiles N] [--no-write]
import { resolveInstance } from '../src/config/resolve.js';
import { Enricher, enrichmentPlan } from '../src/domain/enrich.js';
import type { CustomerRecord } from '../src/domain/profile.js';
import { machine, updateBenchmarksMd } from './report.js';
import { enrichDefinition } from '../test/domain/enrich-definition.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--profiles') + 1]) || 1_000_000;
const write = !args.includes('--no-write');

const plan = enrichmentPlan(resolveInstance(enrichDefinition(), '.'));

const FIRST = ['Anna', 'Bob', 'Carla', 'Dan', 'Erin', 'Frank', 'Grace', 'Hiro', 'Ines', 'Jamal', 'Kofi', 'Lena', 'Mateo', 'Nora', 'Omar', 'Priya'];
const LAST = ['Müller', 'Stone', 'Diaz', 'Eve', 'Wu', 'Smith', 'van der Berg', 'García López', "O'Neil", 'Nakamura', 'Okafor', 'Rossi'];
const DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'acme.io', 'example.org', 'mailinator.com', 'contoso.com', 'web.de'];
/** Area codes in use (US and Canada): real data has valid numbers mostly. */
const AREA_CODES = [212, 415, 305, 646, 312, 617, 202, 713, 206, 303, 404, 702, 416, 604, 514];
const COUNTRIES = ['US', 'United States', 'USA', 'Germany', 'DE', 'France', 'United Kingdom', 'Canada'];

/** Deterministic profiles: names and domains repeat as in real data, phone numbers mostly do not. */
function profiles(n: number): CustomerRecord[] {
  const out: CustomerRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const first = FIRST[i % FIRST.length];
    const last = LAST[(i * 7) % LAST.length];
    out[i] = {
      CustomerId: `c${i}`,
      Name: i % 10 === 0 ? `${last}, ${first}` : `${first} ${last}`,
      Mail: `${first.toLowerCase()}.${i}@${DOMAINS[i % DOMAINS.length]}`,
      Tel: i % 20 === 0 ? null : `(${AREA_CODES[i % AREA_CODES.length]}) ${200 + (i % 800)}-${String(Math.floor(i / 13) % 10_000).padStart(4, '0')}`,
      Zip: String(10_000 + (i % 89_999)),
      Country: COUNTRIES[i % COUNTRIES.length],
    };
  }
  return out;
}

const data = profiles(N);
const enricher = new Enricher(plan);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (const p of data) enricher.enrich(p);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const counts = enricher.counts;
const m = machine();
const line = `${N.toLocaleString('en-US')} profiles in ${seconds.toFixed(1)} s (${Math.round(N / seconds).toLocaleString('en-US')} profiles/s, ${cpuSeconds.toFixed(1)} s of CPU); ${counts.values.toLocaleString('en-US')} values, ${counts.cacheHits.toLocaleString('en-US')} cache hits`;
console.log(line);
if (write) {
  updateBenchmarksMd(
    '## Enrichment',
    `## Enrichment

\`node --import tsx bench/enrich.ts\` — the enrich stage's pure work over generated profiles (phone, email, name, postal code, country; names and domains repeat, phone numbers mostly do not), on ${m.cores} cores of ${m.cpu}, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}:

- ${line}
`,
  );
}
