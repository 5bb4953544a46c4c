// The instance definition schema: the contract between a YAML/JSON file and the pipeline.
// TypeBox gives both the JSON Schema (for validation with paths) and the static types.
import { Type, type Static } from 'typebox';
import { EnrichmentSchema, ExportSchema, NotificationSchema } from './outputs.js';

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z][A-Za-z0-9]*$' });
/** "DataSource.Entity" */
const EntityRef = Type.String({ minLength: 3, pattern: '^[A-Za-z][A-Za-z0-9]*\\.[A-Za-z][A-Za-z0-9]*$' });
/** "DataSource.Entity.Column" */
const ColumnRef = Type.String({ minLength: 5, pattern: '^[A-Za-z][A-Za-z0-9]*\\.[A-Za-z][A-Za-z0-9]*\\.[^.]+$' });

function literals<const T extends readonly string[]>(values: T) {
  return Type.Union(values.map((v) => Type.Literal(v)) as never) as unknown as ReturnType<typeof Type.Unsafe<T[number]>>;
}

export const COLUMN_TYPES = ['string', 'integer', 'decimal', 'boolean', 'datetime', 'date'] as const;
export const NORMALIZATIONS = ['whitespace', 'lowercase', 'ascii', 'symbols', 'numerals', 'phone', 'name', 'email'] as const;
export const PRECISIONS = ['exact', 'low', 'medium', 'high'] as const;
export const WINNER_POLICIES = ['mostFilled', 'mostRecent', 'leastRecent'] as const;
export const MERGE_POLICIES = ['importance', 'mostRecent', 'leastRecent'] as const;

export const ColumnSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    type: Type.Optional(literals(COLUMN_TYPES)),
    semanticType: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z]+(\\.[A-Za-z]+)+$' })),
    /** Name of the field in the source file when it differs from `name`. */
    sourceName: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const FileOptions = {
  delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 4 })),
  encoding: Type.Optional(Type.String({ minLength: 2 })),
  /** true: the first line names the columns; false: columns in the order declared. */
  header: Type.Optional(Type.Boolean()),
};

export const EntitySchema = Type.Object(
  {
    name: Name,
    /** File path or glob, relative to the definition file. */
    path: Type.String({ minLength: 1 }),
    primaryKey: Type.String({ minLength: 1 }),
    lastModified: Type.Optional(Type.String({ minLength: 1 })),
    columns: Type.Array(ColumnSchema, { minItems: 1 }),
    ...FileOptions,
  },
  { additionalProperties: false },
);

export const DataSourceSchema = Type.Object(
  {
    name: Name,
    type: literals(['csv', 'jsonl'] as const),
    entities: Type.Array(EntitySchema, { minItems: 1 }),
    ...FileOptions,
  },
  { additionalProperties: false },
);

const PrecisionSchema = Type.Union([literals(PRECISIONS), Type.Number({ exclusiveMinimum: 0, maximum: 1 })]);

export const ConditionSchema = Type.Object(
  {
    field: Type.String({ minLength: 1 }),
    /** The column in the entity matched to (match rules); defaults to `field`. */
    otherField: Type.Optional(Type.String({ minLength: 1 })),
    normalize: Type.Optional(Type.Array(literals(NORMALIZATIONS))),
    precision: Type.Optional(PrecisionSchema),
    /** Default region for phone numbers written without a country code, e.g. "US". */
    phoneRegion: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
  },
  { additionalProperties: false },
);

export const DedupeRuleSchema = Type.Object(
  { name: Type.Optional(Type.String()), conditions: Type.Array(ConditionSchema, { minItems: 1 }) },
  { additionalProperties: false },
);

export const DeduplicationSchema = Type.Object(
  {
    entity: EntityRef,
    winner: Type.Optional(literals(WINNER_POLICIES)),
    rules: Type.Array(DedupeRuleSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const MatchRuleSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    matchTo: EntityRef,
    conditions: Type.Array(ConditionSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const MatchEntitySchema = Type.Object(
  {
    entity: EntityRef,
    /** Keep records that match nothing as profiles of their own (default true). */
    includeAllRecords: Type.Optional(Type.Boolean()),
    rules: Type.Optional(Type.Array(MatchRuleSchema)),
  },
  { additionalProperties: false },
);

export const MergeFieldSchema = Type.Object(
  {
    name: Name,
    /** Source columns in order of importance; several columns combine into one field. */
    from: Type.Array(ColumnRef, { minItems: 1 }),
    policy: Type.Optional(literals(MERGE_POLICIES)),
    type: Type.Optional(literals(COLUMN_TYPES)),
  },
  { additionalProperties: false },
);

export const MergeSchema = Type.Object(
  {
    defaultPolicy: Type.Optional(literals(MERGE_POLICIES)),
    /** Entities in order of importance (default: the matching order). */
    sourceOrder: Type.Optional(Type.Array(EntityRef)),
    fields: Type.Optional(Type.Array(MergeFieldSchema)),
    /** Unified field names or source columns (DataSource.Entity.Column) to leave out. */
    exclude: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);

export const UnificationSchema = Type.Object(
  {
    deduplication: Type.Optional(Type.Array(DeduplicationSchema)),
    matching: Type.Array(MatchEntitySchema, { minItems: 1 }),
    merge: Type.Optional(MergeSchema),
  },
  { additionalProperties: false },
);

export const ActivitySchema = Type.Object(
  {
    entity: EntityRef,
    /** Defaults to the entity's primary key. */
    primaryKey: Type.Optional(Type.String({ minLength: 1 })),
    timestamp: Type.String({ minLength: 1 }),
    customer: Type.Object(
      { entity: EntityRef, foreignKey: Type.String({ minLength: 1 }) },
      { additionalProperties: false },
    ),
    type: Name,
    typeDisplay: Type.Optional(Type.String({ minLength: 1 })),
    /** Templates: text with {Column} placeholders. */
    title: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    url: Type.Optional(Type.String()),
    icon: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    showInTimeline: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

// Measures and segments: what marketers compute over the unified profiles in each refresh.
export const AGGREGATIONS = ['sum', 'average', 'count', 'countDistinct', 'min', 'max', 'first', 'last', 'argMax', 'argMin'] as const;
export const CONDITION_OPERATORS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'in', 'notIn', 'contains', 'startsWith', 'isNull', 'isNotNull'] as const;
export const WINDOW_UNITS = ['hours', 'days', 'weeks', 'months', 'years'] as const;
export const SEGMENT_COMBINATIONS = ['union', 'intersect', 'except'] as const;

const ConditionValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

/** A simple condition on one attribute: `{ field, operator, value }`. */
export const FieldConditionSchema = Type.Object(
  {
    field: Type.String({ minLength: 1 }),
    operator: literals(CONDITION_OPERATORS),
    /** Not for isNull / isNotNull; a list for in / notIn. */
    value: Type.Optional(Type.Union([ConditionValue, Type.Array(ConditionValue, { minItems: 1, maxItems: 1000 })])),
  },
  { additionalProperties: false },
);

/** A time window relative to the refresh time: the last N units. */
export const WindowSchema = Type.Object(
  {
    last: Type.Integer({ minimum: 1, maximum: 100000 }),
    unit: Type.Optional(literals(WINDOW_UNITS)),
  },
  { additionalProperties: false },
);

export const MeasureSourceSchema = Type.Object(
  {
    /** Unified activities of these ActivityTypes (one name or a list). */
    activity: Type.Optional(Type.Union([Name, Type.Array(Name, { minItems: 1 })])),
    /** Rows of a source entity ("DataSource.Entity") related to the customer. */
    entity: Type.Optional(EntityRef),
    /** For an entity that is neither a customer entity nor an activity: how its rows find their customer. */
    customer: Type.Optional(
      Type.Object({ entity: EntityRef, foreignKey: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ),
    /** Column that dates an entity's rows (windows, first, last); defaults to the activity timestamp or lastModified. */
    timestamp: Type.Optional(Type.String({ minLength: 1 })),
    /** Business measures only: the values of a customer measure, one per customer. */
    measure: Type.Optional(Name),
    /** Business measures only: the unified Customer profiles. */
    profiles: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);

/**
 * One value of a connection mapping: a field path in the payload (`order.customer.email`,
 * `$.items[0].sku`), a constant, or a template with {path} placeholders; optionally converted by
 * a format (dates: unixSeconds, unixMillis, iso, or a pattern such as dd/MM/yyyy HH:mm; numbers:
 * number, integer, decimalComma; string, boolean).
 */
export const MappingValueSchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object(
    {
      path: Type.Optional(Type.String({ minLength: 1 })),
      value: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
      template: Type.Optional(Type.String({ minLength: 1 })),
      format: Type.Optional(Type.String({ minLength: 1 })),
      /** Used when the path is missing or null (otherwise a missing required value is an error). */
      default: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
      optional: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
]);

const mappingProperties = {
  /** What the mapping produces: UnifiedActivity, a source activity entity (DataSource_Entity) or Customer (a profile update). */
  entity: Type.String({ minLength: 1 }),
  /** Finds the customer through the key ring: a source key of DataSource.Entity taken from the payload. */
  customer: Type.Optional(
    Type.Object({ entity: EntityRef, key: MappingValueSchema }, { additionalProperties: false }),
  ),
  /** Attributes (or source columns) of the produced record and where each comes from. */
  fields: Type.Record(Type.String({ minLength: 1 }), MappingValueSchema),
  /** A path to an array: one record per element (read as `item`, its position as `itemIndex`). */
  each: Type.Optional(Type.String({ minLength: 1 })),
};

export const HookSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }),
    ...mappingProperties,
    /** HMAC check of the raw body: the secret comes from the named environment variable. */
    signature: Type.Optional(
      Type.Object(
        {
          secretEnv: Type.String({ minLength: 1, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
          header: Type.Optional(Type.String({ minLength: 1 })),
          algorithm: Type.Optional(literals(['sha256', 'sha1', 'sha512'] as const)),
          encoding: Type.Optional(literals(['hex', 'base64'] as const)),
          /** Text before the digest in the header, e.g. "sha256=". */
          prefix: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const MeasureSchema = Type.Object(
  {
    /** Also the column name in Customer_Measure. */
    name: Name,
    description: Type.Optional(Type.String()),
    /** customer (default): one value per customer, in Customer_Measure; business: one value per run. */
    kind: Type.Optional(literals(['customer', 'business'] as const)),
    aggregation: literals(AGGREGATIONS),
    source: MeasureSourceSchema,
    /** The attribute aggregated (every aggregation but count). */
    field: Type.Optional(Type.String({ minLength: 1 })),
    /** argMax / argMin: the attribute whose largest / smallest value picks the row. */
    by: Type.Optional(Type.String({ minLength: 1 })),
    /** Conditions every counted row meets (AND). */
    filter: Type.Optional(Type.Array(FieldConditionSchema)),
    window: Type.Optional(WindowSchema),
  },
  { additionalProperties: false },
);

export const SegmentConditionSchema = Type.Object(
  {
    /** A unified Customer field. */
    field: Type.Optional(Type.String({ minLength: 1 })),
    /** A customer measure. */
    measure: Type.Optional(Name),
    /** Has activities of this ActivityType (at least one unless operator/value say otherwise). */
    activity: Type.Optional(Name),
    /** For activity conditions: only activities in this window count. */
    window: Type.Optional(WindowSchema),
    /** For activity conditions: conditions on the activities' attributes. */
    filter: Type.Optional(Type.Array(FieldConditionSchema)),
    /** For field and measure conditions, or compares the activity count (default ge 1). */
    operator: Type.Optional(literals(CONDITION_OPERATORS)),
    value: Type.Optional(Type.Union([ConditionValue, Type.Array(ConditionValue, { minItems: 1, maxItems: 1000 })])),
  },
  { additionalProperties: false },
);

export const SegmentRuleSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    /** How the rule's conditions are joined (default and). */
    join: Type.Optional(literals(['and', 'or'] as const)),
    conditions: Type.Array(SegmentConditionSchema, { minItems: 1 }),
    /** How this rule combines with the rules before it (default union; ignored on the first). */
    combine: Type.Optional(literals(SEGMENT_COMBINATIONS)),
  },
  { additionalProperties: false },
);

export const SegmentSchema = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String()),
    /** Inactive segments are not computed (default true). */
    active: Type.Optional(Type.Boolean()),
    rules: Type.Array(SegmentRuleSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const ConsumerSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }),
    /** NATS JetStream subject read (the stream holding it is found unless `stream` names it). */
    subject: Type.String({ minLength: 1 }),
    stream: Type.Optional(Type.String({ minLength: 1 })),
    /** Durable consumer name (default kindred-{instance}-{name}). */
    durable: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$' })),
    /** Reuse the mapping of a hook, or give entity/customer/fields here. */
    hook: Type.Optional(Type.String({ minLength: 1 })),
    entity: Type.Optional(mappingProperties.entity),
    customer: mappingProperties.customer,
    fields: Type.Optional(mappingProperties.fields),
    each: mappingProperties.each,
  },
  { additionalProperties: false },
);

export const InstanceSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*$' }),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    defaultPhoneRegion: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    schedule: Type.Optional(
      Type.Object(
        { cron: Type.String({ minLength: 1 }), timezone: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ),
    dataSources: Type.Array(DataSourceSchema, { minItems: 1 }),
    unification: UnificationSchema,
    /**
     * Unified Customer attributes indexed for `$filter` (the "search & filter index"): a filter on
     * them seeks instead of reading every profile. Each index costs refresh time and disk.
     */
    filterIndex: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    activities: Type.Optional(Type.Array(ActivitySchema)),
    measures: Type.Optional(Type.Array(MeasureSchema)),
    segments: Type.Optional(Type.Array(SegmentSchema)),
    enrichment: Type.Optional(EnrichmentSchema),
    exports: Type.Optional(Type.Array(ExportSchema)),
    notifications: Type.Optional(Type.Array(NotificationSchema)),
    /** Webhooks: POST /api/instances/{id}/hooks/{name} mapped to activities or profile updates. */
    hooks: Type.Optional(Type.Array(HookSchema)),
    /** NATS JetStream consumers applying the same kind of mapping. */
    consumers: Type.Optional(Type.Array(ConsumerSchema)),
  },
  { additionalProperties: false },
);

export type ColumnType = (typeof COLUMN_TYPES)[number];
export type Normalization = (typeof NORMALIZATIONS)[number];
export type Precision = (typeof PRECISIONS)[number] | number;
export type WinnerPolicy = (typeof WINNER_POLICIES)[number];
export type MergePolicy = (typeof MERGE_POLICIES)[number];
export type ColumnDef = Static<typeof ColumnSchema>;
export type EntityDef = Static<typeof EntitySchema>;
export type DataSourceDef = Static<typeof DataSourceSchema>;
export type ConditionDef = Static<typeof ConditionSchema>;
export type DeduplicationDef = Static<typeof DeduplicationSchema>;
export type MatchEntityDef = Static<typeof MatchEntitySchema>;
export type MatchRuleDef = Static<typeof MatchRuleSchema>;
export type MergeDef = Static<typeof MergeSchema>;
export type MergeFieldDef = Static<typeof MergeFieldSchema>;
export type ActivityDef = Static<typeof ActivitySchema>;
export type InstanceDefinition = Static<typeof InstanceSchema>;
export type Aggregation = (typeof AGGREGATIONS)[number];
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];
export type WindowUnit = (typeof WINDOW_UNITS)[number];
export type SegmentCombination = (typeof SEGMENT_COMBINATIONS)[number];
export type FieldConditionDef = Static<typeof FieldConditionSchema>;
export type WindowDef = Static<typeof WindowSchema>;
export type MeasureDef = Static<typeof MeasureSchema>;
export type SegmentConditionDef = Static<typeof SegmentConditionSchema>;
export type SegmentRuleDef = Static<typeof SegmentRuleSchema>;
export type SegmentDef = Static<typeof SegmentSchema>;
export type MappingValueDef = Static<typeof MappingValueSchema>;
export type HookDef = Static<typeof HookSchema>;
export type ConsumerDef = Static<typeof ConsumerSchema>;
