import * as fs from "node:fs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { alertRoutes } from "../../src/alerts/routes";
import { silentLogger } from "../../src/log";
import { supervisionRoutes } from "../../src/supervision/routes";
import { receive, ship } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { answerOf, errorOf, trace, workDir, serveRelayedApi } from "./helpers";

/**
 * A regulator's and an organization's alert cases and suspect-product reports from the command line, through the
 * API relay (signed with the organization's key), read back from the API; a batch's EPCIS export to a file.
 */
describe("trace alerts, trace suspect and trace epcis through the API", () => {
  let h: ApiHarness;
  let relayed: Awaited<ReturnType<typeof serveRelayedApi>>;
  let api: string;
  let deployment: string;
  const work = workDir();
  const config = alertConfig();
  let alertId: number;

  const cli = (party: Party, ...argv: string[]) => trace({ TRACE_PRIVATE_KEY: party.key.privateKey }, ...argv, "--api", api, "--json");
  const signed = (party: Party, ...argv: string[]) => cli(party, ...argv, "--deployment", deployment, "--wait");

  beforeAll(async () => {
    h = await apiHarness("sqlite");
    relayed = await serveRelayedApi(h, work, [...alertRoutes(config), ...supervisionRoutes(config)]);
    ({ api, deployment } = relayed);
    const { batchId } = h.batches.released;
    const { shipmentId } = await ship(h.c, h.c.cmo, h.c.distributor2, batchId, 2n);
    await receive(h.c, h.c.distributor2, h.c.cmo, batchId, shipmentId, 2n, 1n);
    await h.indexer.catchUp();
    await createAlertEngine({ store: h.store, config, log: silentLogger(), now: () => Math.floor(Date.now() / 1000) }).catchUp();
    relayed.follow();
    fs.writeFileSync(work.file("codes.txt"), `${h.batches.released.printed.join("\n")}\n`);
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
      .send({ codes: h.batches.released.printed })
      .expect(201);
  });
  afterAll(async () => {
    await relayed?.close();
  });

  it("lists the alerts a regulator sees with their case: new, unowned, due by severity", async () => {
    const listed = answerOf(await cli(h.regulator(), "alerts", "list", "--rule", "receipt_quantity_mismatch"));
    expect(listed.alerts).to.have.length(1);
    alertId = listed.alerts[0].id;
    expect(listed.alerts[0].case).to.include({ status: "NEW", ownerId: null, overdue: false });
  });

  it("the organization takes the case, investigates and closes it with a reason; show prints the signed history", async () => {
    expect(answerOf(await signed(h.c.cmo, "alerts", "take", String(alertId)))).to.include({ attestation: "AlertTaking", status: "indexed" });
    await signed(h.c.cmo, "alerts", "status", String(alertId), "--to", "under-investigation");
    const closed = answerOf(await signed(h.c.cmo, "alerts", "close", String(alertId), "--reason", "the missing unit was found in the second carton"));
    expect(closed).to.include({ attestation: "AlertStatusChange", status: "indexed", reason: "the missing unit was found in the second carton" });
    const shown = answerOf(await cli(h.regulator(), "alerts", "show", String(alertId)));
    expect(shown.case).to.include({ status: "CLOSED", ownerId: h.c.cmo.id, reason: "the missing unit was found in the second carton" });
    expect(shown.history.map((s: { action: string }) => s.action)).to.deep.equal(["TAKEN", "UNDER_INVESTIGATION", "CLOSED"]);
    const text = await trace({ TRACE_PRIVATE_KEY: h.regulator().key.privateKey }, "alerts", "show", String(alertId), "--api", api);
    expect(text.stdout)
      .to.match(/CLOSED/)
      .and.to.match(/second carton/);
  });

  it("refuses with the relay's words: a closed case, an organization with no part in the alert, a bad status", async () => {
    const again = errorOf(await signed(h.c.cmo, "alerts", "close", String(alertId), "--reason", "again"), 3);
    expect(again.code).to.equal("ALERT_CASE_CLOSED");
    expect(errorOf(await signed(h.c.dispenser, "alerts", "take", String(alertId)), 3).code).to.equal("NOT_YOUR_ALERT");
    const stranger = errorOf(await signed(h.c.distributor2, "alerts", "take", String(alertId)), 3);
    expect(stranger.code).to.equal("NOT_ALERT_PARTY");
    expect(stranger.message).to.match(/only a regulator or the organization it concerns/);
    const closing = await signed(h.c.cmo, "alerts", "status", String(alertId), "--to", "closed");
    expect([closing.status, closing.stderr]).to.deep.equal([
      2,
      "error: option '--to <status>' argument 'closed' is invalid. expected one of under-investigation, escalated",
    ]);
    const zero = await cli(h.c.cmo, "alerts", "show", "0");
    expect([zero.status, zero.stderr]).to.deep.equal([
      2,
      "error: command-argument value '0' is invalid for argument 'id'. expected an alert id (a whole number from 1)",
    ]);
  });

  it("a distributor files a suspect-product report on a pack (locked first); the MAH lists it; only a regulator terminates it", async () => {
    const { batchId, printed } = h.batches.released;
    const filed = answerOf(
      await signed(
        h.c.distributor,
        "suspect",
        "file",
        batchId,
        printed[7]!,
        "--batch-codes",
        work.file("codes.txt"),
        "--reason",
        "seal broken, print blurred",
      ),
    );
    expect(filed).to.include({ attestation: "SuspectReport", status: "indexed", packs: 1 });
    const scan = await trace({}, "scan", printed[7]!, "--api", api, "--json");
    expect(JSON.parse(scan.stdout).verdict).to.equal("LOCKED");
    const { reports } = answerOf(await cli(h.c.mah, "suspect", "list", "--status", "open"));
    expect(reports).to.have.length(1);
    expect(reports[0]).to.include({ filedBy: h.c.distributor.id, reason: "seal broken, print blurred", status: "OPEN" });
    const reportId = reports[0].id as string;
    const refused = errorOf(await signed(h.c.mah, "suspect", "terminate", reportId, "--outcome", "cleared", "--reason", "fine"), 3);
    expect(refused.code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    await signed(h.regulator(), "suspect", "terminate", reportId, "--outcome", "illegitimate", "--reason", "counterfeit confirmed by the laboratory");
    const shown = answerOf(await cli(h.c.distributor, "suspect", "show", reportId));
    expect(shown).to.include({ status: "TERMINATED", outcome: "ILLEGITIMATE", terminationReason: "counterfeit confirmed by the laboratory" });
  });

  it("exports a batch's EPCIS document to a file, the suspect report among its events", async () => {
    const out = work.file("epcis.json");
    const answer = answerOf(await cli(h.regulator(), "epcis", "export", h.batches.released.batchId, "--out", out));
    const document = JSON.parse(fs.readFileSync(out, "utf8"));
    expect(answer.events).to.equal(document.epcisBody.eventList.length);
    expect(document.epcisBody.eventList.map((e: Record<string, unknown>) => e["trace:ledgerEvent"])).to.include.members([
      "SuspectReportFiled",
      "SuspectReportTerminated",
    ]);
    expect(errorOf(await cli(h.c.dispenser, "epcis", "export", h.batches.recalled.batchId), 3).code).to.equal("NOT_YOUR_BATCH");
  });
});
