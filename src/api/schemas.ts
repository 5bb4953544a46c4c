// Schemas shared by routes (TypeBox: JSON Schema for validation and the OpenAPI document).
import { Type, type Static, type TSchema, type TUnsafe } from 'typebox';

/**
 * `schema` or null, written as OpenAPI 3.0 spells it: `{ ...schema, nullable: true }`.
 * Use it instead of `Type.Union([X, Type.Null()])`, whose `anyOf` with `{type: 'null'}` is not
 * OpenAPI 3.0, converts to Swagger 2.0 badly and makes the response serializer try each branch.
 * Ajv (request validation) and fast-json-stringify (responses) both honour `nullable`; it needs
 * a `type` beside it, so `schema` must have one (not a `$ref` or a union).
 */
export function Nullable<T extends TSchema>(schema: T, options: { description?: string } = {}): TUnsafe<Static<T> | null> {
  const type = (schema as { type?: unknown }).type;
  if (typeof type !== 'string' || type === 'null') throw new Error('Nullable() needs a schema with a single type');
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, nullable: true } as TSchema);
}

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      errorCode: Type.String(),
      message: Type.String(),
      target: Type.Optional(Type.String()),
      details: Type.Optional(Type.Array(Type.Object({ code: Type.String(), message: Type.String(), target: Type.Optional(Type.String()) }))),
    }),
  },
  { description: 'OData error' },
);

export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ErrorBody]));

export const InstanceId = Type.String({ minLength: 1, maxLength: 64, description: 'Instance id' });
export const InstanceParams = Type.Object({ instanceId: InstanceId });

/** Any JSON object (records of unified entities have instance-specific attributes). */
export const AnyRecord = Type.Object({}, { additionalProperties: true });

export const RealtimeQuery = Type.Object({
  validUntil: Type.Optional(Type.String({ description: 'RFC 3339 expiry, at most 30 days ahead' })),
  caller: Type.Optional(Type.String({ maxLength: 200, description: 'Name of the calling system (telemetry groups by it)' })),
});
