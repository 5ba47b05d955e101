import type { Kysely, Transaction } from "kysely";
import type { Database } from "../store";
import { provinceOf } from "../ledger";

type Db = Kysely<Database> | Transaction<Database>;

type BatchParties = { mahId: number; cmoId: number; expiresAt: number; productId: string; agreementId: string };

/**
 * Who must be informed about what, read from the store for one chunk of work: the MAH of everything about its
 * products; the regulators of every province a batch touched (its MAH's, CMO's, holders' and recipients'); every
 * holder of a recalled batch; the parties of a shipment. Recipients are judged by the read model as it stands when
 * the engine runs (for a backfill: today's holders), which is what a late reader needs to act on.
 */
export type Audience = {
  batch(batchId: string): BatchParties | undefined;
  /** The organizations a batch's events concern; `holders` adds everyone holding stock or receiving it. */
  ofBatch(batchId: string, options?: { holders?: boolean }): Set<number>;
  /**
   * Adds the regulators of the provinces of `organizations` (and of `batchId`'s every party when given); with `asOf`
   * (unix seconds), only regulators onboarded by then: a ledger event is news to the regulators supervising when it
   * happened, whether the engine evaluates it live or after a backfill.
   */
  withRegulators(organizations: Iterable<number>, batchId?: string | null, asOf?: number): Set<number>;
  regionOf(organizationId: number): number | undefined;
  /** The MAH and counterparty of an agreement (loaded when asked for in loadAudience). */
  agreementParties(agreementId: string): number[];
  /**
   * The regulators of the partner provinces of an organization (loaded when asked for in loadAudience): those of
   * the other parties to its quality agreements, whose supervision relies on its inspections; with `asOf`, only
   * regulators onboarded by then (as withRegulators).
   */
  partnerRegulators(organizationId: number, asOf?: number): Set<number>;
};

/** Loads what `batchIds`, `agreementIds` and the partners of `partnersOf` need (and every organization's role and region). */
export async function loadAudience(
  db: Db,
  batchIds: Iterable<string>,
  agreementIds: Iterable<string> = [],
  partnersOf: Iterable<number> = [],
): Promise<Audience> {
  const ids = [...new Set(batchIds)];
  const partners = new Map<number, Set<number>>();
  const wantedPartners = [...new Set(partnersOf)];
  for (let i = 0; i < wantedPartners.length; i += 500) {
    const slice = wantedPartners.slice(i, i + 500);
    const rows = await db
      .selectFrom("agreements")
      .select(["mah_id", "counterparty_id"])
      .where((eb) => eb.or([eb("mah_id", "in", slice), eb("counterparty_id", "in", slice)]))
      .execute();
    for (const a of rows) {
      for (const [one, other] of [
        [a.mah_id, a.counterparty_id],
        [a.counterparty_id, a.mah_id],
      ] as const) {
        if (!partners.has(one)) partners.set(one, new Set());
        partners.get(one)!.add(other);
      }
    }
  }
  const agreements = new Map<string, number[]>();
  const wantedAgreements = [...new Set(agreementIds)];
  for (let i = 0; i < wantedAgreements.length; i += 500) {
    const rows = await db
      .selectFrom("agreements")
      .select(["id", "mah_id", "counterparty_id"])
      .where("id", "in", wantedAgreements.slice(i, i + 500))
      .execute();
    for (const a of rows) agreements.set(a.id, [a.mah_id, a.counterparty_id]);
  }
  const organizations = await db.selectFrom("organizations").select(["id", "role", "region", "onboarded_at"]).execute();
  const regions = new Map(organizations.map((o) => [o.id, o.region]));
  const regulators = new Map<number, { id: number; since: number }[]>();
  for (const o of organizations) {
    if (o.role !== "REGULATOR") continue;
    const province = provinceOf(o.region);
    regulators.set(province, [...(regulators.get(province) ?? []), { id: o.id, since: Number(o.onboarded_at) }]);
  }
  const batches = new Map<string, BatchParties>();
  const everHeld = new Map<string, Set<number>>();
  const holding = new Map<string, Set<number>>();
  const add = (map: Map<string, Set<number>>, batchId: string, organizationId: number) => {
    let set = map.get(batchId);
    if (!set) map.set(batchId, (set = new Set()));
    set.add(organizationId);
  };
  for (let i = 0; i < ids.length; i += 500) {
    const slice = ids.slice(i, i + 500);
    const rows = await db
      .selectFrom("batches")
      .select(["id", "mah_id", "cmo_id", "expires_at", "product_id", "agreement_id"])
      .where("id", "in", slice)
      .execute();
    for (const b of rows) {
      batches.set(b.id, { mahId: b.mah_id, cmoId: b.cmo_id, expiresAt: b.expires_at, productId: b.product_id, agreementId: b.agreement_id });
    }
    const holdings = await db.selectFrom("holdings").select(["batch_id", "organization_id", "quantity"]).where("batch_id", "in", slice).execute();
    for (const h of holdings) {
      add(everHeld, h.batch_id, h.organization_id);
      if (h.quantity > 0) add(holding, h.batch_id, h.organization_id);
    }
    const incoming = await db
      .selectFrom("shipments")
      .select(["batch_id", "recipient_id"])
      .where("batch_id", "in", slice)
      .where("status", "=", "IN_TRANSIT")
      .execute();
    for (const s of incoming) {
      add(everHeld, s.batch_id, s.recipient_id);
      add(holding, s.batch_id, s.recipient_id);
    }
  }

  function ofBatch(batchId: string, options: { holders?: boolean } = {}) {
    const parties = batches.get(batchId);
    const set = new Set<number>(parties ? [parties.mahId, parties.cmoId] : []);
    if (options.holders) for (const id of holding.get(batchId) ?? []) set.add(id);
    return set;
  }

  function withRegulators(organizationIds: Iterable<number>, batchId?: string | null, asOf = Infinity) {
    const set = new Set(organizationIds);
    const touched = new Set(set);
    if (batchId) {
      const parties = batches.get(batchId);
      if (parties) touched.add(parties.mahId).add(parties.cmoId);
      for (const id of everHeld.get(batchId) ?? []) touched.add(id);
    }
    for (const id of touched) {
      const region = regions.get(id);
      if (region === undefined) continue;
      for (const regulator of regulators.get(provinceOf(region)) ?? []) if (regulator.since <= asOf) set.add(regulator.id);
    }
    return set;
  }

  return {
    batch: (id) => batches.get(id),
    ofBatch,
    withRegulators,
    regionOf: (id) => regions.get(id),
    agreementParties: (id) => agreements.get(id) ?? [],
    partnerRegulators(organizationId, asOf = Number.POSITIVE_INFINITY) {
      const own = regions.get(organizationId);
      const set = new Set<number>();
      for (const partner of partners.get(organizationId) ?? []) {
        const region = regions.get(partner);
        if (region === undefined || (own !== undefined && provinceOf(region) === provinceOf(own))) continue;
        for (const regulator of regulators.get(provinceOf(region)) ?? []) if (regulator.since <= asOf) set.add(regulator.id);
      }
      return set;
    },
  };
}
