// Sub-port of the Store: webhook deliveries (status, attempts, last error) and the last value seen
// of each threshold subject, so a crossing is noticed once.
import type { NotificationEvent } from '../config/outputs.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRecord {
  deliveryId: string;
  instanceId: string;
  notification: string;
  event: NotificationEvent;
  /** The JSON body sent. */
  payload: Record<string, unknown>;
  status: DeliveryStatus;
  attempts: number;
  /** HTTP status of the last attempt (null: no answer). */
  responseStatus: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NotificationStore {
  createDelivery(d: DeliveryRecord): Promise<void>;
  updateDelivery(instanceId: string, deliveryId: string, patch: Pick<DeliveryRecord, 'status' | 'attempts' | 'responseStatus' | 'lastError' | 'updatedAt'>): Promise<void>;
  getDelivery(instanceId: string, deliveryId: string): Promise<DeliveryRecord | undefined>;
  /** Newest first. */
  listDeliveries(instanceId: string, notification?: string, limit?: number): Promise<DeliveryRecord[]>;
  /** Records `value` for a subject and returns the one recorded before (undefined: first time). */
  swapThresholdValue(instanceId: string, notification: string, subject: string, value: number, at: string): Promise<number | undefined>;
}
