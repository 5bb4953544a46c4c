// The unified entities of an instance as callers see them: attributes with Edm types, which ones
// real-time writes may change, and the source entities that accept real-time activities.
import type { ResolvedEntity, ResolvedInstance } from '../config/resolve.js';
import type { ActivityDef, ColumnType } from '../config/schema.js';
import { compileActivityMapping, type ActivityMapping } from './activity-mapping.js';
import { measureTypeOf } from './measures.js';
import { ENRICHMENT_ENTITY, enrichmentPlan } from './enrich.js';

export type EdmType = 'Edm.String' | 'Edm.Int64' | 'Edm.Decimal' | 'Edm.Boolean' | 'Edm.Date' | 'Edm.DateTimeOffset';
/** How filters compare values (see api/odata/sql.ts). */
export type QueryType = 'string' | 'number' | 'boolean' | 'datetime';

export interface AttributeInfo {
  name: string;
  type: ColumnType;
  dataType: EdmType;
  semanticType?: string;
  /** May a real-time profile update change it? */
  writable: boolean;
}

export interface EntityInfo {
  name: string;
  qualifiedEntityName: string;
  dataSourceName: string | null;
  entityType: 'profile' | 'unifiedActivity' | 'activity' | 'alternateKey' | 'measure' | 'enrichment';
  attributes: AttributeInfo[];
  keys: string[];
  timestampAttribute: string | null;
  relationships: { name: string; fromAttribute: string; toEntity: string; toAttribute: string }[];
  /** Attribute name → how filters compare it. */
  queryTypes: Record<string, QueryType>;
}

export interface SourceActivity {
  def: ActivityDef & { primaryKey: string };
  entity: ResolvedEntity;
  customerEntity: ResolvedEntity;
  /** Compiled once per definition: the real-time path maps every posted record through it. */
  mapping: ActivityMapping;
}

export interface UnifiedSchema {
  customer: EntityInfo;
  activity: EntityInfo;
  alternateKey: EntityInfo;
  /** CustomerId plus one attribute per customer measure (computed by the refresh). */
  customerMeasure: EntityInfo;
  /** CustomerEnrichment: CustomerId plus what the enrichers derive (computed by the refresh). */
  enrichment: EntityInfo;
  /** Source entities configured as activities, by `{DataSource}_{Entity}`. */
  sourceActivities: Map<string, SourceActivity>;
  sourceActivityEntities: EntityInfo[];
  keyColumns: Set<string>;
}

const EDM: Record<ColumnType, EdmType> = {
  string: 'Edm.String',
  integer: 'Edm.Int64',
  decimal: 'Edm.Decimal',
  boolean: 'Edm.Boolean',
  date: 'Edm.Date',
  datetime: 'Edm.DateTimeOffset',
};

export function queryType(type: ColumnType): QueryType {
  switch (type) {
    case 'integer':
    case 'decimal':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'datetime':
      return 'datetime';
    default:
      return 'string';
  }
}

/** Attribute name → filter type. */
export function queryTypes(entity: Pick<EntityInfo, 'attributes'>): Record<string, QueryType> {
  return Object.fromEntries(entity.attributes.map((a) => [a.name, queryType(a.type)]));
}

/** Adds the filter types once, when the schema is built: reads use them on every request. */
function withTypes(e: Omit<EntityInfo, 'queryTypes'>): EntityInfo {
  return { ...e, queryTypes: queryTypes(e) };
}

const attr = (name: string, type: ColumnType, writable = false, semanticType?: string): AttributeInfo => ({
  name,
  type,
  dataType: EDM[type],
  writable,
  ...(semanticType ? { semanticType } : {}),
});

export function unifiedSchema(instance: ResolvedInstance): UnifiedSchema {
  const keyColumns = new Set(instance.customerEntities.map((e) => e.keyColumn));
  const customer = withTypes({
    name: 'Customer',
    qualifiedEntityName: 'Customer',
    dataSourceName: null,
    entityType: 'profile',
    attributes: [
      attr('CustomerId', 'string'),
      ...instance.mergeFields.map((f) => {
        const first = f.from[0];
        const semantic = instance.entities.get(first.entity)?.columns[first.index]?.semanticType;
        return attr(f.name, f.type, true, semantic);
      }),
      ...instance.customerEntities.map((e) => attr(e.keyColumn, 'string')),
      attr('PreviousCustomerId', 'string'),
    ],
    keys: ['CustomerId'],
    timestampAttribute: null,
    relationships: [],
  });
  const activity = withTypes({
    name: 'UnifiedActivity',
    qualifiedEntityName: 'UnifiedActivity',
    dataSourceName: null,
    entityType: 'unifiedActivity',
    attributes: [
      attr('ActivityId', 'string'),
      attr('CustomerId', 'string'),
      attr('ActivityTime', 'datetime'),
      attr('ActivityType', 'string'),
      attr('ActivityTypeDisplay', 'string'),
      attr('SourceEntityName', 'string'),
      attr('SourceActivityId', 'string'),
      attr('DataSourceName', 'string'),
      attr('Title', 'string'),
      attr('Description', 'string'),
      attr('Url', 'string'),
      attr('Icon', 'string'),
      attr('ShowInTimeline', 'boolean'),
      attr('Origin', 'string'),
      attr('ValidUntil', 'datetime'),
    ],
    keys: ['ActivityId'],
    timestampAttribute: 'ActivityTime',
    relationships: [{ name: 'UnifiedActivity_Customer', fromAttribute: 'CustomerId', toEntity: 'Customer', toAttribute: 'CustomerId' }],
  });
  const alternateKey = withTypes({
    name: 'AlternateKey',
    qualifiedEntityName: 'AlternateKey',
    dataSourceName: null,
    entityType: 'alternateKey',
    attributes: [attr('DataSourceName', 'string'), attr('EntityName', 'string'), attr('AlternateValue', 'string'), attr('CustomerId', 'string')],
    keys: ['DataSourceName', 'EntityName', 'AlternateValue'],
    timestampAttribute: null,
    relationships: [{ name: 'AlternateKey_Customer', fromAttribute: 'CustomerId', toEntity: 'Customer', toAttribute: 'CustomerId' }],
  });
  const sourceActivities = new Map<string, SourceActivity>();
  const sourceActivityEntities: EntityInfo[] = [];
  for (const def of instance.activities) {
    const entity = instance.entities.get(def.entity)!;
    const customerEntity = instance.entities.get(def.customer.entity)!;
    const qualified = `${entity.dataSource}_${entity.name}`;
    sourceActivities.set(qualified, { def, entity, customerEntity, mapping: compileActivityMapping(instance.id, def, entity) });
    sourceActivityEntities.push(withTypes({
      name: entity.name,
      qualifiedEntityName: qualified,
      dataSourceName: entity.dataSource,
      entityType: 'activity',
      attributes: entity.columns.map((c) => attr(c.name, c.type, false, c.semanticType)),
      keys: [def.primaryKey],
      timestampAttribute: def.timestamp,
      relationships: [
        {
          name: `${qualified}_${customerEntity.dataSource}_${customerEntity.name}`,
          fromAttribute: def.customer.foreignKey,
          toEntity: `${customerEntity.dataSource}_${customerEntity.name}`,
          toAttribute: customerEntity.primaryKey,
        },
      ],
    }));
  }
  const customerMeasure = withTypes({
    name: 'Customer_Measure',
    qualifiedEntityName: 'Customer_Measure',
    dataSourceName: null,
    entityType: 'measure',
    attributes: [
      attr('CustomerId', 'string'),
      ...(instance.definition.measures ?? []).filter((m) => (m.kind ?? 'customer') === 'customer').map((m) => attr(m.name, measureTypeOf(m, instance))),
    ],
    keys: ['CustomerId'],
    timestampAttribute: null,
    relationships: [{ name: 'Customer_Measure_Customer', fromAttribute: 'CustomerId', toEntity: 'Customer', toAttribute: 'CustomerId' }],
  });
  const enrichment = withTypes({
    name: ENRICHMENT_ENTITY,
    qualifiedEntityName: ENRICHMENT_ENTITY,
    dataSourceName: null,
    entityType: 'enrichment',
    attributes: enrichmentPlan(instance).attributes.map(([name, type]) => attr(name, type)),
    keys: ['CustomerId'],
    timestampAttribute: null,
    relationships: [{ name: 'CustomerEnrichment_Customer', fromAttribute: 'CustomerId', toEntity: 'Customer', toAttribute: 'CustomerId' }],
  });
  return { customer, activity, alternateKey, customerMeasure, enrichment, sourceActivities, sourceActivityEntities, keyColumns };
}
