// API key management: keys of an instance (its Administrators) under /instances/{id}/keys, and
// server-wide keys (server Administrators) under /keys. A key is shown once, when it is made.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import type { AccessKey } from '../../storage/access.js';
import { parseExpiry, type IssuedKey } from '../auth.js';
import { audited, needs } from '../route-auth.js';
import { errors, InstanceId, Nullable } from '../schemas.js';
import { PrincipalId, RoleName } from './rbac.js';

const KeyInfo = Type.Object(
  {
    keyId: Type.String(),
    instanceId: Nullable(Type.String(), { description: 'null: a server-wide key' }),
    principalId: Type.String(),
    name: Type.String(),
    role: Type.String(),
    slot: Nullable(Type.String(), { description: 'primary | secondary' }),
    prefix: Type.String({ description: 'The first characters of the key' }),
    createdTimestamp: Type.String(),
    lastUsedTimestamp: Nullable(Type.String(), { description: 'Updated at most once a minute' }),
    expiresTimestamp: Nullable(Type.String()),
    revokedTimestamp: Nullable(Type.String()),
  },
  { description: 'An API key (never the key itself)' },
);
const IssuedKeyInfo = Type.Object(
  {
    key: Type.String({ description: 'The key: shown only this once' }),
    ...KeyInfo.properties,
    replacedKeyId: Nullable(Type.String(), { description: 'The key that held the slot before, now revoked' }),
  },
  { description: 'A new API key' },
);

function keyInfo(k: AccessKey) {
  return {
    keyId: k.id,
    instanceId: k.instanceId,
    principalId: k.principalId,
    name: k.name,
    role: k.role,
    slot: k.slot,
    prefix: k.prefix,
    createdTimestamp: k.createdAt,
    lastUsedTimestamp: k.lastUsedAt,
    expiresTimestamp: k.expiresAt,
    revokedTimestamp: k.revokedAt,
  };
}

const issued = (i: IssuedKey) => ({ key: i.key, ...keyInfo(i.record), replacedKeyId: i.replaced?.id ?? null });

const Expires = Type.Optional(Nullable(Type.String({ description: 'RFC 3339 date-time; omitted or null: the key does not expire' })));
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'Name of the key (and of the principal when it is new)' }),
    role: RoleName,
    principalId: Type.Optional(PrincipalId),
    principalType: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('app'), Type.Literal('group')])),
    expiresAt: Expires,
  },
  { additionalProperties: false },
);
const RegenerateBody = Type.Object(
  {
    slot: Type.Union([Type.Literal('primary'), Type.Literal('secondary')], { description: 'Which key of the principal to replace' }),
    expiresAt: Expires,
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object({
  principalId: Type.Optional(PrincipalId),
  includeRevoked: Type.Optional(Type.Boolean({ description: 'Also list revoked keys' })),
});
const List = Type.Object({ value: Type.Array(KeyInfo) }, { description: 'API keys, oldest first' });

export const keyRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog, access } = services;

  // The same four operations for both scopes.
  for (const scope of ['instance', 'server'] as const) {
    const base = scope === 'instance' ? '/instances/:instanceId/keys' : '/keys';
    const params = scope === 'instance' ? { params: Type.Object({ instanceId: InstanceId }) } : {};
    const auth = needs('Administrator', scope);
    const op = (name: string) => (scope === 'instance' ? `ApiKeys_${name}` : `ServerApiKeys_${name}`);
    const tags = ['Access'];
    const where = scope === 'instance' ? 'of the instance' : 'server-wide';
    type P = { instanceId?: string };
    const instanceOf = async (p: P) => {
      if (scope === 'server') return null;
      await catalog.require(p.instanceId!);
      return p.instanceId!;
    };

    app.get(
      base,
      {
        config: { ...auth, ...audited(`key.list`, undefined, { refusalsOnly: true }) },
        schema: { operationId: op('List'), summary: `List API keys ${where}`, tags, ...params, querystring: ListQuery, response: { 200: List, ...errors(400, 401, 403, 404) } },
      },
      async (request) => {
        const instanceId = await instanceOf(request.params as P);
        const q = request.query;
        return { value: (await store.access.listKeys(instanceId, { principalId: q.principalId, includeRevoked: q.includeRevoked })).map(keyInfo) };
      },
    );

    app.post(
      base,
      {
        config: { ...auth, ...audited('key.create') },
        schema: {
          operationId: op('Create'),
          summary: `Create an API key ${where} for a principal (shown once)`,
          tags,
          ...params,
          body: CreateBody,
          response: { 201: IssuedKeyInfo, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (request, reply) => {
        const instanceId = await instanceOf(request.params as P);
        const b = request.body;
        const made = await access.createKey({
          instanceId,
          role: b.role,
          name: b.name,
          principalId: b.principalId,
          principalKind: b.principalType,
          expiresAt: parseExpiry(b.expiresAt),
        });
        request.auditNote = { target: made.record.principalId, detail: { keyId: made.record.id, slot: made.record.slot, role: made.record.role, prefix: made.record.prefix } };
        return reply.status(201).send(issued(made));
      },
    );

    app.post(
      `${base}/principals/:principalId/regenerate`,
      {
        config: { ...auth, ...audited('key.regenerate', 'principalId') },
        schema: {
          operationId: op('Regenerate'),
          summary: "Replace a principal's primary or secondary key (the old one stops working at once; shown once)",
          tags,
          params: scope === 'instance' ? Type.Object({ instanceId: InstanceId, principalId: PrincipalId }) : Type.Object({ principalId: PrincipalId }),
          body: RegenerateBody,
          response: { 201: IssuedKeyInfo, ...errors(400, 401, 403, 404) },
        },
      },
      async (request, reply) => {
        const instanceId = await instanceOf(request.params as P);
        const { principalId } = request.params as { principalId: string };
        const made = await access.regenerateKey({ instanceId, principalId, slot: request.body.slot, expiresAt: parseExpiry(request.body.expiresAt) });
        request.auditNote = { target: principalId, detail: { keyId: made.record.id, slot: made.record.slot, replacedKeyId: made.replaced?.id ?? null } };
        return reply.status(201).send(issued(made));
      },
    );

    app.delete(
      `${base}/:keyId`,
      {
        config: { ...auth, ...audited('key.revoke', 'keyId') },
        schema: {
          operationId: op('Revoke'),
          summary: 'Revoke an API key (it stops working at once)',
          tags,
          params: scope === 'instance' ? Type.Object({ instanceId: InstanceId, keyId: Type.String({ maxLength: 64, description: 'Key id (keyId in the listing)' }) }) : Type.Object({ keyId: Type.String({ maxLength: 64, description: 'Key id (keyId in the listing)' }) }),
          response: { 200: KeyInfo, ...errors(401, 403, 404) },
        },
      },
      async (request) => {
        const instanceId = await instanceOf(request.params as P);
        const { keyId } = request.params as { keyId: string };
        const revoked = await access.revokeKey(instanceId, keyId);
        request.auditNote = { target: keyId, detail: { principalId: revoked.principalId, prefix: revoked.prefix } };
        return keyInfo(revoked);
      },
    );
  }
};
