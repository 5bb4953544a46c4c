// Versioned schema migrations. Each adapter lists its own SQL (dialects differ) under the same
// versions, so a database of either kind at version N has the same tables and meaning.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Versions strictly increase. Gaps are allowed: versions are assigned to branches up front, and a
 * branch may be tested (and merged) before the one holding a lower version.
 */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const previous = i === 0 ? 0 : migrations[i - 1].version;
    if (!Number.isInteger(m.version) || m.version <= previous)
      throw new Error(`migration ${m.name} has version ${m.version}, expected a version above ${previous}`);
  });
}
