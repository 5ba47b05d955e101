import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { id as hashText } from "ethers";
import request from "supertest";
import { createApp } from "../../src/api/app";
import { batchEventPages, EPCIS_CONTEXT, epcisDocument, packIdsOf, packKeysOf } from "../../src/api/epcis";
import { findBatch } from "../../src/api/batches";
import { epcisNames, toEpcisDocument } from "../../src/epcis/export";
import { DeviationKind } from "../../src/ledger";
import {
  acknowledgeRecall,
  batchRecordMessage,
  closeDeviation,
  closeRecall,
  destroy,
  handOver,
  openDeviation,
  placeHold,
  receive,
  recordBatch,
  registerProduct,
  releaseFromFactory,
  releaseHold,
  releaseToMarket,
  ship,
  signQualityAgreement,
  startRecall,
} from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness, dispensePacks, HARNESS_PUBLIC_URL, packsFor } from "./harness";
import { endOfChinaDay } from "../../src/ledger/expiry";
import type { ApiHarness } from "./harness";

type EpcisEvent = Record<string, unknown> & {
  action: string;
  bizStep?: string;
  disposition?: string;
  quantityList: { epcClass: string; quantity?: number }[];
};

describe("EPCIS 2.0 export of a batch's history", () => {
  let h: ApiHarness;
  let batchId: string;
  let nmpaBatchId: string;
  const shipments: string[] = [];

  const epcis = async (id: string, who: Party | undefined, status: number) => {
    const token = who ? await h.tokenFor(who) : undefined;
    const req = request(h.app).get(`/v1/batches/${id}/epcis`);
    return (token ? req.set("authorization", `Bearer ${token}`) : req).expect(status);
  };
  const orgUrn = (party: Party) => `${HARNESS_PUBLIC_URL}/v1/organizations/${party.id}`;
  const siteOf = (party: Party) => ({ id: `${orgUrn(party)}#premises` });
  let dispensedSerials: string[];

  beforeAll(async () => {
    h = await apiHarness();
    const { c } = h;
    // Every kind of batch event: deviation and closure, both releases, two hand-overs (one short), dispensing,
    // destruction, a recall acknowledged by every holder and closed.
    const { tree, packs, printed } = await packsFor("B-2024-020", 8);
    // Packs of this batch print (17) 311231: valid to the end of 2031-12-31, China time.
    batchId = await recordBatch(c, "B-2024-020", { quantity: 10n, codesRoot: tree.root, expiresAt: endOfChinaDay("2031-12-31") });
    const reportHash = hashText("OOT assay trend");
    const report = await c.sign("BatchLedger", "DeviationReport", c.cmo.key, {
      organizationId: c.cmo.id,
      batchId,
      kind: DeviationKind.OutOfTrend,
      severity: 1,
      category: 5,
      reportHash,
    });
    await c.batches.openDeviation(report.message as never, report.signature);
    const closure = await c.sign("BatchLedger", "DeviationClosure", c.cmo.key, {
      organizationId: c.cmo.id,
      batchId,
      reportHash,
      rootCause: 6,
      batchImpact: 1,
      closureHash: hashText("CAPA"),
    });
    await c.batches.closeDeviation(closure.message as never, closure.signature);
    await releaseFromFactory(c, batchId);
    await releaseToMarket(c, batchId);
    shipments.push(await handOver(c, c.cmo, c.distributor, batchId, 6n));
    const { shipmentId } = await ship(c, c.distributor, c.dispenser, batchId, 4n);
    shipments.push(shipmentId);
    await receive(c, c.dispenser, c.distributor, batchId, shipmentId, 4n, 3n);
    await dispensePacks(
      c,
      c.dispenser,
      batchId,
      tree,
      packs.slice(0, 2).map((p) => p.key),
    );
    dispensedSerials = packs.slice(0, 2).map((p) => `https://id.gs1.org/01/${p.gtin}/21/${encodeURIComponent(p.serial)}`);
    await destroy(c, c.dispenser, batchId, 1n);
    await startRecall(c, c.mah, batchId, 1);
    await acknowledgeRecall(c, c.cmo, batchId, 4n);
    await acknowledgeRecall(c, c.distributor, batchId, { quarantined: 1n, missing: 1n });
    await closeRecall(c, c.mah, batchId);

    // A product known by its 7-digit NMPA drug code, with a lot number that needs escaping.
    const nmpaProduct = await registerProduct(c, c.mah, "8612345");
    const agreementId = await signQualityAgreement(c, c.mah, c.cmo, nmpaProduct);
    const record = await batchRecordMessage(c, "LOT 24/01", { agreementId, quantity: 5n });
    const signed = await c.sign("BatchLedger", "BatchRecord", c.cmo.key, record);
    await c.batches.recordBatch(signed.message as never, signed.signature);
    nmpaBatchId = await c.batches.batchId(nmpaProduct, "LOT 24/01");
    await h.indexer.catchUp();
    await h.services.codes.register({ batchId: batchId.toLowerCase(), codes: printed, by: c.cmo.id, now: h.services.now() });
  });
  afterAll(async () => h.close());

  it("answers a GS1 EPCIS 2.0 JSON-LD document", async () => {
    const before = h.services.now();
    const res = await epcis(batchId, h.c.mah, 200);
    const after = h.services.now();
    expect(res.headers["content-type"]).to.match(/^application\/ld\+json/);
    const document = res.body;
    expect(document["@context"][0]).to.equal(EPCIS_CONTEXT);
    expect(document["@context"][1]).to.deep.equal({ trace: "urn:trace:epcis:", cbvmda: "urn:epcglobal:cbv:mda:" });
    expect([document.type, document.schemaVersion]).to.deep.equal(["EPCISDocument", "2.0"]);
    expect(Date.parse(document.creationDate) / 1000).to.be.within(before, after);
    expect(epcisDocument.safeParse(document).success).to.equal(true);
    const events = document.epcisBody.eventList as EpcisEvent[];
    expect(events.every((e) => e.type === "ObjectEvent" && e.eventTimeZoneOffset === "+08:00")).to.equal(true);
    expect(new Set(events.map((e) => e.eventID)).size).to.equal(events.length);
    // Every extension is namespaced, so JSON-LD processors keep it.
    const keys = new Set(events.flatMap((e) => Object.keys(e)));
    const standard = [
      "type",
      "eventID",
      "eventTime",
      "eventTimeZoneOffset",
      "action",
      "bizStep",
      "disposition",
      "epcList",
      "quantityList",
      "readPoint",
      "bizLocation",
      "sourceList",
      "destinationList",
      "bizTransactionList",
      "ilmd",
    ];
    expect([...keys].filter((key) => !standard.includes(key) && !key.startsWith("trace:"))).to.deep.equal([]);
  });

  it("is written as it is read, a page of ledger events at a time: sent chunked, the document toEpcisDocument builds whole", async () => {
    const res = await epcis(batchId, h.c.regulator, 200);
    expect([res.headers["transfer-encoding"], res.headers["content-length"]]).to.deep.equal(["chunked", undefined]);
    const events = await h.store.db
      .selectFrom("ledger_events")
      .selectAll()
      .where("batch_id", "=", batchId)
      .orderBy("block_number")
      .orderBy("log_index")
      .execute();
    const batch = await findBatch(h.services, batchId);
    const packKeys = await packKeysOf(h.store, batchId, packIdsOf(events));
    const createdAt = Date.parse(res.body.creationDate as string) / 1000;
    expect(res.body).to.deep.equal(toEpcisDocument(batch, events, createdAt, epcisNames(HARNESS_PUBLIC_URL), packKeys));
    const pages = [];
    for await (const page of batchEventPages(h.store, batchId, 3)) pages.push(page);
    expect(pages.map((page) => page.length)).to.deep.equal(
      events
        .map((_, i) => i)
        .filter((i) => i % 3 === 0)
        .map((i) => Math.min(3, events.length - i)),
    );
    expect(pages.flat()).to.deep.equal(events);
  });

  it("maps each ledger event to an ObjectEvent with its CBV business step and disposition", async () => {
    const events = (await epcis(batchId, h.c.regulator, 200)).body.epcisBody.eventList as EpcisEvent[];
    expect(events.map((e) => [e["trace:ledgerEvent"], e.action, e.bizStep ?? null, e.disposition ?? null])).to.deep.equal([
      ["BatchRecorded", "ADD", "commissioning", "active"],
      ["DeviationOpened", "OBSERVE", "inspecting", null],
      ["DeviationClosed", "OBSERVE", "inspecting", null],
      ["BatchFactoryReleased", "OBSERVE", "inspecting", "conformant"],
      ["BatchMarketReleased", "OBSERVE", "inspecting", "sellable_not_accessible"],
      ["BatchShipped", "OBSERVE", "shipping", "in_transit"],
      ["ShipmentReceived", "OBSERVE", "receiving", "in_progress"],
      ["BatchShipped", "OBSERVE", "shipping", "in_transit"],
      ["ShipmentReceived", "OBSERVE", "receiving", "in_progress"],
      ["PacksDispensed", "OBSERVE", "dispensing", "dispensed"],
      ["StockDestroyed", "DELETE", "destroying", "destroyed"],
      ["RecallStarted", "OBSERVE", "holding", "recalled"],
      ["RecallAcknowledged", "OBSERVE", "holding", "recalled"],
      ["RecallAcknowledged", "OBSERVE", "holding", "recalled"],
      ["RecallClosed", "OBSERVE", null, null],
    ]);
    const lot = "https://id.gs1.org/01/06901234567892/10/B-2024-020";
    expect(events.map((e) => e.quantityList)).to.deep.equal([
      [{ epcClass: lot, quantity: 10 }],
      [{ epcClass: lot }],
      [{ epcClass: lot }],
      [{ epcClass: lot }],
      [{ epcClass: lot }],
      [{ epcClass: lot, quantity: 6 }],
      [{ epcClass: lot, quantity: 6 }],
      [{ epcClass: lot, quantity: 4 }],
      [{ epcClass: lot, quantity: 3 }],
      [],
      [{ epcClass: lot, quantity: 1 }],
      [{ epcClass: lot }],
      [{ epcClass: lot, quantity: 4 }],
      [{ epcClass: lot, quantity: 1 }],
      [{ epcClass: lot }],
    ]);
  });

  it("carries when, where, who and the ledger's proof of each event", async () => {
    const { c } = h;
    const events = (await epcis(batchId, c.cmo, 200)).body.epcisBody.eventList as EpcisEvent[];
    const rows = await h.store.db
      .selectFrom("ledger_events")
      .selectAll()
      .where("batch_id", "=", batchId.toLowerCase())
      .orderBy("block_number")
      .orderBy("log_index")
      .execute();
    expect(events.map((e) => [e.eventTime, e["trace:txHash"], e["trace:signer"], e["trace:verification"]])).to.deep.equal(
      rows.map((row) => [new Date((row.block_time + 8 * 3600) * 1000).toISOString().replace("Z", "+08:00"), row.tx_hash, row.signer, "verified"]),
    );
    expect(events.map((e) => e.eventID)).to.deep.equal(rows.map((row) => `${HARNESS_PUBLIC_URL}/v1/events/${row.tx_hash}/${row.log_index}`));

    const [
      recorded,
      opened,
      ,
      factory,
      market,
      shipped,
      received,
      ,
      shortReceipt,
      dispensed,
      destroyed,
      recall,
      acknowledged,
      accountedShort,
      closed,
    ] = events;
    expect(recorded!.ilmd, "the date the packs print, not the day after").to.deep.equal({
      "cbvmda:lotNumber": "B-2024-020",
      "cbvmda:itemExpirationDate": "2031-12-31",
    });
    expect([recorded!.readPoint, recorded!.bizLocation, recorded!["trace:organization"], recorded!["trace:mah"]]).to.deep.equal([
      siteOf(c.cmo),
      siteOf(c.cmo),
      orgUrn(c.cmo),
      orgUrn(c.mah),
    ]);
    expect([opened!["trace:deviationKind"], opened!["trace:deviationStatus"]]).to.deep.equal(["OOT", "open"]);
    expect([factory!["trace:release"], market!["trace:release"], market!["trace:organization"]]).to.deep.equal(["factory", "market", orgUrn(c.mah)]);

    expect([shipped!.sourceList, shipped!.destinationList, shipped!.bizTransactionList]).to.deep.equal([
      [
        { type: "owning_party", source: orgUrn(c.cmo) },
        { type: "possessing_party", source: orgUrn(c.cmo) },
      ],
      [
        { type: "owning_party", destination: orgUrn(c.distributor) },
        { type: "possessing_party", destination: orgUrn(c.distributor) },
      ],
      [{ type: "desadv", bizTransaction: `${HARNESS_PUBLIC_URL}/v1/shipments/${shipments[0]!.toLowerCase()}` }],
    ]);
    expect(received!.bizTransactionList).to.deep.equal(shipped!.bizTransactionList);
    expect([received!.bizLocation, received!["trace:organization"]]).to.deep.equal([siteOf(c.distributor), orgUrn(c.distributor)]);
    expect([shortReceipt!["trace:shippedQuantity"], shortReceipt!["trace:receivedQuantity"]]).to.deep.equal([4, 3]);
    expect(dispensed!.bizLocation).to.deep.equal(siteOf(c.dispenser));
    expect(destroyed!.bizLocation).to.deep.equal(siteOf(c.dispenser));
    expect([recall!["trace:recallLevel"], recall!["trace:organization"]]).to.deep.equal(["I", orgUrn(c.mah)]);
    expect([acknowledged!.bizLocation, acknowledged!["trace:quarantinedQuantity"]]).to.deep.equal([siteOf(c.cmo), 4]);
    const account = (e: EpcisEvent) => ["quarantined", "dispensed", "destroyed", "missing"].map((q) => e[`trace:${q}Quantity`]);
    expect(account(accountedShort!), "the distributor's 2: one quarantined, one missing").to.deep.equal([1, 0, 0, 1]);
    expect(closed!["trace:recallStatus"]).to.equal("closed");
  });

  it("maps a hold, placed by a deviation on the market or by a regulator, as not sellable; its release as sellable again", async () => {
    const { c } = h;
    const held = await recordBatch(c, "B-2024-021", { quantity: 5n });
    await releaseFromFactory(c, held);
    await releaseToMarket(c, held);
    await openDeviation(c, c.cmo, held, { kind: DeviationKind.OutOfSpecification, reportHash: hashText("OOS") });
    await closeDeviation(c, c.cmo, held, { reportHash: hashText("OOS") });
    await releaseHold(c, c.mah, held, "OOS invalidated");
    await placeHold(c, c.regulator, held, "complaints");
    await startRecall(c, c.mah, held, 2);
    await h.indexer.catchUp();
    const events = (await epcis(held, h.c.mah, 200)).body.epcisBody.eventList as EpcisEvent[];
    expect(
      events
        .slice(3)
        .map((e) => [e["trace:ledgerEvent"], e.bizStep ?? null, e.disposition ?? null, e["trace:hold"] ?? null, e["trace:reasonHash"] ?? null]),
    ).to.deep.equal([
      ["DeviationOpened", "inspecting", "non_sellable_other", "placed", null],
      ["DeviationClosed", "inspecting", null, null, null],
      ["BatchHoldReleased", "inspecting", "sellable_not_accessible", "released", hashText("OOS invalidated")],
      ["BatchPlacedOnHold", "holding", "non_sellable_other", "placed", hashText("complaints")],
      ["RecallStarted", "holding", "recalled", null, hashText("recall reason")],
    ]);
  });

  it("names a batch of an NMPA-coded product by an HTTP URI under the deployment's public URL", async () => {
    const events = (await epcis(nmpaBatchId, h.c.mah, 200)).body.epcisBody.eventList as EpcisEvent[];
    expect(events.map((e) => e.quantityList)).to.deep.equal([
      [{ epcClass: `${HARNESS_PUBLIC_URL}/v1/products/8612345/lots/LOT%2024%2F01`, quantity: 5 }],
    ]);
  });

  it("uses no identifier under the unregistered urn:trace: namespace", async () => {
    const document = (await epcis(batchId, h.c.regulator, 200)).body;
    const values = JSON.stringify(document.epcisBody).match(/"urn:[^"]*"/g) ?? [];
    expect(values).to.deep.equal([]);
  });

  it("names dispensed packs by serial to regulators and the MAH, by count to the CMO; never by the chain's pack hash", async () => {
    const dispensing = async (who: Party) =>
      ((await epcis(batchId, who, 200)).body.epcisBody.eventList as EpcisEvent[]).find((e) => e["trace:ledgerEvent"] === "PacksDispensed")!;
    for (const who of [h.c.regulator, h.c.mah]) {
      const event = await dispensing(who);
      // In the dispensing's own order, which its multiproof sets (the leaves' order in the tree), not the test's.
      expect([[...(event.epcList as string[])].sort(), event.quantityList]).to.deep.equal([[...dispensedSerials].sort(), []]);
    }
    const counted = await dispensing(h.c.cmo);
    expect([counted.epcList, counted.quantityList]).to.deep.equal([
      undefined,
      [{ epcClass: "https://id.gs1.org/01/06901234567892/10/B-2024-020", quantity: 2 }],
    ]);
    expect(Object.keys(counted)).not.to.include("trace:packs");
  });

  it("counts dispensed packs whose codes were never registered, since it cannot name them", async () => {
    const events = (await epcis(h.batches.released.batchId, h.c.regulator, 200)).body.epcisBody.eventList as EpcisEvent[];
    const dispensed = events.find((e) => e["trace:ledgerEvent"] === "PacksDispensed")!;
    expect([dispensed.epcList, dispensed.quantityList]).to.deep.equal([
      undefined,
      [{ epcClass: "https://id.gs1.org/01/06901234567892/10/B-2024-001", quantity: 2 }],
    ]);
  });

  it("is read as provenance is: regulators and the batch's MAH and CMO; refused to anyone else", async () => {
    for (const who of [h.c.regulator, h.c.regulator2, h.c.mah, h.c.cmo]) await epcis(batchId, who, 200);
    const stranger = await epcis(batchId, h.c.distributor2, 403);
    expect(stranger.body.error.code).to.equal("NOT_YOUR_BATCH");
    expect(stranger.headers["content-type"]).to.match(/^application\/json/);
    expect((await epcis(batchId, h.c.distributor, 403)).body.error.code).to.equal("PROVENANCE_RESTRICTED");
    expect((await epcis(batchId, undefined, 401)).body.error.code).to.equal("TOKEN_REQUIRED");
    expect((await epcis(`0x${"12".repeat(32)}`, h.c.mah, 404)).body.error.code).to.equal("UNKNOWN_BATCH");
  });

  it("is refused, not served with ambiguous identifiers, by an API given no public URL", async () => {
    const { publicUrl: _, ...config } = h.services.config;
    const app = createApp({ ...h.services, config });
    const res = await request(app)
      .get(`/v1/batches/${batchId}/epcis`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.mah)}`)
      .expect(500);
    expect(res.body.error.code).to.equal("NO_PUBLIC_URL");
  });

  it("is in the OpenAPI document", async () => {
    const res = await request(h.app).get("/openapi.json").expect(200);
    expect(res.body.paths["/v1/batches/{batchId}/epcis"].get.responses).to.have.property("200");
  });
});
