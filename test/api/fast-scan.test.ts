import { createServer, IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import type { Express } from "express";
import type { Api } from "../../src/api/app";
import type { ApiServices } from "../../src/api/context";
import { withCheckDigit } from "../../src/codes";
import { GTIN } from "../contracts/fixtures";
import { pair, sameAnswer } from "./fast-pair";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

describe("scans answered from the node:http handler, ahead of express", () => {
  let h: ApiHarness;
  let limited: ApiServices;
  const printed: string[] = [];

  beforeAll(async () => {
    h = await apiHarness();
    for (const { batchId, printed: codes } of [h.batches.released, h.batches.recalled]) {
      await request(h.app)
        .post(`/v1/batches/${batchId}/codes`)
        .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
        .send({ codes })
        .expect(201);
    }
    printed.push(...h.batches.released.printed);
    limited = { ...h.services, config: { ...h.services.config, publicRateLimit: 3 } };
  });
  afterAll(async () => h.close());

  it("answers good codes, unknown codes, other products' codes and recalled packs as express does, with the rate limit's headers", async () => {
    const apis = pair(h.services);
    const unknownSerial = printed[0]!.replace(/21[0-9A-Za-z]+$/, "21NOSUCHSERIAL");
    const cases = [
      [printed[5]!, "GENUINE"],
      [printed[0]!, "ALREADY_DISPENSED"],
      [h.batches.recalled.printed[1]!, "RECALLED"],
      [unknownSerial, "UNKNOWN_CODE"],
      [printed[5]!.replace(GTIN, withCheckDigit("0690999999999")), "NOT_ON_LEDGER"],
    ] as const;
    for (const [code, verdict] of cases) {
      const answer = await sameAnswer(apis, (app) => request(app).post("/v1/scans").send({ code }));
      expect([answer.status, (answer.body as { verdict: string }).verdict]).to.deep.equal([200, verdict]);
      expect(answer.headers["content-type"]).to.equal("application/json; charset=utf-8");
      expect(answer.headers["ratelimit-policy"]).to.equal("10000;w=60");
    }
    // The second scan from this client: one more counted in the same window.
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  it("answers a signed-in scan with custody and the pack's proof, and a bad token with 401, as express does", async () => {
    const apis = pair(h.services);
    const token = await h.tokenFor(h.c.distributor);
    const signedIn = await sameAnswer(apis, (app) =>
      request(app).post("/v1/scans").set("authorization", `Bearer ${token}`).send({ code: printed[5]!, place: "warehouse 2" }),
    );
    const body = signedIn.body as { verdict: string; custody: unknown[]; proof: { proof: string[] } };
    expect([signedIn.status, body.verdict, body.custody.length > 0, body.proof.proof.length > 0]).to.deep.equal([200, "GENUINE", true, true]);
    // A signed-in organization is not rate-limited, so no rate-limit headers.
    expect(signedIn.headers).to.not.have.property("ratelimit");
    const forged = await sameAnswer(apis, (app) => request(app).post("/v1/scans").set("authorization", "Bearer made.up").send({ code: printed[5]! }));
    expect([forged.status, (forged.body as { error: { code: string } }).error.code]).to.deep.equal([401, "INVALID_TOKEN"]);
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  it("refuses bad input with the same specific errors as express, and never stores anything for it", async () => {
    const apis = pair(h.services);
    const json = (body: string) => (app: Api | Express) => request(app).post("/v1/scans").set("content-type", "application/json").send(body);
    // What is wrong, the request, the status, the error's code ("" where the code parser names it) and field.
    const cases: [string, (app: Api | Express) => request.Test, number, string, string?][] = [
      ["not JSON", json("{code:"), 400, "MALFORMED_JSON"],
      ["JSON but not an object", json("null"), 400, "MALFORMED_JSON"],
      ["an empty body", json(""), 400, "INVALID_INPUT", "code"],
      ["a byte order mark before the object", json(`\uFEFF${JSON.stringify({ code: "" })}`), 400, "INVALID_INPUT", "code"],
      ["no code", (app) => request(app).post("/v1/scans").send({}), 400, "INVALID_INPUT", "code"],
      [
        "a code too long",
        (app) =>
          request(app)
            .post("/v1/scans")
            .send({ code: "0".repeat(513) }),
        400,
        "INVALID_INPUT",
        "code",
      ],
      ["an unknown format", (app) => request(app).post("/v1/scans").send({ code: printed[5]!, format: "qr" }), 400, "INVALID_INPUT", "format"],
      ["a blank place", (app) => request(app).post("/v1/scans").send({ code: printed[5]!, place: " " }), 400, "INVALID_INPUT", "place"],
      ["a GTIN with a wrong check digit", (app) => request(app).post("/v1/scans").send({ code: "]d201069012345678901721SERIAL" }), 400, "", "code"],
      ["text that is no code", (app) => request(app).post("/v1/scans").send({ code: "hello" }), 400, "", "code"],
    ];
    const before = await h.store.db
      .selectFrom("scan_observations")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    for (const [what, send, status, code, field] of cases) {
      const answer = await sameAnswer(apis, send);
      const error = (answer.body as { error: { code: string; field?: string } }).error;
      expect([what, answer.status, code || error.code, error.field?.split(".")[0]]).to.deep.equal([what, status, error.code, field]);
      if (code) expect(error.code).to.equal(code);
    }
    const after = await h.store.db
      .selectFrom("scan_observations")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    expect(Number(after?.n)).to.equal(Number(before?.n));
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  /** Sends a scan over a raw connection, its bytes in the given parts, each written once the last was sent; the answer's body. */
  async function scanInParts(app: Api, parts: (body: Buffer) => Buffer[], code: string): Promise<string> {
    const server = createServer(app).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const body = Buffer.from(JSON.stringify({ code }));
      const head = Buffer.from(
        `POST /v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      const closed = new Promise((resolve) => socket.once("close", resolve));
      for (const part of parts(Buffer.concat([head, body]))) {
        await new Promise((resolve) => socket.write(part, resolve));
        // A pause between the parts, so the server's parser takes them in separate reads.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await closed;
      return Buffer.concat(received).toString("utf8").split("\r\n\r\n")[1]!;
    } finally {
      server.close();
    }
  }

  it("reads a body that comes after its headers, whole or in pieces, as one that comes with them", async () => {
    const apis = pair(h.services);
    const code = printed[5]!;
    const expected = (await request(apis.express).post("/v1/scans").send({ code }).expect(200)).text;
    const headersEnd = (request: Buffer) => request.indexOf("\r\n\r\n") + 4;
    const ways: [string, (request: Buffer) => Buffer[]][] = [
      ["with the headers", (request) => [request]],
      ["after the headers", (request) => [request.subarray(0, headersEnd(request)), request.subarray(headersEnd(request))]],
      [
        "in two pieces after the headers",
        (request) => [request.subarray(0, headersEnd(request)), request.subarray(headersEnd(request), -5), request.subarray(-5)],
      ],
    ];
    for (const [way, parts] of ways) expect([way, await scanInParts(apis.fast, parts, code)]).to.deep.equal([way, expected]);
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  it("answers a scan whose client left before its body came as express does (400, counted), not never", async () => {
    const apis = pair(h.services);
    const req = new IncomingMessage(new Socket());
    Object.assign(req, { method: "POST", url: "/v1/scans", headers: { "content-type": "application/json", "content-length": "40" } });
    const res = new ServerResponse(req);
    apis.fast(req, res);
    req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(res.statusCode).to.equal(400);
    // Counted as unrouted, where express would count it: its body parser refuses the body before the route is reached.
    const metrics = (await request(apis.fast).get("/metrics").expect(200)).text;
    expect(metrics).to.match(/http_errors_total\{method="POST",route="unmatched",status="400"\} 1/);
  });

  it("leaves to express what it does not read as express would: a compressed body, another charset", async () => {
    const apis = pair(h.services);
    const gzipped = gzipSync(Buffer.from(JSON.stringify({ code: printed[5]! })));
    const answer = await sameAnswer(apis, (app) =>
      request(app)
        .post("/v1/scans")
        .set("content-type", "application/json")
        .set("content-encoding", "gzip")
        // superagent would write the Buffer as JSON; it goes as it is.
        .serialize(((body: Buffer) => body) as unknown as (body: unknown) => string)
        .send(gzipped),
    );
    expect([answer.status, (answer.body as { verdict: string }).verdict]).to.deep.equal([200, "GENUINE"]);
    const latin = await sameAnswer(apis, (app) =>
      request(app)
        .post("/v1/scans")
        .set("content-type", "application/json; charset=koi8-r")
        .send(JSON.stringify({ code: printed[5]! })),
    );
    expect(latin.status).to.equal(415);
    expect(apis.reachedExpress).to.deep.equal(["/v1/scans", "/v1/scans"]);
  });

  it("limits anonymous scans per client in one window shared with the other public endpoints, with express's headers and 429", async () => {
    const apis = pair(limited);
    const code = printed[5]!;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await sameAnswer(apis, (app) => request(app).post("/v1/scans").send({ code })));
    expect(answers.map((a) => [a.status, a.headers["ratelimit-policy"], a.headers.ratelimit?.replace(/reset=\d+/, "")])).to.deep.equal([
      [200, "3;w=60", "limit=3, remaining=2, "],
      [200, "3;w=60", "limit=3, remaining=1, "],
      [200, "3;w=60", "limit=3, remaining=0, "],
    ]);
    const reset = Number(/reset=(\d+)/.exec(answers[2]!.headers.ratelimit!)![1]);
    expect(reset).to.be.within(1, 60);
    const refused = await sameAnswer(apis, (app) => request(app).post("/v1/scans").send({ code }));
    expect([refused.status, refused.body, refused.headers.ratelimit?.replace(/reset=\d+/, "")]).to.deep.equal([
      429,
      { error: { code: "RATE_LIMITED", message: "too many requests; slow down or sign in" } },
      "limit=3, remaining=0, ",
    ]);
    expect(Number(refused.headers["retry-after"])).to.be.within(1, 60);
    // Counted as express counts it: refused before the scan's route was reached.
    const unrouted = /http_errors_total\{method="POST",route="unmatched",status="429"\} 1/;
    for (const app of [apis.fast, apis.express]) expect((await request(app).get("/metrics")).text).to.match(unrouted);
    // One count across public endpoints: the scans used this client's window up for the organizations route too.
    const other = await request(apis.fast).get(`/v1/organizations/${h.c.mah.id}`);
    expect([other.status, other.body.error?.code]).to.deep.equal([429, "RATE_LIMITED"]);
    // A signed-in organization is not limited.
    const token = await h.tokenFor(h.c.dispenser);
    const signedIn = await request(apis.fast).post("/v1/scans").set("authorization", `Bearer ${token}`).send({ code });
    expect([signedIn.status, signedIn.body.verdict]).to.deep.equal([200, "GENUINE"]);
    expect(apis.reachedExpress).to.deep.equal(["/metrics", `/v1/organizations/${h.c.mah.id}`]);
  });

  it("counts its answers in the same Prometheus series as express's, by route and status", async () => {
    const apis = pair(h.services);
    await request(apis.fast).post("/v1/scans").send({ code: printed[5]! }).expect(200);
    await request(apis.fast).post("/v1/scans").send({ code: "hello" }).expect(400);
    const metrics = (await request(apis.fast).get("/metrics").expect(200)).text;
    expect(metrics).to.match(/http_request_duration_seconds_count\{method="POST",route="\/v1\/scans",status="200"\} 1/);
    expect(metrics).to.match(/http_errors_total\{method="POST",route="\/v1\/scans",status="400"\} 1/);
  });
});
