import { payloadOf } from "../store";
import type { Kysely } from "kysely";
import type { Database, LedgerEventTable } from "../store";
import type { BatchRow } from "../store/queries";
import type { EntryText } from "../store/provenance-reads";
import type { BatchView } from "./schemas";

/** The batch columns joined with its product, MAH and CMO, as the API shows a batch. */
export function toBatchView(row: BatchRow): BatchView {
  const away = row.in_transit + row.dispensed + row.destroyed + row.stolen + row.sampled + row.exported + row.missing;
  return {
    id: row.id,
    batchNumber: row.batch_number,
    product: { id: row.product_id, code: row.product_code, name: row.product_name, approvalNumber: row.approval_number },
    mah: { id: row.mah_id, name: row.mah_name, role: "MAH", region: row.mah_region },
    cmo: { id: row.cmo_id, name: row.cmo_name, role: "CMO", region: row.cmo_region },
    agreementId: row.agreement_id,
    quantity: row.quantity,
    manufacturedAt: row.manufactured_at,
    expiresAt: row.expires_at,
    state: row.state as BatchView["state"],
    recall: row.recall_status === "NONE" ? null : { status: row.recall_status as "OPEN" | "CLOSED", level: row.recall_level ?? "" },
    hold: row.hold_status,
    openDeviations: row.open_deviations,
    accounts: {
      held: row.quantity - away,
      inTransit: row.in_transit,
      dispensed: row.dispensed,
      destroyed: row.destroyed,
      stolen: row.stolen,
      sampled: row.sampled,
      exported: row.exported,
      missing: row.missing,
    },
    codesRoot: row.codes_root,
    recordedAt: row.recorded_at,
    factoryReleasedAt: row.factory_released_at,
    marketReleasedAt: row.market_released_at,
    releaseRefusal: row.release_refused_at === null ? null : { at: row.release_refused_at, reasonHash: row.release_refusal_hash ?? "" },
  };
}

/** Organizations by id, for naming the parties of ledger entries. */
export async function organizationsById(db: Kysely<Database>, ids: Iterable<number>) {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map<number, { id: number; name: string; role: string; region: number }>();
  const rows = await db.selectFrom("organizations").select(["id", "name", "role", "region"]).where("id", "in", unique).execute();
  return new Map(rows.map((row) => [row.id, row]));
}

/** Ledger events as provenance entries: who attested what, when, in which transaction, and whether it verifies. */
export async function toLedgerEntries(db: Kysely<Database>, events: LedgerEventTable[]) {
  const organizations = await organizationsById(
    db,
    events.flatMap((e) => (e.organization_id === null ? [] : [e.organization_id])),
  );
  return events.map((event) => {
    // The payload keeps the signatures, so anyone can re-verify an entry without trusting this server.
    const details = payloadOf(event);
    return {
      at: event.block_time,
      blockNumber: event.block_number,
      logIndex: event.log_index,
      txHash: event.tx_hash,
      event: event.name,
      organization: event.organization_id === null ? null : (organizations.get(event.organization_id) ?? null),
      signer: event.signer,
      signerOrganizationId: event.signer_organization_id,
      verification: event.verification,
      problem: event.problem,
      details,
    };
  });
}

/**
 * A provenance entry as the text of its JSON, built by the database: byte for byte what JSON.stringify gives for
 * toLedgerEntries's entry of the event, its details being the stored payload's own text (the indexer writes it
 * with JSON.stringify), not parsed only to be written again.
 */
export const ledgerEntryText: EntryText = ({ value, stored, object, unlessNull }) =>
  object([
    ["at", value("ledger_events.block_time")],
    ["blockNumber", value("ledger_events.block_number")],
    ["logIndex", value("ledger_events.log_index")],
    ["txHash", value("ledger_events.tx_hash")],
    ["event", value("ledger_events.name")],
    [
      "organization",
      unlessNull(
        "organizations.id",
        object([
          ["id", value("organizations.id")],
          ["name", value("organizations.name")],
          ["role", value("organizations.role")],
          ["region", value("organizations.region")],
        ]),
      ),
    ],
    ["signer", value("ledger_events.signer")],
    ["signerOrganizationId", value("ledger_events.signer_organization_id")],
    ["verification", value("ledger_events.verification")],
    ["problem", value("ledger_events.problem")],
    ["details", stored("ledger_events.payload")],
  ]);
