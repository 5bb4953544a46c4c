// Which database the commands use, from flags and environment (flags win), read once by the CLI
// and passed to openServices: PostgreSQL when a postgres:// URL is given, else SQLite in the data
// directory.
import type { Command } from 'commander';
import type { DatabaseOptions } from '../services.js';
import { CliError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Adds --database-url and --database-schema to a command that opens the store. */
export function addDatabaseFlags(command: Command): Command {
  return command
    .option('--database-url <url>', 'PostgreSQL database, postgres://user@host:5432/db (default: $DATABASE_URL; none: SQLite in the data directory)')
    .option('--database-schema <name>', "schema of Kindred's tables in that database (default: $KINDRED_DATABASE_SCHEMA or the connection's search_path)");
}

/** The PostgreSQL database from parsed flags (commander's camelCase names) and the environment; undefined: SQLite. */
export function databaseOptionsFrom(flags: { databaseUrl?: string; databaseSchema?: string }, env: Env): DatabaseOptions | undefined {
  const url = flags.databaseUrl ?? (env.DATABASE_URL || undefined);
  const schema = flags.databaseSchema ?? (env.KINDRED_DATABASE_SCHEMA || undefined);
  if (url === undefined) {
    if (schema !== undefined) throw new CliError('--database-schema (or KINDRED_DATABASE_SCHEMA) needs a PostgreSQL database: give --database-url or DATABASE_URL');
    return undefined;
  }
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new CliError('--database-url (or DATABASE_URL) is not a URL; expected postgres://user@host:5432/database');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:')
    throw new CliError(`--database-url (or DATABASE_URL) must be a postgres:// URL, not ${protocol}//…; without it Kindred uses SQLite in the data directory`);
  if (schema !== undefined && (schema.trim() === '' || Buffer.byteLength(schema) > 63))
    throw new CliError(`--database-schema must be a name of 1 to 63 bytes, not '${schema}'`);
  return schema === undefined ? { url } : { url, schema };
}
