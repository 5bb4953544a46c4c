// Regenerates the bundled demo data set in examples/demo (deterministic: seed 7, 600 customer records).
// Usage: node --import tsx scripts/make-demo.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSyntheticSources } from '../src/synthetic/generate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'examples', 'demo');

const result = await generateSyntheticSources({
  outDir,
  records: 600,
  seed: 7,
  instanceId: 'demo',
  instanceName: 'Kindred demo',
  schedule: { cron: '0 3 * * *' },
  // Customer attributes the demo's filters seek on (see README: filterIndex).
  filterIndex: ['City', 'Email', 'LastName'],
});

console.log(
  `Wrote ${result.customerRecords} customer records (${result.people} people) and ${result.activityRecords} activities to ${path.relative(root, outDir)}/`,
);
for (const file of result.files) console.log(`  ${path.relative(root, file)}`);
