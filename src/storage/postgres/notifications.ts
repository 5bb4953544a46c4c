// PostgreSQL adapter of the NotificationStore sub-port. Tables from migration 6.
import type pg from 'pg';
import type { DeliveryRecord, NotificationStore } from '../notifications.js';
import { deliveryFromRow, jsonParsed } from '../rows.js';
import { one, rows, run, type Row } from './statements.js';

const COLUMNS = 'instance_id, delivery_id, notification, event, payload, status, attempts, response_status, last_error, created_at, updated_at';

const toDelivery = (r: Row) => deliveryFromRow(r, jsonParsed);

export class PostgresNotificationStore implements NotificationStore {
  constructor(private readonly pool: pg.Pool) {}

  async createDelivery(d: DeliveryRecord): Promise<void> {
    await run(
      this.pool,
      `INSERT INTO notification_deliveries (${COLUMNS}) VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8, $9, $10, $11)`,
      [d.instanceId, d.deliveryId, d.notification, d.event, JSON.stringify(d.payload), d.status, d.attempts, d.responseStatus, d.lastError, d.createdAt, d.updatedAt],
    );
  }

  async updateDelivery(
    instanceId: string,
    deliveryId: string,
    p: Pick<DeliveryRecord, 'status' | 'attempts' | 'responseStatus' | 'lastError' | 'updatedAt'>,
  ): Promise<void> {
    await run(
      this.pool,
      `UPDATE notification_deliveries SET status = $3, attempts = $4, response_status = $5, last_error = $6, updated_at = $7
       WHERE instance_id = $1 AND delivery_id = $2`,
      [instanceId, deliveryId, p.status, p.attempts, p.responseStatus, p.lastError, p.updatedAt],
    );
  }

  async getDelivery(instanceId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
    const r = await one(this.pool, `SELECT ${COLUMNS} FROM notification_deliveries WHERE instance_id = $1 AND delivery_id = $2`, [instanceId, deliveryId]);
    return r && toDelivery(r);
  }

  async listDeliveries(instanceId: string, notification?: string, limit = 50): Promise<DeliveryRecord[]> {
    const list =
      notification === undefined
        ? await rows(this.pool, `SELECT ${COLUMNS} FROM notification_deliveries WHERE instance_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`, [
            instanceId,
            limit,
          ])
        : await rows(
            this.pool,
            `SELECT ${COLUMNS} FROM notification_deliveries WHERE instance_id = $1 AND notification = $2 ORDER BY created_at DESC, seq DESC LIMIT $3`,
            [instanceId, notification, limit],
          );
    return list.map(toDelivery);
  }

  async swapThresholdValue(instanceId: string, notification: string, subject: string, value: number, at: string): Promise<number | undefined> {
    const key = [instanceId, notification, subject];
    // The locked subquery reads the value the update replaces (the newest, if another caller
    // swapped it meanwhile); with no row yet, the first insert wins and a loser tries the update again.
    for (;;) {
      const updated = await one(
        this.pool,
        `UPDATE notification_thresholds t SET value = $4, observed_at = $5
         FROM (SELECT value FROM notification_thresholds WHERE instance_id = $1 AND notification = $2 AND subject = $3 FOR UPDATE) AS previous
         WHERE t.instance_id = $1 AND t.notification = $2 AND t.subject = $3
         RETURNING previous.value`,
        [...key, value, at],
      );
      if (updated) return updated.value as number;
      const inserted = await one(
        this.pool,
        `INSERT INTO notification_thresholds (instance_id, notification, subject, value, observed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (instance_id, notification, subject) DO NOTHING RETURNING 1 AS inserted`,
        [...key, value, at],
      );
      if (inserted) return undefined;
    }
  }
}
