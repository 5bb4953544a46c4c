// The synthetic data the benchmarks share: bench/out/data-<records>-seed42, generated on first use.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadInstanceDefinition } from '../src/config/load.js';
import { generateSyntheticSources } from '../src/synthetic/generate.js';
import { fmtInt, ROOT } from './children.js';

export const SEED = 42;

/** The generated instance of `records` customer records (generated now if it is not there yet). */
export async function generatedInstance(records: number, log: (msg: string) => void): Promise<ReturnType<typeof loadInstanceDefinition>> {
  const dataDir = path.join(ROOT, 'bench', 'out', `data-${records}-seed${SEED}`);
  if (!existsSync(path.join(dataDir, 'instance.yaml'))) {
    log(`generating ${fmtInt(records)} records into ${path.relative(ROOT, dataDir)} …`);
    await generateSyntheticSources({ outDir: dataDir, records, seed: SEED, instanceId: 'bench' });
  }
  return loadInstanceDefinition(path.join(dataDir, 'instance.yaml'));
}
