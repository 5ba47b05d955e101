import type { Kysely, SelectQueryBuilder, Transaction } from "kysely";
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
  add(
    organizationId: number,
    kind: string,
    idempotencyKey: string,
    payload: string,
    about?: { alertId?: number; event?: { block: number; log: number } },
  ): void;
  /** Writes what was added; rows whose idempotency key exists are skipped. */
  flush(): Promise<number>;
};

export async function openOutbox(db: Kysely<Database>, trx: Transaction<Database>, now: number): Promise<Outbox> {
  const last = await trx
    .selectFrom("notifications")
    .select((eb) => eb.fn.max("id").as("id"))
    .executeTakeFirst();
  let nextId = Number(last?.id ?? 0) + 1;
  let rows: NotificationTable[] = [];
  return {
    add(organizationId, kind, idempotencyKey, payload, about = {}) {
      rows.push({
        id: nextId++,
        organization_id: organizationId,
        kind,
        idempotency_key: idempotencyKey,
        alert_id: about.alertId ?? null,
        event_block: about.event?.block ?? null,
        event_log: about.event?.log ?? null,
        payload,
        created_at: now,
      });
    },
    async flush() {
      const written = rows;
      rows = [];
      if (written.length > 0) await writeRows(db, trx, "notifications", written, { key: ["idempotency_key"], update: [] });
      return written.length;
    },
  };
}

/** Notifications joined with the arguments of the ledger event each is about (select `event_args` with it). */
export function withEventArgs<O>(query: SelectQueryBuilder<Database, "notifications", O>) {
  return query
    .leftJoin("ledger_events", (join) =>
      join.onRef("ledger_events.block_number", "=", "notifications.event_block").onRef("ledger_events.log_index", "=", "notifications.event_log"),
    )
    .select("ledger_events.payload as event_args");
}

/** A notification's data as sent: its payload, with the ledger event's arguments when it is about one. */
export function notificationData(payload: string, eventArgs: string | null | undefined): string {
  return eventArgs ? `${payload.slice(0, -1)},"args":${eventArgs}}` : payload;
}
