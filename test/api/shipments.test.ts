import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

describe("GET /v1/shipments/:shipmentId", () => {
  let h: ApiHarness;
  /** cmo → distributor2 of the recalled batch, still in transit. */
  let inTransit: string;
  /** cmo → distributor of the released batch, received in full. */
  let received: string;

  const read = async (party: Party, shipmentId: string, status: number) =>
    request(h.app)
      .get(`/v1/shipments/${shipmentId}`)
      .set("authorization", `Bearer ${await h.tokenFor(party)}`)
      .expect(status);

  async function shipmentOf(batchId: string, recipientId: number) {
    const row = await h.store.db
      .selectFrom("shipments")
      .select("id")
      .where("batch_id", "=", batchId.toLowerCase())
      .where("recipient_id", "=", recipientId)
      .executeTakeFirstOrThrow();
    return row.id;
  }

  beforeAll(async () => {
    h = await apiHarness();
    inTransit = await shipmentOf(h.batches.recalled.batchId, h.c.distributor2.id);
    received = await shipmentOf(h.batches.released.batchId, h.c.distributor.id);
  });
  afterAll(async () => {
    await h.close();
  });

  it("shows the addressee a shipment in transit: batch, shipper, quantity and the transaction that shipped it", async () => {
    const { body } = await read(h.c.distributor2, inTransit, 200);
    expect(body).to.deep.include({ id: inTransit, quantity: 1, status: "IN_TRANSIT", receivedQuantity: null, receivedAt: null, consignment: null });
    expect(body.batch).to.include({ id: h.batches.recalled.batchId.toLowerCase(), batchNumber: "B-2024-002" });
    expect([body.shipper.id, body.addressee.id, body.batch.mah.id, body.batch.cmo.id]).to.deep.equal([
      h.c.cmo.id,
      h.c.distributor2.id,
      h.c.mah.id,
      h.c.cmo.id,
    ]);
    const shipped = await h.store.db
      .selectFrom("ledger_events")
      .select("tx_hash")
      .where("name", "=", "BatchShipped")
      .where("tx_hash", "=", body.transactions.shipped)
      .executeTakeFirst();
    expect(shipped, "the shipping transaction is the indexed BatchShipped event's").to.not.equal(undefined);
    expect(body.transactions.received).to.equal(null);
  });

  it("shows a received shipment with the received quantity and both transactions", async () => {
    const { body } = await read(h.c.distributor, received, 200);
    expect(body).to.deep.include({ status: "RECEIVED", quantity: 6, receivedQuantity: 6 });
    expect(body.receivedAt).to.be.a("number");
    expect(body.transactions.shipped).to.match(/^0x[0-9a-f]{64}$/);
    expect(body.transactions.received).to.match(/^0x[0-9a-f]{64}$/);
    const receipt = await h.c.relayer.provider!.getTransactionReceipt(body.transactions.received);
    expect(receipt?.status).to.equal(1);
  });

  it("is visible to the shipper, the batch's MAH and CMO and regulators, and to no one else", async () => {
    for (const party of [h.c.cmo, h.c.mah, h.c.regulator]) await read(party, inTransit, 200);
    for (const stranger of [h.c.dispenser, h.c.distributor]) {
      const { body } = await read(stranger, inTransit, 403);
      expect(body.error.code).to.equal("NOT_YOUR_SHIPMENT");
    }
    expect((await request(h.app).get(`/v1/shipments/${inTransit}`).expect(401)).body.error.code).to.equal("TOKEN_REQUIRED");
  });

  it("answers 404 for an unknown shipment and 400 for a malformed id", async () => {
    expect((await read(h.c.regulator, `0x${"ab".repeat(32)}`, 404)).body.error.code).to.equal("UNKNOWN_SHIPMENT");
    const bad = (await read(h.c.regulator, "0x1234", 400)).body.error;
    expect(bad.field).to.equal("shipmentId");
  });
});
