import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { InstanceDefinitionError } from '../../src/config/errors.js';
import { parseInstanceDefinition } from '../../src/config/load.js';
import { resolveInstance } from '../../src/config/resolve.js';
import { planMeasures } from '../../src/domain/measures.js';
import type { ActivityRecord, FieldValue } from '../../src/domain/profile.js';
import { countActivities, evaluateSegment, planSegments, type SegmentData } from '../../src/domain/segments.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/measures/instance.yaml');
const BASE = readFileSync(FIXTURE, 'utf8');

/** The fixture with its measures and segments sections replaced by `tail` (YAML). */
function definitionWith(tail: string) {
  const head = BASE.slice(0, BASE.indexOf('\nmeasures:') + 1);
  return parseInstanceDefinition(head + tail, 'instance.yaml');
}

function problemsOf(tail: string): { path: string; line?: number; message: string }[] {
  try {
    definitionWith(tail);
  } catch (err) {
    assert.ok(err instanceof InstanceDefinitionError, String(err));
    return err.problems;
  }
  assert.fail('the definition was accepted');
}

const MEASURES = `measures:
  - name: Spend
    aggregation: sum
    source: { entity: Shop.Purchases }
    field: Total
`;

describe('segment evaluation', () => {
  // Five customers: values of City and of a Spend measure, and activities.
  const city: FieldValue[] = ['Berlin', 'Paris', null, 'Berlin', 'Rome'];
  const spend: FieldValue[] = [100, 5, null, 50, 500];
  const activities = [
    { CustomerId: 'c0', ActivityType: 'Purchase', ActivityTime: '2026-11-20T00:00:00.000Z' },
    { CustomerId: 'c1', ActivityType: 'Purchase', ActivityTime: '2025-01-01T00:00:00.000Z' },
    { CustomerId: 'c1', ActivityType: 'Review', ActivityTime: '2026-11-25T00:00:00.000Z' },
    { CustomerId: 'c4', ActivityType: 'Purchase', ActivityTime: '2026-11-21T00:00:00.000Z' },
    { CustomerId: 'c4', ActivityType: 'Purchase', ActivityTime: '2026-11-22T00:00:00.000Z' },
  ] as ActivityRecord[];
  const group = Int32Array.from(activities.map((a) => Number(a.CustomerId.slice(1))));
  const refreshTime = Date.parse('2026-11-29T00:00:00Z');
  const data: SegmentData = {
    customers: 5,
    field: (name) => (i) => (name === 'City' ? city[i] : null),
    measure: () => spend,
    activityCount: (c) =>
      countActivities(
        activities,
        group,
        5,
        c.type,
        c.window ? { start: new Date(refreshTime - c.window.last * 86_400_000).toISOString(), end: new Date(refreshTime).toISOString() } : null,
        c.filter,
      ),
  };
  const members = (yaml: string) => {
    const { definition } = definitionWith(MEASURES + yaml);
    const instance = resolveInstance(definition, '.');
    const { plans } = planSegments(instance, planMeasures(instance).plans);
    const hit = evaluateSegment(plans[0], data);
    return [...hit].flatMap((v, i) => (v ? [i] : []));
  };

  test('conditions joined by AND and by OR', () => {
    const and = `segments:
  - name: S
    rules:
      - conditions:
          - { field: City, operator: eq, value: Berlin }
          - { measure: Spend, operator: ge, value: 60 }
`;
    assert.deepEqual(members(and), [0]);
    assert.deepEqual(members(and.replace('      - conditions:', '      - join: or\n        conditions:')), [0, 3, 4]);
  });

  test('rules combined by union, intersect and except, in order', () => {
    const rules = (combine2: string, combine3: string) => `segments:
  - name: S
    rules:
      - conditions:
          - { field: City, operator: eq, value: Berlin }
      - combine: ${combine2}
        conditions:
          - { measure: Spend, operator: gt, value: 10 }
      - combine: ${combine3}
        conditions:
          - { field: City, operator: isNull }
`;
    assert.deepEqual(members(rules('union', 'union')), [0, 2, 3, 4]);
    assert.deepEqual(members(rules('intersect', 'union')), [0, 2, 3]);
    assert.deepEqual(members(rules('union', 'except')), [0, 3, 4]);
  });

  test('activity conditions: at least one in a window by default, or a count compared', () => {
    const seg = (cond: string) => `segments:
  - name: S
    rules:
      - conditions:
          - ${cond}
`;
    assert.deepEqual(members(seg('{ activity: Purchase, window: { last: 30 } }')), [0, 4]);
    assert.deepEqual(members(seg('{ activity: Purchase }')), [0, 1, 4]);
    assert.deepEqual(members(seg('{ activity: Purchase, operator: ge, value: 2 }')), [4]);
    assert.deepEqual(members(seg('{ activity: Purchase, window: { last: 30 }, operator: eq, value: 0 }')), [1, 2, 3]);
  });
});

describe('definition checks, with file and line', () => {
  test('a valid definition passes and the fixture loads', () => {
    const { definition } = definitionWith(BASE.slice(BASE.indexOf('\nmeasures:') + 1));
    assert.equal(definition.measures?.length, 8);
    assert.equal(definition.segments?.length, 4);
  });

  test('measure problems name the field and the line', () => {
    const problems = problemsOf(`measures:
  - name: Spend
    aggregation: sum
    source: { entity: Shop.Purchases }
    field: Product
  - name: Count
    aggregation: count
    source: { activity: Refund }
  - name: Top
    aggregation: argMax
    source: { entity: Shop.Purchases }
    field: Product
  - name: Recent
    aggregation: count
    source: { entity: Shop.Contacts }
    window: { last: 3 }
    filter:
      - { field: City, operator: gt, value: [1] }
  - name: Spend
    aggregation: count
    source: { measure: Spend }
`);
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
    assert.match(byPath['/measures/0/field'].message, /sum needs a number; 'Product' is string/);
    assert.equal(byPath['/measures/0/field'].line, 5 + BASE.slice(0, BASE.indexOf('\nmeasures:') + 1).split('\n').length - 1);
    assert.match(byPath['/measures/1/source/activity'].message, /no activity has type 'Refund' \(types: Purchase\)/);
    assert.match(byPath['/measures/2/by'].message, /needs by/);
    assert.ok(!byPath['/measures/3/window'], 'Contacts has a lastModified column, so a window works');
    assert.match(byPath['/measures/3/filter/0/value'].message, /one value, not a list/);
    assert.match(byPath['/measures/4/name'].message, /defined twice/);
    assert.match(byPath['/measures/4/source/measure'].message, /business measures/);
  });

  test('schema problems come first: unknown aggregations and properties', () => {
    const problems = problemsOf(`measures:
  - name: X
    aggregation: median
    source: { activity: Purchase }
    colour: red
`);
    assert.ok(problems.some((p) => p.path === '/measures/0/aggregation' && /must be one of/.test(p.message)));
    assert.ok(problems.some((p) => p.path === '/measures/0/colour' && /unknown property/.test(p.message)));
  });

  test('segment problems name the condition', () => {
    const problems = problemsOf(`${MEASURES}segments:
  - name: S
    rules:
      - combine: except
        conditions:
          - { field: Shoe, operator: eq, value: 1 }
          - { measure: Nope, operator: gt, value: 1 }
          - { measure: Spend, operator: gt, value: lots }
          - { activity: Purchase, operator: contains, value: x }
          - { field: City, measure: Spend, operator: eq, value: 1 }
          - { field: City }
`);
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    assert.match(byPath['/segments/0/rules/0/combine'], /first rule/);
    assert.match(byPath['/segments/0/rules/0/conditions/0/field'], /'Shoe' is not a Customer field/);
    assert.match(byPath['/segments/0/rules/0/conditions/1/measure'], /unknown measure 'Nope'/);
    assert.match(byPath['/segments/0/rules/0/conditions/2/value'], /"lots" is not a number/);
    assert.match(byPath['/segments/0/rules/0/conditions/3/operator'], /number of activities/);
    assert.match(byPath['/segments/0/rules/0/conditions/4'], /only one of field, measure/);
    assert.match(byPath['/segments/0/rules/0/conditions/5/operator'], /needs an operator/);
  });
});
