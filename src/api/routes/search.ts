// Customer search for people (the web UI's search box).
//
// GET /api/instances/{instanceId}/search?q=&top=   (Viewer)
//   q (1..200 characters): matched, in this order, as
//     key   - a CustomerId or any source key, exactly (AlternateKey value of any customer entity),
//     email - exactly, case-insensitive (when q contains '@'),
//     phone - (when q looks like a number) parsed to E.164 with the instance's defaultPhoneRegion and
//             matched however the stored number was written (+1 213-898-5977, (213) 898-5977, 0049...);
//             matchedValue is the E.164 form,
//     name  - prefix of the name or of any of its words, case- and accent-insensitive
//             ("wis" finds "Robert Wiśniewski"; "robert w" too).
//   top: 1..100, default 20. One result per customer.
//   200 { value: [{ CustomerId, displayName, email, phone, matchedOn: 'name'|'email'|'phone'|'key',
//                   matchedValue }] }
//   displayName/email/phone show the profile as readers see it (real-time overrides applied), but
//   the search itself covers the batch values only: real-time overrides of a name or email are
//   not searchable until a refresh brings them. Terms are indexed per generation (no scans).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ResolvedInstance } from '../../config/resolve.js';
import { applyOverrides } from '../../domain/realtime.js';
import { emailTerm, foldText, phoneCandidates, searchSpecOf, type SearchSpec } from '../../domain/search-terms.js';
import type { Services } from '../../services.js';
import type { SearchQuery } from '../../storage/search.js';
import { needs } from '../route-auth.js';
import { errors, InstanceParams, Nullable } from '../schemas.js';

const PHONE_LIKE = /^\+?[\d\s().\-/]+$/;

const Result = Type.Object({
  value: Type.Array(
    Type.Object({
      CustomerId: Type.String(),
      displayName: Nullable(Type.String()),
      email: Nullable(Type.String()),
      phone: Nullable(Type.String()),
      matchedOn: Type.Union([Type.Literal('name'), Type.Literal('email'), Type.Literal('phone'), Type.Literal('key')]),
      matchedValue: Type.String(),
    }),
  ),
});

const specs = new WeakMap<ResolvedInstance, SearchSpec>();
function specOf(resolved: ResolvedInstance): SearchSpec {
  let spec = specs.get(resolved);
  if (!spec) specs.set(resolved, (spec = searchSpecOf(resolved)));
  return spec;
}

const str = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

export const searchRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { catalog, store } = services;
  app.get(
    '/instances/:instanceId/search',
    {
      config: needs('Viewer'),
      schema: {
        operationId: 'Customer_Search',
        summary: 'Find customers by name (prefix), email, phone or any source key',
        tags: ['Data'],
        params: InstanceParams,
        querystring: Type.Object({
          q: Type.String({ minLength: 1, maxLength: 200, description: 'Name prefix, email, phone number or source key' }),
          top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'At most this many customers (default 20)' })),
        }),
        response: { 200: Result, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const top = request.query.top ?? 20;
      const q = request.query.q.trim();
      const entry = await catalog.require(instanceId);
      const spec = specOf(entry.resolved);
      const query: SearchQuery = {};
      let phone: ReturnType<typeof phoneCandidates> | undefined;
      if (q) {
        query.key = { value: q, entities: entry.resolved.customerEntities.map((e) => ({ dataSource: e.dataSource, entity: e.name })) };
        const digits = q.replace(/\D/g, '').length;
        if (q.includes('@')) query.email = emailTerm(q);
        else if (PHONE_LIKE.test(q) && digits >= 6) {
          phone = phoneCandidates(q, spec.phoneRegion);
          query.phones = phone.digits;
        }
        else query.namePrefix = foldText(q) || undefined;
      }
      const hits = q ? await store.search.find(instanceId, query, top) : [];
      // A CustomerId pasted into the box finds its customer first.
      if (q && !hits.some((h) => h.customerId === q) && (await store.getCustomer(instanceId, q))) {
        hits.unshift({ customerId: q, matchedOn: 'key', matchedValue: q });
        if (hits.length > top) hits.length = top;
      }
      const now = new Date().toISOString();
      const value = [];
      for (const hit of hits) {
        const view = await store.getProfile(instanceId, hit.customerId);
        if (!view) continue;
        const c = applyOverrides(view.customer, view.overrides, now).customer;
        const first = (fields: string[]) => fields.map((f) => str(c[f])).find((v) => v !== null) ?? null;
        const names = spec.nameFields.map((f) => str(c[f])).filter((v) => v !== null);
        // FullName fields: the first that has a value; FirstName + LastName: both.
        const fullNames = spec.nameFields.length && entry.schema.customer.attributes.some((a) => a.name === spec.nameFields[0] && a.semanticType === 'Person.FullName');
        value.push({
          CustomerId: hit.customerId,
          displayName: fullNames ? first(spec.nameFields) : names.length ? names.join(' ') : null,
          email: first(spec.emailFields),
          phone: first(spec.phoneFields),
          matchedOn: hit.matchedOn,
          // Phones are stored as digits; show the number searched for, in E.164 when it parses.
          matchedValue: hit.matchedOn === 'phone' && phone?.e164 ? phone.e164 : hit.matchedValue,
        });
      }
      return { value };
    },
  );
};
