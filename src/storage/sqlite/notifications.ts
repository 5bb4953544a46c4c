// SQLite adapter of the NotificationStore sub-port.
import type Database from 'better-sqlite3';
import type { DeliveryRecord, NotificationStore } from '../notifications.js';
import { deliveryFromRow, jsonText } from '../rows.js';

type Row = Record<string, unknown>;

const toDelivery = (r: Row) => deliveryFromRow(r, jsonText);

export class SqliteNotificationStore implements NotificationStore {
  constructor(private readonly db: Database.Database) {}

  async createDelivery(d: DeliveryRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO notification_deliveries (instance_id, delivery_id, notification, event, payload, status, attempts, response_status, last_error, created_at, updated_at)
         VALUES (@instanceId, @deliveryId, @notification, @event, @payload, @status, @attempts, @responseStatus, @lastError, @createdAt, @updatedAt)`,
      )
      .run({ ...d, payload: JSON.stringify(d.payload) });
  }

  async updateDelivery(
    instanceId: string,
    deliveryId: string,
    p: Pick<DeliveryRecord, 'status' | 'attempts' | 'responseStatus' | 'lastError' | 'updatedAt'>,
  ): Promise<void> {
    this.db
      .prepare(
        `UPDATE notification_deliveries SET status = @status, attempts = @attempts, response_status = @responseStatus, last_error = @lastError, updated_at = @updatedAt
         WHERE instance_id = @instanceId AND delivery_id = @deliveryId`,
      )
      .run({ ...p, instanceId, deliveryId });
  }

  async getDelivery(instanceId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const r = this.db.prepare('SELECT * FROM notification_deliveries WHERE instance_id = ? AND delivery_id = ?').get(instanceId, deliveryId) as Row | undefined;
    return r && toDelivery(r);
  }

  async listDeliveries(instanceId: string, notification?: string, limit = 50): Promise<DeliveryRecord[]> {
    const rows = (
      notification === undefined
        ? this.db.prepare('SELECT * FROM notification_deliveries WHERE instance_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(instanceId, limit)
        : this.db
            .prepare('SELECT * FROM notification_deliveries WHERE instance_id = ? AND notification = ? ORDER BY created_at DESC, rowid DESC LIMIT ?')
            .all(instanceId, notification, limit)
    ) as Row[];
    return rows.map(toDelivery);
  }

  async swapThresholdValue(instanceId: string, notification: string, subject: string, value: number, at: string): Promise<number | undefined> {
    return this.db.transaction(() => {
      const previous = this.db
        .prepare('SELECT value FROM notification_thresholds WHERE instance_id = ? AND notification = ? AND subject = ?')
        .pluck()
        .get(instanceId, notification, subject) as number | undefined;
      this.db
        .prepare(
          `INSERT INTO notification_thresholds (instance_id, notification, subject, value, observed_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (instance_id, notification, subject) DO UPDATE SET value = excluded.value, observed_at = excluded.observed_at`,
        )
        .run(instanceId, notification, subject, value, at);
      return previous;
    }).immediate();
  }
}
