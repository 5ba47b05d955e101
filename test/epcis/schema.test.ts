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
});
