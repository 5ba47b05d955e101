import * as fs from "node:fs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { keccak256 } from "ethers";
import { openDeviation } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { answerOf, errorOf, trace, workDir, serveRelayedApi } from "../cli/helpers";

/**
 * `trace documents upload|get|audit|grant|revoke`, `trace deviations` with severity and `trace capa` against the API
 * (and its relay) on 127.0.0.1:0.
 */
describe("trace documents, deviations and CAPA", () => {
  let h: ApiHarness;
  let relayed: Awaited<ReturnType<typeof serveRelayedApi>>;
  let api: string;
  let deployment: string;
  const work = workDir();
  const report = Buffer.from("CAPA plan for DR-2024-021: replace the impeller seal, retrain operators", "utf8");
  const cli = (party: Party, ...argv: string[]) => trace({ TRACE_PRIVATE_KEY: party.key.privateKey }, ...argv, "--api", api, "--json");

  beforeAll(async () => {
    h = await apiHarness();
    relayed = await serveRelayedApi(h, work);
    ({ api, deployment } = relayed);
    fs.writeFileSync(work.file("capa.txt"), report);
    fs.writeFileSync(work.file("other.txt"), "not the report");
    await openDeviation(h.c, h.c.mah, h.batches.unreleased.batchId, { reportHash: keccak256(report) });
    await h.indexer.catchUp();
    relayed.follow();
  });
  afterAll(async () => {
    await relayed?.close();
  });

  it("uploads by batch, downloads to a new file, and lists the audit", async () => {
    const batch = h.batches.unreleased.batchId;
    const refused = errorOf(await cli(h.c.mah, "documents", "upload", work.file("other.txt"), "--batch", batch), 3);
    expect(refused.code).to.equal("DOCUMENT_NOT_ON_LEDGER");
    const uploaded = answerOf(await cli(h.c.mah, "documents", "upload", work.file("capa.txt"), "--batch", batch, "--media-type", "text/plain"));
    expect(uploaded.stored).to.equal("uploaded");
    const hash = uploaded.document.hash as string;
    expect(hash).to.equal(keccak256(report).toLowerCase());
    expect(answerOf(await cli(h.c.cmo, "documents", "upload", work.file("capa.txt"), "--batch", batch)).stored).to.contain("already stored");
    answerOf(await cli(h.c.cmo, "documents", "get", hash, "--out", work.file("copy.txt")));
    expect(fs.readFileSync(work.file("copy.txt")).equals(report)).to.equal(true);
    expect(errorOf(await cli(h.c.cmo, "documents", "get", hash, "--out", work.file("copy.txt")), 2).code).to.equal("UNWRITABLE_FILE");
    expect(errorOf(await cli(h.c.dispenser, "documents", "get", hash, "--out", work.file("stolen.txt")), 3).code).to.equal("NOT_DOCUMENT_READER");
    expect(fs.existsSync(work.file("stolen.txt"))).to.equal(false);
    const audit = answerOf(await cli(h.c.mah, "documents", "audit", hash));
    expect(audit.items.map((a: { action: string; outcome: string }) => `${a.action} ${a.outcome}`)).to.deep.equal([
      "upload done",
      "download done",
      "download refused",
    ]);
    const granted = answerOf(await cli(h.c.mah, "documents", "grant", hash, "--org", String(h.c.dispenser.id)));
    expect(granted.document.readers).to.include(h.c.dispenser.id);
    const revoked = answerOf(await cli(h.c.mah, "documents", "revoke", hash, "--org", String(h.c.dispenser.id)));
    expect(revoked.document.readers).not.to.include(h.c.dispenser.id);
  });

  it("opens a major deviation, refuses the CMO's closure in the relay's words, and records a CAPA the MAH finds ineffective", async () => {
    const batch = h.batches.unreleased.batchId;
    const send = (party: Party, ...argv: string[]) => cli(party, ...argv, "--deployment", deployment, "--wait");
    answerOf(
      await send(
        h.c.cmo,
        "deviations",
        "open",
        batch,
        "--kind",
        "deviation",
        "--severity",
        "major",
        "--category",
        "equipment",
        "--report",
        "press speed drift",
      ),
    );
    const close = [
      "deviations",
      "close",
      batch,
      "--report",
      "press speed drift",
      "--root-cause",
      "machine",
      "--impact",
      "no-impact",
      "--closure",
      "sensor replaced",
    ];
    const refused = errorOf(await send(h.c.cmo, ...close), 3);
    expect(refused.code).to.equal("DEVIATION_CLOSURE_NEEDS_MAH");
    expect(refused.message).to.contain("is major: only the batch's MAH closes a major or critical deviation");
    const usage = await send(
      h.c.cmo,
      "deviations",
      "open",
      batch,
      "--kind",
      "deviation",
      "--severity",
      "grave",
      "--category",
      "equipment",
      "--report",
      "x",
    );
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.contain("expected one of minor, major, critical");
    answerOf(await send(h.c.mah, ...close));
    const due = String((await h.c.relayer.provider!.getBlock("latest"))!.timestamp + 30 * 86_400);
    const capa = [
      "capa",
      "record",
      batch,
      "--report",
      "press speed drift",
      "--capa",
      "replace the sensor",
      "--owner",
      String(h.c.cmo.id),
      "--due",
      due,
    ];
    expect(answerOf(await send(h.c.cmo, ...capa))).to.include({ attestation: "CapaRecord" });
    expect(errorOf(await send(h.c.cmo, ...capa), 3).code).to.equal("CAPA_ALREADY_RECORDED");
    const check = ["capa", "check", batch, "--capa", "replace the sensor", "--ineffective", "--check", "drifted again"];
    expect(errorOf(await send(h.c.cmo, ...check), 3).code).to.equal("NOT_CAPA_CHECKER");
    answerOf(await send(h.c.mah, ...check));
    const deviations = await fetch(`${api}/v1/batches/${batch}/deviations`, {
      headers: { authorization: `Bearer ${await h.tokenFor(h.c.mah)}` },
    }).then((r) => r.json() as Promise<{ items: { severity: string; status: string; rootCause: string; capas: { status: string }[] }[] }>);
    const major = deviations.items.find((d) => d.severity === "MAJOR")!;
    expect(major).to.include({ status: "CLOSED", rootCause: "MACHINE" });
    expect(major.capas.map((c) => c.status)).to.deep.equal(["INEFFECTIVE"]);
  });

  it("refuses a malformed record or hash as bad input", async () => {
    expect((await cli(h.c.mah, "documents", "upload", work.file("capa.txt"), "--record", "0x12:1")).status).to.equal(2);
    expect((await cli(h.c.mah, "documents", "get", "not-a-hash")).status).to.equal(2);
    expect(errorOf(await cli(h.c.mah, "documents", "upload", work.file("capa.txt")), 2).code).to.equal("RECORD_REQUIRED");
  });
});
