// Versioned schema migrations. Each adapter lists its own SQL (dialects differ) under the same
// versions, so a database of either kind at version N has the same tables and meaning.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
}
