// Maps one source row to a UnifiedActivity through an activity definition. Shared by the batch
// stage and the real-time API, so the same source record always becomes the same activity.
import type { ResolvedEntity } from '../config/resolve.js';
import type { ActivityDef } from '../config/schema.js';
import { templateFields } from '../config/references.js';
import { activityIdFor, type ActivityRecord, type FieldValue } from './profile.js';

/** Compiles "Bought {Product}" into a function of a row. */
export function compileTemplate(template: string | undefined, columnIndex: Map<string, number>): (row: FieldValue[]) => string | null {
  if (!template) return () => null;
  const fields = templateFields(template);
  if (!fields.length) return () => template;
  const parts = template.split(/\{[^{}]+\}/);
  const idx = fields.map((f) => columnIndex.get(f)!);
  // join() makes one flat string: concatenation made a tree of pieces that kept the source
  // row's text (and the decoded file chunk it was sliced from) alive as long as the activity.
  const pieces: (FieldValue | string)[] = new Array(parts.length * 2 - 1);
  for (let i = 0; i < parts.length; i++) pieces[i * 2] = parts[i];
  return (row) => {
    for (let i = 0; i < idx.length; i++) pieces[i * 2 + 1] = row[idx[i]] ?? '';
    return pieces.join('');
  };
}

export interface ActivityMapping {
  /** Column positions of the activity's key, timestamp and foreign key. */
  keyIndex: number;
  timeIndex: number;
  foreignKeyIndex: number;
  /** Builds the activity of a typed row whose customer and time are known (and its ActivityId, if worked out before). */
  build(row: FieldValue[], key: string, customerId: string, timeIso: string, activityId?: string): ActivityRecord;
}

export function compileActivityMapping(instanceId: string, def: ActivityDef & { primaryKey: string }, entity: ResolvedEntity): ActivityMapping {
  const title = compileTemplate(def.title, entity.columnIndex);
  const description = compileTemplate(def.description, entity.columnIndex);
  const url = compileTemplate(def.url, entity.columnIndex);
  return {
    keyIndex: entity.columnIndex.get(def.primaryKey)!,
    timeIndex: entity.columnIndex.get(def.timestamp)!,
    foreignKeyIndex: entity.columnIndex.get(def.customer.foreignKey)!,
    build: (row, key, customerId, timeIso, activityId) => ({
      ActivityId: activityId ?? activityIdFor(instanceId, entity.dataSource, entity.name, key),
      CustomerId: customerId,
      ActivityTime: timeIso,
      ActivityType: def.type,
      ActivityTypeDisplay: def.typeDisplay ?? def.type,
      SourceEntityName: entity.name,
      SourceActivityId: key,
      DataSourceName: entity.dataSource,
      Title: title(row),
      Description: description(row),
      Url: url(row),
      Icon: def.icon ?? null,
      ShowInTimeline: def.showInTimeline ?? true,
      Origin: 'batch',
    }),
  };
}
