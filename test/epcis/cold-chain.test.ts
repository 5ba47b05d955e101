import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { silentLogger } from "../../src/log";
import { GTIN, ship } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness, HARNESS_PUBLIC_URL } from "../api/harness";
import type { ApiHarness } from "../api/harness";

describe("cold chain: sensor readings of shipments in EPCIS and the storage-range alert", () => {
  let h: ApiHarness;
  let shipmentId: string;
  const bearer = async (party: Party) => `Bearer ${await h.tokenFor(party)}`;
  const readings = (celsius: number[], id = shipmentId) => ({
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: "2026-01-01T00:00:00Z",
    epcisBody: {
      eventList: [
        {
          type: "ObjectEvent",
          eventTime: "2026-01-01T00:00:00Z",
          eventTimeZoneOffset: "+08:00",
          action: "OBSERVE",
          bizStep: "transporting",
          quantityList: [{ epcClass: `https://id.gs1.org/01/${GTIN}/10/B-2024-001` }],
          bizTransactionList: [{ type: "desadv", bizTransaction: `${HARNESS_PUBLIC_URL}/v1/shipments/${id}` }],
          sensorElementList: [
            {
              sensorMetadata: { time: "2026-01-01T00:00:00Z", deviceID: "urn:epc:id:giai:4000001.111" },
              sensorReport: celsius.map((value, i) => ({ type: "gs1:MT-Temperature", value, uom: "CEL", time: `2026-01-01T0${i}:00:00Z` })),
            },
          ],
        },
      ],
    },
  });

  beforeAll(async () => {
    h = await apiHarness();
    const { shipmentId: id } = await ship(h.c, h.c.distributor, h.c.dispenser, h.batches.released.batchId, 1n);
    shipmentId = id.toLowerCase();
    await h.indexer.catchUp();
  });
  afterAll(async () => {
    await h.close();
  });

  it("lets only the product's MAH set its storage range", async () => {
    const as = async (party: Party, body: object, status: number) =>
      (
        await request(h.app)
          .put(`/v1/products/${GTIN}/storage-range`)
          .set("authorization", await bearer(party))
          .send(body)
          .expect(status)
      ).body;
    expect((await as(h.c.distributor, { minCelsius: 2, maxCelsius: 8 }, 403)).error.code).to.equal("NOT_PRODUCT_MAH");
    expect((await as(h.c.mah, { minCelsius: 8, maxCelsius: 2 }, 400)).error.code).to.equal("INVALID_INPUT");
    expect(await as(h.c.mah, { minCelsius: 2, maxCelsius: 8 }, 200)).to.deep.include({ minCelsius: 2, maxCelsius: 8 });
  });

  it("records a shipment's readings from its shipper and raises one excursion alert when the range is broken", async () => {
    const capture = async (party: Party, document: object, status: number) =>
      (
        await request(h.app)
          .post("/epcis/capture")
          .set("authorization", await bearer(party))
          .send(document)
          .expect(status)
      ).body;
    const refused = await capture(h.c.cmo, readings([5]), 422);
    expect(refused.error.message).to.match(/only the shipper or the addressee/);
    const accepted = await capture(h.c.distributor, readings([4.5, 9.5, 12]), 202);
    expect([accepted.status, accepted.readings, accepted.attestations]).to.deep.equal(["ACCEPTED", 3, []]);
    const engine = createAlertEngine({ store: h.store, config: alertConfig(), log: silentLogger(), now: () => Math.floor(Date.now() / 1000) });
    await engine.catchUp();
    const alerts = await h.store.db.selectFrom("alerts").selectAll().where("rule", "=", "cold_chain_excursion").execute();
    expect(alerts.length).to.equal(1);
    expect([alerts[0]!.organization_id, alerts[0]!.subject]).to.deep.equal([h.c.distributor.id, shipmentId]);
    expect(alerts[0]!.message).to.match(/read 9\.5 °C in transit, outside its product's storage range 2 °C to 8 °C/);
  });
});
