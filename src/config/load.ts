// Loading an instance definition: parse (YAML or JSON, with positions), check the schema,
// then check the references between parts. Every problem is reported with file, path and line.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document, type Node } from 'yaml';
import { Value } from 'typebox/value';
import { InstanceSchema, type InstanceDefinition } from './schema.js';
import { InstanceDefinitionError, type DefinitionProblem } from './errors.js';
import { checkReferences } from './references.js';

/** Finds the line of a JSON-pointer path in the parsed document (the deepest node that exists). */
export type Locator = (pointer: string) => { line?: number; column?: number };

function makeLocator(doc: Document, lines: LineCounter): Locator {
  /** The key node of a mapping entry (e.g. `bogus:`), if the path ends in one. */
  const keyOf = (segs: (string | number)[]): Node | undefined => {
    const last = segs[segs.length - 1];
    if (typeof last !== 'string') return undefined;
    const parent = segs.length === 1 ? doc.contents : doc.getIn(segs.slice(0, -1), true);
    if (!isMap(parent)) return undefined;
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
    return isNode(pair?.key) && pair.key.range ? pair.key : undefined;
  };
  return (pointer) => {
    const segs = pointer.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    for (let n = segs.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
      if (isNode(node) && node.range) {
        // A block collection starts on the line after its key: point at the key instead.
        const at = (!isScalar(node) && n > 0 && keyOf(segs.slice(0, n))) || node;
        const pos = lines.linePos(at.range![0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  message: string;
  params: Record<string, unknown>;
  schemaPath: string;
}

/** Turns TypeBox's raw errors into one readable message per location. */
function schemaProblems(value: unknown): { path: string; message: string }[] {
  const errors = [...Value.Errors(InstanceSchema, value)] as unknown as SchemaError[];
  const byPath = new Map<string, SchemaError[]>();
  for (const e of errors) {
    if (e.keyword === 'boolean') continue; // reported by its additionalProperties twin
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  const out: { path: string; message: string }[] = [];
  for (const [p, list] of byPath) {
    const extra = list.find((e) => e.keyword === 'additionalProperties');
    if (extra) {
      for (const name of (extra.params.additionalProperties as string[]) ?? []) {
        out.push({ path: `${p}/${name}`, message: `unknown property '${name}'` });
      }
    }
    const consts = list.filter((e) => e.keyword === 'const').map((e) => JSON.stringify(e.params.allowedValue));
    if (consts.length) {
      // precision also takes a number; TypeBox reports only the names' branch.
      const numeric = p.endsWith('/precision') ? ', or a number greater than 0 and at most 1' : '';
      out.push({ path: p, message: `must be one of ${[...new Set(consts)].join(', ')}${numeric}` });
      continue;
    }
    for (const e of list) {
      if (e.keyword === 'additionalProperties' || e.keyword === 'anyOf') continue;
      if (e.keyword === 'required') {
        const names = (e.params.requiredProperties as string[] | undefined) ?? [];
        out.push({ path: p, message: `missing required property ${names.map((n) => `'${n}'`).join(', ')}` });
      } else if (e.keyword === 'pattern') {
        out.push({ path: p, message: `${e.message} (${describePattern(String(e.params.pattern))})` });
      } else {
        out.push({ path: p, message: e.message });
      }
    }
    if (!out.some((o) => o.path.startsWith(p)) && list.some((e) => e.keyword === 'anyOf')) {
      out.push({ path: p, message: 'has a value of the wrong kind' });
    }
  }
  return out;
}

function describePattern(pattern: string): string {
  if (pattern === '^[A-Za-z][A-Za-z0-9]*$') return 'letters and digits, starting with a letter';
  if (pattern.startsWith('^[A-Za-z][A-Za-z0-9]*\\.[A-Za-z][A-Za-z0-9]*$')) return "expected 'DataSource.Entity'";
  if (pattern.includes('[^.]+$')) return "expected 'DataSource.Entity.Column'";
  if (pattern === '^[a-z0-9][a-z0-9-]*$') return 'lower-case letters, digits and dashes';
  if (pattern === '^[A-Z]{2}$') return "a two-letter country code such as 'US'";
  return `pattern ${pattern}`;
}

export interface LoadedDefinition {
  definition: InstanceDefinition;
  file: string;
  /** Directory that relative source paths are resolved against. */
  baseDir: string;
}

/** Parses and validates definition text; `file` is used for messages and relative paths. */
export function parseInstanceDefinition(text: string, file: string): LoadedDefinition {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locate = makeLocator(doc, lines);
  if (doc.errors.length) {
    throw new InstanceDefinitionError(
      doc.errors.map((e) => {
        // linePos is only filled in with prettyErrors; compute it from the offset ourselves.
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return { file, path: '', line: pos?.line, column: pos?.col, message: e.message.split('\n')[0] };
      }),
    );
  }
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const problem = (p: string, message: string): DefinitionProblem => ({ file, path: p, message, ...locate(p) });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InstanceDefinitionError([problem('', 'the definition must be an object (a YAML mapping or JSON object)')]);
  }
  const schemaErrors = schemaProblems(value);
  if (schemaErrors.length) {
    throw new InstanceDefinitionError(schemaErrors.map((e) => problem(e.path, e.message)));
  }
  const definition = value as InstanceDefinition;
  const refErrors = checkReferences(definition);
  if (refErrors.length) throw new InstanceDefinitionError(refErrors.map((e) => problem(e.path, e.message)));
  return { definition, file, baseDir: path.dirname(path.resolve(file)) };
}

/**
 * Schema, then reference problems of a definition given as a value (the API's edits of measures
 * and segments); paths are JSON pointers. Empty when the definition is valid.
 */
export function definitionProblems(value: unknown): { path: string; message: string }[] {
  const schemaErrors = schemaProblems(value);
  if (schemaErrors.length) return schemaErrors;
  return checkReferences(value as InstanceDefinition);
}

export function loadInstanceDefinition(file: string): LoadedDefinition {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InstanceDefinitionError([
      { file, path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})` },
    ]);
  }
  return parseInstanceDefinition(text, file);
}
