import * as fs from "node:fs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet } from "ethers";
import { GTIN, handOver, recordBatch, releaseFromFactory, releaseToMarket } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness, packsFor } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { answerOf, errorOf, trace, workDir, serveRelayedApi } from "./helpers";
import { parseCode, type Gs1Pack } from "../../src/codes";
import { chinaTime } from "../../src/ledger/china-time";

/**
 * The CLI through the API (--api): attestations go through the relay, whose refusal reasons are shown as the relay
 * words them; batch codes are registered with the API; scan and provenance read from it. The API listens on
 * 127.0.0.1:0 over an indexed chain served on loopback.
 */
describe("trace through the API relay", () => {
  let h: ApiHarness;
  let relayed: Awaited<ReturnType<typeof serveRelayedApi>>;
  let api: string;
  const work = workDir();
  let deployment: string;
  let codes: string[];
  const batchNumber = "CLI-API-1";

  const cli = (party: Party, ...argv: string[]) =>
    trace({ TRACE_PRIVATE_KEY: party.key.privateKey }, ...argv, "--api", api, "--deployment", deployment, "--json");
  const blockNumber = () => h.c.relayer.provider!.getBlockNumber();

  beforeAll(async () => {
    h = await apiHarness();
    relayed = await serveRelayedApi(h, work);
    ({ api, deployment } = relayed);
    relayed.follow();
    // Printed as real packs are: (17) 311231, the expiry the batch is recorded with (--expires 2031-12-31).
    codes = (await packsFor(batchNumber, 12, "311231")).printed;
    fs.writeFileSync(work.file("codes.txt"), `${codes.join("\n")}\n`);
  });
  afterAll(async () => {
    await relayed?.close();
  });

  it("records a batch, registers its codes and scans one as not yet released", async () => {
    const now = await time.latest();
    const recorded = answerOf(
      await cli(
        h.c.cmo,
        "batches",
        "record",
        "--agreement",
        h.c.agreementId,
        "--number",
        batchNumber,
        "--codes",
        work.file("codes.txt"),
        "--manufactured",
        String(now - 3600),
        "--expires",
        "2031-12-31",
        "--record",
        "@" + work.file("codes.txt"),
      ),
    );
    expect(recorded).to.include({
      attestation: "BatchRecord",
      organizationId: h.c.cmo.id,
      status: "indexed",
      codes: 12,
      codesRegistered: 12,
      via: api,
    });
    const row = await h.store.db.selectFrom("batches").selectAll().where("id", "=", recorded.batchId).executeTakeFirstOrThrow();
    expect([row.batch_number, row.state, row.codes_root]).to.deep.equal([batchNumber, "MANUFACTURED", recorded.codesRoot]);

    expect(chinaTime(row.expires_at), "--expires 2031-12-31 is valid to the end of that day").to.equal("2031-12-31T23:59:59.000+08:00");

    const scanned = await trace({}, "scan", codes[5]!, "--api", api, "--json");
    expect(scanned.status, "not GENUINE: the answer is no").to.equal(1);
    expect(JSON.parse(scanned.stdout), "the pack's (17) 311231 is the batch's expiry").to.deep.include({ verdict: "NOT_RELEASED" });
    const again = errorOf(await cli(h.c.cmo, "batches", "upload-codes", `${GTIN}/${batchNumber}`, "--codes", work.file("codes.txt")), 3);
    expect(again.code).to.equal("CODES_ALREADY_REGISTERED");
  });

  it("refuses to record a batch whose expiry is not its codes' (17), naming the code and both dates, sending nothing", async () => {
    const now = await time.latest();
    const printed = (await packsFor("CLI-API-EXP", 3, "311231")).printed;
    fs.writeFileSync(work.file("expiry.txt"), `${printed.join("\n")}\n`);
    const before = await blockNumber();
    const refused = errorOf(
      await cli(
        h.c.cmo,
        "batches",
        "record",
        "--agreement",
        h.c.agreementId,
        "--number",
        "CLI-API-EXP",
        "--codes",
        work.file("expiry.txt"),
        "--manufactured",
        String(now - 3600),
        "--expires",
        "2031-12-30",
        "--record",
        "r",
      ),
      2,
    ) as unknown as { code: string; lines: { line: number; code: string; message: string }[] };
    expect(refused.code).to.equal("CODE_IMPORT_FAILED");
    expect(refused.lines.map((l) => [l.line, l.code])).to.deep.equal([
      [1, "CODE_EXPIRY_MISMATCH"],
      [2, "CODE_EXPIRY_MISMATCH"],
      [3, "CODE_EXPIRY_MISMATCH"],
    ]);
    const pack = parseCode(printed[0]!);
    expect(refused.lines[0]!.message).to.equal(
      `${pack.key} (17) 311231: the pack shows expiry 2031-12-31 (end of that day, China time), but the batch expires 2031-12-30`,
    );
    expect(await blockNumber(), "nothing is signed or sent").to.equal(before);

    const notADay = await cli(
      h.c.cmo,
      "batches",
      "record",
      "--agreement",
      h.c.agreementId,
      "--number",
      "CLI-API-EXP",
      "--codes",
      work.file("expiry.txt"),
      "--manufactured",
      String(now - 3600),
      "--expires",
      "2031-02-30",
      "--record",
      "r",
    );
    expect([notADay.status, notADay.stderr]).to.deep.equal([
      2,
      "error: option '--expires <date>' argument '2031-02-30' is invalid. expected an expiry date (2027-12-31: valid to the end of that day, China time), an ISO date-time or unix seconds",
    ]);
  });

  it("streams a quoted CSV's codes to the API, and shows the API's refusal of a bad line by its number", async () => {
    const now = await time.latest();
    const csv = (await packsFor("CLI-API-2", 6)).printed;
    // Quoted fields with commas: the code column is read as src/codes reads it, not split at every comma.
    fs.writeFileSync(work.file("codes.csv"), `note,code\n${csv.map((code, i) => `"box ${i}, shelf ""A""","${code}"`).join("\n")}\n`);
    const record = (number: string, file: string, ...more: string[]) =>
      cli(
        h.c.cmo,
        "batches",
        "record",
        "--agreement",
        h.c.agreementId,
        "--number",
        number,
        "--codes",
        file,
        "--manufactured",
        String(now - 3600),
        "--expires",
        "2031-12-31",
        "--record",
        "r",
        ...more,
      );
    const recorded = answerOf(await record("CLI-API-2", work.file("codes.csv")));
    expect(recorded).to.include({ codes: 6, codesRegistered: 6 });

    const other = (await packsFor("CLI-API-3", 4)).printed;
    fs.writeFileSync(work.file("other.txt"), `${other.join("\n")}\n`);
    const unregistered = answerOf(await record("CLI-API-3", work.file("other.txt"), "--no-upload", "--wait"));
    expect(unregistered.codesRegistered).to.equal(0);
    fs.writeFileSync(work.file("bad.txt"), `${[other[0], other[1], "not a code", other[3]].join("\n")}\n`);
    const refused = errorOf(await cli(h.c.cmo, "batches", "upload-codes", unregistered.batchId, "--codes", work.file("bad.txt")), 2);
    expect(refused.field).to.equal("line.3");
    expect(refused.message).to.match(/^line 3: /);
    const uploaded = answerOf(await cli(h.c.cmo, "batches", "upload-codes", unregistered.batchId, "--codes", work.file("other.txt")));
    expect(uploaded).to.include({ root: unregistered.codesRoot, codesRegistered: 4 });
  });

  it("shows the relay's refusal verbatim, sends nothing, and releases once the deviation is closed", async () => {
    const ref = `${GTIN}/${batchNumber}`;
    answerOf(await cli(h.c.cmo, "release", "factory", ref, "--certificate", "QA", "--wait"));
    answerOf(
      await cli(
        h.c.cmo,
        "deviations",
        "open",
        ref,
        "--kind",
        "deviation",
        "--severity",
        "minor",
        "--category",
        "laboratory",
        "--report",
        "temperature excursion",
        "--wait",
      ),
    );
    const before = await blockNumber();
    const refused = await trace(
      { TRACE_PRIVATE_KEY: h.c.mah.key.privateKey },
      "release",
      "market",
      ref,
      "--decision",
      "go",
      "--api",
      api,
      "--deployment",
      deployment,
    );
    expect(refused.status).to.equal(3);
    expect(refused.stderr).to.equal(
      `error BATCH_HAS_OPEN_DEVIATIONS field attestations.0: attestation 0 (MarketRelease) is refused: batch ${batchNumber} has 1 open deviation; ` +
        "every deviation, OOS and OOT must be closed before release",
    );
    expect(await blockNumber(), "a refused attestation is not sent").to.equal(before);
    answerOf(
      await cli(
        h.c.cmo,
        "deviations",
        "close",
        ref,
        "--report",
        "temperature excursion",
        "--root-cause",
        "measurement",
        "--impact",
        "no-impact",
        "--closure",
        "stability data reviewed",
        "--wait",
      ),
    );
    const released = answerOf(await cli(h.c.mah, "release", "market", ref, "--decision", "go", "--wait"));
    expect(released.status).to.equal("indexed");
    // the release review read over the API names no QP for this product: the MAH's own key, no person named
    expect(released).to.include({ signerName: "", signerRole: "ORGANIZATION" });

    const scanned = await trace({}, "scan", codes[5]!, "--api", api);
    expect(scanned.status).to.equal(0);
    expect(scanned.stdout).to.match(/│ verdict\s+│ GENUINE/);
    expect(scanned.stdout, "the expiry date as the pack prints it, not a day late").to.match(/│ expires\s+│ 2031-12-31\s+│/);
    expect(scanned.stdout).to.contain("expiring 2031-12-31");

    const pack = parseCode(codes[5]!) as Gs1Pack;
    const extra = await trace({}, "scan", `(01)${pack.gtin}(17)311231(7003)3112311200(714)NHRN-1(10)${pack.batch}(21)${pack.serial}`, "--api", api);
    expect(extra.status).to.equal(0);
    expect(extra.stdout).to.match(/│ ignored AIs\s+│ \(7003\) \(714\)\s+│/);

    const elsewhere = await trace({}, "scan", "8600001" + "0000000000042", "--api", api);
    expect(elsewhere.status, "not on this ledger: its own exit status, not the counterfeit 'no'").to.equal(5);
    expect(elsewhere.stdout)
      .to.match(/│ verdict\s+│ NOT_ON_LEDGER/)
      .and.contain("verify the pack with its MAH or the national drug traceability platform");
  });

  it("shows a batch's provenance as a table and as JSON, signed in as its MAH", async () => {
    const ref = `${GTIN}/${batchNumber}`;
    const json = answerOf(await trace({ TRACE_PRIVATE_KEY: h.c.mah.key.privateKey }, "provenance", ref, "--api", api, "--json"));
    expect(json.batch).to.include({ batchNumber, state: "MARKET_RELEASED" });
    expect(json.entries.map((e: { event: string }) => e.event)).to.include.members([
      "AgreementSigned",
      "BatchRecorded",
      "DeviationOpened",
      "DeviationClosed",
      "BatchFactoryReleased",
      "BatchMarketReleased",
    ]);
    const table = await trace({ TRACE_PRIVATE_KEY: h.c.mah.key.privateKey }, "provenance", ref, "--api", api);
    expect(table.status).to.equal(0);
    expect(table.stdout).to.contain("BatchMarketReleased").and.contain("verified").and.contain("Suzhou B-Pharma");
    const stranger = errorOf(await trace({ TRACE_PRIVATE_KEY: h.c.distributor.key.privateKey }, "provenance", ref, "--api", api, "--json"), 3);
    expect(stranger.code).to.equal("NOT_YOUR_BATCH");
    expect(errorOf(await trace({}, "provenance", ref, "--api", api, "--json"), 2).code).to.equal("KEY_REQUIRED");
  });

  it("ships and receives through the relay, looking the organization up by signing in", async () => {
    const { batchId } = h.batches.released;
    const shipped = answerOf(await cli(h.c.distributor, "ship", batchId, "--to", String(h.c.distributor2.id), "--quantity", "1", "--wait"));
    expect(shipped).to.include({ organizationId: h.c.distributor.id, status: "indexed" });
    const received = answerOf(await cli(h.c.distributor2, ...(shipped.receiveWith as string).split(" ").slice(1), "--wait"));
    expect(received.status).to.equal("indexed");
    const holding = await h.store.db
      .selectFrom("holdings")
      .selectAll()
      .where("batch_id", "=", batchId)
      .where("organization_id", "=", h.c.distributor2.id)
      .executeTakeFirstOrThrow();
    expect(holding.quantity).to.equal(1);
  });

  it("receives by the shipment id alone, the rest looked up from the API; without the API the details are asked for", async () => {
    const { batchId } = h.batches.released;
    const shipped = answerOf(await cli(h.c.cmo, "ship", batchId, "--to", String(h.c.distributor2.id), "--quantity", "2", "--wait"));
    const viaRpc = errorOf(
      await trace(
        { TRACE_PRIVATE_KEY: h.c.distributor2.key.privateKey },
        "receive",
        shipped.shipmentId,
        "--rpc",
        h.chain.url,
        "--deployment",
        deployment,
        "--json",
      ),
      2,
    );
    expect(viaRpc.code).to.equal("SHIPMENT_DETAILS_REQUIRED");
    const stranger = errorOf(await cli(h.c.dispenser, "receive", shipped.shipmentId), 3);
    expect(stranger.code).to.equal("NOT_YOUR_SHIPMENT");
    const received = answerOf(await cli(h.c.distributor2, "receive", shipped.shipmentId, "--received", "1", "--wait"));
    expect(received).to.include({ shipmentId: shipped.shipmentId, batchId: batchId.toLowerCase(), received: "1", status: "indexed" });
    const row = await h.store.db.selectFrom("shipments").selectAll().where("id", "=", shipped.shipmentId.toLowerCase()).executeTakeFirstOrThrow();
    expect([row.status, row.quantity, row.received_quantity]).to.deep.equal(["RECEIVED", 2, 1]);
  });

  it("onboards through the relay and prints the new id, learning the ledger from the API without a deployment file", async () => {
    const key = Wallet.createRandom();
    const onboarded = answerOf(
      await trace(
        { TRACE_PRIVATE_KEY: h.c.regulator.key.privateKey },
        "organizations",
        "onboard",
        "--name",
        "Hangzhou Pharmacy",
        "--role",
        "dispenser",
        "--region",
        "330100",
        "--licence",
        "licence 7",
        "--key",
        key.address,
        "--api",
        api,
        "--json",
      ),
    );
    expect(onboarded).to.include({
      attestation: "Onboarding",
      status: "indexed",
      onboardedOrganizationId: Number(await h.c.registry.organizationCount()),
    });
    const row = await h.store.db
      .selectFrom("organizations")
      .select("name")
      .where("id", "=", onboarded.onboardedOrganizationId)
      .executeTakeFirstOrThrow();
    expect(row.name).to.equal("Hangzhou Pharmacy");

    const { deployment: served } = h.services;
    delete h.services.deployment;
    try {
      const unknown = errorOf(
        await trace(
          { TRACE_PRIVATE_KEY: h.c.cmo.key.privateKey },
          "destroy",
          h.batches.released.batchId,
          "--quantity",
          "1",
          "--reason",
          "x",
          "--api",
          api,
          "--json",
        ),
        4,
      );
      expect(unknown).to.include({ code: "DEPLOYMENT_UNKNOWN", field: "--deployment" });
    } finally {
      h.services.deployment = served;
    }
  });

  it("relays signed in, so a dispensing larger than an anonymous request may be (64 KB) goes through", async () => {
    const large = await packsFor("CLI-API-LARGE", 1_000);
    const batchId = await recordBatch(h.c, "CLI-API-LARGE", { quantity: 1_000n, codesRoot: large.tree.root });
    await releaseFromFactory(h.c, batchId);
    await releaseToMarket(h.c, batchId);
    await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 1_000n);
    await handOver(h.c, h.c.distributor, h.c.dispenser, batchId, 1_000n);
    fs.writeFileSync(work.file("large-codes.txt"), `${large.printed.join("\n")}\n`);
    const dispensing = large.printed.slice(0, 960);
    const dispensed = answerOf(await cli(h.c.dispenser, "dispense", batchId, ...dispensing, "--batch-codes", work.file("large-codes.txt"), "--wait"));
    expect(dispensed.status).to.equal("indexed");
    const packs = await h.store.db.selectFrom("pack_states").select("pack").where("batch_id", "=", batchId.toLowerCase()).execute();
    expect(packs).to.have.length(dispensing.length);
  });

  it("fails precisely on an unknown key, an unreachable API and a mixed transport", async () => {
    const stranger = Wallet.createRandom();
    const unknown = errorOf(
      await trace(
        { TRACE_PRIVATE_KEY: stranger.privateKey },
        "destroy",
        h.batches.released.batchId,
        "--quantity",
        "1",
        "--reason",
        "x",
        "--api",
        api,
        "--deployment",
        deployment,
        "--json",
      ),
      3,
    );
    expect(unknown.code).to.equal("UNKNOWN_KEY");
    const down = errorOf(
      await trace(
        { TRACE_PRIVATE_KEY: h.c.cmo.key.privateKey },
        "destroy",
        h.batches.released.batchId,
        "--quantity",
        "1",
        "--reason",
        "x",
        "--api",
        "http://127.0.0.1:9",
        "--deployment",
        deployment,
        "--json",
      ),
      4,
    );
    expect(down.code).to.equal("API_UNREACHABLE");
    expect(errorOf(await trace({}, "scan", codes[0]!, "--api", "http://127.0.0.1:9", "--json"), 4).code).to.equal("API_UNREACHABLE");
    expect(
      errorOf(await cli(h.c.cmo, "destroy", h.batches.released.batchId, "--quantity", "1", "--reason", "x", "--rpc", h.chain.url), 2).code,
    ).to.equal("TRANSPORT_AMBIGUOUS");
    expect(errorOf(await trace({}, "scan", codes[0]!, "--json"), 2).code).to.equal("API_REQUIRED");
  });
});
