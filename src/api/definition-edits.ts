// Edits of an instance definition through the API (measures, segments): the whole definition is
// validated as a file would be, stored with the instance, and takes effect at the next refresh.
import { definitionProblems } from '../config/load.js';
import type { InstanceDefinition } from '../config/schema.js';
import type { InstanceCatalog } from './catalog.js';
import type { InstanceRecord, Store } from '../storage/store.js';
import { ApiError, type ErrorDetail } from './errors.js';

export type Section = 'measures' | 'segments';

/** "/measures/2/source/entity" → "source.entity" (relative to the edited item). */
function fieldOf(path: string, prefix: string): string {
  const rest = path.slice(prefix.length).split('/').filter(Boolean);
  return rest.length ? rest.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i ? `.${s}` : s)).join('').replace(/\.\[/g, '[') : 'body';
}

/**
 * Serialises edits per instance (read, change, validate, store) so that two concurrent edits
 * never lose one another, and reports problems as 400 naming the field (or 409 when the edit
 * breaks something else, e.g. deleting a measure a segment uses).
 */
export class DefinitionEditor {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly catalog: InstanceCatalog,
  ) {}

  async edit<S extends Section, T>(
    instanceId: string,
    section: S,
    change: (items: NonNullable<InstanceDefinition[S]>, record: InstanceRecord) => { items: unknown[]; index: number | null; result: T },
  ): Promise<T> {
    const previous = this.queues.get(instanceId) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.apply(instanceId, section, change));
    this.queues.set(instanceId, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(instanceId) === run) this.queues.delete(instanceId);
    }
  }

  private async apply<S extends Section, T>(
    instanceId: string,
    section: S,
    change: (items: NonNullable<InstanceDefinition[S]>, record: InstanceRecord) => { items: unknown[]; index: number | null; result: T },
  ): Promise<T> {
    const { store, catalog } = this;
    const record = await store.getInstance(instanceId);
    if (!record) throw new ApiError('NotFound', `instance '${instanceId}' does not exist`, 'instanceId');
    const current = structuredClone(record.definition[section] ?? []) as NonNullable<InstanceDefinition[S]>;
    const { items, index, result } = change(current, record);
    const definition = { ...structuredClone(record.definition), [section]: items } as InstanceDefinition;
    if (!items.length) delete (definition as Partial<InstanceDefinition>)[section];
    const problems = definitionProblems(definition);
    if (problems.length) {
      const prefix = index === null ? null : `/${section}/${index}`;
      const own = prefix === null ? [] : problems.filter((p) => p.path === prefix || p.path.startsWith(`${prefix}/`));
      if (own.length) {
        const details: ErrorDetail[] = own.map((p) => {
          let field = fieldOf(p.path, prefix!);
          // "missing required property 'x'" is reported on the object that lacks it: name the property.
          const missing = /^missing required property '([^']+)'/.exec(p.message);
          if (missing) field = field === 'body' ? missing[1] : `${field}.${missing[1]}`;
          return { code: 'InvalidValue', message: `${field}: ${p.message}`, target: field };
        });
        const message = own.length === 1 ? details[0].message : `${own.length} problems: ${details.map((d) => d.message).join('; ')}`;
        throw new ApiError('BadRequest', message, details[0].target, details);
      }
      const details: ErrorDetail[] = problems.map((p) => ({ code: 'Conflict', message: `${p.path}: ${p.message}`, target: p.path }));
      throw new ApiError('Conflict', `the change would make the instance definition invalid: ${details.map((d) => d.message).join('; ')}`, details[0].target, details);
    }
    await store.putInstance({ id: record.id, name: record.name, definition, sourceFile: record.sourceFile, baseDir: record.baseDir });
    catalog.invalidate(instanceId);
    return result;
  }
}

/** The request body as a definition item: an object, with `name` from the path when missing. */
export function bodyItem(body: unknown, name?: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'the body must be a JSON object', 'body');
  const item = { ...(body as Record<string, unknown>) };
  if (name !== undefined) {
    if (item.name === undefined) item.name = name;
    else if (item.name !== name)
      throw new ApiError('BadRequest', `name: '${String(item.name)}' differs from '${name}' in the path; to rename, create the new one and delete this one`, 'name');
  }
  return item;
}
