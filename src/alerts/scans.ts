import { randomUUID } from "node:crypto";
import type { Transaction } from "kysely";
import type { Caller, ScanObservations } from "../api/context";
import type { Logger } from "../log";
import type { Database, ScanObservationTable, Store } from "../store";
import type { AlertConfig } from "./config";
import type { AlertDraft } from "./rules";

type Trx = Transaction<Database>;

/**
 * Records each authenticated scan off-chain, for the scan-based rules. A scan is answered even when recording fails
 * (the verdict matters more to the pharmacist than the record); the failure is logged.
 */
export function createScanObservations(store: Store, log: Logger): ScanObservations {
  return {
    async record(caller: Caller, scan, observedAt: number) {
      const registered = scan.product !== null || (await productRegistered(store, scan.code.productCode));
      const row: ScanObservationTable = {
        id: randomUUID(),
        organization_id: caller.organizationId,
        canonical_key: scan.code.canonicalKey,
        product_code: scan.code.productCode,
        product_registered: registered ? 1 : 0,
        batch_id: scan.batch?.id ?? null,
        verdict: scan.verdict,
        place: scan.place ?? null,
        observed_at: observedAt,
        evaluated: 0,
      };
      try {
        await store.db.insertInto("scan_observations").values(row).execute();
      } catch (error) {
        log.error({ err: error, organizationId: caller.organizationId }, "could not record a scan observation");
      }
    },
  };
}

/** An unknown serial under a product the ledger knows is what makes a counterfeit suspect (and names an MAH to tell). */
async function productRegistered(store: Store, productCode: string | null) {
  if (!productCode) return false;
  const product = await store.db.selectFrom("products").select("id").where("product_code", "=", productCode).executeTakeFirst();
  return product !== undefined;
}

/** The rules a scan can trigger. */
export async function evaluateObservation(trx: Trx, scan: ScanObservationTable, config: AlertConfig): Promise<AlertDraft[]> {
  const base = { organizationId: scan.organization_id, batchId: scan.batch_id, observedAt: scan.observed_at };
  if (scan.verdict === "UNEXPECTED_HOLDER") {
    return [
      {
        ...base,
        key: `pack_off_custody_path:${scan.organization_id}:${scan.canonical_key}`,
        rule: "pack_off_custody_path",
        subject: scan.canonical_key,
        message: `organization ${scan.organization_id} scanned a pack of a batch it neither holds nor is being sent`,
        details: { code: scan.canonical_key, place: scan.place, scannedAt: scan.observed_at },
      },
    ];
  }
  if (scan.verdict === "ALREADY_DISPENSED") {
    const dispenser = await dispenserOf(trx, scan.batch_id);
    return [
      {
        ...base,
        key: `dispensed_pack_rescanned:${scan.organization_id}:${scan.canonical_key}`,
        rule: "dispensed_pack_rescanned",
        subject: scan.canonical_key,
        message: `organization ${scan.organization_id} scanned a pack that was already dispensed: its code may be copied`,
        details: { code: scan.canonical_key, place: scan.place, scannedAt: scan.observed_at },
        notify: dispenser,
      },
    ];
  }
  if (scan.verdict === "UNKNOWN_CODE" && scan.product_registered === 1 && scan.product_code) return unknownSerials(trx, scan, config);
  return [];
}

/** Dispensers of the batch: whoever dispensed the pack learns that its code is in circulation again. */
async function dispenserOf(trx: Trx, batchId: string | null): Promise<number[]> {
  if (!batchId) return [];
  const rows = await trx
    .selectFrom("pack_states")
    .select("organization_id")
    .distinct()
    .where("batch_id", "=", batchId)
    .where("state", "=", "DISPENSED")
    .execute();
  return rows.map((r) => r.organization_id);
}

async function unknownSerials(trx: Trx, scan: ScanObservationTable, config: AlertConfig): Promise<AlertDraft[]> {
  const { count, windowSeconds } = config.unknownSerials;
  const since = scan.observed_at - windowSeconds;
  const seen = await trx
    .selectFrom("scan_observations")
    .select(["canonical_key", "place"])
    .distinct()
    .where("organization_id", "=", scan.organization_id)
    .where("verdict", "=", "UNKNOWN_CODE")
    .where("product_code", "=", scan.product_code)
    .where("product_registered", "=", 1)
    .where("observed_at", ">=", since)
    .where("observed_at", "<=", scan.observed_at)
    .execute();
  const serials = [...new Set(seen.map((s) => s.canonical_key))].sort();
  if (serials.length < count) return [];
  const raised = await trx
    .selectFrom("alerts")
    .select("id")
    .where("rule", "=", "unknown_serials_repeated")
    .where("organization_id", "=", scan.organization_id)
    .where("subject", "=", scan.product_code)
    .where("observed_at", ">=", since)
    .executeTakeFirst();
  if (raised) return [];
  const product = await trx.selectFrom("products").select(["id", "mah_id", "name"]).where("product_code", "=", scan.product_code!).executeTakeFirst();
  return [
    {
      key: `unknown_serials_repeated:${scan.id}`,
      rule: "unknown_serials_repeated",
      organizationId: scan.organization_id,
      batchId: null,
      subject: scan.product_code,
      message: `organization ${scan.organization_id} scanned ${serials.length} unknown serials of ${product?.name ?? scan.product_code} within ${Math.round(windowSeconds / 3600)} hours`,
      // Every place the scans name: which scan crossed the threshold depends on the order they are evaluated in.
      details: { productCode: scan.product_code, unknownSerials: serials, since, places: placesOf(seen) },
      observedAt: scan.observed_at,
      notify: product ? [product.mah_id] : [],
    },
  ];
}

function placesOf(scans: { place: string | null }[]): string[] {
  return [...new Set(scans.flatMap((s) => (s.place === null ? [] : [s.place])))].sort();
}
