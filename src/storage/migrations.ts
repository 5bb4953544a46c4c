// Versioned schema migrations. Each adapter lists its own SQL (dialects differ) under the same
// versions, so a database of either kind at version N has the same tables and meaning.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Versions must rise. Gaps are allowed: parallel branches are assigned version numbers up front,
 * and a branch may be merged before one with a lower number; pending versions run in order.
 */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1) throw new Error(`migration ${m.name} has version ${m.version}, expected a positive integer`);
    if (i > 0 && m.version <= migrations[i - 1].version)
      throw new Error(`migration ${m.name} has version ${m.version}, expected more than ${migrations[i - 1].version}`);
  });
}
