import { id as hashText } from "ethers";
import type { Kysely, Transaction } from "kysely";
import { alertCaseKey, alertKeyHash } from "../ledger";
import type { AlertSeverity, CaseStatusName } from "../ledger";
import type { AlertTable, Database } from "../store";

type Db = Kysely<Database> | Transaction<Database>;

/** The key of an alert's case on chain (AlertCases.caseKeyOf): the alert's key and the organization it concerns. */
export const caseKeyOf = (alert: Pick<AlertTable, "key" | "organization_id">): string => alertCaseKey(alert.key, alert.organization_id);

/** An alert's case as the API shows it: the signed status on chain, the due date and the engine's escalation. */
export type CaseView = {
  /** What an AlertTaking names: keccak256 of the alert's key. */
  alertKey: string;
  /** What an AlertStatusChange names: the case of this alert about the organization it concerns. */
  caseKey: string;
  ownerId: number | null;
  /** The signed status (NEW until someone takes the case and moves it). */
  status: CaseStatusName;
  /** When the case is due, from when the alert's condition arose and its severity (configuration). */
  dueAt: number;
  /** Past due and not closed. */
  overdue: boolean;
  /** When the alert engine escalated the overdue case (off-chain), or null. */
  escalatedAt: number | null;
  reasonHash: string | null;
  reason: string | null;
  openedAt: number | null;
  updatedAt: number | null;
  closedAt: number | null;
};

const chunks = <T>(items: T[], size = 500) => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** The due date of an alert's case. */
export function dueAtOf(alert: Pick<AlertTable, "observed_at" | "severity">, due: Record<AlertSeverity, number>): number {
  return Number(alert.observed_at) + (due[alert.severity] ?? due.low);
}

/** Keeps a reason's text under the keccak-256 hash an attestation signs (POST /v1/reasons; the demo's reasons). */
export async function keepReason(db: Db, text: string, organizationId: number, at: number): Promise<string> {
  const hash = hashText(text);
  await db
    .insertInto("reason_texts")
    .values({ hash, text, organization_id: organizationId, added_at: at })
    .onConflict((c) => c.column("hash").doNothing())
    .execute();
  return hash;
}

/** Reasons' texts by their hash, where someone stored the text (POST /v1/reasons). */
export async function reasonTexts(db: Db, hashes: (string | null)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(hashes.filter((h): h is string => h !== null))];
  const texts = new Map<string, string>();
  for (const slice of chunks(wanted)) {
    for (const row of await db.selectFrom("reason_texts").select(["hash", "text"]).where("hash", "in", slice).execute())
      texts.set(row.hash, row.text);
  }
  return texts;
}

/** The cases of `alerts`, by alert id. */
export async function casesOf(
  db: Db,
  alerts: Pick<AlertTable, "id" | "key" | "organization_id" | "observed_at" | "severity">[],
  due: Record<AlertSeverity, number>,
  now: number,
) {
  const keys = new Map(alerts.map((a) => [caseKeyOf(a), a]));
  const cases = new Map<string, Database["alert_cases"]>();
  for (const slice of chunks([...keys.keys()])) {
    for (const row of await db.selectFrom("alert_cases").selectAll().where("case_key", "in", slice).execute()) cases.set(row.case_key, row);
  }
  const escalations = new Map<number, number>();
  for (const slice of chunks(alerts.map((a) => Number(a.id)))) {
    for (const row of await db.selectFrom("alert_escalations").select(["alert_id", "escalated_at"]).where("alert_id", "in", slice).execute()) {
      escalations.set(Number(row.alert_id), Number(row.escalated_at));
    }
  }
  const texts = await reasonTexts(
    db,
    [...cases.values()].map((c) => c.reason_hash),
  );
  const views = new Map<number, CaseView>();
  for (const [caseKey, alert] of keys) {
    const recorded = cases.get(caseKey);
    const status = recorded?.status ?? "NEW";
    const dueAt = dueAtOf(alert, due);
    views.set(Number(alert.id), {
      alertKey: alertKeyHash(alert.key),
      caseKey,
      ownerId: recorded ? recorded.owner_id : null,
      status,
      dueAt,
      overdue: status !== "CLOSED" && now > dueAt,
      escalatedAt: escalations.get(Number(alert.id)) ?? null,
      reasonHash: recorded?.reason_hash ?? null,
      reason: recorded?.reason_hash ? (texts.get(recorded.reason_hash) ?? null) : null,
      openedAt: recorded ? Number(recorded.opened_at) : null,
      updatedAt: recorded ? Number(recorded.updated_at) : null,
      closedAt: recorded?.closed_at === null || recorded === undefined ? null : Number(recorded.closed_at),
    });
  }
  return views;
}

/** Drops alerts whose case was closed (with a reason): they no longer count toward a rating. */
export async function withoutClosedCases<A extends Pick<AlertTable, "key" | "organization_id">>(db: Db, alerts: A[]): Promise<A[]> {
  const closed = new Set<string>();
  for (const slice of chunks(alerts.map(caseKeyOf))) {
    for (const row of await db.selectFrom("alert_cases").select("case_key").where("case_key", "in", slice).where("status", "=", "CLOSED").execute())
      closed.add(row.case_key);
  }
  return alerts.filter((a) => !closed.has(caseKeyOf(a)));
}

/** Open alerts past their case's due date, not closed and not escalated yet: what the engine escalates at `now`. */
export async function overdueCases(trx: Db, due: Record<AlertSeverity, number>, now: number) {
  const open = await trx
    .selectFrom("alerts")
    .selectAll()
    .where("status", "=", "open")
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom("alert_escalations").select("alert_escalations.alert_id").whereRef("alert_escalations.alert_id", "=", "alerts.id"))),
    )
    .orderBy("id")
    .execute();
  const late = open.filter((a) => now > dueAtOf(a, due));
  const cases = await casesOf(trx, late, due, now);
  return late.filter((a) => cases.get(Number(a.id))!.status !== "CLOSED").map((alert) => ({ alert, case: cases.get(Number(alert.id))! }));
}
