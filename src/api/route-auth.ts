import type { Role } from '../storage/store.js';
import type { ApiKeyRecord } from '../storage/store.js';

/** The least role a route needs, and whether the key must belong to the route's instance. */
export interface RouteAuth {
  role: Role | 'public';
  scope: 'instance' | 'server';
}

export const PUBLIC: { auth: RouteAuth } = { auth: { role: 'public', scope: 'server' } };
export const needs = (role: Role, scope: RouteAuth['scope'] = 'instance'): { auth: RouteAuth } => ({ auth: { role, scope } });

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
}
