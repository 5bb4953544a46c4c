import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { resolveInstance } from '../../config/resolve.js';
import { inAttributeOrder } from '../../domain/profile.js';
import { entityFields } from '../../exports/run.js';
import { openServices, type DatabaseOptions } from '../../services.js';
import type { UnifiedEntityName } from '../../storage/store.js';
import { CliError } from '../errors.js';

const ENTITIES: UnifiedEntityName[] = ['Customer', 'UnifiedActivity', 'AlternateKey', 'CustomerEnrichment', 'Customer_Measure'];

const ACTIVITY_COLUMNS = [
  'ActivityId', 'CustomerId', 'ActivityTime', 'ActivityType', 'ActivityTypeDisplay', 'SourceEntityName', 'SourceActivityId',
  'DataSourceName', 'Title', 'Description', 'Url', 'Icon', 'ShowInTimeline', 'Origin',
];

export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function exportEntity(o: { entity: string; instanceId: string; format: string; out?: string; dataDir: string; database?: DatabaseOptions }): Promise<void> {
  const entity = ENTITIES.find((e) => e.toLowerCase() === o.entity.toLowerCase());
  if (!entity) throw new CliError(`unknown entity '${o.entity}'; choose ${ENTITIES.join(', ')}`);
  if (o.format !== 'csv' && o.format !== 'jsonl') throw new CliError(`unknown format '${o.format}'; choose csv or jsonl`);
  const services = await openServices({ dataDir: o.dataDir, database: o.database });
  try {
    const instance = await services.store.getInstance(o.instanceId);
    if (!instance) throw new CliError(`instance '${o.instanceId}' does not exist`);
    if (instance.currentGeneration === null) throw new CliError(`instance '${o.instanceId}' has no unified data yet; run a refresh first`);
    const resolved = resolveInstance(instance.definition, instance.baseDir);
    const columns =
      entity === 'Customer'
        ? ['CustomerId', ...resolved.mergeFields.map((f) => f.name), ...resolved.customerEntities.map((e) => e.keyColumn), 'PreviousCustomerId']
        : entity === 'UnifiedActivity'
          ? ACTIVITY_COLUMNS
          : entity === 'AlternateKey'
            ? ['DataSourceName', 'EntityName', 'AlternateValue', 'CustomerId']
            : entityFields(resolved, entity)!.fields.map((f) => f.name);
    const out = o.out ? createWriteStream(o.out) : process.stdout;
    const put = async (text: string) => {
      if (!out.write(text)) await once(out, 'drain');
    };
    if (o.format === 'csv') await put(columns.join(',') + '\n');
    let n = 0;
    for await (const batch of services.store.scan(o.instanceId, entity)) {
      let chunk = '';
      for (const row of batch) {
        chunk += o.format === 'csv' ? columns.map((c) => csvField(row[c])).join(',') + '\n' : JSON.stringify(inAttributeOrder(row, columns)) + '\n';
      }
      n += batch.length;
      await put(chunk);
    }
    if (o.out) {
      (out as ReturnType<typeof createWriteStream>).end();
      await once(out, 'finish');
      process.stderr.write(`${n} ${entity} rows written to ${o.out}\n`);
    }
  } finally {
    await services.close();
  }
}
