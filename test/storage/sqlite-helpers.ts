// Shared by the SQLite storage tests: a store on a fresh database file in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/storage/sqlite/store.js';
import type { OpenedStore } from './conformance.js';

/**
 * A store on a new file in a new temp dir; cleanup removes the dir. With `reopen` (default), the
 * suite may open a second store on the same file (suites that then test two processes' locking
 * need it off: SQLite's locks here are per process). `readerThreads`: queryEntity in reader threads;
 * `generationLoading`: where generations are loaded.
 */
export async function openSqliteOnTempDir(
  prefix = 'kindred-store-',
  options: { reopen?: boolean } & Pick<SqliteStoreOptions, 'readerThreads' | 'generationLoading'> = {},
): Promise<OpenedStore> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const file = path.join(dir, 'kindred.db');
  const open = () => openSqliteStore({ file, readerThreads: options.readerThreads, generationLoading: options.generationLoading });
  const store = open();
  return {
    store,
    ...(options.reopen === false ? {} : { reopen: async () => open() }),
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
