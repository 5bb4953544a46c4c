import type { Role } from '../storage/store.js';
import type { ApiKeyRecord } from '../storage/store.js';

/** The least role a route needs, and whether the key must belong to the route's instance. */
export interface RouteAuth {
  role: Role | 'public';
  scope: 'instance' | 'server';
}

/** A management route: its calls are recorded in the audit log (src/api/auth.ts installAccessHooks). */
export interface RouteAudit {
  /** e.g. `key.create` */
  action: string;
  /** The path parameter that names the target (default: none; a handler may set request.auditNote). */
  target?: string;
  /** Record only refused calls (403): reads of management data. */
  refusalsOnly?: boolean;
}

/** One route as the access hooks saw it (app.accessRoutes). */
export interface AccessRoute {
  method: string;
  url: string;
  auth: RouteAuth;
  audit?: RouteAudit;
}

export const PUBLIC: { auth: RouteAuth } = { auth: { role: 'public', scope: 'server' } };
export const needs = (role: Role, scope: RouteAuth['scope'] = 'instance'): { auth: RouteAuth } => ({ auth: { role, scope } });
/** Spread beside needs(): `config: { ...needs('Administrator'), ...audited('key.create', 'principalId') }`. */
export const audited = (action: string, target?: string, options: { refusalsOnly?: boolean } = {}): { audit: RouteAudit } => ({
  audit: { action, target, refusalsOnly: options.refusalsOnly },
});

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    audit?: RouteAudit;
  }
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
    /** What an audited handler adds to its audit entry (e.g. the id of what it created). */
    auditNote?: { target?: string; detail?: Record<string, unknown> };
  }
  interface FastifyInstance {
    /** Every /api route with its declared least role, in registration order. */
    accessRoutes: AccessRoute[];
  }
}
