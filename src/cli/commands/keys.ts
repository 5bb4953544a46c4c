// `kindred keys …`: API keys straight in the data directory (also while a server runs: it notices
// revocations within 2 s). Every change is recorded in the audit log as the local user (cli:NAME).
import { userInfo } from 'node:os';
import { parseExpiry, type IssuedKey } from '../../api/auth.js';
import { ApiError } from '../../api/errors.js';
import { openServices, type DatabaseOptions, type Services } from '../../services.js';
import type { AccessKey, KeySlot } from '../../storage/access.js';
import type { Role } from '../../storage/store.js';
import { CliError } from '../errors.js';

export interface KeyScopeOptions {
  dataDir: string;
  /** PostgreSQL instead of SQLite in the data directory. */
  database?: DatabaseOptions;
  /** The instance, or undefined with `server` for a server-wide key. */
  instance?: string;
  server?: boolean;
}

/** Who acts from the command line, for the audit log: the local user (the CLI has no API key). */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

async function withScope<T>(o: KeyScopeOptions, action: string, target: (r: T) => string | null, run: (services: Services, instanceId: string | null) => Promise<T>): Promise<T> {
  if (!o.instance === !o.server) throw new CliError('give either --instance ID or --server (a server-wide key)');
  const services = await openServices({ dataDir: o.dataDir, database: o.database, sweepIntervalMs: 0 });
  const instanceId = o.instance ?? null;
  try {
    if (instanceId && !(await services.store.getInstance(instanceId)))
      throw new CliError(`instance '${instanceId}' does not exist in ${services.storeLocation}; apply its definition first (kindred instance apply)`);
    try {
      const result = await run(services, instanceId);
      await services.access.audit({ instanceId, principalId: cliActor(), action, target: target(result), outcome: 'success', detail: { via: 'cli' } });
      return result;
    } catch (err) {
      if (err instanceof ApiError) {
        await services.access.audit({ instanceId, principalId: cliActor(), action, target: null, outcome: err.code, detail: { via: 'cli', message: err.message } });
        throw new CliError(err.message);
      }
      throw err;
    }
  } finally {
    await services.close();
  }
}

function describeKey(k: AccessKey): string {
  const scope = k.instanceId ? `instance '${k.instanceId}'` : 'server-wide';
  return `${k.id}  ${k.prefix}…  ${k.role}  ${k.principalId} (${k.slot ?? 'no slot'})  ${scope}${k.expiresAt ? `  expires ${k.expiresAt}` : ''}`;
}

function expiry(value: string | undefined): string | null {
  try {
    return parseExpiry(value, '--expires');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export async function createKey(o: KeyScopeOptions & { role: Role; name: string; principal?: string; expires?: string }): Promise<void> {
  const expiresAt = expiry(o.expires);
  const made = await withScope<IssuedKey>(o, 'key.create', (m) => m.record.principalId, (services, instanceId) =>
    services.access.createKey({ instanceId, role: o.role, name: o.name, principalId: o.principal, expiresAt }),
  );
  process.stderr.write(`created ${describeKey(made.record)}\nThe key is shown only this once; store it now:\n`);
  process.stdout.write(`${made.key}\n`);
}

export async function rotateKey(o: KeyScopeOptions & { principal: string; slot: KeySlot; expires?: string }): Promise<void> {
  const expiresAt = expiry(o.expires);
  const made = await withScope<IssuedKey>(o, 'key.regenerate', () => o.principal, (services, instanceId) =>
    services.access.regenerateKey({ instanceId, principalId: o.principal, slot: o.slot, expiresAt }),
  );
  process.stderr.write(
    `new ${o.slot} key ${describeKey(made.record)}${made.replaced ? `\nrevoked the previous ${o.slot} key ${made.replaced.id} (${made.replaced.prefix}…)` : ''}\nThe key is shown only this once; store it now:\n`,
  );
  process.stdout.write(`${made.key}\n`);
}

export async function revokeKey(keyId: string, o: KeyScopeOptions): Promise<void> {
  const revoked = await withScope(o, 'key.revoke', () => keyId, (services, instanceId) => services.access.revokeKey(instanceId, keyId));
  process.stdout.write(`revoked ${describeKey(revoked)}\n`);
}

export async function listKeys(o: KeyScopeOptions & { all?: boolean }): Promise<void> {
  if (!o.instance === !o.server) throw new CliError('give either --instance ID or --server (server-wide keys)');
  const services = await openServices({ dataDir: o.dataDir, database: o.database, sweepIntervalMs: 0 });
  try {
    const keys = await services.store.access.listKeys(o.instance ?? null, { includeRevoked: o.all });
    const rows = [['ID', 'PREFIX', 'NAME', 'PRINCIPAL', 'ROLE', 'SLOT', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED']];
    for (const k of keys) rows.push([k.id, `${k.prefix}…`, k.name, k.principalId, k.role, k.slot ?? '-', k.createdAt, k.lastUsedAt ?? '-', k.expiresAt ?? '-', k.revokedAt ?? '-']);
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
    if (!keys.length) process.stderr.write('no keys\n');
  } finally {
    await services.close();
  }
}
