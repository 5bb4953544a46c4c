import cliProgress from 'cli-progress';
import { generateSyntheticSources } from '../../synthetic/generate.js';

export async function generate(o: { outDir: string; records: number; seed: number; instanceId: string }): Promise<void> {
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty ? new cliProgress.SingleBar({ format: 'generate [{bar}] {value}/{total}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  bar?.start(o.records, 0);
  const result = await generateSyntheticSources({
    outDir: o.outDir,
    records: o.records,
    seed: o.seed,
    instanceId: o.instanceId,
    onProgress: (done, total) => {
      bar?.setTotal(total);
      bar?.update(done);
    },
  });
  bar?.stop();
  process.stdout.write(
    `${result.customerRecords} customer records of ${result.people} people and ${result.activityRecords} activity records in ${o.outDir}\n` +
      `instance definition: ${result.instanceFile}\nground truth: ${result.truthFile}\n`,
  );
}
