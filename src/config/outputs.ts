// The parts of an instance definition about what leaves the unified profiles: enrichment
// settings, exports and notification webhooks. Included in InstanceSchema (schema.ts); checked
// beyond the schema in outputs-references.ts.
import { Type, type Static } from 'typebox';

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z][A-Za-z0-9]*$' });
const FieldName = Type.String({ minLength: 1, maxLength: 128 });

function literals<const T extends readonly string[]>(values: T) {
  return Type.Union(values.map((v) => Type.Literal(v)) as never) as unknown as ReturnType<typeof Type.Unsafe<T[number]>>;
}

export const EnrichmentSchema = Type.Object(
  {
    /** false: no enrichment (the CustomerEnrichment entity has only CustomerId). Default true. */
    enabled: Type.Optional(Type.Boolean()),
    /** Country for phone numbers and postal codes without one; default: defaultPhoneRegion. */
    region: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    /** Unified fields per enricher; each defaults to the fields with the matching semantic type. */
    phone: Type.Optional(Type.Array(FieldName)),
    email: Type.Optional(Type.Array(FieldName)),
    name: Type.Optional(Type.Array(FieldName)),
    postalCode: Type.Optional(Type.Array(FieldName)),
    country: Type.Optional(Type.Array(FieldName)),
  },
  { additionalProperties: false },
);

export const RetrySchema = Type.Object(
  {
    /** Attempts in all, the first included (default 5). */
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    /** Wait before the second attempt; doubles each time (default 1000). */
    baseDelayMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000 })),
  },
  { additionalProperties: false },
);

const Cron = Type.Object(
  { cron: Type.String({ minLength: 1 }), timezone: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
);

export const EXPORT_TARGET_TYPES = ['file', 'postgres', 'http'] as const;
export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;

/**
 * One object for every target type (the `type` decides which properties apply): a union would
 * make schema errors vague; outputs-references.ts says which property a type needs or refuses.
 */
export const ExportTargetSchema = Type.Object(
  {
    type: literals(EXPORT_TARGET_TYPES),
    // file
    /** Folder the file is written to, relative to the definition file. */
    folder: Type.Optional(Type.String({ minLength: 1 })),
    format: Type.Optional(literals(EXPORT_FORMATS)),
    /** Default: {export name}.csv or .jsonl */
    fileName: Type.Optional(Type.String({ minLength: 1, pattern: '^[^/\\\\]+$' })),
    // postgres
    connectionString: Type.Optional(Type.String({ minLength: 1 })),
    /** Environment variable holding the connection string (keeps passwords out of the definition). */
    connectionStringEnv: Type.Optional(Type.String({ minLength: 1 })),
    schema: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' })),
    table: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' })),
    // http
    url: Type.Optional(Type.String({ minLength: 1 })),
    /** Key of the HMAC-SHA256 signature (X-Kindred-Signature). */
    secret: Type.Optional(Type.String({ minLength: 8 })),
    secretEnv: Type.Optional(Type.String({ minLength: 1 })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    retry: Type.Optional(RetrySchema),
  },
  { additionalProperties: false },
);

export const ExportSchema = Type.Object(
  {
    name: Name,
    /** Customer, UnifiedActivity, AlternateKey, CustomerEnrichment (or another unified entity). */
    entity: Type.String({ minLength: 1 }),
    /** Only the members of this segment (entities with a CustomerId). */
    segment: Type.Optional(Type.String({ minLength: 1 })),
    /** Attributes exported, in order (default: all). */
    fields: Type.Optional(Type.Array(FieldName, { minItems: 1 })),
    /** Run after each successful refresh (default true). */
    afterRefresh: Type.Optional(Type.Boolean()),
    /** Run on this cron schedule too. */
    schedule: Type.Optional(Cron),
    target: ExportTargetSchema,
  },
  { additionalProperties: false },
);

export const NOTIFICATION_EVENTS = ['refreshSucceeded', 'refreshFailed', 'segmentThreshold', 'measureThreshold'] as const;

export const ThresholdSchema = Type.Object(
  {
    segment: Type.Optional(Type.String({ minLength: 1 })),
    measure: Type.Optional(Type.String({ minLength: 1 })),
    /** Fires when the value rises above this (it was at or below it at the previous refresh). */
    above: Type.Optional(Type.Number()),
    /** Fires when the value falls below this. */
    below: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

export const NotificationSchema = Type.Object(
  {
    name: Name,
    url: Type.String({ minLength: 1 }),
    secret: Type.Optional(Type.String({ minLength: 8 })),
    secretEnv: Type.Optional(Type.String({ minLength: 1 })),
    events: Type.Array(literals(NOTIFICATION_EVENTS), { minItems: 1 }),
    thresholds: Type.Optional(Type.Array(ThresholdSchema)),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
    retry: Type.Optional(RetrySchema),
  },
  { additionalProperties: false },
);

export type EnrichmentDef = Static<typeof EnrichmentSchema>;
export type RetryDef = Static<typeof RetrySchema>;
export type ExportTargetDef = Static<typeof ExportTargetSchema>;
export type ExportDef = Static<typeof ExportSchema>;
export type ThresholdDef = Static<typeof ThresholdSchema>;
export type NotificationDef = Static<typeof NotificationSchema>;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
