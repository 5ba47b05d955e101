import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import type { Express } from "express";
import type { Api } from "../../src/api/app";
import type { ApiServices } from "../../src/api/context";
import { createStoreHealth } from "../../src/store/health";
import { pair, sameAnswer } from "./fast-pair";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

type Send = (app: Api | Express) => request.Test;

describe("a batch and its provenance answered from the node:http handler, ahead of express", () => {
  let h: ApiHarness;
  let regulator: string;
  let pharmacy: string;
  let batchId: string;

  beforeAll(async () => {
    h = await apiHarness();
    regulator = await h.tokenFor(h.c.regulator);
    pharmacy = await h.tokenFor(h.c.dispenser);
    batchId = h.batches.released.batchId;
  });
  afterAll(async () => h.close());

  const get =
    (path: string, token?: string): Send =>
    (app) => {
      const test = request(app).get(path);
      return token === undefined ? test : test.set("authorization", `Bearer ${token}`);
    };

  it("answers a batch and every page of its provenance, cursor to cursor, as express does, without express", async () => {
    const apis = pair(h.services);
    const batch = await sameAnswer(apis, get(`/v1/batches/${batchId}`, regulator));
    expect([batch.status, (batch.body as { id: string }).id, batch.headers["content-type"]]).to.deep.equal([
      200,
      batchId,
      "application/json; charset=utf-8",
    ]);
    const entries: unknown[] = [];
    let cursor: string | null = "";
    let pages = 0;
    while (cursor !== null) {
      const query: string = cursor === "" ? "?limit=3" : `?limit=3&cursor=${cursor}`;
      const page = await sameAnswer(apis, get(`/v1/batches/${batchId}/provenance${query}`, regulator));
      expect([page.status, page.headers["content-type"], page.headers["transfer-encoding"]]).to.deep.equal([
        200,
        "application/json; charset=utf-8",
        "chunked",
      ]);
      const body = page.body as { entries: unknown[]; nextCursor: string | null };
      entries.push(...body.entries);
      cursor = body.nextCursor;
      pages++;
    }
    expect(pages).to.be.greaterThan(2);
    const whole = await request(h.app).get(`/v1/batches/${batchId}/provenance?limit=1000`).set("authorization", `Bearer ${regulator}`).expect(200);
    expect(entries).to.deep.equal(whole.body.entries);
    // The default page, and a query's `+` and percent escapes, read as express's "simple" parser reads them.
    await sameAnswer(apis, get(`/v1/batches/${batchId}/provenance`, regulator));
    await sameAnswer(apis, get(`/v1/batches/${batchId}/provenance?limit=%32`, regulator));
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  it("refuses what express refuses, with the same status and error, without express", async () => {
    const apis = pair(h.services);
    const provenance = `/v1/batches/${batchId}/provenance`;
    // What is wrong, the request, the status and the error's code and field.
    const cases: [string, Send, number, string, string?][] = [
      ["no token", get(provenance), 401, "TOKEN_REQUIRED"],
      ["a token this ledger did not issue", get(provenance, "made.up"), 401, "INVALID_TOKEN"],
      ["a pharmacy asking for the whole history", get(provenance, pharmacy), 403, "PROVENANCE_RESTRICTED"],
      ["a pharmacy asking for a batch it never held", get(`/v1/batches/${h.batches.unreleased.batchId}`, pharmacy), 403, "NOT_YOUR_BATCH"],
      ["a batch id that is no bytes32", get("/v1/batches/0x1234/provenance", regulator), 400, "INVALID_INPUT", "batchId"],
      ["a batch nobody recorded", get(`/v1/batches/0x${"ab".repeat(32)}/provenance`, regulator), 404, "UNKNOWN_BATCH"],
      ["a page of none", get(`${provenance}?limit=0`, regulator), 400, "INVALID_INPUT", "limit"],
      ["a page too long", get(`${provenance}?limit=100000`, regulator), 400, "INVALID_INPUT", "limit"],
      ["a limit given twice", get(`${provenance}?limit=2&limit=3`, regulator), 400, "INVALID_INPUT", "limit"],
      ["a limit that is no number", get(`${provenance}?limit=many`, regulator), 400, "INVALID_INPUT", "limit"],
      ["a cursor no page gave", get(`${provenance}?cursor=bm90IGEgY3Vyc29y`, regulator), 400, "INVALID_CURSOR", "cursor"],
    ];
    for (const [what, send, status, code, field] of cases) {
      const answer = await sameAnswer(apis, send);
      const { error } = answer.body as { error: { code: string; field?: string } };
      expect([what, answer.status, error.code, error.field]).to.deep.equal([what, status, code, field]);
    }
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  it("answers 503 with Retry-After while the store is damaged, as express does", async () => {
    const health = createStoreHealth("test store");
    health.damaged("a page of the file failed its check");
    const damaged: ApiServices = { ...h.services, store: { ...h.services.store, health } };
    const apis = pair(damaged);
    const answer = await sameAnswer(apis, get(`/v1/batches/${batchId}/provenance`, regulator));
    expect([answer.status, (answer.body as { error: { code: string } }).error.code]).to.deep.equal([503, "STORE_DAMAGED"]);
    expect(answer.headers["retry-after"]).to.match(/^\d+$/);
    expect(apis.reachedExpress).to.deep.equal([]);
  });

  it("leaves to express what express would read otherwise: HEAD, another case, a trailing slash, an escaped path, a body, an unusual query", async () => {
    const apis = pair(h.services);
    const provenance = `/v1/batches/${batchId}/provenance`;
    const sends: [string, Send][] = [
      ["HEAD", (app) => request(app).head(provenance).set("authorization", `Bearer ${regulator}`)],
      ["another case", get(`/V1/batches/${batchId}/provenance`, regulator)],
      ["a trailing slash", get(`${provenance}/`, regulator)],
      ["an escaped path", get(`/v1/batches/0%78${batchId.slice(2)}/provenance`, regulator)],
      ["a body", (app) => get(provenance, regulator)(app).set("content-type", "application/json").send("{not json")],
      ["an unusual query", get(`${provenance}?limit=2;3`, regulator)],
      [
        "an empty body in a charset express refuses",
        (app) => get(provenance, regulator)(app).set("content-type", "application/json; charset=latin1").set("content-length", "0"),
      ],
      ["a conditional request", (app) => get(`/v1/batches/${batchId}`, regulator)(app).set("if-none-match", "*")],
    ];
    const statuses: [string, number][] = [];
    for (const [what, send] of sends) statuses.push([what, (await sameAnswer(apis, send)).status]);
    expect(statuses).to.deep.equal([
      ["HEAD", 200],
      ["another case", 200],
      ["a trailing slash", 200],
      ["an escaped path", 200],
      ["a body", 400],
      ["an unusual query", 400],
      ["an empty body in a charset express refuses", 415],
      ["a conditional request", 304],
    ]);
    expect(apis.reachedExpress).to.have.length(sends.length);
  });

  it("counts its answers in the same Prometheus series as express's, by route and status", async () => {
    const apis = pair(h.services);
    await request(apis.fast).get(`/v1/batches/${batchId}/provenance`).set("authorization", `Bearer ${regulator}`).expect(200);
    await request(apis.fast).get(`/v1/batches/${batchId}/provenance`).set("authorization", `Bearer ${pharmacy}`).expect(403);
    const metrics = (await request(apis.fast).get("/metrics").expect(200)).text;
    expect(metrics).to.match(/http_request_duration_seconds_count\{method="GET",route="\/v1\/batches\/:batchId\/provenance",status="200"\} 1/);
    expect(metrics).to.match(/http_errors_total\{method="GET",route="\/v1\/batches\/:batchId\/provenance",status="403"\} 1/);
  });

  it("counts a refusal for a damaged store as unrouted, as express does (its refusal comes before routing)", async () => {
    const health = createStoreHealth("test store");
    health.damaged("a page of the file failed its check");
    const apis = pair({ ...h.services, store: { ...h.services.store, health } });
    const series = /http_errors_total\{method="GET",route="unmatched",status="503"\} 1/;
    for (const app of [apis.fast, apis.express]) {
      await request(app).get(`/v1/batches/${batchId}/provenance`).set("authorization", `Bearer ${regulator}`).expect(503);
    }
    for (const app of [apis.fast, apis.express]) expect((await request(app).get("/metrics")).text).to.match(series);
    expect(apis.reachedExpress).to.deep.equal(["/metrics"]);
  });
});
