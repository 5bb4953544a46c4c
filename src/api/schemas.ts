// Schemas shared by routes (TypeBox: JSON Schema for validation and the OpenAPI document).
import { Type } from 'typebox';

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
