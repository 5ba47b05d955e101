import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { NOT_PUBLIC } from "../../src/notifications/address";
import { ship } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { answerOf, errorOf, trace, workDir, serveRelayedApi } from "./helpers";

type Json = Record<string, any>;

/**
 * `trace epcis custody`, `query`, `queries` and `subscriptions` against a real API: each command's answer, and bad
 * arguments refused with the house's error, a nonzero exit and nothing stored.
 */
describe("trace epcis custody, query, queries and subscriptions", () => {
  let h: ApiHarness;
  let relayed: Awaited<ReturnType<typeof serveRelayedApi>>;
  let api: string;
  let deployment: string;
  const work = workDir();

  const run = (party: Party, ...argv: string[]) => trace({ TRACE_PRIVATE_KEY: party.key.privateKey }, ...argv, "--api", api);
  const cli = (party: Party, ...argv: string[]) => run(party, ...argv, "--json");
  const events = (answer: Json) => answer.epcisBody.queryResults.resultsBody.eventList as Json[];
  const stored = async () => ({
    custody: (await h.store.db.selectFrom("custody_keys").selectAll().execute()).length,
    queries: (await h.store.db.selectFrom("epcis_queries").selectAll().execute()).length,
    subscriptions: (await h.store.db.selectFrom("epcis_subscriptions").selectAll().execute()).length,
    webhooks: (await h.store.db.selectFrom("webhook_subscriptions").selectAll().execute()).length,
  });

  beforeAll(async () => {
    h = await apiHarness();
    relayed = await serveRelayedApi(h, work);
    ({ api, deployment } = relayed);
    await ship(h.c, h.c.cmo, h.c.distributor, h.batches.released.batchId, 1n);
    await h.indexer.catchUp();
    relayed.follow();
  });
  afterAll(async () => {
    await relayed?.close();
  });

  it("custody: keep makes a key and says how to register it; show tells once it is registered; forget erases it", async () => {
    expect(errorOf(await cli(h.c.distributor, "epcis", "custody", "show"), 2).code).to.equal("NO_CUSTODY_KEY");
    expect(errorOf(await cli(h.c.distributor, "epcis", "custody", "forget"), 2).code).to.equal("NO_CUSTODY_KEY");
    const kept = answerOf(await cli(h.c.distributor, "epcis", "custody", "keep"));
    expect(kept).to.include({ organizationId: h.c.distributor.id, registered: false });
    expect(answerOf(await cli(h.c.distributor, "epcis", "custody", "keep")).address, "keeping again keeps the same key").to.equal(kept.address);
    const shown = await run(h.c.distributor, "epcis", "custody", "show");
    expect(shown.status).to.equal(0);
    expect(shown.stdout).to.include(kept.address).and.include(`trace organizations add-key ${kept.address}`);
    const added = await cli(h.c.distributor, "organizations", "add-key", kept.address, "--deployment", deployment, "--wait");
    expect(answerOf(added)).to.include({ attestation: "SigningKeyAddition" });
    await h.indexer.catchUp();
    expect(answerOf(await cli(h.c.distributor, "epcis", "custody", "show"))).to.include({ address: kept.address, registered: true });
    expect((await run(h.c.distributor, "epcis", "custody", "show")).stdout).to.include("registered: captures are signed and sent by the server");
    expect(answerOf(await cli(h.c.distributor, "epcis", "custody", "forget"))).to.deep.equal({ organizationId: h.c.distributor.id, erased: true });
    expect(errorOf(await cli(h.c.distributor, "epcis", "custody", "show"), 2).code).to.equal("NO_CUSTODY_KEY");
    expect((await stored()).custody).to.equal(0);
  });

  it("custody without --api or a key: a clear error, nothing stored", async () => {
    const noApi = await trace({ TRACE_PRIVATE_KEY: h.c.distributor.key.privateKey }, "epcis", "custody", "keep", "--json");
    expect(errorOf(noApi, 2)).to.include({ code: "API_REQUIRED", field: "--api" });
    expect((await trace({}, "epcis", "custody", "keep", "--api", api, "--json")).status).to.not.equal(0);
    expect((await stored()).custody).to.equal(0);
  });

  it("query: events by business step, EPC and time, scoped as the API is; a table without --json", async () => {
    const shipping = events(answerOf(await cli(h.regulator(), "epcis", "query", "--biz-step", "shipping")));
    expect(shipping.length).to.be.greaterThan(0);
    expect(shipping.every((e) => e.bizStep.endsWith("shipping"))).to.equal(true);
    const two = events(answerOf(await cli(h.regulator(), "epcis", "query", "--biz-step", "shipping", "--biz-step", "receiving")));
    expect(two.length).to.be.at.least(shipping.length);
    expect(events(answerOf(await cli(h.regulator(), "epcis", "query", "--per-page", "1")))).to.have.length(1);
    expect(events(answerOf(await cli(h.regulator(), "epcis", "query", "--from", "2000-01-01", "--to", "2001-01-01")))).to.deep.equal([]);
    const own = events(answerOf(await cli(h.c.distributor, "epcis", "query")));
    expect(own.every((e) => String(e["trace:organization"]).endsWith(`/organizations/${h.c.distributor.id}`))).to.equal(true);
    const table = await run(h.regulator(), "epcis", "query", "--biz-step", "shipping");
    expect(table.status).to.equal(0);
    expect(table.stdout).to.include("bizStep").and.include(`${shipping.length} events`);
  });

  it("query with bad arguments: a clear error and exit 2", async () => {
    const empty = errorOf(await cli(h.regulator(), "epcis", "query", "--from", "2027-01-02", "--to", "2027-01-01"), 2);
    expect(empty.code).to.equal("EMPTY_TIME_RANGE");
    const badTime = await cli(h.regulator(), "epcis", "query", "--from", "yesterday");
    expect(badTime.status).to.equal(2);
    expect(badTime.stderr).to.include("expected a date");
    const badAction = await cli(h.regulator(), "epcis", "query", "--action", "SHOUT");
    expect(badAction.status).to.equal(2);
    expect(badAction.stderr).to.include("ADD, OBSERVE, DELETE");
    expect((await cli(h.regulator(), "epcis", "query", "--per-page", "0")).status).to.equal(2);
    expect(errorOf(await cli(h.regulator(), "epcis", "query", "--per-page", "5000"), 2).field).to.equal("perPage");
  });

  it("queries: create, list, show, run and delete an organization's own named queries", async () => {
    const created = answerOf(await cli(h.c.distributor, "epcis", "queries", "create", "shipped", "--biz-step", "shipping", "--from", "2000-01-01"));
    expect(created).to.include({ name: "shipped" });
    expect(created.query).to.deep.equal({ EQ_bizStep: ["shipping"], GE_eventTime: "1999-12-31T16:00:00.000Z" });
    expect(answerOf(await cli(h.c.distributor, "epcis", "queries", "list")).queries.map((q: Json) => q.name)).to.deep.equal(["shipped"]);
    expect(answerOf(await cli(h.c.dispenser, "epcis", "queries", "list")).queries, "another organization's are not listed").to.deep.equal([]);
    expect(answerOf(await cli(h.c.distributor, "epcis", "queries", "show", "shipped")).query).to.deep.equal(created.query);
    const ran = answerOf(await cli(h.c.distributor, "epcis", "queries", "run", "shipped"));
    expect(ran.epcisBody.queryResults.queryName).to.equal("shipped");
    expect(events(ran)).to.deep.equal(events(answerOf(await cli(h.c.distributor, "epcis", "query", "--biz-step", "shipping"))));
    expect(events(ran).length).to.be.greaterThan(0);
    expect((await run(h.c.distributor, "epcis", "queries", "list")).stdout).to.include("shipped");
    answerOf(await cli(h.c.distributor, "epcis", "queries", "create", "doomed"));
    expect(answerOf(await cli(h.c.distributor, "epcis", "queries", "delete", "doomed"))).to.deep.equal({ name: "doomed", subscriptionsEnded: 0 });
    expect(errorOf(await cli(h.c.distributor, "epcis", "queries", "show", "doomed"), 2).code).to.equal("UNKNOWN_QUERY");
  });

  it("queries with bad arguments: a clear error, nonzero exit and nothing stored", async () => {
    const before = await stored();
    expect(errorOf(await cli(h.c.distributor, "epcis", "queries", "create", "shipped"), 3).code).to.equal("QUERY_EXISTS");
    expect(errorOf(await cli(h.c.distributor, "epcis", "queries", "create", "has space"), 2).field).to.equal("name");
    const range = errorOf(await cli(h.c.distributor, "epcis", "queries", "create", "backwards", "--from", "2027-01-02", "--to", "2027-01-01"), 2);
    expect(range.code).to.equal("EMPTY_TIME_RANGE");
    expect((await cli(h.c.distributor, "epcis", "queries", "create", "odd", "--action", "SHOUT")).status).to.equal(2);
    expect(errorOf(await cli(h.c.dispenser, "epcis", "queries", "run", "shipped"), 2).code).to.equal("UNKNOWN_QUERY");
    expect(errorOf(await cli(h.c.dispenser, "epcis", "queries", "delete", "shipped"), 2).code).to.equal("UNKNOWN_QUERY");
    expect(await stored()).to.deep.equal(before);
  });

  it("subscriptions: create on the event stream, list and delete; bad arguments store nothing", async () => {
    const before = await stored();
    expect(errorOf(await cli(h.c.distributor, "epcis", "subscriptions", "create", "shipped", "--dest", "http://127.0.0.1/hook"), 2).code).to.equal(
      NOT_PUBLIC,
    );
    expect(errorOf(await cli(h.c.distributor, "epcis", "subscriptions", "create", "shipped", "--dest", "not a url"), 2).field).to.equal("dest");
    expect(errorOf(await cli(h.c.distributor, "epcis", "subscriptions", "create", "unknown"), 2).code).to.equal("UNKNOWN_QUERY");
    expect(await stored()).to.deep.equal(before);
    const subscribed = answerOf(await cli(h.c.distributor, "epcis", "subscriptions", "create", "shipped"));
    expect(subscribed).to.include({ queryName: "shipped", dest: null, secret: null });
    const listed = answerOf(await cli(h.c.distributor, "epcis", "subscriptions", "list", "shipped")).subscriptions;
    expect(listed.map((s: Json) => s.subscriptionID)).to.deep.equal([subscribed.subscriptionID]);
    expect((await run(h.c.distributor, "epcis", "subscriptions", "list", "shipped")).stdout).to.include(subscribed.subscriptionID);
    expect(errorOf(await cli(h.c.distributor, "epcis", "subscriptions", "delete", "shipped", "not-an-id"), 2).field).to.equal("subscriptionID");
    const stranger = errorOf(await cli(h.c.distributor, "epcis", "subscriptions", "delete", "shipped", "00000000-0000-4000-8000-000000000000"), 2);
    expect(stranger.code).to.equal("UNKNOWN_SUBSCRIPTION");
    expect((await stored()).subscriptions).to.equal(before.subscriptions + 1);
    const hooked = answerOf(await cli(h.c.distributor, "epcis", "subscriptions", "create", "shipped", "--dest", "https://partner.example/epcis"));
    expect(hooked).to.include({ queryName: "shipped", dest: "https://partner.example/epcis" });
    expect(hooked.secret, "the webhook's signing secret is shown once").to.be.a("string");
    expect((await stored()).webhooks).to.equal(before.webhooks + 1);
    answerOf(await cli(h.c.distributor, "epcis", "subscriptions", "delete", "shipped", hooked.subscriptionID));
    const ended = answerOf(await cli(h.c.distributor, "epcis", "subscriptions", "delete", "shipped", subscribed.subscriptionID));
    expect(ended.subscriptionID).to.equal(subscribed.subscriptionID);
    expect(answerOf(await cli(h.c.distributor, "epcis", "subscriptions", "list", "shipped")).subscriptions).to.deep.equal([]);
  });
});
