import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { Wallet, id as hashText } from "ethers";
import {
  alertCaseKey,
  alertKeyHash,
  CaseStatus,
  DeviationKind,
  InspectionGrade,
  InspectionScope,
  PackState,
  PersonRole,
  RecallLevel,
  RiskClass,
  RiskLevel,
  Role,
  SuspectOutcome,
} from "../../src/ledger";
import { DEFAULT_ALERT_CONFIG } from "../../src/alerts/config";
import { evaluateDeadlines } from "../../src/alerts/deadlines";
import { applyRange } from "../../src/indexer/ranges";
import type { Store } from "../../src/store";
import { dumpTables } from "./dump";
import { freshStore, STORE_KINDS } from "./stores";
import { LEDGER_EVENT_NAMES, syntheticConsortium } from "./synthetic";
import type { SyntheticConsortium } from "./synthetic";

/**
 * Each ledger event's effect on the read model. Events are fabricated (ABI-encoded, properly signed) and applied
 * through the indexer's own range path, one range per step, so every step reads what the previous one stored.
 */
const T_DUE = 1_900_000_000;

describe.each(STORE_KINDS)("read model on %s", (kind) => {
  let store: Store;
  let s: SyntheticConsortium;

  beforeEach(async () => {
    store = await freshStore(kind);
    s = await syntheticConsortium();
    expect((await s.ledger.apply(store)).problems).to.deep.equal([]);
  });
  afterEach(async () => {
    await store.close();
  });

  /** Applies what was added since the last step and expects it to fit. */
  async function step() {
    const { problems } = await s.ledger.apply(store);
    expect(problems).to.deep.equal([]);
  }
  /** The time of the block the last event landed in. */
  const now = () => s.ledger.block(s.ledger.head).timestamp;
  const batch = (id: string) => store.db.selectFrom("batches").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const holding = async (batchId: string, organizationId: number) =>
    store.db.selectFrom("holdings").selectAll().where("batch_id", "=", batchId).where("organization_id", "=", organizationId).executeTakeFirst();
  const quantityHeld = async (batchId: string, organizationId: number) => (await holding(batchId, organizationId))?.quantity ?? 0;

  describe("consortium registry", () => {
    it("OrganizationOnboarded adds the organization, active, with its first signing key; the bootstrap is unsigned", async () => {
      const organizations = await store.db.selectFrom("organizations").selectAll().orderBy("id").execute();
      expect(organizations.map((o) => [o.id, o.role, o.status, o.onboarded_by])).to.deep.equal([
        [s.regulator.id, "REGULATOR", "ACTIVE", 0],
        [s.mah.id, "MAH", "ACTIVE", s.regulator.id],
        [s.cmo.id, "CMO", "ACTIVE", s.regulator.id],
        [s.distributor.id, "DISTRIBUTOR", "ACTIVE", s.regulator.id],
        [s.distributor2.id, "DISTRIBUTOR", "ACTIVE", s.regulator.id],
        [s.dispenser.id, "DISPENSER", "ACTIVE", s.regulator.id],
      ]);
      expect(organizations[1]).to.include({ name: "Suzhou B-Pharma", region: 330000, licence_hash: hashText("licence Suzhou B-Pharma") });
      expect(organizations[1]!.onboarded_at).to.equal(s.ledger.block(2).timestamp);

      const keys = await store.db.selectFrom("signing_keys").selectAll().orderBy("organization_id").execute();
      const parties = [s.regulator, s.mah, s.cmo, s.distributor, s.distributor2, s.dispenser];
      expect(keys.map((k) => [k.organization_id, k.address, k.revoked, k.revoked_at])).to.deep.equal(
        parties.map((p) => [p.id, p.key.address.toLowerCase(), 0, null]),
      );

      const events = await store.db.selectFrom("ledger_events").selectAll().orderBy("block_number").execute();
      expect(events[0]).to.include({ name: "OrganizationOnboarded", verification: "bootstrap", signer: null, problem: null });
      expect(events[1]).to.include({
        name: "OrganizationOnboarded",
        verification: "verified",
        signer: s.regulator.key.address.toLowerCase(),
        signer_organization_id: s.regulator.id,
        organization_id: s.regulator.id,
      });
    });

    it("OrganizationSuspended and OrganizationReinstated change the organization's status", async () => {
      await s.ledger.suspend(s.regulator, s.distributor.id);
      await step();
      const status = async () =>
        (await store.db.selectFrom("organizations").select("status").where("id", "=", s.distributor.id).executeTakeFirstOrThrow()).status;
      expect(await status()).to.equal("SUSPENDED");
      await s.ledger.reinstate(s.regulator, s.distributor.id);
      await step();
      expect(await status()).to.equal("ACTIVE");
    });

    it("SigningKeyAdded registers another key of the organization and SigningKeyRevoked revokes it", async () => {
      const second = await s.ledger.addKey(s.cmo);
      await step();
      const addedAt = now();
      const key = () => store.db.selectFrom("signing_keys").selectAll().where("address", "=", second.address.toLowerCase()).executeTakeFirstOrThrow();
      expect(await key()).to.deep.equal({
        address: second.address.toLowerCase(),
        organization_id: s.cmo.id,
        revoked: 0,
        added_at: addedAt,
        revoked_at: null,
      });
      await s.ledger.revokeKey(s.cmo, second.address);
      await step();
      expect(await key()).to.include({ revoked: 1, revoked_at: now(), added_at: addedAt });
    });
  });

  describe("products and agreements", () => {
    it("ProductRegistered adds the product under its MAH", async () => {
      const product = await store.db.selectFrom("products").selectAll().executeTakeFirstOrThrow();
      expect(product).to.deep.equal({
        id: s.productId,
        product_code: "06901234567892",
        approval_number: "国药准字H34567892",
        name: "Product 06901234567892",
        mah_id: s.mah.id,
        registered_at: s.ledger.block(7).timestamp,
      });
    });

    it("AgreementSigned adds the agreement in force and AgreementRevoked revokes it", async () => {
      const agreement = () => store.db.selectFrom("agreements").selectAll().where("id", "=", s.agreementId).executeTakeFirstOrThrow();
      expect(await agreement()).to.include({
        kind: "QUALITY",
        mah_id: s.mah.id,
        counterparty_id: s.cmo.id,
        product_id: s.productId,
        release_tester: "CMO",
        revoked: 0,
        revoked_at: null,
        signed_at: s.ledger.block(8).timestamp,
      });
      await s.ledger.revokeAgreement(s.cmo, s.agreementId);
      await step();
      expect(await agreement()).to.include({ revoked: 1, revoked_at: now() });
    });
  });

  describe("batches", () => {
    it("BatchRecorded adds the batch, manufactured, and credits the CMO with its quantity", async () => {
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 500);
      await step();
      expect(await batch(batchId)).to.include({
        product_id: s.productId,
        batch_number: "B-001",
        mah_id: s.mah.id,
        cmo_id: s.cmo.id,
        agreement_id: s.agreementId,
        quantity: 500,
        state: "MANUFACTURED",
        recall_status: "NONE",
        recall_level: null,
        open_deviations: 0,
        in_transit: 0,
        recorded_at: now(),
        factory_released_at: null,
        market_released_at: null,
        release_refused_at: null,
        release_refusal_hash: null,
      });
      expect(await holding(batchId, s.cmo.id)).to.deep.equal({
        batch_id: batchId,
        organization_id: s.cmo.id,
        quantity: 500,
        recall_acknowledged: 0,
      });
    });

    it("DeviationOpened and DeviationClosed keep each deviation and the batch's count of open ones", async () => {
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 500);
      const oos = hashText("OOS assay");
      const deviation = hashText("temperature excursion");
      await s.ledger.openDeviation(s.cmo, batchId, oos, DeviationKind.OutOfSpecification);
      await step();
      await s.ledger.openDeviation(s.mah, batchId, deviation, DeviationKind.Deviation);
      await step();
      const openedAt = now();
      expect((await batch(batchId)).open_deviations).to.equal(2);
      await s.ledger.closeDeviation(s.cmo, batchId, oos);
      await step();
      expect((await batch(batchId)).open_deviations).to.equal(1);
      const rows = await store.db.selectFrom("deviations").selectAll().where("batch_id", "=", batchId).execute();
      const byHash = Object.fromEntries(rows.map((r) => [r.report_hash, r]));
      expect(byHash[oos]).to.include({
        kind: "OOS",
        status: "CLOSED",
        opened_by: s.cmo.id,
        closed_by: s.cmo.id,
        closed_at: now(),
        severity: "MINOR",
        category: "LABORATORY",
        root_cause: "MEASUREMENT",
        batch_impact: "NO_IMPACT",
      });
      expect(byHash[oos]!.closure_hash).to.equal(hashText(`closure of ${oos}`));
      expect(byHash[deviation]).to.include({
        kind: "DEVIATION",
        status: "OPEN",
        opened_by: s.mah.id,
        opened_at: openedAt,
        closed_by: null,
        closure_hash: null,
      });
    });

    it("CapaRecorded keeps the CAPA open with its owner and due date; CapaEffectivenessChecked records the MAH's verdict", async () => {
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 500);
      const report = hashText("granulation deviation");
      const plan = hashText("CAPA plan");
      await s.ledger.openDeviation(s.cmo, batchId, report, DeviationKind.Deviation);
      await s.ledger.recordCapa(s.cmo, batchId, report, plan, s.cmo.id, 2_000_000_000);
      await step();
      const recordedAt = now();
      const capa = () => store.db.selectFrom("capas").selectAll().where("batch_id", "=", batchId).executeTakeFirstOrThrow();
      expect(await capa()).to.deep.include({
        capa_hash: plan,
        report_hash: report,
        recorded_by: s.cmo.id,
        owner_id: s.cmo.id,
        due_at: 2_000_000_000,
        recorded_at: recordedAt,
        status: "OPEN",
        checked_by: null,
      });
      await s.ledger.checkCapa(s.mah, batchId, plan, false);
      await step();
      expect(await capa()).to.include({ status: "INEFFECTIVE", checked_by: s.mah.id, check_hash: hashText(`check of ${plan}`), checked_at: now() });
    });

    it("CapaRecorded for a deviation the model does not hold is recorded as a problem", async () => {
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 500);
      await s.ledger.recordCapa(s.cmo, batchId, hashText("never reported"), hashText("plan"), s.cmo.id, 2_000_000_000);
      const { problems } = await s.ledger.apply(store);
      expect(problems.map((p) => p.problem)).to.deep.equal([`CAPA for unknown deviation ${hashText("never reported")} of batch ${batchId}`]);
    });

    it("BatchFactoryReleased then BatchMarketReleased move the batch's state and stamp each release", async () => {
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 500);
      await s.ledger.releaseFromFactory(s.cmo, batchId);
      await step();
      const factoryAt = now();
      expect(await batch(batchId)).to.include({ state: "FACTORY_RELEASED", factory_released_at: factoryAt, market_released_at: null });
      await s.ledger.releaseToMarket(s.mah, batchId, { signerRole: PersonRole.QualifiedPerson, signerName: "王敏 Wang Min" });
      await step();
      expect(await batch(batchId)).to.include({ state: "MARKET_RELEASED", factory_released_at: factoryAt, market_released_at: now() });
      // the signer's name and role as the attestation states them, kept with the event for the batch view and provenance
      const released = await store.db
        .selectFrom("ledger_events")
        .select("payload")
        .where("name", "=", "BatchMarketReleased")
        .executeTakeFirstOrThrow();
      expect(JSON.parse(released.payload)).to.include({ signerRole: PersonRole.QualifiedPerson, signerName: "王敏 Wang Min" });
    });

    it("BatchReleaseRefused rejects the batch, stamping when and the reasons' hash", async () => {
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 500);
      await s.ledger.releaseFromFactory(s.cmo, batchId);
      await s.ledger.refuseRelease(s.mah, batchId);
      await step();
      expect(await batch(batchId)).to.include({
        state: "REJECTED",
        market_released_at: null,
        release_refused_at: now(),
        release_refusal_hash: hashText("reject"),
      });
    });
  });

  describe("custody", () => {
    let batchId: string;
    beforeEach(async () => {
      batchId = await s.releasedBatch("B-001", 100);
      await step();
    });

    it("BatchShipped records the shipment in transit and debits the shipper", async () => {
      const shipmentId = await s.ledger.ship(s.cmo, s.distributor, batchId, 30);
      await step();
      expect(await store.db.selectFrom("shipments").selectAll().executeTakeFirstOrThrow()).to.deep.equal({
        id: shipmentId,
        batch_id: batchId,
        shipper_id: s.cmo.id,
        recipient_id: s.distributor.id,
        quantity: 30,
        codes_root: "0x" + "0".repeat(64),
        status: "IN_TRANSIT",
        received_quantity: null,
        shipped_at: now(),
        received_at: null,
      });
      expect(await quantityHeld(batchId, s.cmo.id)).to.equal(70);
      expect(await quantityHeld(batchId, s.distributor.id)).to.equal(0);
      expect((await batch(batchId)).in_transit).to.equal(30);
    });

    it("ShipmentReceived credits the recipient, closes the shipment and counts a shortfall as missing", async () => {
      const full = await s.ledger.ship(s.cmo, s.distributor, batchId, 30);
      const short = await s.ledger.ship(s.cmo, s.distributor2, batchId, 20);
      await step();
      await s.ledger.receive(s.distributor, s.cmo, batchId, full, 30);
      await step();
      const receivedAt = now();
      await s.ledger.receive(s.distributor2, s.cmo, batchId, short, 20, 17);
      await step();
      const shipments = await store.db.selectFrom("shipments").selectAll().execute();
      const byId = Object.fromEntries(shipments.map((r) => [r.id, r]));
      expect(byId[full]).to.include({ status: "RECEIVED", received_quantity: 30, received_at: receivedAt });
      expect(byId[short]).to.include({ status: "RECEIVED", received_quantity: 17, received_at: now() });
      expect([
        await quantityHeld(batchId, s.cmo.id),
        await quantityHeld(batchId, s.distributor.id),
        await quantityHeld(batchId, s.distributor2.id),
      ]).to.deep.equal([50, 30, 17]);
      expect(await batch(batchId)).to.include({ in_transit: 0, missing: 3 });
    });

    it("PacksDispensed decommissions each pack and debits the dispenser", async () => {
      await s.ledger.handOver(s.cmo, s.dispenser, batchId, 10);
      await step();
      const packs = [hashText("pack 1"), hashText("pack 2"), hashText("pack 3")];
      await s.ledger.dispense(s.dispenser, batchId, packs);
      await step();
      const rows = await store.db.selectFrom("pack_states").selectAll().orderBy("pack").execute();
      expect(rows).to.deep.equal(
        [...packs].sort().map((pack) => ({ pack, batch_id: batchId, state: "DISPENSED", organization_id: s.dispenser.id, changed_at: now() })),
      );
      expect((await batch(batchId)).dispensed).to.equal(3);
      expect(await quantityHeld(batchId, s.dispenser.id)).to.equal(7);
    });

    it("PacksDispensed of a single pack (a one-element array) is verified and applied like any other", async () => {
      await s.ledger.handOver(s.cmo, s.dispenser, batchId, 10);
      await s.ledger.dispense(s.dispenser, batchId, [hashText("the only pack")]);
      await step();
      const event = await store.db.selectFrom("ledger_events").selectAll().where("name", "=", "PacksDispensed").executeTakeFirstOrThrow();
      expect(event.verification).to.equal("verified");
      expect(JSON.parse(event.payload).packs).to.deep.equal([hashText("the only pack")]);
      expect(await store.db.selectFrom("pack_states").select("pack").execute()).to.deep.equal([{ pack: hashText("the only pack") }]);
      expect(await quantityHeld(batchId, s.dispenser.id)).to.equal(9);
    });

    it("PackStatesChanged records each pack's state, counts it on the batch and takes stock-leaving states out of the holding", async () => {
      await s.ledger.handOver(s.cmo, s.distributor, batchId, 10);
      const [a, b, c, d] = ["pack 1", "pack 2", "pack 3", "pack 4"].map((text) => hashText(text));
      await s.ledger.changePackStates(s.distributor, batchId, [a!], PackState.Destroyed);
      await s.ledger.changePackStates(s.distributor, batchId, [b!], PackState.Stolen);
      await s.ledger.changePackStates(s.distributor, batchId, [c!], PackState.Sample);
      await s.ledger.changePackStates(s.distributor, batchId, [d!], PackState.Locked);
      await step();
      const rows = await store.db.selectFrom("pack_states").select(["pack", "state", "organization_id"]).orderBy("pack").execute();
      expect(rows).to.deep.equal(
        [
          { pack: a, state: "DESTROYED", organization_id: s.distributor.id },
          { pack: b, state: "STOLEN", organization_id: s.distributor.id },
          { pack: c, state: "SAMPLE", organization_id: s.distributor.id },
          { pack: d, state: "LOCKED", organization_id: s.distributor.id },
        ].sort((x, y) => x.pack!.localeCompare(y.pack!)),
      );
      expect(await batch(batchId)).to.include({ destroyed: 1, stolen: 1, sampled: 1, exported: 0 });
      expect(await quantityHeld(batchId, s.distributor.id)).to.equal(7);
    });

    it("PackStatesChanged to ACTIVE returns undone packs to the holding by the state they had; an unlock moves nothing", async () => {
      await s.ledger.handOver(s.cmo, s.dispenser, batchId, 10);
      const [a, b, c] = ["pack 1", "pack 2", "pack 3"].map((text) => hashText(text));
      await s.ledger.dispense(s.dispenser, batchId, [a!]);
      await s.ledger.changePackStates(s.dispenser, batchId, [b!], PackState.Exported);
      await s.ledger.changePackStates(s.dispenser, batchId, [c!], PackState.Locked);
      await step();
      expect(await quantityHeld(batchId, s.dispenser.id)).to.equal(8);
      await s.ledger.changePackStates(s.dispenser, batchId, [a!, b!, c!], PackState.Active);
      await step();
      const states = await store.db.selectFrom("pack_states").select("state").distinct().execute();
      expect(states).to.deep.equal([{ state: "ACTIVE" }]);
      expect(await batch(batchId)).to.include({ dispensed: 0, exported: 0 });
      expect(await quantityHeld(batchId, s.dispenser.id)).to.equal(10);
    });

    it("StockDestroyed debits the holder and counts the destroyed quantity", async () => {
      await s.ledger.destroy(s.cmo, batchId, 4);
      await step();
      expect((await batch(batchId)).destroyed).to.equal(4);
      expect(await quantityHeld(batchId, s.cmo.id)).to.equal(96);
    });
  });

  describe("recalls", () => {
    let batchId: string;
    beforeEach(async () => {
      batchId = await s.releasedBatch("B-001", 100);
      await s.ledger.handOver(s.cmo, s.distributor, batchId, 40);
      await step();
    });

    it("RecallStarted opens the recall and marks the batch recalled at its level", async () => {
      await s.ledger.startRecall(s.regulator, batchId, RecallLevel.II);
      await step();
      expect(await store.db.selectFrom("recalls").selectAll().executeTakeFirstOrThrow()).to.deep.equal({
        batch_id: batchId,
        level: "II",
        status: "OPEN",
        started_by: s.regulator.id,
        reason_hash: hashText("contamination"),
        started_at: now(),
        closed_by: null,
        report_hash: null,
        closed_at: null,
      });
      expect(await batch(batchId)).to.include({ recall_status: "OPEN", recall_level: "II" });
    });

    it("RecallAcknowledged records the quarantined quantity; stock received afterwards owes a new acknowledgement", async () => {
      const shipmentId = await s.ledger.ship(s.cmo, s.distributor, batchId, 10);
      await s.ledger.startRecall(s.mah, batchId, RecallLevel.I);
      await s.ledger.acknowledgeRecall(s.distributor, batchId, 40);
      await step();
      const acknowledgedAt = now();
      expect(await holding(batchId, s.distributor.id)).to.include({ quantity: 40, recall_acknowledged: 1 });
      expect(await store.db.selectFrom("recall_acknowledgements").selectAll().execute()).to.deep.equal([
        {
          batch_id: batchId,
          holder_id: s.distributor.id,
          quarantined_quantity: 40,
          dispensed_quantity: 0,
          destroyed_quantity: 0,
          missing_quantity: 0,
          acknowledged_at: acknowledgedAt,
        },
      ]);
      await s.ledger.receive(s.distributor, s.cmo, batchId, shipmentId, 10);
      await step();
      expect(await holding(batchId, s.distributor.id)).to.include({ quantity: 50, recall_acknowledged: 0 });
      await s.ledger.acknowledgeRecall(s.distributor, batchId, 50);
      await step();
      expect(await holding(batchId, s.distributor.id)).to.include({ recall_acknowledged: 1 });
      expect(await store.db.selectFrom("recall_acknowledgements").selectAll().execute()).to.deep.equal([
        {
          batch_id: batchId,
          holder_id: s.distributor.id,
          quarantined_quantity: 50,
          dispensed_quantity: 0,
          destroyed_quantity: 0,
          missing_quantity: 0,
          acknowledged_at: now(),
        },
      ]);
    });

    it("RecallAcknowledged takes what the holder says is gone (dispensed, destroyed, missing) out of its holding and counts it on the batch", async () => {
      await s.ledger.startRecall(s.mah, batchId, RecallLevel.II);
      await s.ledger.acknowledgeRecall(s.distributor, batchId, 30, { dispensed: 6, destroyed: 1, missing: 3 });
      await step();
      expect(await holding(batchId, s.distributor.id)).to.include({ quantity: 30, recall_acknowledged: 1 });
      expect(await batch(batchId)).to.include({ quantity: 100, in_transit: 0, dispensed: 6, destroyed: 1, missing: 3 });
      expect(await store.db.selectFrom("recall_acknowledgements").selectAll().executeTakeFirstOrThrow()).to.include({
        quarantined_quantity: 30,
        dispensed_quantity: 6,
        destroyed_quantity: 1,
        missing_quantity: 3,
      });
    });

    it("RecallClosed closes the recall with the MAH's report", async () => {
      await s.ledger.startRecall(s.mah, batchId, RecallLevel.III);
      await s.ledger.acknowledgeRecall(s.cmo, batchId, 60);
      await s.ledger.acknowledgeRecall(s.distributor, batchId, 40);
      await s.ledger.closeRecall(s.mah, batchId);
      await step();
      expect(await store.db.selectFrom("recalls").selectAll().executeTakeFirstOrThrow()).to.include({
        level: "III",
        status: "CLOSED",
        closed_by: s.mah.id,
        report_hash: hashText("report"),
        closed_at: now(),
      });
      expect(await batch(batchId)).to.include({ recall_status: "CLOSED", recall_level: "III" });
    });
  });

  describe("holds", () => {
    let batchId: string;
    beforeEach(async () => {
      batchId = await s.releasedBatch("B-001", 100);
      await step();
    });
    const hold = () => store.db.selectFrom("batch_holds").selectAll().where("batch_id", "=", batchId).executeTakeFirstOrThrow();

    it("DeviationOpened that places the batch on hold records the hold, caused by the deviation's report", async () => {
      await s.ledger.openDeviation(s.cmo, batchId, hashText("OOS"), DeviationKind.OutOfSpecification, true);
      await step();
      expect(await hold()).to.deep.equal({
        batch_id: batchId,
        status: "ON_HOLD",
        cause: "DEVIATION",
        placed_by: s.cmo.id,
        reason_hash: hashText("OOS"),
        placed_at: now(),
        released_by: null,
        release_reason_hash: null,
        ended_at: null,
      });
      expect(await batch(batchId)).to.include({ hold_status: "ON_HOLD", open_deviations: 1 });
    });

    it("DeviationOpened that does not place a hold leaves the batch unheld", async () => {
      await s.ledger.openDeviation(s.cmo, batchId, hashText("OOT"), DeviationKind.OutOfTrend, false);
      await step();
      expect(await batch(batchId)).to.include({ hold_status: "NONE", open_deviations: 1 });
      expect(await store.db.selectFrom("batch_holds").selectAll().execute()).to.deep.equal([]);
    });

    it("BatchPlacedOnHold then BatchHoldReleased: held by a regulator, released by the MAH with its reason", async () => {
      await s.ledger.placeHold(s.regulator, batchId);
      await step();
      const placedAt = now();
      expect(await hold()).to.include({
        status: "ON_HOLD",
        cause: "PLACED",
        placed_by: s.regulator.id,
        reason_hash: hashText("complaints"),
        placed_at: placedAt,
      });
      await s.ledger.releaseHold(s.mah, batchId);
      await step();
      expect(await hold()).to.include({
        status: "RELEASED",
        placed_at: placedAt,
        released_by: s.mah.id,
        release_reason_hash: hashText("investigation closed"),
        ended_at: now(),
      });
      expect(await batch(batchId)).to.include({ hold_status: "RELEASED" });
    });

    it("RecallStarted on a held batch ends the hold as escalated", async () => {
      await s.ledger.placeHold(s.mah, batchId);
      await s.ledger.startRecall(s.mah, batchId, RecallLevel.I);
      await step();
      expect(await hold()).to.include({ status: "ESCALATED", released_by: null, ended_at: now() });
      expect(await batch(batchId)).to.include({ hold_status: "ESCALATED", recall_status: "OPEN" });
    });

    it("BatchHoldReleased of a batch the model does not hold is recorded as a problem", async () => {
      await s.ledger.releaseHold(s.mah, batchId);
      const { problems } = await s.ledger.apply(store);
      expect(problems.map((p) => p.problem)).to.deep.equal([`batch ${batchId} is not on hold`]);
    });
  });

  describe("quality duties", () => {
    it("ResponsiblePersonAppointed then ResponsiblePersonRevoked: the product's named person, by key, name and role", async () => {
      const key = await s.ledger.addKey(s.mah);
      await s.ledger.appointPerson(s.mah, s.productId, key.address, PersonRole.QualifiedPerson, "王敏 Wang Min");
      await step();
      const appointedAt = now();
      const person = () => store.db.selectFrom("responsible_persons").selectAll().executeTakeFirstOrThrow();
      expect(await person()).to.deep.equal({
        product_id: s.productId,
        person_key: key.address.toLowerCase(),
        mah_id: s.mah.id,
        role: "QUALIFIED_PERSON",
        name: "王敏 Wang Min",
        revoked: 0,
        appointed_at: appointedAt,
        revoked_at: null,
        revocation_reason_hash: null,
      });
      await s.ledger.revokePerson(s.mah, s.productId, key.address);
      await step();
      expect(await person()).to.include({ revoked: 1, revoked_at: now(), revocation_reason_hash: hashText("left"), appointed_at: appointedAt });
    });

    it("ProductRiskClassified, SterileRecordsReferenced, TestCertificateIssued and QualityReviewFiled", async () => {
      const laboratory = await s.ledger.onboard(s.regulator, Role.Laboratory, "Zhejiang Drug Testing Laboratory");
      await s.ledger.classifyProduct(s.mah, s.productId, RiskClass.Vaccine);
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "V-1", 10);
      await s.ledger.referenceSterileRecords(s.cmo, batchId);
      await s.ledger.issueCertificate(laboratory, s.agreementId, batchId, false);
      await s.ledger.fileQualityReview(s.mah, s.productId, 2026, 2, RiskLevel.High);
      await step();
      expect(await store.db.selectFrom("product_risk_classes").selectAll().executeTakeFirstOrThrow()).to.include({
        product_id: s.productId,
        risk_class: "VACCINE",
        classified_by: s.mah.id,
      });
      expect(await store.db.selectFrom("batch_quality_records").selectAll().executeTakeFirstOrThrow()).to.include({
        batch_id: batchId,
        environmental_monitoring_hash: hashText("EM"),
        cleaning_record_hash: hashText("cleaning"),
        laboratory_id: laboratory.id,
        testing_agreement_id: s.agreementId,
        certificate_passed: 0,
      });
      expect(await store.db.selectFrom("quality_reviews").selectAll().executeTakeFirstOrThrow()).to.include({
        product_id: s.productId,
        year: 2026,
        quarter: 2,
        mah_id: s.mah.id,
        risk_level: "HIGH",
        review_hash: hashText("review 2026Q2"),
      });
    });
  });

  describe("communication log", () => {
    it("CommunicationTermsAgreed, QualityNoticeSent then QualityNoticeAcknowledged", async () => {
      await s.ledger.agreeCommunicationTerms(s.mah, s.agreementId, (1 << 1) | (1 << 3), 48 * 3600);
      await step();
      const terms = () => store.db.selectFrom("communication_terms").selectAll().executeTakeFirstOrThrow();
      expect(await terms()).to.include({ countersigned_by: null, countersigned_at: null });
      await s.ledger.countersignCommunicationTerms(s.cmo, s.agreementId, (1 << 1) | (1 << 3), 48 * 3600);
      const noticeId = await s.ledger.sendNotice(s.cmo, s.mah, s.agreementId, 2, 3, T_DUE);
      await step();
      expect(await terms()).to.include({
        agreement_id: s.agreementId,
        channels: 10,
        response_seconds: 48 * 3600,
        recorded_by: s.mah.id,
        countersigned_by: s.cmo.id,
      });
      expect((await terms()).countersigned_at).to.be.a("number");
      const notice = () => store.db.selectFrom("quality_notices").selectAll().executeTakeFirstOrThrow();
      expect(await notice()).to.include({
        id: noticeId,
        sender_id: s.cmo.id,
        recipient_id: s.mah.id,
        kind: "DEVIATION",
        channel: 3,
        due_at: T_DUE,
        acknowledged_at: null,
      });
      await s.ledger.acknowledgeNotice(s.mah, noticeId);
      await step();
      expect(await notice()).to.include({ acknowledged_at: now(), response_hash: hashText("received") });
    });
  });

  describe("shortage drugs and retained samples", () => {
    it("ShortageListingChanged, StopProductionReported, RetainedSamplesRecorded then RetainedSamplesApproved", async () => {
      await s.ledger.changeShortageListing(s.regulator, s.productId, true);
      await s.ledger.reportStopProduction(s.mah, s.productId, T_DUE);
      const batchId = await s.ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "RS-1", 10);
      await s.ledger.recordRetainedSamples(s.cmo, batchId, 12, 2_100_000_000, "留样室 B-3");
      await step();
      expect(await store.db.selectFrom("shortage_listings").selectAll().executeTakeFirstOrThrow()).to.include({
        product_id: s.productId,
        listed: 1,
        changed_by: s.regulator.id,
        basis_hash: hashText("shortage list"),
      });
      expect(await store.db.selectFrom("stop_production_reports").selectAll().executeTakeFirstOrThrow()).to.include({
        product_id: s.productId,
        stop_at: T_DUE,
        mah_id: s.mah.id,
      });
      const samples = () => store.db.selectFrom("retained_samples").selectAll().executeTakeFirstOrThrow();
      expect(await samples()).to.include({
        batch_id: batchId,
        cmo_id: s.cmo.id,
        quantity: 12,
        retain_until: 2_100_000_000,
        location: "留样室 B-3",
        approved_by: null,
        approval_hash: null,
        approved_at: null,
      });
      await s.ledger.changeShortageListing(s.mah, s.productId, false);
      await s.ledger.approveRetainedSamples(s.mah, batchId);
      await step();
      expect(await samples()).to.include({ approved_by: s.mah.id, approval_hash: hashText(`samples ${batchId}`) });
      expect(await store.db.selectFrom("shortage_listings").selectAll().executeTakeFirstOrThrow()).to.include({ listed: 0, changed_by: s.mah.id });
    });
  });

  describe("stop_production_unreported", () => {
    it("is raised once the planned stop (the quality agreement's end) is within the lead time and no report was filed", async () => {
      const agreement = await store.db.selectFrom("agreements").select("valid_until").where("id", "=", s.agreementId).executeTakeFirstOrThrow();
      const leadStart = agreement.valid_until - DEFAULT_ALERT_CONFIG.stopProductionReportLeadSeconds;
      const unreported = async (at: number) =>
        (await store.db.transaction().execute((trx) => evaluateDeadlines(trx, DEFAULT_ALERT_CONFIG, at))).drafts.filter(
          (d) => d.rule === "stop_production_unreported",
        );
      expect(await unreported(leadStart + 1)).to.deep.equal([]);
      await s.ledger.changeShortageListing(s.regulator, s.productId, true);
      await step();
      expect(await unreported(leadStart - 1)).to.deep.equal([]);
      const raised = await unreported(leadStart + 1);
      expect(raised.map((d) => [d.subject, d.organizationId, d.details.plannedStopAt])).to.deep.equal([
        [s.productId, s.mah.id, agreement.valid_until],
      ]);
      await s.ledger.reportStopProduction(s.mah, s.productId, agreement.valid_until);
      await step();
      expect(await unreported(leadStart + 1)).to.deep.equal([]);
    });
  });

  describe("a whole history", () => {
    /** Every kind of ledger event at least once. */
    async function everyEvent() {
      const l = s.ledger;
      const key = await l.addKey(s.distributor);
      await l.suspend(s.regulator, s.distributor2.id);
      await l.reinstate(s.regulator, s.distributor2.id);
      const batchId = await l.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-001", 100);
      await l.openDeviation(s.cmo, batchId, hashText("OOT"), DeviationKind.OutOfTrend);
      await l.closeDeviation(s.cmo, batchId, hashText("OOT"));
      await l.recordCapa(s.cmo, batchId, hashText("OOT"), hashText("CAPA"), s.cmo.id, 2_000_000_000);
      await l.checkCapa(s.mah, batchId, hashText("CAPA"), false);
      await l.releaseFromFactory(s.cmo, batchId);
      await l.releaseToMarket(s.mah, batchId);
      await l.handOver(s.cmo, s.distributor, batchId, 40);
      await l.handOver(s.distributor, s.dispenser, batchId, 15);
      await l.dispense(s.dispenser, batchId, [hashText("pack a"), hashText("pack b")]);
      await l.destroy(s.distributor, batchId, 5);
      await l.changePackStates(s.distributor, batchId, [hashText("pack c")], PackState.Stolen);
      await l.openDeviation(s.mah, batchId, hashText("OOS"), DeviationKind.OutOfSpecification, true);
      await l.closeDeviation(s.mah, batchId, hashText("OOS"));
      await l.releaseHold(s.mah, batchId);
      await l.placeHold(s.regulator, batchId);
      await l.startRecall(s.mah, batchId, RecallLevel.II);
      await l.acknowledgeRecall(s.cmo, batchId, 60);
      await l.acknowledgeRecall(s.distributor, batchId, 19);
      await l.acknowledgeRecall(s.dispenser, batchId, 10, { dispensed: 2, missing: 1 });
      await l.closeRecall(s.mah, batchId);
      await l.revokeKey(s.distributor, key.address);
      await l.revokeAgreement(s.mah, s.agreementId);
      await l.takeAlert(s.distributor, alertKeyHash("an alert's key"), s.distributor.id);
      await l.changeAlertStatus(s.distributor, alertCaseKey("an alert's key", s.distributor.id), CaseStatus.Closed);
      const reportId = await l.fileSuspectReport(s.distributor, batchId, []);
      await l.terminateSuspectReport(s.regulator, reportId, batchId, SuspectOutcome.Cleared);
      const laboratory = await l.onboard(s.regulator, Role.Laboratory, "Zhejiang Drug Testing Laboratory");
      const qp = await l.addKey(s.mah);
      await l.appointPerson(s.mah, s.productId, qp.address, PersonRole.QualifiedPerson, "王敏 Wang Min");
      await l.revokePerson(s.mah, s.productId, qp.address);
      await l.classifyProduct(s.mah, s.productId, RiskClass.Sterile);
      await l.referenceSterileRecords(s.cmo, batchId);
      await l.issueCertificate(laboratory, s.agreementId, batchId, true);
      await l.fileQualityReview(s.mah, s.productId, 2026, 3, RiskLevel.Medium);
      await l.agreeCommunicationTerms(s.mah, s.agreementId, 1 << 3, 48 * 3600);
      await l.countersignCommunicationTerms(s.cmo, s.agreementId, 1 << 3, 48 * 3600);
      await l.changeShortageListing(s.regulator, s.productId, true);
      await l.reportStopProduction(s.mah, s.productId, 2_000_000_000);
      await l.recordRetainedSamples(s.cmo, batchId, 12, 2_100_000_000, "留样室 B-3");
      await l.approveRetainedSamples(s.mah, batchId);
      const noticeId = await l.sendNotice(s.cmo, s.mah, s.agreementId, 1, 3, l.block(l.head).timestamp + 48 * 3600);
      await l.acknowledgeNotice(s.mah, noticeId);
      await l.commitAggregation(s.cmo, batchId, 2, 10);
      await l.unpackUnits(s.distributor, batchId, hashText("case 1"), [hashText("pack d")]);
      await l.recordLicence(s.regulator, s.cmo.id, 2_000_000_000);
      await l.reviewAgreement(s.regulator, s.agreementId, "opinion");
      await l.reviewAgreement(s.regulator, s.agreementId, "approval");
      const inspectionId = await l.inspect(s.regulator, s.cmo.id, InspectionScope.Routine, InspectionGrade.Compliant);
      await l.recogniseInspection(s.regulator, inspectionId, 33);
      await l.recordSampling(s.regulator, batchId, s.distributor.id, false);
      const rejected = await l.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, "B-REJ", 10);
      await l.refuseRelease(s.mah, rejected);
    }

    it("covers every ledger event, each verified and fitting the model, with who attested it", async () => {
      await everyEvent();
      await step();
      const events = await store.db.selectFrom("ledger_events").selectAll().orderBy("block_number").execute();
      expect([...new Set(events.map((e) => e.name))].sort()).to.deep.equal(LEDGER_EVENT_NAMES);
      expect(events.filter((e) => e.problem !== null || !["verified", "bootstrap"].includes(e.verification))).to.deep.equal([]);
      const shipped = events.find((e) => e.name === "BatchShipped")!;
      expect(shipped).to.include({
        contract: "BatchLedger",
        address: s.ledger.deployment.contracts.BatchLedger,
        organization_id: s.cmo.id,
        signer: s.cmo.key.address.toLowerCase(),
        signer_organization_id: s.cmo.id,
        block_time: s.ledger.block(shipped.block_number).timestamp,
      });
      expect(JSON.parse(shipped.payload)).to.include({ quantity: 40, shipperId: s.cmo.id, recipientId: s.distributor.id });
      expect(shipped.batch_id).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("is the same whether applied in one range or block by block", async () => {
      await everyEvent();
      await step();
      const byBlock = await freshStore(kind);
      try {
        for (let n = 1; n <= s.ledger.head; n++) {
          await applyRange(byBlock.db, s.ledger.deployment, s.ledger.identity(), s.ledger.range(n, n));
        }
        const [whole, stepwise] = [await dumpTables(store.db), await dumpTables(byBlock.db)];
        expect(stepwise).to.deep.equal(whole);
      } finally {
        await byBlock.close();
      }
    });
  });

  describe("events that do not fit the read model", () => {
    it("are recorded with the reason, reported, and never stop the range", async () => {
      const l = s.ledger;
      const batchId = await s.releasedBatch("B-001", 100);
      const unknownBatch = hashText("no such batch");
      const received = await l.ship(s.cmo, s.distributor, batchId, 10);
      await l.receive(s.distributor, s.cmo, batchId, received, 10);
      await step();
      const from = l.head + 1;

      const bad = [
        await l.receive(s.distributor, s.cmo, batchId, hashText("no such shipment"), 5),
        await l.receive(s.distributor, s.cmo, batchId, received, 10),
        await l.ship(s.distributor2, s.dispenser, batchId, 5).then(() => l.logs.at(-1)!),
        await l.releaseFromFactory(s.cmo, unknownBatch),
        await l.releaseToMarket(s.mah, unknownBatch),
        await l.ship(s.cmo, s.distributor, unknownBatch, 1).then(() => l.logs.at(-1)!),
        await l.dispense(s.dispenser, unknownBatch, [hashText("pack")]),
        await l.destroy(s.cmo, unknownBatch, 1),
        await l.openDeviation(s.cmo, unknownBatch, hashText("deviation")),
        await l.closeDeviation(s.cmo, batchId, hashText("never opened")),
        await l.startRecall(s.mah, unknownBatch, RecallLevel.I),
        await l.acknowledgeRecall(s.dispenser, batchId, 0),
        await l.closeRecall(s.mah, batchId),
        await l.suspend(s.regulator, 999),
        await l.reinstate(s.regulator, 998),
        await l.revokeKey(s.cmo, Wallet.createRandom().address),
        await l.revokeAgreement(s.mah, hashText("no such agreement")),
      ];
      const fits = await l.ship(s.cmo, s.distributor2, batchId, 7);

      const { events, problems } = await l.apply(store);
      expect(events).to.equal(bad.length + 1);
      expect(problems.map((p) => [p.blockNumber, p.logIndex, p.verification])).to.deep.equal(
        bad.map((log) => [log.blockNumber, log.index, "verified"]),
      );
      const reasons = problems.map((p) => p.problem);
      expect(reasons.slice(0, 3)).to.deep.equal([
        `no shipment ${hashText("no such shipment")} in transit for batch ${batchId}`,
        `no shipment ${received} in transit for batch ${batchId}`,
        `holding of organization ${s.distributor2.id} in batch ${batchId} would be -5`,
      ]);
      expect(reasons.slice(3, 9).every((r) => r!.includes(unknownBatch))).to.equal(true);
      expect(reasons.slice(9).every((r) => typeof r === "string" && r.length > 0)).to.equal(true);

      const rows = await store.db
        .selectFrom("ledger_events")
        .select(["block_number", "name", "problem", "verification"])
        .where("block_number", ">=", from)
        .orderBy("block_number")
        .execute();
      expect(rows.map((r) => r.problem)).to.deep.equal([...reasons, null]);
      expect(rows.at(-1)!.name).to.equal("BatchShipped");

      // What fits is still applied, after the misfits, and the checkpoint covers the whole range.
      const shipment = await store.db.selectFrom("shipments").selectAll().where("id", "=", fits).executeTakeFirstOrThrow();
      expect(shipment).to.include({ quantity: 7, status: "IN_TRANSIT", recipient_id: s.distributor2.id });
      expect(await quantityHeld(batchId, s.distributor.id)).to.equal(10);
      const checkpoint = await store.db.selectFrom("sync_state").selectAll().executeTakeFirstOrThrow();
      expect([checkpoint.block_number, checkpoint.block_hash]).to.deep.equal([l.head, l.block(l.head).hash]);
    });
  });
});
