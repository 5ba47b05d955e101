import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import http from "node:http";
import { Wallet } from "ethers";
import type { AddressInfo } from "node:net";
import request from "supertest";
import { createApp } from "../../src/api/app";
import { notificationStream } from "../../src/notifications/stream";
import { sql } from "kysely";
import { handOver, releasedBatch, suspendOrganization } from "../contracts/fixtures";
import { adminQuery } from "../indexer/stores";
import type { StoreKind } from "../indexer/stores";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";
import { waitFor } from "./receiver";

type StreamEvent = {
  id: string;
  event: string;
  data: { id: number; kind: string; idempotencyKey: string; data: { event?: { name: string; batchId: string }; args?: Record<string, unknown> } };
};

/** Opens the stream and collects its events until close(). */
function openStream(url: string, headers: Record<string, string>) {
  const events: StreamEvent[] = [];
  let request: http.ClientRequest | undefined;
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    request = http.get(url, { headers }, (res) => {
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(
            block
              .split("\n")
              .filter((line) => !line.startsWith(":"))
              .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
          );
          if (fields.has("data")) events.push({ id: fields.get("id")!, event: fields.get("event")!, data: JSON.parse(fields.get("data")!) });
        }
      });
      res.on("error", () => undefined);
      resolve(res);
    });
    request.on("error", reject);
  });
  const ended = response.then((res) => new Promise<void>((resolve) => res.on("close", resolve)));
  return { events, response, ended, close: () => request?.destroy() };
}

/** The last event of a stream the server ended: why, as the API's error code and message; no id, so resuming is unaffected. */
const closing = (code: string, message: string) => ({ id: undefined, event: "stream.closed", data: { code, message } });

/** Resolves when the stream has ended, or fails after `limitMs` naming what was awaited. */
async function endOf(stream: ReturnType<typeof openStream>, what: string, limitMs = 10_000) {
  let ended = false;
  void stream.ended.then(() => (ended = true));
  await waitFor(what, () => ended, limitMs);
}

/** The alert harness over a store of `kind`, its stream served on loopback. */
async function streamingHarness(kind: StoreKind) {
  const stream = notificationStream({ pollMs: 20 });
  const h = await alertHarness(kind);
  await h.sync();
  const app = createApp(h.services, [], [stream.mount]);
  const server = await new Promise<http.Server>((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/notifications/stream`;
  return {
    h,
    base,
    server,
    /** Opens the organization's stream and waits until it has delivered the organization's backlog. */
    async caughtUpStream(organizationId: number, authorization: string) {
      const backlog = await h.store.db.selectFrom("notifications").select("id").where("organization_id", "=", organizationId).execute();
      const open = openStream(base, { authorization });
      await waitFor("the backlog", () => open.events.length === backlog.length);
      return open;
    },
    async close() {
      stream.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.close();
    },
  };
}

describe("notification stream (server-sent events)", () => {
  let served: Awaited<ReturnType<typeof streamingHarness>>;
  let h: AlertHarness;
  let server: http.Server;
  let base: string;
  const caughtUpStream = (organizationId: number, authorization: string) => served.caughtUpStream(organizationId, authorization);

  beforeAll(async () => {
    served = await streamingHarness("sqlite");
    ({ h, server, base } = served);
  });
  afterAll(async () => served?.close());

  it("streams the organization's notifications in order, live, and resumes after Last-Event-ID", async () => {
    const authorization = await h.bearer(h.c.distributor);
    const mine = async () =>
      h.store.db.selectFrom("notifications").select(["id", "kind"]).where("organization_id", "=", h.c.distributor.id).orderBy("id").execute();
    const history = await mine();
    const first = openStream(base, { authorization });
    expect((await first.response).headers["content-type"]).to.match(/^text\/event-stream/);
    await waitFor("the backlog", () => first.events.length === history.length);
    expect(first.events.map((e) => Number(e.id))).to.deep.equal(history.map((n) => Number(n.id)));
    expect(first.events.every((e) => e.event === e.data.kind)).to.equal(true);

    // Live: new ledger activity reaches an open stream.
    const { batchId } = await releasedBatch(h.c, "STREAMED", 50n);
    await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 5n);
    await h.sync();
    const now = await mine();
    expect(now.length).to.be.greaterThan(history.length);
    await waitFor("live notifications", () => first.events.length === now.length);
    // A ledger event's notification carries the event and its signed arguments.
    const shipped = first.events.find((e) => e.event === "ledger.BatchShipped" && e.data.data.event?.batchId === batchId)!;
    expect(shipped.data.data.args).to.include({ batchId, recipientId: h.c.distributor.id, quantity: 5 });
    expect(shipped.data.data.args!.signature).to.match(/^0x[0-9a-f]{130}$/);
    first.close();

    // A reconnecting client names the last event it saw and gets only what followed.
    const seen = first.events[history.length - 1]!.id;
    const resumed = openStream(base, { authorization, "last-event-id": seen });
    await waitFor("the rest after Last-Event-ID", () => resumed.events.length === now.length - history.length);
    expect(resumed.events.map((e) => Number(e.id))).to.deep.equal(now.slice(history.length).map((n) => Number(n.id)));
    resumed.close();
  });

  it("carries only the signed-in organization's notifications", async () => {
    const stranger = openStream(base, { authorization: await h.bearer(h.c.distributor2) });
    const theirs = await h.store.db.selectFrom("notifications").select("id").where("organization_id", "=", h.c.distributor2.id).execute();
    await waitFor("the backlog", () => stranger.events.length === theirs.length);
    const ids = new Set(theirs.map((t) => Number(t.id)));
    expect(stranger.events.every((e) => ids.has(Number(e.id)))).to.equal(true);
    stranger.close();
  });

  it("refuses a caller that is not signed in, and a malformed Last-Event-ID", async () => {
    const anonymous = await request(server).get("/v1/notifications/stream").expect(401);
    expect(anonymous.body.error.code).to.equal("TOKEN_REQUIRED");
    const bad = await request(server)
      .get("/v1/notifications/stream")
      .set("authorization", await h.bearer(h.c.distributor))
      .set("last-event-id", "yesterday")
      .expect(400);
    expect(bad.body.error).to.include({ code: "INVALID_LAST_EVENT_ID", field: "Last-Event-ID" });
  });

  it("ends a stream whose token expires, saying so in a last event", async () => {
    const open = await caughtUpStream(h.c.mah.id, await h.bearer(h.c.mah));
    const delivered = open.events.length;
    h.setNow(h.services.now() + h.services.config.tokenLifetime + 1);
    try {
      await endOf(open, "the stream to end when its token expired");
    } finally {
      h.setNow(Math.floor(Date.now() / 1000));
    }
    expect(open.events.slice(delivered)).to.deep.equal([closing("EXPIRED_TOKEN", "the token expired; sign in again")]);
  });

  it("ends a suspended organization's stream, delivering nothing indexed after the suspension", async () => {
    const open = await caughtUpStream(h.c.distributor2.id, await h.bearer(h.c.distributor2));
    const delivered = open.events.length;
    await suspendOrganization(h.c, h.c.distributor2.id);
    await h.sync();
    await endOf(open, "the stream to end when its organization was suspended");
    expect(open.events.slice(delivered)).to.deep.equal([closing("ORGANIZATION_SUSPENDED", `organization ${h.c.distributor2.id} is suspended`)]);
  });

  it("ends the stream of a revoked key, delivering nothing indexed after the revocation", async () => {
    const { c } = h;
    const open = await caughtUpStream(c.cmo.id, await h.bearer(c.cmo));
    const delivered = open.events.length;
    const successor = Wallet.createRandom();
    const added = await c.sign("ConsortiumRegistry", "SigningKeyAddition", c.cmo.key, { organizationId: c.cmo.id, signingKey: successor.address });
    await c.registry.addSigningKey(added.message as never, added.signature);
    const revoked = await c.sign("ConsortiumRegistry", "SigningKeyRevocation", successor, {
      organizationId: c.cmo.id,
      signingKey: c.cmo.key.address,
    });
    await c.registry.revokeSigningKey(revoked.message as never, revoked.signature);
    await h.sync();
    await endOf(open, "the stream to end when its key was revoked");
    expect(open.events.slice(delivered)).to.deep.equal([closing("REVOKED_KEY", `key ${c.cmo.key.address} was revoked by its organization`)]);
  });

  it("is described in the API's OpenAPI document", async () => {
    const document = (await request(server).get("/openapi.json").expect(200)).body;
    const operation = document.paths["/v1/notifications/stream"].get;
    expect(Object.keys(operation.responses["200"].content)).to.deep.equal(["text/event-stream"]);
    expect(operation.security).to.deep.equal([{ organizationToken: [] }]);
    expect(operation.parameters.map((p: { name: string }) => p.name)).to.deep.equal(["Last-Event-ID", "after"]);
  });
});

describe("notification stream over PostgreSQL", () => {
  let served: Awaited<ReturnType<typeof streamingHarness>>;
  beforeAll(async () => {
    served = await streamingHarness("postgres");
  });
  afterAll(async () => served?.close());

  it("stays open while the database drops every connection, and delivers what is indexed after", async () => {
    const { h } = served;
    const open = await served.caughtUpStream(h.c.distributor.id, await h.bearer(h.c.distributor));
    const { rows } = await sql<{ name: string }>`SELECT current_database() AS name`.execute(h.store.db);
    // What a failover or an administrator's pg_terminate_backend does to the stream's and everyone's connections.
    await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [rows[0]!.name]);
    const { batchId } = await releasedBatch(h.c, "AFTER-FAILOVER", 50n);
    await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 5n);
    await h.sync();
    const mine = await h.store.db.selectFrom("notifications").select("id").where("organization_id", "=", h.c.distributor.id).orderBy("id").execute();
    await waitFor("the notifications indexed after the connections were dropped", () => open.events.length === mine.length);
    expect(open.events.map((e) => Number(e.id))).to.deep.equal(mine.map((n) => Number(n.id)));
    expect(open.events.filter((e) => e.event === "stream.closed")).to.deep.equal([]);
    open.close();
  });
});
