import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { Wallet, id as hashText } from "ethers";
import type { BaseWallet } from "ethers";
import type { Api } from "../../src/api/app";
import { createApp, coreRoutes } from "../../src/api/app";
import { suspendOrganization } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

/** Asks for a challenge as `key` and signs its text with `signer` (the same key unless a test says otherwise). */
async function signedChallenge(app: Api, key: string, signer: BaseWallet) {
  const res = await request(app).post("/v1/auth/challenge").send({ key }).expect(200);
  return {
    key,
    challenge: res.body.challenge as string,
    signature: await signer.signMessage(res.body.text as string),
    expiresAt: res.body.expiresAt as number,
  };
}

const errorOf = (res: request.Response) => [res.status, res.body.error?.code];

describe("sign-in with on-chain keys", () => {
  let h: ApiHarness;
  const realNow = () => Math.floor(Date.now() / 1000);
  const signIn = (body: object) => request(h.app).post("/v1/auth/token").send(body);
  const asBearer = (path: string, token: string) => request(h.app).get(path).set("authorization", `Bearer ${token}`);
  const inventoryOf = (party: Party, token: string) => asBearer(`/v1/organizations/${party.id}/inventory`, token);

  beforeAll(async () => {
    h = await apiHarness();
  });
  afterAll(async () => h.close());

  it("issues a token for a signed challenge, naming the organization and its role", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    const before = realNow();
    const res = await signIn(signed).expect(200);
    expect([res.body.organizationId, res.body.role]).to.deep.equal([h.c.mah.id, "MAH"]);
    expect(res.body.expiresAt).to.be.within(before + h.services.config.tokenLifetime, realNow() + h.services.config.tokenLifetime);
    await inventoryOf(h.c.mah, res.body.token).expect(200);
  });

  it("the challenge text names the key and the challenge, so a signature cannot serve another key", async () => {
    const before = realNow();
    const res = await request(h.app).post("/v1/auth/challenge").send({ key: h.c.mah.key.address.toLowerCase() }).expect(200);
    expect(res.body.text).to.contain(`Key: ${h.c.mah.key.address}`);
    expect(res.body.text).to.contain(`Challenge: ${res.body.challenge}`);
    expect(res.body.expiresAt).to.be.within(before + 300, realNow() + 300);
  });

  it("refuses a signature of something else than the challenge text", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    const signature = await h.c.mah.key.signMessage(`${signed.challenge}`);
    expect(errorOf(await signIn({ ...signed, signature }))).to.deep.equal([401, "SIGNATURE_MISMATCH"]);
  });

  it("refuses a signature by another key than the one named", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.cmo.key);
    expect(errorOf(await signIn(signed))).to.deep.equal([401, "SIGNATURE_MISMATCH"]);
  });

  it("refuses a signature that is not a valid secp256k1 signature", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    const res = await signIn({ ...signed, signature: `0x${"00".repeat(64)}1b` });
    expect(errorOf(res)).to.deep.equal([400, "INVALID_SIGNATURE"]);
    expect(res.body.error.field).to.equal("signature");
  });

  it("refuses a challenge issued for another key, even when signed by the key it names", async () => {
    const forCmo = await signedChallenge(h.app, h.c.cmo.key.address, h.c.cmo.key);
    const text = `Sign in to the drug traceability ledger\nKey: ${h.c.mah.key.address}\nChallenge: ${forCmo.challenge}`;
    const res = await signIn({ key: h.c.mah.key.address, challenge: forCmo.challenge, signature: await h.c.mah.key.signMessage(text) });
    expect(errorOf(res)).to.deep.equal([400, "INVALID_CHALLENGE"]);
  });

  it("refuses a challenge that was never issued or was altered", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    const [expiresAt, nonce, tag] = signed.challenge.split(".");
    for (const challenge of [`${Number(expiresAt) + 3600}.${nonce}.${tag}`, `${expiresAt}.${nonce}`, "not-a-challenge"]) {
      const text = `Sign in to the drug traceability ledger\nKey: ${h.c.mah.key.address}\nChallenge: ${challenge}`;
      const res = await signIn({ key: h.c.mah.key.address, challenge, signature: await h.c.mah.key.signMessage(text) });
      expect([challenge, ...errorOf(res)]).to.deep.equal([challenge, 400, "INVALID_CHALLENGE"]);
    }
  });

  it("refuses an expired challenge", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    h.setNow(signed.expiresAt + 1);
    try {
      expect(errorOf(await signIn(signed))).to.deep.equal([400, "EXPIRED_CHALLENGE"]);
    } finally {
      h.setNow(realNow());
    }
  });

  it("exchanges a signed challenge for one token only, and forgets it once it has expired", async () => {
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    await signIn(signed).expect(200);
    const again = await signIn(signed);
    expect(errorOf(again)).to.deep.equal([409, "CHALLENGE_USED"]);
    expect(again.body.error.message).to.equal("the challenge was already exchanged for a token; ask for a new one");
    // Another API server over the same database refuses it too.
    const otherServer = createApp(h.services);
    expect(errorOf(await request(otherServer).post("/v1/auth/token").send(signed))).to.deep.equal([409, "CHALLENGE_USED"]);

    h.setNow(signed.expiresAt + 1);
    try {
      await signIn(await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key)).expect(200);
      const remembered = await h.store.db.selectFrom("redeemed_challenges").select("expires_at").execute();
      expect(remembered.every((row) => row.expires_at >= signed.expiresAt + 1)).to.equal(true);
      expect(errorOf(await signIn(signed))).to.deep.equal([400, "EXPIRED_CHALLENGE"]);
    } finally {
      h.setNow(realNow());
    }
  });

  it("refuses a key no organization registered, however well it signs", async () => {
    const stranger = Wallet.createRandom();
    expect(errorOf(await signIn(await signedChallenge(h.app, stranger.address, stranger)))).to.deep.equal([401, "UNKNOWN_KEY"]);
  });

  it("refuses a tampered token, a forged one and one from another ledger's secret", async () => {
    const token = await h.tokenFor(h.c.mah);
    const [body, tag] = token.split(".") as [string, string];
    const claims = JSON.parse(Buffer.from(body, "base64url").toString());
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, organizationId: h.regulator().id })).toString("base64url");
    const flip = (text: string) => `${text.slice(0, -1)}${text.endsWith("A") ? "B" : "A"}`;
    const other = createApp({ ...h.services, config: { ...h.services.config, secret: Buffer.alloc(32, 1) } });
    const foreignToken = (
      await request(other)
        .post("/v1/auth/token")
        .send(await signedChallenge(other, h.c.mah.key.address, h.c.mah.key))
        .expect(200)
    ).body.token;
    for (const bad of [`${flip(body)}.${tag}`, `${body}.${flip(tag)}`, `${forgedBody}.${tag}`, body, `${body}.`, foreignToken]) {
      expect([bad, ...errorOf(await inventoryOf(h.c.mah, bad))]).to.deep.equal([bad, 401, "INVALID_TOKEN"]);
    }
    for (const header of [`Basic ${token}`, "Bearer", `Bearer ${token} extra`, token]) {
      const res = await request(h.app).get(`/v1/organizations/${h.c.mah.id}/inventory`).set("authorization", header);
      expect([header, ...errorOf(res)]).to.deep.equal([header, 401, "INVALID_TOKEN"]);
    }
  });

  it("refuses an expired token", async () => {
    const signed = await signIn(await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key)).expect(200);
    h.setNow(signed.body.expiresAt + 1);
    try {
      expect(errorOf(await inventoryOf(h.c.mah, signed.body.token))).to.deep.equal([401, "EXPIRED_TOKEN"]);
    } finally {
      h.setNow(realNow());
    }
    await inventoryOf(h.c.mah, signed.body.token).expect(200);
  });

  it("a revoked key loses its tokens at once and cannot sign in; the organization's new key can", async () => {
    const { c } = h;
    const next = Wallet.createRandom();
    const oldToken = await h.tokenFor(c.cmo);
    const added = await c.sign("ConsortiumRegistry", "SigningKeyAddition", c.cmo.key, { organizationId: c.cmo.id, signingKey: next.address });
    await c.registry.addSigningKey(added.message as never, added.signature);
    const revoked = await c.sign("ConsortiumRegistry", "SigningKeyRevocation", next, { organizationId: c.cmo.id, signingKey: c.cmo.key.address });
    await c.registry.revokeSigningKey(revoked.message as never, revoked.signature);
    await inventoryOf(c.cmo, oldToken).expect(200); // not indexed yet
    await h.indexer.catchUp();

    expect(errorOf(await inventoryOf(c.cmo, oldToken))).to.deep.equal([401, "REVOKED_KEY"]);
    expect(errorOf(await signIn(await signedChallenge(h.app, c.cmo.key.address, c.cmo.key)))).to.deep.equal([401, "REVOKED_KEY"]);
    const newToken = await h.tokenFor({ ...c.cmo, key: next });
    await inventoryOf(c.cmo, newToken).expect(200);
  });

  it("a suspended organization loses access at once, its existing token included, and regains it when reinstated", async () => {
    const { c } = h;
    const token = await h.tokenFor(c.distributor);
    const batch = `/v1/batches/${h.batches.released.batchId}`;
    await asBearer(batch, token).expect(200);
    await suspendOrganization(c, c.distributor.id);
    await h.indexer.catchUp();

    for (const path of [batch, `/v1/organizations/${c.distributor.id}/inventory`, "/v1/batches", "/v1/recalls"]) {
      expect([path, ...errorOf(await asBearer(path, token))]).to.deep.equal([path, 403, "ORGANIZATION_SUSPENDED"]);
    }
    const scan = await request(h.app).post("/v1/scans").set("authorization", `Bearer ${token}`).send({ code: h.batches.released.printed[3] });
    expect(errorOf(scan)).to.deep.equal([403, "ORGANIZATION_SUSPENDED"]);
    expect(errorOf(await signIn(await signedChallenge(h.app, c.distributor.key.address, c.distributor.key)))).to.deep.equal([
      403,
      "ORGANIZATION_SUSPENDED",
    ]);
    const shown = await request(h.app).get(`/v1/organizations/${c.distributor.id}`).expect(200);
    expect(shown.body.status).to.equal("SUSPENDED");

    const reinstated = await c.sign("ConsortiumRegistry", "Reinstatement", c.regulator.key, {
      regulatorId: c.regulator.id,
      organizationId: c.distributor.id,
      reasonHash: hashText("corrective actions verified"),
    });
    await c.registry.reinstateOrganization(reinstated.message as never, reinstated.signature);
    await h.indexer.catchUp();
    await asBearer(batch, token).expect(200);
  });
});

describe("sign-in with several API servers over one PostgreSQL database", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await apiHarness("postgres");
  });
  afterAll(async () => h?.close());

  it("gives one token for a challenge redeemed on two servers at once, and refuses the other", async () => {
    const servers = [h.app, createApp(h.services)];
    const signed = await signedChallenge(h.app, h.c.mah.key.address, h.c.mah.key);
    const answers = await Promise.all(servers.map((server) => request(server).post("/v1/auth/token").send(signed)));
    expect(answers.map(errorOf).sort()).to.deep.equal([
      [200, undefined],
      [409, "CHALLENGE_USED"],
    ]);
  });
});

describe("public endpoints, operations and documentation", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await apiHarness();
    const { batchId, printed } = h.batches.released;
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
      .send({ codes: printed })
      .expect(201);
  });
  afterAll(async () => h.close());

  it("rate-limits anonymous callers of public endpoints with 429 RATE_LIMITED, not signed-in organizations", async () => {
    const limited = createApp({ ...h.services, config: { ...h.services.config, publicRateLimit: 3 } });
    const code = h.batches.released.printed[5]!;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(limited).post("/v1/scans").send({ code })).status);
    expect(statuses).to.deep.equal([200, 200, 200]);
    const refused = await request(limited).post("/v1/scans").send({ code });
    expect(errorOf(refused)).to.deep.equal([429, "RATE_LIMITED"]);
    expect(refused.body.error.message).to.be.a("string");
    // The limit covers every public endpoint, and a made-up Authorization header does not escape it.
    expect(errorOf(await request(limited).get(`/v1/organizations/${h.c.mah.id}`))).to.deep.equal([429, "RATE_LIMITED"]);
    expect(errorOf(await request(limited).post("/v1/auth/challenge").send({ key: h.c.mah.key.address }))).to.deep.equal([429, "RATE_LIMITED"]);
    const garbage = await request(limited).post("/v1/scans").set("authorization", "Bearer made.up").send({ code });
    expect(errorOf(garbage)).to.deep.equal([429, "RATE_LIMITED"]);

    const token = await h.tokenFor(h.c.dispenser); // same secret: a token from any server of the deployment
    for (let i = 0; i < 10; i++) {
      const res = await request(limited).post("/v1/scans").set("authorization", `Bearer ${token}`).send({ code });
      expect([i, res.status, res.body.verdict]).to.deep.equal([i, 200, "GENUINE"]);
    }
  });

  it("GET /healthz tells the store is sound, the chain and the indexed block, and no writer role where no indexer runs beside the API", async () => {
    const res = await request(h.app).get("/healthz").expect(200);
    const sync = await h.store.db.selectFrom("sync_state").selectAll().executeTakeFirstOrThrow();
    expect(res.body).to.deep.equal({ status: "ok", integrity: "ok", chainId: Number(h.c.chainId), indexedBlock: sync.block_number, role: null });
  });

  it("GET /metrics serves Prometheus text with request durations by route and status", async () => {
    await request(h.app).get(`/v1/organizations/${h.c.mah.id}`).expect(200);
    await request(h.app).get("/v1/batches").expect(401);
    const res = await request(h.app).get("/metrics").expect(200);
    expect(res.headers["content-type"]).to.match(/^text\/plain/);
    expect(res.text).to.contain("# TYPE http_request_duration_seconds histogram");
    // The request is counted in the +Inf bucket whatever it took: how fast is the benchmarks' business, not a test's.
    expect(res.text).to.match(
      /http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/organizations\/:organizationId",status="200"\} [1-9]/,
    );
    expect(res.text).to.match(/http_errors_total\{method="GET",route="\/v1\/batches",status="401"\} [1-9]/);
    expect(res.text).to.contain("process_cpu_user_seconds_total");
  });

  it("GET /docs serves the interactive page over /openapi.json, its assets served locally", async () => {
    const page = await request(h.app).get("/docs").expect(200);
    expect(page.headers["content-type"]).to.match(/^text\/html/);
    expect(page.text).to.contain('url: "/openapi.json"');
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).to.deep.equal(["/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js"]);
    const css = await request(h.app).get(assets[0]!).expect(200);
    expect([/^text\/css/.test(css.headers["content-type"] ?? ""), css.text.length > 10_000]).to.deep.equal([true, true]);
    const js = await request(h.app)
      .get(assets[1]!)
      .buffer(true)
      .parse((res, done) => {
        let size = 0;
        res.on("data", (chunk: Buffer) => (size += chunk.length));
        res.on("end", () => done(null, size));
      });
    expect([js.status, /javascript/.test(js.headers["content-type"] ?? ""), (js.body as number) > 100_000]).to.deep.equal([200, true, true]);
  });

  it("GET /openapi.json is OpenAPI 3.1.0 and documents every mounted route with its parameters and error responses", async () => {
    const doc = (await request(h.app).get("/openapi.json").expect(200)).body;
    expect(doc.openapi).to.equal("3.1.0");
    expect(doc.components.securitySchemes.organizationToken).to.include({ type: "http", scheme: "bearer" });

    const mounted = (h.app.express.router.stack as { route?: { path: string; methods: Record<string, boolean> } }[])
      .flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((method) => [method, layer.route!.path]) : []))
      .filter(([, path]) => path !== "/openapi.json" && path !== "/docs");
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => [method, path.replace(/\{([A-Za-z]+)\}/g, ":$1")]),
    );
    expect(mounted.length).to.be.greaterThan(10);
    const key = ([method, path]: string[]) => `${method} ${path}`;
    const documentedKeys = new Set(documented.map(key));
    const mountedKeys = new Set(mounted.map(key));
    expect([...documentedKeys].filter((k) => !mountedKeys.has(k))).to.deep.equal([]);
    // A path mounted only for a pass-through handler (one shaping the answers of a route this app was built
    // without) does not answer; everything that answers is documented.
    for (const [method, path] of mounted.filter((m) => !documentedKeys.has(key(m)))) {
      const res = await request(h.app)[method as "get" | "post"](path!);
      expect([method, path, ...errorOf(res)]).to.deep.equal([method, path, 404, "NO_SUCH_ROUTE"]);
    }

    for (const route of coreRoutes) {
      const operation = doc.paths[route.path.replace(/:([A-Za-z]+)/g, "{$1}")][route.method];
      const where = `${route.method} ${route.path}`;
      const parameters = (operation.parameters as { name: string; in: string; required: boolean; schema: object }[]).map((p) => `${p.in}:${p.name}`);
      const pathParameters = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => `path:${m[1]}`);
      const queryParameters = Object.keys((route.query as { shape?: object } | undefined)?.shape ?? {}).map((name) => `query:${name}`);
      expect([where, parameters.sort()]).to.deep.equal([where, [...pathParameters, ...queryParameters].sort()]);
      for (const p of operation.parameters) expect([where, p.name, typeof p.schema]).to.deep.equal([where, p.name, "object"]);

      const statuses = Object.keys(operation.responses).sort();
      const expected = new Set([String(route.status ?? 200), "400", "401", "403", "429", "500", ...Object.keys(route.errors ?? {})]);
      if (route.body) expected.add("413");
      expect([where, statuses]).to.deep.equal([where, [...expected].sort()]);
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        const schema = operation.responses[status].content["application/json"].schema;
        expect([where, status, schema.properties.error.required]).to.deep.equal([where, status, ["code", "message"]]);
      }
      expect([where, "requestBody" in operation]).to.deep.equal([where, route.body !== undefined]);
      expect([where, "security" in operation]).to.deep.equal([where, route.access === "organization"]);
    }
  });

  it("answers an unknown route with 404 NO_SUCH_ROUTE", async () => {
    for (const [method, path] of [
      ["get", "/v2/batches"],
      ["post", "/v1/batches"],
      ["delete", "/v1/scans"],
      ["get", "/"],
    ] as const) {
      const res = await request(h.app)[method](path);
      expect([method, path, ...errorOf(res)]).to.deep.equal([method, path, 404, "NO_SUCH_ROUTE"]);
    }
  });

  it("answers malformed JSON with 400 MALFORMED_JSON and an oversized body with 413 BODY_TOO_LARGE", async () => {
    for (const body of ['{"code": "010', "[1,2", "{'code': 1}", '"just a string"', "nul"]) {
      const res = await request(h.app).post("/v1/scans").set("content-type", "application/json").send(body);
      expect([body, ...errorOf(res)]).to.deep.equal([body, 400, "MALFORMED_JSON"]);
    }
    const huge = JSON.stringify({ code: "x".repeat(3 * 1024 * 1024) });
    const res = await request(h.app).post("/v1/scans").set("content-type", "application/json").send(huge);
    expect(errorOf(res)).to.deep.equal([413, "BODY_TOO_LARGE"]);
  });
});
