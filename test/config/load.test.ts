import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadInstanceDefinition, parseInstanceDefinition } from '../../src/config/load.js';
import { InstanceDefinitionError, formatPath, formatProblem, type DefinitionProblem } from '../../src/config/errors.js';
import { checkReferences, templateFields } from '../../src/config/references.js';
import { entityKeyColumns, resolveInstance } from '../../src/config/resolve.js';
import type { InstanceDefinition } from '../../src/config/schema.js';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/tiny/', import.meta.url));
const FIXTURE = path.join(FIXTURE_DIR, 'instance.yaml');
const BASE = readFileSync(FIXTURE, 'utf8');
const FILE = 'defs/bad-instance.yaml';

/** Replaces exactly one occurrence of `from` (so a fixture change cannot silently make a case pass). */
function mutate(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  assert.ok(at >= 0, `fixture no longer contains ${JSON.stringify(from)}`);
  assert.equal(text.indexOf(from, at + 1), -1, `fixture contains ${JSON.stringify(from)} more than once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** 1-based line of the only occurrence of `needle` in `text`. */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `text does not contain ${JSON.stringify(needle)}`);
  assert.equal(text.indexOf(needle, at + 1), -1, `text contains ${JSON.stringify(needle)} more than once`);
  return text.slice(0, at).split('\n').length;
}

/** Parses text that must be rejected and returns the problems. */
function problemsOf(text: string, file = FILE): DefinitionProblem[] {
  let caught: unknown;
  try {
    parseInstanceDefinition(text, file);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InstanceDefinitionError, `expected an InstanceDefinitionError, got ${String(caught)}`);
  const problems = caught.problems;
  assert.ok(problems.length > 0);
  for (const p of problems) {
    assert.equal(p.file, file);
    // Every problem shows up in the error message with file and readable path.
    assert.ok(caught.message.includes(formatProblem(p)), `message lacks ${formatProblem(p)}:\n${caught.message}`);
  }
  return problems;
}

/** The only problem at `pointer`; checks its message, that it has a line, and that the message shows it all. */
function problemAt(problems: DefinitionProblem[], pointer: string, message: RegExp): DefinitionProblem {
  const found = problems.filter((p) => p.path === pointer);
  assert.equal(found.length, 1, `expected one problem at ${pointer}, got:\n${problems.map(formatProblem).join('\n')}`);
  const p = found[0];
  assert.match(p.message, message);
  assert.equal(typeof p.line, 'number', `problem at ${pointer} has no line`);
  const text = formatProblem(p);
  assert.ok(text.startsWith(`${FILE}:${p.line}:`), text);
  assert.ok(text.includes(`: ${formatPath(pointer)}: `), text);
  return p;
}

/** Asserts that the definition is rejected with exactly one problem, at `pointer` on `line`. */
function expectOnly(text: string, pointer: string, message: RegExp, line: number): DefinitionProblem {
  const problems = problemsOf(text);
  assert.equal(problems.length, 1, `expected one problem, got:\n${problems.map(formatProblem).join('\n')}`);
  const p = problemAt(problems, pointer, message);
  assert.equal(p.line, line, formatProblem(p));
  return p;
}

describe('the valid fixture', () => {
  const loaded = loadInstanceDefinition(FIXTURE);
  const resolved = resolveInstance(loaded.definition, loaded.baseDir);

  it('loads from a file with its directory as base', () => {
    assert.equal(loaded.file, FIXTURE);
    assert.equal(path.resolve(loaded.baseDir), path.resolve(FIXTURE_DIR));
    assert.equal(loaded.definition.id, 'tiny');
    assert.deepEqual(
      loaded.definition.dataSources.map((d) => d.name),
      ['Shop', 'Loyalty'],
    );
    assert.deepEqual(checkReferences(loaded.definition), []);
  });

  it('resolves entities with roles, key columns, paths and defaults', () => {
    assert.equal(resolved.id, 'tiny');
    assert.equal(resolved.name, 'Tiny test instance');
    assert.deepEqual([...resolved.entities.keys()], ['Shop.Contacts', 'Shop.Purchases', 'Loyalty.Members']);
    const contacts = resolved.entities.get('Shop.Contacts')!;
    const purchases = resolved.entities.get('Shop.Purchases')!;
    const members = resolved.entities.get('Loyalty.Members')!;
    assert.equal(contacts.role, 'customer');
    assert.equal(members.role, 'customer');
    assert.equal(purchases.role, 'activity');
    assert.equal(contacts.keyColumn, 'Shop_Contacts_ContactId');
    assert.equal(members.keyColumn, 'Loyalty_Members_LoyaltyId');
    assert.equal(purchases.keyColumn, 'Shop_Purchases_PurchaseId');
    assert.deepEqual(entityKeyColumns(resolved), ['Shop_Contacts_ContactId', 'Loyalty_Members_LoyaltyId']);
    assert.deepEqual(
      resolved.customerEntities.map((e) => e.ref),
      ['Shop.Contacts', 'Loyalty.Members'],
    );

    assert.equal(contacts.dataSource, 'Shop');
    assert.equal(contacts.name, 'Contacts');
    assert.equal(contacts.format, 'csv');
    assert.equal(contacts.path, path.join(FIXTURE_DIR, 'contacts.csv'));
    assert.ok(path.isAbsolute(members.path));
    assert.equal(contacts.delimiter, ',');
    assert.equal(contacts.encoding, 'utf-8');
    assert.equal(contacts.header, true);
    assert.equal(contacts.primaryKeyIndex, 0);
    assert.equal(contacts.lastModified, 'UpdatedAt');
    assert.equal(contacts.lastModifiedIndex, 5);
    assert.equal(purchases.lastModifiedIndex, -1);
    assert.equal(members.columnIndex.get('Tier'), 4);
    // Types default to string; declared types are kept.
    assert.equal(contacts.columns[1].type, 'string');
    assert.equal(contacts.columns[5].type, 'datetime');
    assert.equal(purchases.columns[4].type, 'decimal');
    assert.deepEqual(
      contacts.columns.map((c) => c.index),
      [0, 1, 2, 3, 4, 5],
    );
  });

  it('resolves deduplication and match rules with defaults filled in', () => {
    const dedupe = resolved.dedupe.get('Shop.Contacts');
    assert.ok(dedupe);
    assert.equal(dedupe.winner, 'mostRecent');
    assert.equal(dedupe.rules.length, 1);
    assert.equal(dedupe.rules[0].entity, 'Shop.Contacts');
    assert.equal(dedupe.rules[0].other, 'Shop.Contacts');
    assert.equal(dedupe.rules[0].name, 'Shop.Contacts dedupe rule 1');
    assert.equal(dedupe.rules[0].conditions[0].otherField, 'Email');
    assert.equal(resolved.dedupe.has('Loyalty.Members'), false);

    assert.equal(resolved.matchRules.length, 2);
    const [byEmail, byPhone] = resolved.matchRules;
    assert.equal(byEmail.entity, 'Loyalty.Members');
    assert.equal(byEmail.other, 'Shop.Contacts');
    assert.deepEqual(
      byEmail.conditions.map((c) => [c.field, c.otherField]),
      [['EMail', 'Email']],
    );
    assert.deepEqual(
      byPhone.conditions.map((c) => [c.field, c.otherField, c.precision ?? 'exact', c.phoneRegion]),
      [
        ['Mobile', 'Phone', 'exact', 'US'],
        ['Name', 'FullName', 'medium', 'US'],
      ],
    );
    assert.notEqual(byEmail.name, byPhone.name);
    assert.equal(resolved.includeAllRecords.get('Shop.Contacts'), true);
    assert.equal(resolved.includeAllRecords.get('Loyalty.Members'), true);
  });

  it('resolves merge fields: explicit ones first, then the other columns grouped by name, minus exclusions', () => {
    const fields = resolved.mergeFields.map((f) => ({
      name: f.name,
      policy: f.policy,
      type: f.type,
      from: f.from.map((c) => `${c.entity}.${c.column}`),
    }));
    assert.deepEqual(fields, [
      { name: 'FullName', policy: 'importance', type: 'string', from: ['Shop.Contacts.FullName', 'Loyalty.Members.Name'] },
      { name: 'Email', policy: 'mostRecent', type: 'string', from: ['Loyalty.Members.EMail', 'Shop.Contacts.Email'] },
      { name: 'Phone', policy: 'importance', type: 'string', from: ['Shop.Contacts.Phone', 'Loyalty.Members.Mobile'] },
      { name: 'City', policy: 'importance', type: 'string', from: ['Shop.Contacts.City'] },
      { name: 'Tier', policy: 'importance', type: 'string', from: ['Loyalty.Members.Tier'] },
    ]);
    // Column positions point at the source columns.
    const phone = resolved.mergeFields.find((f) => f.name === 'Phone')!;
    assert.deepEqual(
      phone.from.map((c) => c.index),
      [3, 3],
    );
    // Keys, excluded timestamps and non-customer entities never become fields.
    const names = new Set(resolved.mergeFields.map((f) => f.name));
    for (const n of ['ContactId', 'LoyaltyId', 'UpdatedAt', 'LastUpdated', 'Product', 'Total', 'Shop_Contacts_ContactId']) {
      assert.equal(names.has(n), false, n);
    }
  });

  it('resolves activities with the entity primary key as default', () => {
    assert.equal(resolved.activities.length, 1);
    const a = resolved.activities[0];
    assert.equal(a.entity, 'Shop.Purchases');
    assert.equal(a.primaryKey, 'PurchaseId');
    assert.equal(a.timestamp, 'PurchasedOn');
    assert.deepEqual(a.customer, { entity: 'Shop.Contacts', foreignKey: 'ContactId' });
    assert.deepEqual(templateFields(a.url!), ['PurchaseId']);
    assert.deepEqual(templateFields(a.description!), ['Product', 'Total']);
  });
});

describe('merge field resolution variants', () => {
  it('groups a column that several customer entities share into one field, in source order', () => {
    let text = mutate(BASE, '          - { name: Tier }\n', '          - { name: Tier }\n          - { name: City, type: integer }\n');
    let r = resolveInstance(parseInstanceDefinition(text, FILE).definition, '/base');
    let city = r.mergeFields.find((f) => f.name === 'City')!;
    assert.deepEqual(
      city.from.map((c) => c.entity),
      ['Shop.Contacts', 'Loyalty.Members'],
    );
    assert.equal(city.from[1].index, 5);
    assert.equal(city.type, 'string', 'mixed types fall back to string');
    assert.equal(r.mergeFields.filter((f) => f.name === 'City').length, 1);

    text = mutate(text, '  merge:\n', '  merge:\n    sourceOrder: [Loyalty.Members, Shop.Contacts]\n    defaultPolicy: leastRecent\n');
    r = resolveInstance(parseInstanceDefinition(text, FILE).definition, '/base');
    city = r.mergeFields.find((f) => f.name === 'City')!;
    assert.deepEqual(
      city.from.map((c) => c.entity),
      ['Loyalty.Members', 'Shop.Contacts'],
    );
    assert.equal(city.policy, 'leastRecent');
    // sourceOrder also reorders explicit fields.
    const fullName = r.mergeFields.find((f) => f.name === 'FullName')!;
    assert.deepEqual(
      fullName.from.map((c) => c.entity),
      ['Loyalty.Members', 'Shop.Contacts'],
    );
  });

  it('leaves out excluded field names and source columns', () => {
    const text = mutate(BASE, 'exclude: [UpdatedAt, LastUpdated]', 'exclude: [UpdatedAt, LastUpdated, Phone, Loyalty.Members.Tier, Shop.Contacts.FullName]');
    const r = resolveInstance(parseInstanceDefinition(text, FILE).definition, '/base');
    assert.deepEqual(
      r.mergeFields.map((f) => f.name),
      ['FullName', 'Email', 'City'],
    );
    assert.deepEqual(
      r.mergeFields[0].from.map((c) => `${c.entity}.${c.column}`),
      ['Loyalty.Members.Name'],
    );
  });

  it('marks an entity neither customer nor activity as unused', () => {
    const text = mutate(
      BASE,
      '  - name: Loyalty\n',
      '  - name: Crm\n    type: jsonl\n    delimiter: ";"\n    entities:\n      - { name: Notes, path: notes/*.jsonl, primaryKey: NoteId, header: false, encoding: latin1, columns: [{ name: NoteId }] }\n  - name: Loyalty\n',
    );
    const r = resolveInstance(parseInstanceDefinition(text, FILE).definition, '/base');
    const notes = r.entities.get('Crm.Notes')!;
    assert.equal(notes.role, 'unused');
    assert.equal(notes.format, 'jsonl');
    assert.equal(notes.delimiter, ';');
    assert.equal(notes.header, false);
    assert.equal(notes.encoding, 'latin1');
    assert.equal(notes.path, path.resolve('/base', 'notes/*.jsonl'));
    assert.equal(notes.keyColumn, 'Crm_Notes_NoteId');
  });
});

describe('JSON definitions', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kindred-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('load the same definition as the YAML', () => {
    const file = path.join(dir, 'instance.json');
    writeFileSync(file, JSON.stringify(parseYaml(BASE), null, 2));
    const loaded = loadInstanceDefinition(file);
    assert.equal(loaded.baseDir, dir);
    assert.deepEqual(loaded.definition, loadInstanceDefinition(FIXTURE).definition);
    const r = resolveInstance(loaded.definition, loaded.baseDir);
    assert.equal(r.entities.get('Shop.Contacts')!.path, path.join(dir, 'contacts.csv'));
  });

  it('report problems with the JSON line', () => {
    const def = parseYaml(BASE) as InstanceDefinition;
    (def.dataSources[1].entities[0] as Record<string, unknown>).colour = 'red';
    const text = JSON.stringify(def, null, 2);
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    const p = problemAt(problems, '/dataSources/1/entities/0/colour', /unknown property 'colour'/);
    assert.equal(p.line, lineOf(text, '"colour"'));
  });

  it('report a JSON syntax error with its line', () => {
    const text = JSON.stringify(parseYaml(BASE), null, 2);
    const broken = mutate(text, '"id": "tiny",', '"id": "tiny",,');
    const problems = problemsOf(broken);
    assert.ok(problems.every((p) => p.line === lineOf(broken, '"id": "tiny",,')), problems.map(formatProblem).join('\n'));
  });
});

describe('file and syntax problems', () => {
  it('a missing file is reported with its name', () => {
    const file = path.join(tmpdir(), 'kindred-definitely-missing', 'instance.yaml');
    assert.throws(
      () => loadInstanceDefinition(file),
      (err: unknown) => {
        assert.ok(err instanceof InstanceDefinitionError);
        assert.equal(err.problems.length, 1);
        assert.equal(err.problems[0].file, file);
        assert.match(err.problems[0].message, /file not found/);
        assert.ok(err.message.includes(file));
        return true;
      },
    );
  });

  it('a YAML syntax error names the file and the line', () => {
    const text = mutate(BASE, 'name: Tiny test instance', 'name: "Tiny test instance');
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].line, lineOf(text, '"Tiny test instance'));
    assert.equal(problems[0].line, 2);
    assert.match(problems[0].message, /quote/i);
    assert.match(formatProblem(problems[0]), /^defs\/bad-instance\.yaml:2:\d+: /);
  });

  it('a duplicate key is a syntax error with its line', () => {
    const text = mutate(BASE, 'id: tiny\n', 'id: tiny\nid: other\n');
    const problems = problemsOf(text);
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /unique/);
    assert.equal(problems[0].line, 2);
  });

  it('a definition that is not a mapping is rejected', () => {
    for (const text of ['', '- a\n- b\n', '42\n', '"text"\n']) {
      const problems = problemsOf(text);
      assert.equal(problems.length, 1);
      assert.equal(problems[0].path, '');
      assert.match(problems[0].message, /must be an object/);
    }
  });
});

describe('schema problems', () => {
  it('an unknown property names its path and the line it is on', () => {
    const text = mutate(BASE, '        lastModified: UpdatedAt\n', '        lastModified: UpdatedAt\n        colour: red\n');
    const p = expectOnly(text, '/dataSources/0/entities/0/colour', /^unknown property 'colour'$/, lineOf(text, 'colour: red'));
    assert.equal(p.line, lineOf(BASE, 'lastModified: UpdatedAt') + 1);
    assert.equal(formatProblem(p), `${FILE}:${p.line}:${p.column}: dataSources[0].entities[0].colour: unknown property 'colour'`);
  });

  it('an unknown property with a nested block value points at the key, not at the value', () => {
    const text = mutate(BASE, '        lastModified: UpdatedAt\n', '        lastModified: UpdatedAt\n        extras:\n          colour: red\n');
    expectOnly(text, '/dataSources/0/entities/0/extras', /unknown property 'extras'/, lineOf(text, 'extras:'));
  });

  it('an unknown property inside a flow mapping', () => {
    const text = mutate(BASE, '{ name: City, semanticType: Location.City }', '{ name: City, colour: red }');
    expectOnly(text, '/dataSources/0/entities/0/columns/4/colour', /unknown property 'colour'/, lineOf(text, 'colour: red'));
  });

  it('a wrong enum value lists the allowed values', () => {
    let text = mutate(BASE, 'winner: mostRecent', 'winner: newest');
    expectOnly(text, '/unification/deduplication/0/winner', /must be one of "mostFilled", "mostRecent", "leastRecent"/, lineOf(text, 'winner: newest'));

    text = mutate(BASE, '{ name: Total, type: decimal }', '{ name: Total, type: money }');
    expectOnly(text, '/dataSources/0/entities/1/columns/4/type', /must be one of .*"decimal"/, lineOf(text, 'type: money'));

    text = mutate(BASE, '  - name: Loyalty\n    type: csv', '  - name: Loyalty\n    type: xml');
    expectOnly(text, '/dataSources/1/type', /must be one of "csv", "jsonl"/, lineOf(text, 'type: xml'));
  });

  it('a missing required property names the object and its line', () => {
    const text = mutate(BASE, '        path: purchases.csv\n', '');
    const p = expectOnly(text, '/dataSources/0/entities/1', /missing required property 'path'/, lineOf(text, '- name: Purchases'));
    assert.match(formatProblem(p), /: dataSources\[0\]\.entities\[1\]: missing required property 'path'$/);
  });

  it('a missing required property of a nested mapping points at its key', () => {
    const text = mutate(BASE, '    customer: { entity: Shop.Contacts, foreignKey: ContactId }\n', '    customer: { entity: Shop.Contacts }\n');
    expectOnly(text, '/activities/0/customer', /missing required property 'foreignKey'/, lineOf(text, 'customer: {'));
  });

  it('a pattern violation explains the expected form', () => {
    const text = mutate(BASE, 'id: tiny', 'id: Tiny_1');
    expectOnly(text, '/id', /lower-case letters, digits and dashes/, 1);
  });

  it('several schema problems are all listed', () => {
    let text = mutate(BASE, 'winner: mostRecent', 'winner: newest');
    text = mutate(text, '        path: purchases.csv\n', '');
    text = mutate(text, '    icon: cart\n', '    icon: cart\n    colour: red\n');
    const problems = problemsOf(text);
    assert.equal(problems.length, 3, problems.map(formatProblem).join('\n'));
    assert.equal(problemAt(problems, '/unification/deduplication/0/winner', /must be one of/).line, lineOf(text, 'winner: newest'));
    assert.equal(problemAt(problems, '/dataSources/0/entities/1', /missing required property 'path'/).line, lineOf(text, '- name: Purchases'));
    assert.equal(problemAt(problems, '/activities/0/colour', /unknown property 'colour'/).line, lineOf(text, 'colour: red'));
    const err = (() => {
      try {
        parseInstanceDefinition(text, FILE);
      } catch (e) {
        return e as Error;
      }
      throw new Error('not rejected');
    })();
    assert.match(err.message, /\(3 problems\)/);
  });
});

describe('reference problems', () => {
  it('a primary key that is not a column', () => {
    const text = mutate(BASE, 'primaryKey: PurchaseId', 'primaryKey: OrderId');
    const p = expectOnly(
      text,
      '/dataSources/0/entities/1/primaryKey',
      /primary key 'OrderId' is not a column of Shop\.Purchases/,
      lineOf(text, 'primaryKey: OrderId'),
    );
    assert.match(formatProblem(p), /: dataSources\[0\]\.entities\[1\]\.primaryKey: /);
  });

  it('an unknown entity in matching', () => {
    const text = mutate(BASE, '    - entity: Loyalty.Members\n      rules:', '    - entity: Loyalty.Member\n      rules:');
    const problems = problemsOf(text);
    const p = problemAt(problems, '/unification/matching/1/entity', /unknown entity 'Loyalty\.Member' \(known: .*Loyalty\.Members/);
    assert.equal(p.line, lineOf(text, 'entity: Loyalty.Member\n'));
  });

  it('an unknown entity in deduplication', () => {
    const text = mutate(BASE, '    - entity: Shop.Contacts\n      winner', '    - entity: Shop.Contact\n      winner');
    expectOnly(text, '/unification/deduplication/0/entity', /unknown entity 'Shop\.Contact'/, lineOf(text, 'entity: Shop.Contact\n'));
  });

  it('an unknown entity in activities', () => {
    let text = mutate(BASE, '  - entity: Shop.Purchases', '  - entity: Shop.Orders');
    expectOnly(text, '/activities/0/entity', /unknown entity 'Shop\.Orders'/, lineOf(text, 'Shop.Orders'));
    text = mutate(BASE, 'customer: { entity: Shop.Contacts', 'customer: { entity: Shop.People');
    expectOnly(text, '/activities/0/customer/entity', /unknown entity 'Shop\.People'/, lineOf(text, 'Shop.People'));
  });

  it('matchTo an entity that is not earlier in the matching order', () => {
    // Loyalty.Members matching to itself: it is not earlier than itself.
    let text = mutate(
      BASE,
      '      rules:\n        - matchTo: Shop.Contacts\n          conditions:\n            - { field: EMail',
      '      rules:\n        - matchTo: Loyalty.Members\n          conditions:\n            - { field: EMail',
    );
    let problems = problemsOf(text);
    let p = problemAt(
      problems,
      '/unification/matching/1/rules/0/matchTo',
      /'Loyalty\.Members' must come earlier in the matching order than 'Loyalty\.Members'/,
    );
    assert.equal(p.line, lineOf(text, 'matchTo: Loyalty.Members'));

    // An entity that is not a customer entity at all.
    text = mutate(
      BASE,
      '      rules:\n        - matchTo: Shop.Contacts\n          conditions:\n            - { field: EMail',
      '      rules:\n        - matchTo: Shop.Purchases\n          conditions:\n            - { field: EMail',
    );
    problems = problemsOf(text);
    p = problemAt(problems, '/unification/matching/1/rules/0/matchTo', /'Shop\.Purchases' must come earlier/);
    assert.equal(p.line, lineOf(text, 'matchTo: Shop.Purchases'));

    // An unknown entity.
    text = mutate(
      BASE,
      '      rules:\n        - matchTo: Shop.Contacts\n          conditions:\n            - { field: EMail',
      '      rules:\n        - matchTo: Shop.Nobody\n          conditions:\n            - { field: EMail',
    );
    problemAt(problemsOf(text), '/unification/matching/1/rules/0/matchTo', /unknown entity 'Shop\.Nobody'/);
  });

  it('rules on the first (primary) entity are refused', () => {
    const text = mutate(
      BASE,
      '    - entity: Shop.Contacts\n    - entity: Loyalty.Members\n',
      '    - entity: Shop.Contacts\n      rules:\n        - { matchTo: Loyalty.Members, conditions: [{ field: Email, otherField: EMail }] }\n    - entity: Loyalty.Members\n',
    );
    const problems = problemsOf(text);
    problemAt(problems, '/unification/matching/0/rules', /nothing earlier to match to/);
    problemAt(problems, '/unification/matching/0/rules/0/matchTo', /'Loyalty\.Members' must come earlier in the matching order than 'Shop\.Contacts'/);
  });

  it('a rule with only fuzzy conditions', () => {
    const text = mutate(
      BASE,
      '{ field: EMail, otherField: Email, normalize: [email] }',
      '{ field: EMail, otherField: Email, normalize: [email], precision: high }',
    );
    expectOnly(
      text,
      '/unification/matching/1/rules/0/conditions',
      /needs at least one exact condition/,
      lineOf(text, 'precision: high') - 1, // the `conditions:` key
    );
  });

  it('a condition field that is not a column of either side', () => {
    const text = mutate(BASE, '{ field: EMail, otherField: Email, normalize: [email] }', '{ field: EMail, otherField: Mail, normalize: [email] }');
    expectOnly(text, '/unification/matching/1/rules/0/conditions/0/otherField', /'Mail' is not a column of Shop\.Contacts/, lineOf(text, 'otherField: Mail'));
  });

  it('a template placeholder that is not a column', () => {
    const text = mutate(BASE, 'Bought {Product}', 'Bought {Item} x{Quantity}');
    const problems = problemsOf(text);
    assert.equal(problems.length, 2);
    for (const name of ['Item', 'Quantity']) {
      const p = problems.find((x) => x.message.includes(`{${name}}`));
      assert.ok(p, name);
      assert.equal(p.path, '/activities/0/title');
      assert.match(p.message, new RegExp(`placeholder \\{${name}\\} is not a column of Shop\\.Purchases`));
      assert.equal(p.line, lineOf(text, 'title: "Bought {Item}'));
    }
  });

  it('a bad cron expression', () => {
    const text = mutate(BASE, 'defaultPhoneRegion: US\n', 'defaultPhoneRegion: US\nschedule:\n  cron: "61 * * * *"\n');
    expectOnly(text, '/schedule', /invalid schedule: .*minute/i, lineOf(text, 'schedule:'));
  });

  it('an unknown schedule timezone', () => {
    const text = mutate(BASE, 'defaultPhoneRegion: US\n', 'defaultPhoneRegion: US\nschedule:\n  cron: "0 3 * * *"\n  timezone: Mars/Olympus\n');
    expectOnly(text, '/schedule', /invalid schedule: .*Mars\/Olympus/, lineOf(text, 'schedule:'));
  });

  it('a valid schedule is accepted', () => {
    const text = mutate(BASE, 'defaultPhoneRegion: US\n', 'defaultPhoneRegion: US\nschedule:\n  cron: "0 3 * * *"\n  timezone: Europe/Stockholm\n');
    assert.deepEqual(parseInstanceDefinition(text, FILE).definition.schedule, { cron: '0 3 * * *', timezone: 'Europe/Stockholm' });
  });

  it('an unknown encoding, on a data source or an entity', () => {
    let text = mutate(BASE, '  - name: Loyalty\n    type: csv\n', '  - name: Loyalty\n    type: csv\n    encoding: klingon\n');
    expectOnly(text, '/dataSources/1/encoding', /unknown encoding 'klingon'/, lineOf(text, 'encoding: klingon'));
    text = mutate(BASE, '        path: purchases.csv\n', '        path: purchases.csv\n        encoding: ebcdic-xx\n');
    expectOnly(text, '/dataSources/0/entities/1/encoding', /unknown encoding 'ebcdic-xx'/, lineOf(text, 'encoding: ebcdic-xx'));
    // A known one is fine.
    text = mutate(BASE, '        path: purchases.csv\n', '        path: purchases.csv\n        encoding: windows-1252\n');
    assert.equal(parseInstanceDefinition(text, FILE).definition.dataSources[0].entities[1].encoding, 'windows-1252');
  });

  it('phone normalization without a region', () => {
    const text = mutate(BASE, 'defaultPhoneRegion: US\n', '');
    expectOnly(
      text,
      '/unification/matching/1/rules/1/conditions/0/normalize',
      /phone normalization needs phoneRegion/,
      lineOf(text, '{ field: Mobile'),
    );
    // A region on the condition itself is enough.
    const fixed = mutate(text, 'normalize: [phone] }', 'normalize: [phone], phoneRegion: SE }');
    const r = resolveInstance(parseInstanceDefinition(fixed, FILE).definition, '/base');
    assert.equal(r.matchRules[1].conditions[0].phoneRegion, 'SE');
    assert.equal(r.matchRules[1].conditions[1].phoneRegion, undefined);
  });

  it('a duplicate data source', () => {
    const text = mutate(BASE, '  - name: Loyalty\n', '  - name: Shop\n');
    const problems = problemsOf(text);
    const p = problemAt(problems, '/dataSources/1/name', /data source 'Shop' is defined twice/);
    assert.equal(p.line, lineOf(BASE, '  - name: Loyalty\n'));
  });

  it('a mostRecent winner without lastModified', () => {
    let text = mutate(BASE, '        lastModified: UpdatedAt\n', '');
    text = mutate(text, 'policy: mostRecent', 'policy: importance');
    expectOnly(
      text,
      '/unification/deduplication/0/winner',
      /'mostRecent' needs a lastModified column on Shop\.Contacts/,
      lineOf(text, 'winner: mostRecent'),
    );
  });

  it('filterIndex names unified Customer attributes, each once, never CustomerId', () => {
    const withIndex = (list: string) => mutate(BASE, 'unification:\n', `filterIndex: [${list}]\nunification:\n`);
    const ok = parseInstanceDefinition(withIndex('City, FullName'), FILE);
    assert.deepEqual(ok.definition.filterIndex, ['City', 'FullName']);
    let text = withIndex('City, Cty');
    const p = expectOnly(text, '/filterIndex/1', /^unknown Customer attribute 'Cty' \(known: .*City.*\)$/, lineOf(text, 'filterIndex:'));
    assert.doesNotMatch(p.message, /known: CustomerId/);
    text = withIndex('City, City');
    expectOnly(text, '/filterIndex/1', /'City' is listed twice/, lineOf(text, 'filterIndex:'));
    text = withIndex('CustomerId');
    expectOnly(text, '/filterIndex/0', /CustomerId is the key of Customer and always indexed/, lineOf(text, 'filterIndex:'));
    text = withIndex("''");
    expectOnly(text, '/filterIndex/0', /at least 1 character|minLength|fewer than 1/i, lineOf(text, 'filterIndex:'));
  });

  it('several reference problems are all listed, each located', () => {
    let text = mutate(BASE, 'primaryKey: PurchaseId', 'primaryKey: OrderId');
    text = mutate(text, 'Bought {Product}', 'Bought {Item}');
    text = mutate(text, '  - name: Loyalty\n    type: csv\n', '  - name: Loyalty\n    type: csv\n    encoding: klingon\n');
    const problems = problemsOf(text);
    assert.equal(problems.length, 3, problems.map(formatProblem).join('\n'));
    assert.equal(problemAt(problems, '/dataSources/0/entities/1/primaryKey', /OrderId/).line, lineOf(text, 'primaryKey: OrderId'));
    assert.equal(problemAt(problems, '/activities/0/title', /\{Item\}/).line, lineOf(text, 'Bought {Item}'));
    assert.equal(problemAt(problems, '/dataSources/1/encoding', /klingon/).line, lineOf(text, 'encoding: klingon'));
    assert.throws(() => parseInstanceDefinition(text, FILE), /invalid instance definition \(3 problems\):\n {2}defs\/bad-instance\.yaml:\d+:\d+: /);
  });
});

describe('error formatting', () => {
  it('formats paths readably', () => {
    assert.equal(formatPath(''), '(root)');
    assert.equal(formatPath('/'), '(root)');
    assert.equal(formatPath('/id'), 'id');
    assert.equal(formatPath('/dataSources/0/entities/1/primaryKey'), 'dataSources[0].entities[1].primaryKey');
    assert.equal(formatPath('/activities/0/customer/entity'), 'activities[0].customer.entity');
  });

  it('formats problems with and without a position', () => {
    assert.equal(formatProblem({ file: 'a.yaml', path: '/id', line: 3, column: 5, message: 'bad' }), 'a.yaml:3:5: id: bad');
    assert.equal(formatProblem({ file: 'a.yaml', path: '/id', line: 3, message: 'bad' }), 'a.yaml:3: id: bad');
    assert.equal(formatProblem({ file: 'a.yaml', path: '', message: 'file not found' }), 'a.yaml: (root): file not found');
  });

  it('the error lists every problem', () => {
    const one = new InstanceDefinitionError([{ file: 'a.yaml', path: '/id', line: 1, message: 'bad' }]);
    assert.equal(one.message, 'invalid instance definition: a.yaml:1: id: bad');
    assert.equal(one.name, 'InstanceDefinitionError');
    const two = new InstanceDefinitionError([
      { file: 'a.yaml', path: '/id', line: 1, message: 'bad' },
      { file: 'a.yaml', path: '/name', line: 2, message: 'worse' },
    ]);
    assert.equal(two.message, 'invalid instance definition (2 problems):\n  a.yaml:1: id: bad\n  a.yaml:2: name: worse');
  });
});
