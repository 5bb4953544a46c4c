// Role-based access control as in the reference: role definitions, the caller's role, and each
// principal's one role assignment per instance.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../services.js';
import type { RoleAssignment } from '../../storage/access.js';
import type { Role } from '../../storage/store.js';
import { ROLES } from '../auth.js';
import { ApiError } from '../errors.js';
import { audited, needs } from '../route-auth.js';
import { errors, InstanceId, InstanceParams } from '../schemas.js';

export const ROLE_DEFINITIONS: Record<Role, { description: string; permissions: string[] }> = {
  Viewer: { description: 'Reads profiles, activities, entities, refresh jobs and its own role.', permissions: ['read'] },
  Contributor: {
    description: 'Viewer, plus real-time writes, refreshes and the configuration of data, unification, activities, measures and segments.',
    permissions: ['read', 'realtime.write', 'refresh', 'configuration'],
  },
  Administrator: {
    description: 'Contributor, plus role assignments, API keys, schedules, exports and the audit log.',
    permissions: ['read', 'realtime.write', 'refresh', 'configuration', 'permissions', 'keys', 'schedules', 'exports', 'audit'],
  },
};

export const RoleName = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  { description: 'Viewer | Contributor | Administrator' },
);
const PrincipalType = Type.Union([Type.Literal('user'), Type.Literal('app'), Type.Literal('group')], { description: 'user | app | group' });
export const PrincipalId = Type.String({ minLength: 1, maxLength: 256, description: 'Principal id, e.g. app:crm-sync or user:ana@example.com' });

const RoleDefinition = Type.Object(
  { roleName: Type.String(), description: Type.String(), permissions: Type.Array(Type.String()) },
  { description: 'A role and what it allows' },
);
const Assignment = Type.Object(
  {
    principalId: Type.String(),
    principalType: Type.String({ description: 'user | app | group' }),
    principalDisplayName: Type.String(),
    roles: Type.Array(Type.String(), { description: 'The one role of the principal in the instance' }),
    instanceId: Type.String(),
    assignedTimestamp: Type.String(),
  },
  { description: "A principal's role in an instance" },
);
const MyRole = Type.Object(
  {
    principalId: Type.String(),
    roles: Type.Array(Type.String()),
    instanceId: Type.String(),
    scope: Type.String({ description: "'instance': a key of this instance; 'server': a server-wide key" }),
    permissions: Type.Array(Type.String()),
  },
  { description: "The caller's role in the instance" },
);
const PrincipalParams = Type.Object({ instanceId: InstanceId, principalId: PrincipalId });

function assignmentInfo(a: RoleAssignment, instanceId: string) {
  return {
    principalId: a.principalId,
    principalType: a.principalKind,
    principalDisplayName: a.displayName,
    roles: [a.role],
    instanceId,
    assignedTimestamp: a.assignedAt,
  };
}

export const rbacRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { store, catalog, access } = services;

  app.get(
    '/instances/:instanceId/rbac/roles',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Rbac_GetAllRoleDefinitions',
        summary: 'List the roles and what each allows',
        tags: ['Access'],
        params: InstanceParams,
        response: { 200: Type.Array(RoleDefinition, { description: 'Role definitions' }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      await catalog.require(request.params.instanceId);
      return ROLES.map((r) => ({ roleName: r, ...ROLE_DEFINITIONS[r] }));
    },
  );

  app.get(
    '/instances/:instanceId/rbac/myrole',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Rbac_GetCurrentUserRole',
        summary: "The caller's role in the instance",
        tags: ['Access'],
        params: InstanceParams,
        response: { 200: MyRole, ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      await catalog.require(instanceId);
      const caller = request.apiKey!;
      return {
        principalId: caller.principalId,
        roles: [caller.role],
        instanceId,
        scope: caller.instanceId === null ? 'server' : 'instance',
        permissions: ROLE_DEFINITIONS[caller.role].permissions,
      };
    },
  );

  app.get(
    '/instances/:instanceId/rbac/assignments',
    {
      config: { ...needs('Administrator'), ...audited('rbac.list', undefined, { refusalsOnly: true }) },
      schema: {
        operationId: 'Rbac_GetAllRoleAssignments',
        summary: 'List the role assignments of the instance',
        tags: ['Access'],
        params: InstanceParams,
        response: { 200: Type.Array(Assignment, { description: 'Role assignments, by principal id' }), ...errors(401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      await catalog.require(instanceId);
      return (await store.access.listAssignments(instanceId)).map((a) => assignmentInfo(a, instanceId));
    },
  );

  app.put(
    '/instances/:instanceId/rbac/principals/:principalId/assignment',
    {
      config: { ...needs('Administrator'), ...audited('rbac.assign', 'principalId') },
      schema: {
        operationId: 'Rbac_CreateOrUpdateRoleAssignment',
        summary: "Give a principal its role in the instance (replaces the role it had; its keys follow at once)",
        tags: ['Access'],
        params: PrincipalParams,
        body: Type.Object(
          {
            principalId: Type.Optional(PrincipalId),
            principalType: Type.Optional(PrincipalType),
            principalDisplayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            roles: Type.Array(RoleName, { minItems: 1, maxItems: 1, description: 'Exactly one role: a principal has one role per instance' }),
            instanceId: Type.Optional(InstanceId),
          },
          { additionalProperties: false },
        ),
        response: { 200: Assignment, 201: Assignment, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { instanceId, principalId } = request.params;
      const body = request.body;
      if (body.principalId !== undefined && body.principalId !== principalId)
        throw new ApiError('InvalidParameter', `body principalId '${body.principalId}' differs from the path's '${principalId}'`, 'principalId');
      if (body.instanceId !== undefined && body.instanceId !== instanceId)
        throw new ApiError('InvalidParameter', `body instanceId '${body.instanceId}' differs from the path's '${instanceId}'`, 'instanceId');
      await catalog.require(instanceId);
      const { assignment, result } = await access.assign({
        instanceId,
        principalId,
        principalKind: body.principalType,
        displayName: body.principalDisplayName,
        role: body.roles[0],
      });
      request.auditNote = { target: principalId, detail: { role: assignment.role, result } };
      return reply.status(result === 'created' ? 201 : 200).send(assignmentInfo(assignment, instanceId));
    },
  );

  app.delete(
    '/instances/:instanceId/rbac/principals/:principalId/assignment',
    {
      config: { ...needs('Administrator'), ...audited('rbac.unassign', 'principalId') },
      schema: {
        operationId: 'Rbac_DeleteRoleAssignment',
        summary: "Remove a principal's role in the instance; its keys of the instance are revoked at once",
        tags: ['Access'],
        params: PrincipalParams,
        response: { 204: Type.Null({ description: "Removed" }), ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { instanceId, principalId } = request.params;
      await catalog.require(instanceId);
      const revoked = await access.unassign(instanceId, principalId);
      request.auditNote = { target: principalId, detail: { revokedKeys: revoked.map((k) => k.id) } };
      return reply.status(204).send(null);
    },
  );
};
