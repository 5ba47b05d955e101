import * as fs from "node:fs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { withCheckDigit } from "../../src/codes";
import { recordBatch, releaseFromFactory, releaseToMarket } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness, HARNESS_PUBLIC_URL, packsFor } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { answerOf, errorOf, trace, workDir, serveRelayedApi } from "./helpers";

const sscc = (i: number) => `(00)${withCheckDigit(`0061414120000000${i}`)}`;
const [CASE_A, CASE_B, PALLET] = [sscc(1), sscc(2), sscc(3)];

/** `trace cases …` through the API relay: commit and register, ship by the case, receive by scanning, unpack. */
describe("trace cases", () => {
  let h: ApiHarness;
  let relayed: Awaited<ReturnType<typeof serveRelayedApi>>;
  let api: string;
  const work = workDir();
  let deployment: string;
  let batchId: string;
  let packs: string[];

  const cli = (party: Party, ...argv: string[]) =>
    trace({ TRACE_PRIVATE_KEY: party.key.privateKey }, ...argv, "--api", api, "--deployment", deployment, "--json");

  beforeAll(async () => {
    h = await apiHarness();
    relayed = await serveRelayedApi(h, work);
    ({ api, deployment } = relayed);
    relayed.follow();
    const codes = await packsFor("CLI-CASE-1", 6);
    packs = codes.packs.map((p) => p.key);
    batchId = await recordBatch(h.c, "CLI-CASE-1", { quantity: 6n, codesRoot: codes.tree.root });
    await releaseFromFactory(h.c, batchId);
    await releaseToMarket(h.c, batchId);
    const pairs = [
      ...packs.slice(0, 3).map((p) => `${CASE_A} ${p}`),
      ...packs.slice(3).map((p) => `${CASE_B}\t${p}`),
      `# the pallet`,
      `${PALLET} ${CASE_A}`,
      `${PALLET} ${CASE_B}`,
    ];
    fs.writeFileSync(work.file("aggregation.txt"), `${pairs.join("\n")}\n`);
  });
  afterAll(async () => {
    await relayed?.close();
  });

  it("refuses an aggregation file with a bad SSCC, naming the line, and commits nothing", async () => {
    fs.writeFileSync(work.file("bad.txt"), `${CASE_A} ${packs[0]}\n(00)006141412000000011 ${packs[1]}\n`);
    const error = errorOf(await cli(h.c.cmo, "cases", "commit", batchId, "--file", work.file("bad.txt")), 2);
    expect([error.code, error.field]).to.deep.equal(["CODE_BAD_CHECK_DIGIT", "line.2"]);
    expect(await h.c.aggregations.aggregationRoot(batchId)).to.equal(`0x${"00".repeat(32)}`);
  });

  it("commit: the CMO commits and registers the cases; a distributor is refused with the contract's reason", async () => {
    const refused = errorOf(await cli(h.c.distributor, "cases", "commit", batchId, "--file", work.file("aggregation.txt")), 3);
    expect(refused.code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    const answer = answerOf(await cli(h.c.cmo, "cases", "commit", batchId, "--file", work.file("aggregation.txt")));
    expect(answer).to.deep.include({ containers: 3, packs: 6, registered: true });
    const again = errorOf(await cli(h.c.cmo, "cases", "commit", batchId, "--file", work.file("aggregation.txt")), 3);
    expect(again.code).to.equal("AGGREGATION_ALREADY_COMMITTED");
  });

  it("ship by the pallet, receive by scanning one case: the receipt records the packs found, the differences are kept", async () => {
    fs.writeFileSync(work.file("units.txt"), `${PALLET}\n`);
    const shipped = answerOf(await cli(h.c.cmo, "cases", "ship", batchId, "--to", String(h.c.distributor.id), "--units", work.file("units.txt")));
    expect(shipped).to.deep.include({ quantity: "6", units: 1 });
    fs.writeFileSync(work.file("scanned.txt"), `${CASE_A}\n`);
    const received = trace(
      { TRACE_PRIVATE_KEY: h.c.distributor.key.privateKey },
      "cases",
      "receive",
      shipped.shipmentId,
      "--scanned",
      work.file("scanned.txt"),
      "--api",
      api,
      "--deployment",
      deployment,
      "--wait",
    );
    const result = await received;
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include(`(in ${CASE_B})`);
    const row = await h.store.db.selectFrom("shipments").selectAll().where("id", "=", shipped.shipmentId).executeTakeFirstOrThrow();
    expect([row.status, Number(row.received_quantity)]).to.deep.equal(["RECEIVED", 3]);
    expect((await h.store.db.selectFrom("shipment_differences").selectAll().where("shipment_id", "=", shipped.shipmentId).execute()).length).to.equal(
      3,
    );
  });

  it("unpack: the distributor takes a pack out of a case; a second time is refused", async () => {
    const answer = answerOf(await cli(h.c.distributor, "cases", "unpack", batchId, CASE_A, packs[0]!, "--wait"));
    expect(answer).to.deep.include({ unpacked: 1 });
    const scan = answerOf(await trace({}, "scan", CASE_A, "--api", api, "--json"));
    expect(scan.container).to.deep.include({ units: 2, unpacked: 1 });
    const again = errorOf(await cli(h.c.distributor, "cases", "unpack", batchId, CASE_A, packs[0]!), 3);
    expect(again.code).to.equal("UNIT_ALREADY_UNPACKED");
  });

  it("epcis capture: a distributor's shipping event from its own system becomes its signed shipment", async () => {
    const party = (id: number) => `${HARNESS_PUBLIC_URL}/v1/organizations/${id}`;
    const document = {
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
            bizStep: "shipping",
            disposition: "in_transit",
            quantityList: [{ epcClass: "https://id.gs1.org/01/06901234567892/10/CLI-CASE-1", quantity: 1 }],
            sourceList: [{ type: "possessing_party", source: party(h.c.distributor.id) }],
            destinationList: [{ type: "possessing_party", destination: party(h.c.dispenser.id) }],
          },
        ],
      },
    };
    fs.writeFileSync(work.file("epcis.json"), JSON.stringify(document));
    const answer = answerOf(await cli(h.c.distributor, "epcis", "capture", work.file("epcis.json"), "--wait"));
    expect(answer).to.deep.include({ status: "ACCEPTED", sent: 1 });
    const shipment = await h.store.db
      .selectFrom("shipments")
      .selectAll()
      .where("recipient_id", "=", h.c.dispenser.id)
      .where("batch_id", "=", batchId.toLowerCase())
      .executeTakeFirstOrThrow();
    expect([shipment.shipper_id, Number(shipment.quantity)]).to.deep.equal([h.c.distributor.id, 1]);
    const refused = errorOf(await cli(h.c.dispenser, "epcis", "capture", work.file("epcis.json")), 3);
    expect(refused.code).to.equal("EPCIS_EVENTS_REJECTED");
    expect(refused.message).to.match(/event 0: this shipment is organization \d+'s act/);
  });
});
