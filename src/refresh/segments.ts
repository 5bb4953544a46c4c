// Stage segments: membership of every active segment, computed over all customers at once from
// the batch's profiles, the measures just computed and the batch's activities. Real-time profile
// updates and activities never reach this stage.
import { windowBounds } from '../domain/measures.js';
import type { ActivityRecord, CustomerRecord, FieldValue } from '../domain/profile.js';
import { countActivities, evaluateSegment, planSegments, type SegmentPlan } from '../domain/segments.js';
import type { AnalyticsRunSummary } from '../storage/analytics.js';
import type { GenerationWrite } from './write.js';
import { throwIfCancelled, yieldToEventLoop, type StageEnv } from './context.js';
import type { MeasuresOutput } from './measures.js';

export interface SegmentsInput {
  customers: CustomerRecord[];
  activities: ActivityRecord[];
  measures: MeasuresOutput;
  refreshTime: number;
}

export interface SegmentsOutput {
  /** Active segments with their members' CustomerIds (sorted). */
  segments: { plan: SegmentPlan; members: string[] }[];
}

export async function segments(env: StageEnv, input: SegmentsInput): Promise<SegmentsOutput> {
  const { plans, problems } = planSegments(env.instance, input.measures.plans);
  if (problems.length) throw new Error(`segments: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const { customers, activities } = input;
  const n = customers.length;
  const active = plans.filter((p) => p.active);
  env.report.counts.segments = active.length;
  if (plans.length > active.length) env.report.counts.inactive = plans.length - active.length;
  const out: SegmentsOutput = { segments: [] };
  if (!active.length) return out;

  const measureValues = new Map(input.measures.customer.map((m) => [m.plan.name, m.values]));
  const counts = new Map<string, Float64Array>();
  const data = {
    customers: n,
    field: (name: string) => (i: number) => customers[i][name] as FieldValue | undefined,
    measure: (name: string) => measureValues.get(name)!,
    activityCount: (c: Parameters<Parameters<typeof evaluateSegment>[1]['activityCount']>[0]) => {
      let k = counts.get(c.countKey);
      if (!k) {
        k = countActivities(activities, input.measures.activityGroups, n, c.type, windowBounds(c.window ?? undefined, input.refreshTime), c.filter);
        counts.set(c.countKey, k);
      }
      return k;
    },
  };
  // Members in CustomerId order (B-tree appends when written): one sort for every segment.
  const order = input.measures.sortedOrder();
  let done = 0;
  for (const plan of active) {
    throwIfCancelled(env.signal);
    const hit = evaluateSegment(plan, data);
    const members: string[] = [];
    for (const i of order) if (hit[i]) members.push(customers[i].CustomerId);
    out.segments.push({ plan, members });
    env.report.counts[`${plan.name}: members`] = members.length;
    env.progress('segments', ++done, active.length);
    await yieldToEventLoop();
  }
  return out;
}

/** Members of each segment, into the generation being built. */
export async function writeSegments(w: GenerationWrite, result: SegmentsOutput): Promise<void> {
  w.restartClock();
  let rows = 0;
  for (const s of result.segments) {
    w.expect(s.members.length);
    await w.inBatches(s.members, (batch) => w.writer.writeSegmentMembers(s.plan.name, batch));
    rows += s.members.length;
  }
  if (result.segments.length) w.env.report.counts.segmentMembers = rows;
  await w.writer.complete('segments');
  w.lap('segments');
}

/** The run's segment sizes. */
export function segmentsSummary(result: SegmentsOutput): AnalyticsRunSummary['segments'] {
  return result.segments.map((s) => ({ name: s.plan.name, size: s.members.length }));
}
