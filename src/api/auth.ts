// API keys: accepted in Ocp-Apim-Subscription-Key or Authorization: Bearer; stored only as a
// SHA-256 hash with a short visible prefix. Each route declares the least role it needs.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiKeyRecord, Role, Store } from '../storage/store.js';
import { ApiError } from './errors.js';

const RANK: Record<Role, number> = { Viewer: 1, Contributor: 2, Administrator: 3 };

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateKey(): string {
  return `kdr_${randomBytes(24).toString('base64url')}`;
}

/** Stores a key (hash only) and returns the record; the caller shows the key once. */
export async function registerKey(
  store: Store,
  key: string,
  options: { instanceId: string | null; role: Role; name: string; principalId?: string; expiresAt?: string | null },
): Promise<ApiKeyRecord> {
  const record = {
    id: randomUUID(),
    instanceId: options.instanceId,
    principalId: options.principalId ?? `app:${options.name}`,
    name: options.name,
    role: options.role,
    prefix: key.slice(0, 8),
    hash: hashKey(key),
    createdAt: new Date().toISOString(),
    expiresAt: options.expiresAt ?? null,
  };
  await store.createApiKey(record);
  return { ...record, lastUsedAt: null, revokedAt: null };
}

export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['ocp-apim-subscription-key'];
  if (typeof header === 'string' && header) return header;
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim() || undefined;
  return undefined;
}

/**
 * Checks the caller's key for an instance (null: server-wide) and role; throws 401/403.
 * `sessionKeyHash`: the hash of the key a web UI session stands for, used when no key is presented.
 */
export async function authorize(store: Store, request: FastifyRequest, instanceId: string | null, least: Role, sessionKeyHash?: string): Promise<ApiKeyRecord> {
  const key = presentedKey(request);
  const keyHash = key ? hashKey(key) : sessionKeyHash;
  if (!keyHash) throw new ApiError('Unauthorized', 'an API key is required in the Ocp-Apim-Subscription-Key header or as Authorization: Bearer');
  const record = await store.findApiKeyByHash(keyHash);
  const t = new Date().toISOString();
  if (!record || record.revokedAt || (record.expiresAt && record.expiresAt <= t))
    throw new ApiError('Unauthorized', 'the API key is not valid (unknown, revoked or expired)');
  // A key of another instance learns nothing about this one: same answer as an unknown key.
  if (record.instanceId !== null && instanceId !== null && record.instanceId !== instanceId)
    throw new ApiError('Unauthorized', 'the API key is not valid (unknown, revoked or expired)');
  if (record.instanceId !== null && instanceId === null && least !== 'Viewer')
    throw new ApiError('Forbidden', 'this operation needs a server-wide key');
  if (RANK[record.role] < RANK[least]) throw new ApiError('Forbidden', `this operation needs the ${least} role; the key has ${record.role}`);
  return record;
}
