import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { validateEpcis } from "../../src/epcis/validate";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";

describe("EPCIS exports against GS1's official EPCIS 2.0 JSON schema", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await apiHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const exported = async (batchId: string, who: Party) =>
    (
      await request(h.app)
        .get(`/v1/batches/${batchId}/epcis`)
        .set("authorization", `Bearer ${await h.tokenFor(who)}`)
        .expect(200)
    ).body;

  it("validates every export: each batch (released, dispensed, recalled, unreleased) as each reader sees it", async () => {
    for (const batch of Object.values(h.batches)) {
      for (const who of [h.c.regulator, h.c.mah, h.c.cmo]) {
        const document = await exported(batch.batchId, who);
        expect(document.epcisBody.eventList.length).to.be.above(0);
        expect(validateEpcis(document), `${batch.batchId} as ${who.id}`).to.deep.equal([]);
      }
    }
  });

  it("names the event and the rule a broken document breaks", async () => {
    const document = await exported(h.batches.released.batchId, h.c.regulator);
    document.epcisBody.eventList[2].action = "MOVE";
    delete document.epcisBody.eventList[3].eventTime;
    const problems = validateEpcis(document);
    expect(problems.map((p) => p.eventIndex)).to.include.members([2, 3]);
    const about = (index: number) => problems.filter((p) => p.eventIndex === index).map((p) => `${p.path} ${p.message}`);
    expect(
      about(2).some((m) => /\/action must be equal to one of the allowed values: OBSERVE, ADD, DELETE/.test(m)),
      about(2).join("; "),
    ).to.equal(true);
    expect(
      about(3).some((m) => /eventTime/.test(m)),
      about(3).join("; "),
    ).to.equal(true);
  });

  describe("GET /epcis/events (the query interface)", () => {
    const query = async (who: Party, params: string, status = 200) =>
      (
        await request(h.app)
          .get(`/epcis/events?${params}`)
          .set("authorization", `Bearer ${await h.tokenFor(who)}`)
          .expect(status)
      ).body;
    type Found = { bizStep: string; quantityList: { epcClass: string }[]; "trace:organization": string };
    const eventsOf = (body: { epcisBody: { queryResults: { resultsBody: { eventList: Found[] } } } }) =>
      body.epcisBody.queryResults.resultsBody.eventList;

    it("answers a regulator's query by business step as an EPCISQueryDocument the official schema accepts", async () => {
      const body = await query(h.c.regulator, "EQ_bizStep=shipping|receiving");
      expect(validateEpcis(body)).to.deep.equal([]);
      const steps = new Set(eventsOf(body).map((e) => e.bizStep));
      expect([...steps].sort()).to.deep.equal(["receiving", "shipping"]);
      expect(eventsOf(body).length).to.be.above(3);
    });

    it("finds a lot's events by EPC and time", async () => {
      const all = eventsOf(await query(h.c.regulator, "EQ_bizStep=commissioning"));
      const lot = all[1]!.quantityList[0]!.epcClass;
      const found = eventsOf(await query(h.c.regulator, `MATCH_epc=${encodeURIComponent(lot)}&GE_eventTime=2000-01-01T00:00:00Z`));
      expect(found.length).to.be.above(1);
      for (const event of found) expect(event.quantityList.map((q) => q.epcClass)).to.include(lot);
      expect(eventsOf(await query(h.c.regulator, `MATCH_epc=${encodeURIComponent(lot)}&LT_eventTime=2000-01-01T00:00:00Z`))).to.deep.equal([]);
    });

    it("scopes events as the export is: a distributor sees what it attested, an MAH its products' batches", async () => {
      for (const event of eventsOf(await query(h.c.distributor, "perPage=1000"))) {
        expect(event["trace:organization"]).to.match(new RegExp(`/v1/organizations/${h.c.distributor.id}$`));
      }
      expect(eventsOf(await query(h.c.distributor, "EQ_bizStep=commissioning"))).to.deep.equal([]);
      expect(eventsOf(await query(h.c.mah, "EQ_bizStep=commissioning")).length).to.equal(3);
    });

    it("refuses a malformed time or an empty range", async () => {
      expect((await query(h.c.regulator, "GE_eventTime=yesterday", 400)).error.code).to.equal("INVALID_INPUT");
      const empty = await query(h.c.regulator, "GE_eventTime=2030-01-01T00:00:00Z&LT_eventTime=2029-01-01T00:00:00Z", 400);
      expect(empty.error.code).to.equal("EMPTY_TIME_RANGE");
    });
  });
});
