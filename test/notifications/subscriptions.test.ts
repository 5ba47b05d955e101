import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { STORE_KINDS } from "../indexer/stores";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";

describe.each(STORE_KINDS)("webhook subscriptions API (%s)", (kind) => {
  let h: AlertHarness;
  let distributor: string;
  let other: string;

  beforeAll(async () => {
    h = await alertHarness(kind);
    distributor = await h.bearer(h.c.distributor);
    other = await h.bearer(h.c.dispenser);
  });
  afterAll(async () => h?.close());

  const subscriptionRows = async () => h.store.db.selectFrom("webhook_subscriptions").selectAll().orderBy("id").execute();

  it("creates, lists, reads and deletes the organization's own subscriptions", async () => {
    const created = await request(h.app)
      .post("/v1/subscriptions")
      .set("authorization", distributor)
      .send({ url: "https://hooks.example.com/trace", kinds: ["alert.*", "ledger.RecallStarted"], description: "recall desk" })
      .expect(201);
    expect(created.body).to.include({
      organizationId: h.c.distributor.id,
      url: "https://hooks.example.com/trace",
      status: "active",
      description: "recall desk",
    });
    expect(created.body.secret).to.match(/^whsec_[0-9a-f]{64}$/);
    const listed = await request(h.app).get("/v1/subscriptions").set("authorization", distributor).expect(200);
    expect(listed.body.subscriptions.map((s: { id: string }) => s.id)).to.deep.equal([created.body.id]);
    expect(listed.body.subscriptions[0]).to.not.have.property("secret");
    const read = await request(h.app).get(`/v1/subscriptions/${created.body.id}`).set("authorization", distributor).expect(200);
    expect(read.body.kinds).to.deep.equal(["alert.*", "ledger.RecallStarted"]);
    expect((await request(h.app).get("/v1/subscriptions").set("authorization", other).expect(200)).body.subscriptions).to.deep.equal([]);
    const deleted = await request(h.app).delete(`/v1/subscriptions/${created.body.id}`).set("authorization", distributor).expect(200);
    expect(deleted.body.status).to.equal("deleted");
    expect((await request(h.app).get("/v1/subscriptions").set("authorization", distributor).expect(200)).body.subscriptions).to.deep.equal([]);
    const gone = await request(h.app).get(`/v1/subscriptions/${created.body.id}`).set("authorization", distributor).expect(404);
    expect(gone.body.error.code).to.equal("NO_SUCH_SUBSCRIPTION");
  });

  it("refuses a bad URL, an unknown kind and an empty kind list, storing nothing", async () => {
    const before = await subscriptionRows();
    const cases: [unknown, string, string][] = [
      [{ url: "ftp://hooks.example.com/x", kinds: ["*"] }, "INVALID_INPUT", "url"],
      [{ url: "not a url", kinds: ["*"] }, "INVALID_INPUT", "url"],
      [{ url: "https://user:pass@hooks.example.com/x", kinds: ["*"] }, "INVALID_INPUT", "url"],
      [{ url: "https://hooks.example.com/x", kinds: ["ledger.NoSuchEvent"] }, "UNKNOWN_NOTIFICATION_KIND", "kinds.0"],
      [{ url: "https://hooks.example.com/x", kinds: ["alert.*", "alerts"] }, "UNKNOWN_NOTIFICATION_KIND", "kinds.1"],
      [{ url: "https://hooks.example.com/x", kinds: [] }, "INVALID_INPUT", "kinds"],
      [{ kinds: ["*"] }, "INVALID_INPUT", "url"],
    ];
    for (const [body, code, field] of cases) {
      const res = await request(h.app)
        .post("/v1/subscriptions")
        .set("authorization", distributor)
        .send(body as object)
        .expect(400);
      expect([res.body.error.code, res.body.error.field], JSON.stringify(body)).to.deep.equal([code, field]);
    }
    expect(await subscriptionRows()).to.deep.equal(before);
  });

  it("refuses a URL whose host is a loopback, link-local or private literal or names this machine, storing nothing", async () => {
    const before = await subscriptionRows();
    const inside = [
      "http://127.0.0.1:8080/hooks",
      "http://127.1/hooks",
      "http://2130706433/hooks",
      "http://0.0.0.0/hooks",
      "http://10.1.2.3/hooks",
      "http://172.16.0.1/hooks",
      "http://172.31.255.254/hooks",
      "http://192.168.1.1/hooks",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]/hooks",
      "http://[::]/hooks",
      "https://[fd12:3456::1]/hooks",
      "https://[fe80::1]/hooks",
      "http://[::ffff:127.0.0.1]/hooks",
      "http://[::ffff:169.254.169.254]/hooks",
      "http://localhost:3000/hooks",
      "http://LOCALHOST./hooks",
      "http://api.localhost/hooks",
    ];
    for (const url of inside) {
      const res = await request(h.app)
        .post("/v1/subscriptions")
        .set("authorization", distributor)
        .send({ url, kinds: ["*"] })
        .expect(400);
      expect([res.body.error.code, res.body.error.field], url).to.deep.equal(["WEBHOOK_URL_NOT_PUBLIC", "url"]);
    }
    expect(await subscriptionRows()).to.deep.equal(before);
    // Public literals and names pass (a name is checked again, resolved, at each delivery).
    for (const url of ["https://93.184.215.14/hooks", "https://[2606:4700::1111]/hooks", "https://172.32.0.1/hooks"]) {
      const created = await request(h.app)
        .post("/v1/subscriptions")
        .set("authorization", distributor)
        .send({ url, kinds: ["*"] })
        .expect(201);
      await request(h.app).delete(`/v1/subscriptions/${created.body.id}`).set("authorization", distributor).expect(200);
    }
  });

  it("refuses callers that are not signed in, and another organization's subscription", async () => {
    await request(h.app)
      .post("/v1/subscriptions")
      .send({ url: "https://hooks.example.com/x", kinds: ["*"] })
      .expect(401);
    await request(h.app).get("/v1/subscriptions").expect(401);
    const created = await request(h.app)
      .post("/v1/subscriptions")
      .set("authorization", distributor)
      .send({ url: "https://hooks.example.com/mine", kinds: ["*"] })
      .expect(201);
    const before = await subscriptionRows();
    for (const [method, path] of [
      ["get", `/v1/subscriptions/${created.body.id}`],
      ["delete", `/v1/subscriptions/${created.body.id}`],
      ["get", `/v1/subscriptions/${created.body.id}/deliveries`],
    ] as const) {
      const res = await request(h.app)[method](path).set("authorization", other).expect(403);
      expect(res.body.error.code).to.equal("NOT_YOUR_SUBSCRIPTION");
    }
    await request(h.app).delete(`/v1/subscriptions/${created.body.id}`).expect(401);
    expect(await subscriptionRows()).to.deep.equal(before);
    const malformed = await request(h.app).get("/v1/subscriptions/12").set("authorization", distributor).expect(400);
    expect(malformed.body.error.field).to.equal("id");
    const unknown = await request(h.app)
      .get(`/v1/subscriptions/sub_${"0".repeat(24)}`)
      .set("authorization", distributor)
      .expect(404);
    expect(unknown.body.error.code).to.equal("NO_SUCH_SUBSCRIPTION");
  });

  it("lists the kinds a subscription may name", async () => {
    const res = await request(h.app).get("/v1/notification-kinds").expect(200);
    expect(res.body.kinds).to.include.members(["ledger.RecallStarted", "alert.recall_acknowledgement_overdue", "alert.retracted"]);
    expect(res.body.patterns).to.deep.equal(["*", "ledger.*", "alert.*"]);
  });
});
