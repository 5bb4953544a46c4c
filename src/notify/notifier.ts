// Notification webhooks of an instance: refresh succeeded or failed, a segment's size or a
// business measure crossing a threshold. Each delivery is recorded first (pending), then sent
// signed with HMAC-SHA256 and retried with backoff; its status, attempts and last error are kept.
import { randomUUID } from 'node:crypto';
import type { NotificationDef, NotificationEvent, ThresholdDef } from '../config/outputs.js';
import type { RunRecord } from '../domain/run.js';
import type { DeliveryRecord } from '../storage/notifications.js';
import type { InstanceRecord, Store } from '../storage/store.js';
import { postSigned, resolveSecret } from './http.js';

const now = () => new Date().toISOString();

/** Current values of threshold subjects after a refresh: segment sizes and business measures. */
export interface ThresholdValues {
  segments: Map<string, number>;
  measures: Map<string, number>;
}

export interface Crossing {
  kind: 'segment' | 'measure';
  name: string;
  direction: 'above' | 'below';
  threshold: number;
  previous: number;
  value: number;
}

/** Did the value cross the threshold between two refreshes? Pure. */
export function crossings(t: ThresholdDef, previous: number, value: number): Pick<Crossing, 'direction' | 'threshold'>[] {
  const out: Pick<Crossing, 'direction' | 'threshold'>[] = [];
  if (t.above !== undefined && previous <= t.above && value > t.above) out.push({ direction: 'above', threshold: t.above });
  if (t.below !== undefined && previous >= t.below && value < t.below) out.push({ direction: 'below', threshold: t.below });
  return out;
}

export class Notifier {
  constructor(
    private readonly store: Store,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private hooks(instance: InstanceRecord, event: NotificationEvent): NotificationDef[] {
    return (instance.definition.notifications ?? []).filter((n) => n.events.includes(event));
  }

  /** Records and sends one delivery; resolves when it is delivered or given up. */
  async deliver(instanceId: string, hook: NotificationDef, event: NotificationEvent, data: Record<string, unknown>, signal?: AbortSignal): Promise<DeliveryRecord> {
    const deliveryId = randomUUID();
    const createdAt = now();
    const payload = { event, deliveryId, instanceId, notification: hook.name, occurredAt: createdAt, ...data };
    const delivery: DeliveryRecord = {
      deliveryId,
      instanceId,
      notification: hook.name,
      event,
      payload,
      status: 'pending',
      attempts: 0,
      responseStatus: null,
      lastError: null,
      createdAt,
      updatedAt: createdAt,
    };
    await this.store.notifications.createDelivery(delivery);
    let secret: string;
    try {
      secret = resolveSecret(hook, this.env);
    } catch (err) {
      Object.assign(delivery, { status: 'failed', lastError: (err as Error).message, updatedAt: now() });
      await this.store.notifications.updateDelivery(instanceId, deliveryId, delivery);
      return delivery;
    }
    const result = await postSigned({
      url: hook.url,
      body: JSON.stringify(payload),
      secret,
      headers: { ...hook.headers, 'x-kindred-event': event, 'x-kindred-delivery': deliveryId },
      timeoutMs: hook.timeoutMs,
      retry: hook.retry,
      signal,
      onAttempt: async (a) => {
        Object.assign(delivery, { attempts: a.attempt, responseStatus: a.status, lastError: a.error, updatedAt: now() });
        await this.store.notifications.updateDelivery(instanceId, deliveryId, delivery);
      },
    });
    Object.assign(delivery, {
      status: result.ok ? 'delivered' : 'failed',
      attempts: result.attempts,
      responseStatus: result.status,
      lastError: result.error,
      updatedAt: now(),
    });
    await this.store.notifications.updateDelivery(instanceId, deliveryId, delivery);
    return delivery;
  }

  /** refreshSucceeded or refreshFailed to every hook that wants it. */
  async refreshEnded(instance: InstanceRecord, run: RunRecord, signal?: AbortSignal): Promise<DeliveryRecord[]> {
    const event: NotificationEvent = run.status === 'successful' ? 'refreshSucceeded' : 'refreshFailed';
    const data = {
      run: {
        jobId: run.jobId,
        status: run.status,
        trigger: run.trigger,
        startedAt: run.startedAt,
        endedAt: run.endedAt,
        error: run.error,
        generation: run.generation,
        summary: run.summary,
        failedStage: run.stages.find((s) => s.status === 'failed')?.name ?? null,
      },
    };
    return Promise.all(this.hooks(instance, event).map((h) => this.deliver(instance.id, h, event, data, signal)));
  }

  /**
   * Compares each threshold subject with its value at the previous refresh (kept in the store) and
   * sends segmentThreshold / measureThreshold for each crossing. The first refresh only records.
   */
  async thresholds(instance: InstanceRecord, values: ThresholdValues, jobId: string | null, signal?: AbortSignal): Promise<DeliveryRecord[]> {
    const sent: DeliveryRecord[] = [];
    const at = now();
    for (const hook of instance.definition.notifications ?? []) {
      const bySubject = new Map<string, { kind: 'segment' | 'measure'; name: string; thresholds: ThresholdDef[] }>();
      for (const t of hook.thresholds ?? []) {
        const kind = t.segment !== undefined ? 'segment' : 'measure';
        const name = (t.segment ?? t.measure)!;
        const key = `${kind}:${name}`;
        const entry = bySubject.get(key) ?? { kind, name, thresholds: [] };
        entry.thresholds.push(t);
        bySubject.set(key, entry);
      }
      for (const [subject, { kind, name, thresholds }] of bySubject) {
        const value = (kind === 'segment' ? values.segments : values.measures).get(name);
        if (value === undefined || !Number.isFinite(value)) continue;
        const previous = await this.store.notifications.swapThresholdValue(instance.id, hook.name, subject, value, at);
        if (previous === undefined) continue;
        const event: NotificationEvent = kind === 'segment' ? 'segmentThreshold' : 'measureThreshold';
        if (!hook.events.includes(event)) continue;
        for (const t of thresholds) {
          for (const c of crossings(t, previous, value)) {
            const crossing: Crossing = { kind, name, direction: c.direction, threshold: c.threshold, previous, value };
            sent.push(await this.deliver(instance.id, hook, event, { jobId, [kind]: name, crossing }, signal));
          }
        }
      }
    }
    return sent;
  }
}

/** Segment sizes and business measure values of the current generation (measures-and-segments sub-port). */
export async function thresholdValues(store: Store, instance: InstanceRecord): Promise<ThresholdValues> {
  const values: ThresholdValues = { segments: new Map(), measures: new Map() };
  const { analytics } = store;
  const wanted = (instance.definition.notifications ?? []).flatMap((n) => n.thresholds ?? []);
  for (const t of wanted) {
    if (t.segment !== undefined && !values.segments.has(t.segment)) {
      const [latest] = await analytics.segmentHistory(instance.id, t.segment, 1);
      if (latest && latest.generation === instance.currentGeneration) values.segments.set(t.segment, latest.size);
    }
    if (t.measure !== undefined && !values.measures.has(t.measure)) {
      const [latest] = await analytics.measureHistory(instance.id, t.measure, 1);
      const v = latest && latest.generation === instance.currentGeneration ? Number(latest.value) : NaN;
      if (latest?.value !== null && Number.isFinite(v)) values.measures.set(t.measure, v);
    }
  }
  return values;
}
