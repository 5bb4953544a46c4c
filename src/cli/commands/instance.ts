import { loadInstanceDefinition } from '../../config/load.js';
import { openServices, type DatabaseOptions } from '../../services.js';
import { cliActor } from './keys.js';

export function validateInstanceFile(file: string): void {
  const { definition } = loadInstanceDefinition(file);
  process.stdout.write(`${file}: instance '${definition.id}' is valid\n`);
}

export async function applyInstance(file: string, dataDir: string, database?: DatabaseOptions): Promise<void> {
  const loaded = loadInstanceDefinition(file);
  const services = await openServices({ dataDir, database });
  try {
    const { definition } = loaded;
    const result = await services.store.putInstance({
      id: definition.id,
      name: definition.name ?? definition.id,
      definition,
      sourceFile: loaded.file,
      baseDir: loaded.baseDir,
    });
    await services.access.audit({ instanceId: null, principalId: cliActor(), action: 'instance.apply', target: definition.id, outcome: 'success', detail: { via: 'cli', file: loaded.file, result } });
    process.stdout.write(`instance '${definition.id}' ${result} from ${file}\n`);
  } finally {
    await services.close();
  }
}
