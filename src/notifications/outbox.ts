import type { Kysely, Transaction } from "kysely";
import type { Database, NotificationTable } from "../store";
import { writeRows } from "../store";

/** The kinds of notification an organization can receive: each ledger event's and each rule's, and closures. */
export type NotificationKind = `ledger.${string}` | `alert.${string}`;

/**
 * The notifications written in one transaction of the alert engine. Ids come from the table's largest plus one:
 * the engine is the outbox's only writer (its cursor guards against a second one), so ids follow commit order
 * and the SSE stream can resume from the last id a client saw.
 */
export type Outbox = {
  add(organizationId: number, kind: string, idempotencyKey: string, payload: string, alertId?: number | null): void;
  /** Writes what was added; rows whose idempotency key exists are skipped. */
  flush(): Promise<number>;
};

export async function openOutbox(db: Kysely<Database>, trx: Transaction<Database>, now: number): Promise<Outbox> {
  const last = await trx.selectFrom("notifications").select((eb) => eb.fn.max("id").as("id")).executeTakeFirst();
  let nextId = Number(last?.id ?? 0) + 1;
  let rows: NotificationTable[] = [];
  return {
    add(organizationId, kind, idempotencyKey, payload, alertId = null) {
      rows.push({ id: nextId++, organization_id: organizationId, kind, idempotency_key: idempotencyKey, alert_id: alertId, payload, created_at: now });
    },
    async flush() {
      const written = rows;
      rows = [];
      if (written.length > 0) await writeRows(db, trx, "notifications", written, { key: ["idempotency_key"], update: [] });
      return written.length;
    },
  };
}
