import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { keccak256 } from "ethers";
import request from "supertest";
import { openDeviation } from "../contracts/fixtures";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { dumpTables } from "../indexer/dump";
import { STORE_KINDS } from "../indexer/stores";

const REPORT = Buffer.from("Deviation report DR-2024-017: granulation end-point exceeded by 4 minutes; root cause: worn impeller seal", "utf8");
const hashOf = (bytes: Buffer) => keccak256(bytes).toLowerCase();

describe.each(STORE_KINDS)("quality documents (%s)", (kind) => {
  let h: ApiHarness;
  let batchId: string;
  let record: { transactionHash: string; logIndex: number };
  const token: Record<string, string> = {};
  const upload = (who: string, body: Record<string, unknown>) =>
    request(h.app).post("/v1/documents").set("authorization", `Bearer ${token[who]}`).send(body);
  const get = (who: string, path: string) => request(h.app).get(path).set("authorization", `Bearer ${token[who]}`);
  const countRows = async () => {
    const tables = await dumpTables(h.store.db);
    return ["quality_documents", "quality_document_contents", "quality_document_readers", "quality_document_accesses"].map(
      (t) => tables[t]?.length ?? 0,
    );
  };

  beforeAll(async () => {
    h = await apiHarness(kind);
    batchId = h.batches.unreleased.batchId;
    const tx = await openDeviation(h.c, h.c.cmo, batchId, { reportHash: hashOf(REPORT) });
    const receipt = (await tx.wait())!;
    await h.indexer.catchUp();
    record = { transactionHash: receipt.hash.toLowerCase(), logIndex: receipt.logs[0]!.index };
    for (const [name, party] of Object.entries({
      mah: h.c.mah,
      cmo: h.c.cmo,
      jiangsu: h.c.regulator,
      zhejiang: h.c.regulator2,
      distributor: h.c.distributor,
    })) {
      token[name] = await h.tokenFor(party);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it("refuses a document whose hash is not the one its ledger record holds, and stores nothing", async () => {
    const before = await countRows();
    const other = Buffer.from("a different report", "utf8");
    const answer = await upload("cmo", { record, fileName: "DR-2024-017.txt", mediaType: "text/plain", content: other.toString("base64") }).expect(
      422,
    );
    expect(answer.body.error.code).to.equal("DOCUMENT_HASH_MISMATCH");
    expect(answer.body.error.message).to.contain(hashOf(other)).and.contain("reportHash");
    const byBatch = await upload("cmo", { batchId, fileName: "x.txt", content: other.toString("base64") }).expect(422);
    expect(byBatch.body.error.code).to.equal("DOCUMENT_NOT_ON_LEDGER");
    expect(await countRows()).to.deep.equal(before);
  });

  it("stores a document once for the attestation's parties and their provinces' regulators; the same bytes again change nothing", async () => {
    const first = await upload("cmo", { record, fileName: "DR-2024-017.txt", mediaType: "text/plain", content: REPORT.toString("base64") }).expect(
      200,
    );
    expect(first.body.created).to.equal(true);
    const document = first.body.document;
    expect(document).to.include({
      hash: hashOf(REPORT),
      batchId,
      ownerId: h.c.cmo.id,
      uploadedBy: h.c.cmo.id,
      size: REPORT.length,
      mediaType: "text/plain",
    });
    expect(document.record).to.include({ event: "DeviationOpened", field: "reportHash", transactionHash: record.transactionHash });
    expect(document.readers).to.deep.equal([h.c.regulator.id, h.c.mah.id, h.c.cmo.id, h.c.regulator2.id].sort((a, b) => a - b));
    const rows = await countRows();
    const again = await upload("mah", { batchId, fileName: "renamed.txt", content: REPORT.toString("base64") }).expect(200);
    expect(again.body.created).to.equal(false);
    expect(again.body.document).to.deep.equal(document);
    expect(await countRows()).to.deep.equal(rows);
  });

  it("keeps only ciphertext at rest: no stored row holds the plaintext or its base64", async () => {
    const dump = JSON.stringify(await dumpTables(h.store.db));
    for (const needle of ["granulation end-point", REPORT.toString("base64"), REPORT.toString("hex")]) expect(dump).not.to.contain(needle);
    const stored = await h.store.db
      .selectFrom("quality_document_contents")
      .select("ciphertext")
      .where("document_hash", "=", hashOf(REPORT))
      .executeTakeFirstOrThrow();
    expect(Buffer.from(stored.ciphertext, "base64").includes(REPORT)).to.equal(false);
  });

  it("serves the document to each reader and audits every download", async () => {
    for (const who of ["mah", "cmo", "jiangsu", "zhejiang"]) {
      const answer = await get(who, `/v1/documents/${hashOf(REPORT)}/content`).expect(200);
      expect(Buffer.from(answer.body.content, "base64").equals(REPORT)).to.equal(true);
    }
    const audit = await get("cmo", `/v1/documents/${hashOf(REPORT)}/audit`).expect(200);
    const downloads = audit.body.items.filter((a: { action: string }) => a.action === "download");
    expect(downloads.map((a: { organizationId: number; outcome: string }) => [a.organizationId, a.outcome])).to.deep.equal([
      [h.c.mah.id, "done"],
      [h.c.cmo.id, "done"],
      [h.c.regulator.id, "done"],
      [h.c.regulator2.id, "done"],
    ]);
  });

  it("refuses an organization outside the attestation, and the refusal is in the audit", async () => {
    // The distributor holds stock of other batches but has no part in this deviation.
    const refusal = await get("distributor", `/v1/documents/${hashOf(REPORT)}/content`).expect(403);
    expect(refusal.body.error.code).to.equal("NOT_DOCUMENT_READER");
    await get("distributor", `/v1/documents/${hashOf(REPORT)}`).expect(403);
    expect((await get("distributor", `/v1/documents/${hashOf(REPORT)}/audit`).expect(403)).body.error.code).to.equal("NOT_DOCUMENT_AUDITOR");
    const audit = await get("zhejiang", `/v1/documents/${hashOf(REPORT)}/audit`).expect(200);
    expect(audit.body.items.at(-1)).to.include({
      organizationId: h.c.distributor.id,
      action: "download",
      outcome: "refused",
      detail: "not a reader",
    });
  });

  it("lets the owner grant and revoke a reader; the revoked reader is refused again", async () => {
    const path = `/v1/documents/${hashOf(REPORT)}/readers`;
    await request(h.app).post(path).set("authorization", `Bearer ${token.mah}`).send({ organizationId: h.c.distributor.id }).expect(403);
    const granted = await request(h.app)
      .post(path)
      .set("authorization", `Bearer ${token.cmo}`)
      .send({ organizationId: h.c.distributor.id })
      .expect(200);
    expect(granted.body.readers).to.include(h.c.distributor.id);
    await get("distributor", `/v1/documents/${hashOf(REPORT)}/content`).expect(200);
    const revoked = await request(h.app).delete(`${path}/${h.c.distributor.id}`).set("authorization", `Bearer ${token.cmo}`).expect(200);
    expect(revoked.body.readers).not.to.include(h.c.distributor.id);
    await get("distributor", `/v1/documents/${hashOf(REPORT)}/content`).expect(403);
    const listed = await get("mah", `/v1/batches/${batchId}/documents`).expect(200);
    expect(listed.body.items.map((d: { hash: string }) => d.hash)).to.deep.equal([hashOf(REPORT)]);
  });

  it("refuses damaged ciphertext by its GCM tag, and audits the refusal", async () => {
    const hash = hashOf(REPORT);
    const stored = await h.store.db
      .selectFrom("quality_document_contents")
      .select("ciphertext")
      .where("document_hash", "=", hash)
      .executeTakeFirstOrThrow();
    const damaged = Buffer.from(stored.ciphertext, "base64");
    damaged[damaged.length - 1]! ^= 0x01;
    await h.store.db
      .updateTable("quality_document_contents")
      .set({ ciphertext: damaged.toString("base64") })
      .where("document_hash", "=", hash)
      .execute();
    const answer = await get("mah", `/v1/documents/${hash}/content`).expect(500);
    expect(answer.body.error.code).to.equal("DOCUMENT_DAMAGED");
    expect(answer.body.error.message).to.contain("GCM tag");
    const audit = await get("mah", `/v1/documents/${hash}/audit`).expect(403);
    expect(audit.body.error.code).to.equal("NOT_DOCUMENT_AUDITOR");
    const log = await get("cmo", `/v1/documents/${hash}/audit`).expect(200);
    expect(log.body.items.at(-1)).to.include({ organizationId: h.c.mah.id, action: "download", outcome: "refused" });
    expect(log.body.items.at(-1).detail).to.contain("damaged");
  });

  it("takes a document's bytes streamed as application/octet-stream, the record named in the query; bad input stores nothing", async () => {
    const closure = Buffer.from("Deviation closure DR-2024-018: seal replaced, granulation time back in range (raw upload)", "utf8");
    await (await openDeviation(h.c, h.c.cmo, batchId, { reportHash: hashOf(closure) })).wait();
    await h.indexer.catchUp();
    const raw = (query: string, bytes: Buffer, who = "cmo") =>
      request(h.app)
        .post(`/v1/documents?${query}`)
        .set("authorization", `Bearer ${token[who]}`)
        .set("content-type", "application/octet-stream")
        .send(bytes);
    const before = await countRows();
    const noName = await raw(`batchId=${batchId}`, closure).expect(400);
    expect(noName.body.error.field).to.equal("fileName");
    const both = await raw(`batchId=${batchId}&transactionHash=${record.transactionHash}&logIndex=0&fileName=x.txt`, closure).expect(400);
    expect(both.body.error.code).to.equal("INVALID_INPUT");
    expect((await raw(`batchId=${batchId}&fileName=x.txt`, Buffer.alloc(0)).expect(400)).body.error.code).to.equal("EMPTY_DOCUMENT");
    const other = Buffer.from("not on the ledger", "utf8");
    expect((await raw(`batchId=${batchId}&fileName=x.txt`, other).expect(422)).body.error.code).to.equal("DOCUMENT_NOT_ON_LEDGER");
    expect((await raw(`batchId=${batchId}&fileName=x.txt`, closure, "distributor").expect(403)).body.error.code).to.equal("NOT_RECORD_PARTY");
    expect(await countRows()).to.deep.equal(before);
    const stored = await raw(`batchId=${batchId}&fileName=DR-2024-018.txt&mediaType=text/plain`, closure).expect(200);
    expect(stored.body.created).to.equal(true);
    expect(stored.body.document).to.include({ hash: hashOf(closure), size: closure.length, mediaType: "text/plain", fileName: "DR-2024-018.txt" });
    const back = await get("mah", `/v1/documents/${hashOf(closure)}/content`).expect(200);
    expect(Buffer.from(back.body.content, "base64").equals(closure)).to.equal(true);
  });
});
