import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { outputsConformance } from './outputs-conformance.js';

outputsConformance('sqlite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kindred-outputs-'));
  const store = openSqliteStore({ file: path.join(dir, 'kindred.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
