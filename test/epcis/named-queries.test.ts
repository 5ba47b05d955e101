import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { createApp } from "../../src/api/app";
import { silentLogger } from "../../src/log";
import { notificationStream, STREAM_PATH } from "../../src/notifications/stream";
import { ship } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";

type Json = Record<string, any>;

/** Reads an organization's event stream until an event of `kind` arrives; answers its data. */
async function firstOfKind(url: string, authorization: string, kind: string): Promise<Json> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { authorization }, signal: abort.signal });
  const reader = response.body!.getReader();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before an event of kind ${kind}`);
      text += Buffer.from(value).toString("utf8");
      const block = text.split("\n\n").find((b) => b.split("\n").includes(`event: ${kind}`));
      if (block)
        return JSON.parse(
          block
            .split("\n")
            .find((line) => line.startsWith("data: "))!
            .slice(6),
        ) as Json;
    }
  } finally {
    abort.abort();
  }
}

describe("EPCIS named queries and subscriptions", () => {
  let h: ApiHarness;
  const bearer = async (party: Party) => `Bearer ${await h.tokenFor(party)}`;
  const as = async (party: Party, method: "get" | "post" | "delete", path: string, status: number, body?: object) => {
    const req = request(h.app)
      [method](path)
      .set("authorization", await bearer(party));
    return (await (body ? req.send(body) : req).expect(status)).body as Json;
  };
  const stored = async () => ({
    queries: (await h.store.db.selectFrom("epcis_queries").selectAll().execute()).length,
    subscriptions: (await h.store.db.selectFrom("epcis_subscriptions").selectAll().execute()).length,
    webhooks: (await h.store.db.selectFrom("webhook_subscriptions").selectAll().execute()).length,
  });

  beforeAll(async () => {
    h = await apiHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it("saves, lists, runs and deletes an organization's named queries, each its own", async () => {
    const saved = await as(h.c.distributor, "post", "/epcis/queries", 201, { name: "shipped", query: { EQ_bizStep: "shipping" } });
    expect([saved.name, saved.query]).to.deep.equal(["shipped", { EQ_bizStep: ["shipping"] }]);
    expect((await as(h.c.distributor, "get", "/epcis/queries", 200)).queries.map((q: Json) => q.name)).to.deep.equal(["shipped"]);
    expect((await as(h.c.dispenser, "get", "/epcis/queries", 200)).queries, "another organization's queries are not listed").to.deep.equal([]);
    expect((await as(h.c.dispenser, "get", "/epcis/queries/shipped", 404)).error.code).to.equal("UNKNOWN_QUERY");
    const ran = await as(h.c.distributor, "get", "/epcis/queries/shipped/events", 200);
    const simple = await as(h.c.distributor, "get", "/epcis/events?EQ_bizStep=shipping", 200);
    expect(ran.epcisBody.queryResults.queryName).to.equal("shipped");
    expect(ran.epcisBody.queryResults.resultsBody.eventList).to.deep.equal(simple.epcisBody.queryResults.resultsBody.eventList);
    expect(ran.epcisBody.queryResults.resultsBody.eventList.length).to.be.greaterThan(0);
    // Scoped as GET /epcis/events: a distributor sees the events it attested itself.
    const organizations = ran.epcisBody.queryResults.resultsBody.eventList.map((e: Json) => e["trace:organization"]);
    expect(new Set(organizations).size).to.equal(1);
    expect(organizations[0]).to.match(new RegExp(`/organizations/${h.c.distributor.id}$`));
    await as(h.c.distributor, "post", "/epcis/queries", 201, { name: "doomed", query: {} });
    expect(await as(h.c.distributor, "delete", "/epcis/queries/doomed", 200)).to.deep.equal({ name: "doomed", subscriptionsEnded: 0 });
    expect((await as(h.c.distributor, "get", "/epcis/queries/doomed/events", 404)).error.code).to.equal("UNKNOWN_QUERY");
  });

  it("refuses bad names, unknown parameters, empty time ranges and duplicates in the house's words, storing nothing", async () => {
    const before = await stored();
    const refused = async (body: object, status: number) => (await as(h.c.distributor, "post", "/epcis/queries", status, body)).error;
    expect(await refused({ name: "shipped", query: {} }, 409)).to.deep.include({ code: "QUERY_EXISTS" });
    expect(await refused({ name: "bad name!", query: {} }, 400)).to.deep.include({ code: "INVALID_INPUT", field: "name" });
    expect((await refused({ name: "x", query: { EQ_colour: "red" } }, 400)).code).to.equal("INVALID_INPUT");
    expect((await refused({ name: "x", query: { GE_eventTime: "yesterday" } }, 400)).field).to.equal("query.GE_eventTime");
    const range = { GE_eventTime: "2026-02-01T00:00:00Z", LT_eventTime: "2026-01-01T00:00:00Z" };
    expect(await refused({ name: "x", query: range }, 400)).to.deep.include({ code: "EMPTY_TIME_RANGE", field: "query.GE_eventTime" });
    const webhook = async (dest: unknown, status: number) =>
      (await as(h.c.distributor, "post", "/epcis/queries/shipped/subscriptions", status, { dest })).error;
    expect((await webhook("http://127.0.0.1:9/hook", 400)).code).to.equal("WEBHOOK_URL_NOT_PUBLIC");
    expect((await webhook("not a url", 400)).field).to.equal("dest");
    expect((await as(h.c.distributor, "post", "/epcis/queries/nosuch/subscriptions", 404, {})).error.code).to.equal("UNKNOWN_QUERY");
    expect((await as(h.c.distributor, "delete", `/epcis/queries/shipped/subscriptions/${crypto.randomUUID()}`, 404)).error.code).to.equal(
      "UNKNOWN_SUBSCRIPTION",
    );
    await request(h.app).post("/epcis/queries").send({ name: "anonymous", query: {} }).expect(401);
    expect(await stored()).to.deep.equal(before);
  });

  it("delivers each new matching event the subscriber may see to its event stream and webhook, and stops when ended", async () => {
    // The engine has read the ledger's history before anyone subscribes, as a running service has.
    const engine = createAlertEngine({ store: h.store, config: alertConfig(), log: silentLogger(), now: () => Math.floor(Date.now() / 1000) });
    await engine.catchUp();
    const streamed = await as(h.c.distributor, "post", "/epcis/queries/shipped/subscriptions", 201, {});
    expect([streamed.dest, streamed.secret, streamed.stream]).to.deep.equal([null, null, STREAM_PATH]);
    const hooked = await as(h.c.distributor, "post", "/epcis/queries/shipped/subscriptions", 201, { dest: "https://erp.example.com/epcis" });
    expect(hooked.secret).to.be.a("string");
    const webhook = await h.store.db
      .selectFrom("webhook_subscriptions")
      .selectAll()
      .where("url", "=", "https://erp.example.com/epcis")
      .executeTakeFirstOrThrow();
    expect(JSON.parse(webhook.kinds)).to.deep.equal(["epcis.shipped"]);
    expect((await as(h.c.distributor, "get", "/epcis/queries/shipped/subscriptions", 200)).subscriptions).to.have.length(2);

    const delivered = () => h.store.db.selectFrom("notifications").selectAll().where("kind", "=", "epcis.shipped").execute();
    await engine.catchUp();
    expect(await delivered(), "only events after the subscription").to.deep.equal([]);
    // The distributor ships (matches), the dispenser's later receipt would not; another organization's shipment is not its to see.
    await ship(h.c, h.c.distributor, h.c.dispenser, h.batches.released.batchId, 1n);
    await ship(h.c, h.c.cmo, h.c.distributor2, h.batches.released.batchId, 1n);
    await h.indexer.catchUp();
    await engine.catchUp();
    const rows = await delivered();
    expect(rows.map((r) => [r.organization_id, JSON.parse(r.payload).subscriptionID])).to.have.deep.members([
      [h.c.distributor.id, streamed.subscriptionID],
      [h.c.distributor.id, hooked.subscriptionID],
    ]);
    const payload = JSON.parse(rows[0]!.payload) as Json;
    expect([payload.queryName, payload.event.bizStep, payload.event["trace:organization"]]).to.deep.equal([
      "shipped",
      "shipping",
      `${payload.event["trace:organization"].replace(/\d+$/, "")}${h.c.distributor.id}`,
    ]);

    // The organization's event stream carries it.
    const stream = notificationStream({ pollMs: 20 });
    const server = await new Promise<http.Server>((resolve) => {
      const listening = createApp(h.services, [], [stream.mount]).listen(0, "127.0.0.1", () => resolve(listening));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${STREAM_PATH}`;
      const data = await firstOfKind(url, await bearer(h.c.distributor), "epcis.shipped");
      expect(data.data.event.bizStep).to.equal("shipping");
    } finally {
      stream.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    // Ended subscriptions deliver nothing more; deleting the query ends the rest and their webhooks.
    await as(h.c.distributor, "delete", `/epcis/queries/shipped/subscriptions/${streamed.subscriptionID}`, 200);
    expect(await as(h.c.distributor, "delete", "/epcis/queries/shipped", 200)).to.deep.equal({ name: "shipped", subscriptionsEnded: 1 });
    const ended = await h.store.db.selectFrom("webhook_subscriptions").select("status").where("id", "=", webhook.id).executeTakeFirstOrThrow();
    expect(ended.status).to.equal("deleted");
    await ship(h.c, h.c.distributor, h.c.dispenser, h.batches.released.batchId, 1n);
    await h.indexer.catchUp();
    await engine.catchUp();
    expect(await delivered()).to.have.length(2);
  });
});
