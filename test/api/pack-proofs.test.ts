import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { formatCode } from "../../src/codes";
import { ship } from "../contracts/fixtures";
import { apiHarness, packsFor } from "./harness";
import type { ApiHarness } from "./harness";

describe("pack proofs for signing in a browser, and an organization's own shipments", () => {
  let h: ApiHarness;
  let tokens: Record<string, string>;
  const printed = (index: number) => formatCode(h.batches.released.packs[index]!, "hri");
  const proofs = (batchId: string, codes: string[], token = tokens.dispenser!) =>
    request(h.app).post(`/v1/batches/${batchId}/pack-proofs`).set("authorization", `Bearer ${token}`).send({ codes });

  beforeAll(async () => {
    h = await apiHarness();
    tokens = { cmo: await h.tokenFor(h.c.cmo), dispenser: await h.tokenFor(h.c.dispenser), distributor2: await h.tokenFor(h.c.distributor2) };
    const { batchId, printed: codes } = h.batches.released;
    await request(h.app).post(`/v1/batches/${batchId}/codes`).set("authorization", `Bearer ${tokens.cmo}`).send({ codes }).expect(201);
  });
  afterAll(async () => h?.close());

  it("answers one multiproof the contract accepts for a dispensing", async () => {
    const { batchId } = h.batches.released;
    const { body } = await proofs(batchId, [printed(4), printed(5)]).expect(200);
    expect(body.packs).to.have.length(2);
    const { message, signature } = await h.c.sign("BatchLedger", "Dispensing", h.c.dispenser.key, {
      dispenserId: h.c.dispenser.id,
      batchId,
      packs: body.packs,
    });
    await h.c.batches.dispensePacks(message as never, body.proof, body.proofFlags, signature);
  });

  it("names the code at fault: mistyped, repeated, or not the batch's; and refuses unregistered batches and strangers", async () => {
    const { batchId } = h.batches.released;
    const mistyped = (await proofs(batchId, [printed(4), `${printed(5).slice(0, -1)}X`]).expect(400)).body.error;
    expect(mistyped.field).to.equal("codes.1");
    const repeated = (await proofs(batchId, [printed(4), printed(4)]).expect(400)).body.error;
    expect([repeated.code, repeated.field]).to.deep.equal(["CODE_DUPLICATE", "codes.1"]);
    const other = formatCode(h.batches.recalled.packs[0]!, "hri");
    const foreign = (await proofs(batchId, [printed(4), other]).expect(400)).body.error;
    expect([foreign.code, foreign.field]).to.deep.equal(["CODE_NOT_IN_BATCH", "codes.1"]);
    expect((await proofs(h.batches.unreleased.batchId, [printed(4)], tokens.cmo).expect(404)).body.error.code).to.equal("CODES_NOT_REGISTERED");
    expect((await proofs(batchId, [printed(4)], tokens.distributor2).expect(403)).body.error.code).to.equal("NOT_YOUR_BATCH");
    await request(h.app)
      .post(`/v1/batches/${batchId}/pack-proofs`)
      .send({ codes: [printed(4)] })
      .expect(401);
    await proofs(batchId, []).expect(400);
  });

  it("lists the shipments on their way to the caller, and those it sent", async () => {
    const { batchId } = h.batches.released;
    await ship(h.c, h.c.cmo, h.c.distributor2, batchId, 1n);
    await h.indexer.catchUp();
    const incoming = (await request(h.app).get("/v1/shipments").set("authorization", `Bearer ${tokens.distributor2}`).expect(200)).body.items;
    // The harness also sent it one pack of the recalled batch, still on its way.
    expect(
      incoming.map((s: { batch: { id: string }; quantity: number; shipper: { id: number } }) => [s.batch.id, s.quantity, s.shipper.id]),
    ).to.have.deep.members([
      [batchId, 1, h.c.cmo.id],
      [h.batches.recalled.batchId, 1, h.c.cmo.id],
    ]);
    const sent = (await request(h.app).get("/v1/shipments?direction=outgoing").set("authorization", `Bearer ${tokens.cmo}`).expect(200)).body.items;
    expect(sent.map((s: { addressee: { id: number } }) => s.addressee.id)).to.include(h.c.distributor2.id);
    const received = (await request(h.app).get("/v1/shipments?status=RECEIVED").set("authorization", `Bearer ${tokens.dispenser}`).expect(200)).body
      .items;
    expect(received.map((s: { receivedQuantity: number }) => s.receivedQuantity)).to.deep.equal([4]);
    expect(
      (await request(h.app).get("/v1/shipments?direction=sideways").set("authorization", `Bearer ${tokens.cmo}`).expect(400)).body.error.field,
    ).to.equal("direction");
    await request(h.app).get("/v1/shipments").expect(401);
  });

  it("hashes a batch's codes before it is recorded, streamed or listed, to the root the codes module makes, naming a bad line", async () => {
    const { printed, tree } = await packsFor("R-2025-030", 5);
    const expiresAt = 1_900_000_000;
    const text = await request(h.app)
      .post(`/v1/codes/root?expiresAt=${expiresAt}`)
      .set("authorization", `Bearer ${tokens.cmo}`)
      .set("content-type", "text/plain")
      .send(`${printed.join("\n")}\n`)
      .expect(200);
    expect(text.body).to.deep.equal({ root: tree.root, count: 5, productCode: "06901234567892" });
    const json = await request(h.app)
      .post("/v1/codes/root")
      .set("authorization", `Bearer ${tokens.cmo}`)
      .send({ codes: printed, expiresAt })
      .expect(200);
    expect(json.body).to.deep.equal(text.body);
    // A byte order mark, CRLF line ends and blank lines are the same codes; a body of none is refused.
    const windows = await request(h.app)
      .post(`/v1/codes/root?expiresAt=${expiresAt}`)
      .set("authorization", `Bearer ${tokens.cmo}`)
      .set("content-type", "text/plain")
      .send(`\uFEFF${printed.join("\r\n\r\n")}`)
      .expect(200);
    expect(windows.body).to.deep.equal(text.body);
    const none = await request(h.app)
      .post(`/v1/codes/root?expiresAt=${expiresAt}`)
      .set("authorization", `Bearer ${tokens.cmo}`)
      .set("content-type", "text/plain")
      .send("\n \n")
      .expect(400);
    expect(none.body.error).to.include({ code: "NO_CODES", field: "codes" });
    // The same body in chunks of 3 bytes (chunked encoding): the same root.
    const server = http.createServer(h.app).listen(0, "127.0.0.1");
    try {
      await once(server, "listening");
      const { port } = server.address() as AddressInfo;
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port,
            method: "POST",
            path: `/v1/codes/root?expiresAt=${expiresAt}`,
            headers: { authorization: `Bearer ${tokens.cmo}`, "content-type": "text/plain" },
          },
          (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (part: string) => (body += part));
            res.on("end", () => resolve({ status: res.statusCode!, body }));
          },
        );
        req.on("error", reject);
        const bytes = Buffer.from(`\uFEFF${printed.join("\n")}\n`);
        for (let at = 0; at < bytes.length; at += 3) req.write(bytes.subarray(at, at + 3));
        req.end();
      });
      expect([answer.status, JSON.parse(answer.body)]).to.deep.equal([200, text.body]);
    } finally {
      server.close();
    }
    const bad = await request(h.app)
      .post(`/v1/codes/root?expiresAt=${expiresAt}`)
      .set("authorization", `Bearer ${tokens.cmo}`)
      .set("content-type", "text/plain")
      .send(`${printed[0]}\n(01)06901234567893(21)X\n`)
      .expect(400);
    expect(bad.body.error.field).to.equal("line.2");
    const undated = await request(h.app)
      .post("/v1/codes/root")
      .set("authorization", `Bearer ${tokens.cmo}`)
      .set("content-type", "text/plain")
      .send(printed[0]!)
      .expect(400);
    expect(undated.body.error.field).to.equal("expiresAt");
    await request(h.app).post(`/v1/codes/root?expiresAt=${expiresAt}`).set("content-type", "text/plain").send(printed[0]!).expect(401);
  });
});
