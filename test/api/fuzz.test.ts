import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import fc from "fast-check";
import request from "supertest";
import { readdirSync, readFileSync } from "node:fs";
import { Agent } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { alertConfig } from "../../src/alerts";
import { NOTIFICATION_KINDS } from "../../src/alerts/kinds";
import { alertRoutes } from "../../src/alerts/routes";
import { supervisionRoutes } from "../../src/supervision/routes";
import { createApp } from "../../src/api/app";
import { subscriptionRoutes } from "../../src/notifications/routes";
import { supervisionRecordRoutes } from "../../src/supervision/records";
import { packIdOf } from "../../src/api/scan";
import { CODE_ERROR_CODES, GROUP_SEPARATOR, packId } from "../../src/codes";
import { STORE_KINDS } from "../indexer/stores";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";
import { dumpTables } from "../indexer/dump";

/**
 * Thousands of malformed requests to every documented endpoint: garbage bodies, query strings, path parameters,
 * headers and tokens, and codes that are almost right. None may be answered 5xx, every refusal carries a stable
 * code and a message, and none changes what is stored. FC_RUNS raises the number of requests per store.
 */
const RUNS = Number(process.env.FC_RUNS ?? 2500);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

/** Every error code the API can answer: written as constants in src/api, src/ledger and the alert, notification and supervision routes, or a codes-module rejection. */
function stableCodes(): Set<string> {
  const codes = new Set<string>(CODE_ERROR_CODES);
  const pattern =
    /(?:badInput|unauthenticated|notAllowed|notFound|conflict|refused|retryLater)\(\s*"([A-Z0-9_]+)"|LedgerError\([^,()]+,\s*"([A-Z0-9_]+)"|\bcode: "([A-Z0-9_]+)"/g;
  for (const dir of [
    "../../src/api",
    "../../src/ledger",
    "../../src/alerts",
    "../../src/notifications",
    "../../src/quality",
    "../../src/supervision",
  ].map((d) => path.join(__dirname, d))) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(path.join(dir, file), "utf8").matchAll(pattern)) codes.add((m[1] ?? m[2] ?? m[3])!);
    }
  }
  return codes;
}

/** Every stored row, in a stable order, and the files under the data directory. */
async function snapshot(h: ApiHarness) {
  const tables = await dumpTables(h.store.db);
  const files = readdirSync(h.services.config.dataDir, { recursive: true }).map(String).sort();
  return { tables, files };
}

type Operation = { method: string; path: string; pathParams: string[]; queryParams: string[]; hasBody: boolean };
type Parameter = { name: string; in: string; schema?: { type?: string; minimum?: number; maximum?: number } };
type OpenApiDocument = { paths: Record<string, Record<string, { parameters: Parameter[]; requestBody?: unknown }>> };

/** The endpoints, read from the app's own OpenAPI document. */
function operationsOf(document: OpenApiDocument) {
  const operations: Operation[] = [];
  for (const [pathTemplate, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      operations.push({
        method,
        path: pathTemplate,
        pathParams: operation.parameters.filter((p) => p.in === "path").map((p) => p.name),
        queryParams: operation.parameters.filter((p) => p.in === "query").map((p) => p.name),
        hasBody: operation.requestBody !== undefined,
      });
    }
  }
  return operations;
}

/** Characters a raw (unencoded) request target may carry. */
const URL_SAFE = [..."ABCDEFabcdef0123456789xX%._~-!$&'()*+,;=:@"];
/** What Node lets a client put in a header value. */
const headerSafe = (text: string) => [...text].filter((ch) => ch === "\t" || (ch >= " " && ch <= "~")).join("");

describe("the scan path's pack id", () => {
  it("is the codes module's packId for any key, however long or unusual", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: "binary", maxLength: 600 }), fc.string({ unit: "grapheme", maxLength: 200 })), async (key) => {
        expect(await packIdOf(key)).to.equal(packId(key));
      }),
      { numRuns: 1_000 },
    );
  });
});

describe.each(STORE_KINDS)("malformed requests to every endpoint (%s)", (kind) => {
  let h: ApiHarness;
  let server: Server;
  let base: string;
  let document: OpenApiDocument;
  let operations: Operation[];
  let tokens: string[];
  const codes = stableCodes();

  beforeAll(async () => {
    h = await apiHarness(kind);
    const { batchId, printed } = h.batches.released;
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
      .send({ codes: printed })
      .expect(201);
    tokens = [await h.tokenFor(h.regulator()), await h.tokenFor(h.c.cmo), await h.tokenFor(h.c.dispenser), await h.tokenFor(h.c.distributor2)];
    // A deployment's real limit would answer most of this flood 429; the point is what lies behind it.
    const app = createApp({ ...h.services, config: { ...h.services.config, publicRateLimit: 1_000_000 } }, [
      ...alertRoutes(alertConfig()),
      ...supervisionRoutes(alertConfig()),
      ...supervisionRecordRoutes(alertConfig()),
      ...subscriptionRoutes(NOTIFICATION_KINDS),
    ]);
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    document = (await request(base).get("/openapi.json").expect(200)).body;
    operations = operationsOf(document);
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await h?.close();
  });

  it("refuses every integer parameter beyond what its column holds with 400 naming it, and answers every value within", async () => {
    // Organization ids are uint32 on chain and PostgreSQL `integer` in the store; alert and notification ids `bigint`.
    const probes = [
      "0",
      "-1",
      "1",
      "2147483647",
      "2147483648",
      "4294967295",
      "4294967296",
      "9007199254740991",
      "9007199254740992",
      "99999999999999999999",
      "1e400",
      "1.5",
      "-0.5",
    ];
    const otherPathValue = (name: string) =>
      name === "id"
        ? `sub_${"0".repeat(24)}`
        : name === "batchId"
          ? h.batches.released.batchId
          : name === "hash"
            ? `0x${"ab".repeat(32)}`
            : String(h.c.mah.id);
    const before = await snapshot(h);
    const checked: string[] = [];
    for (const [template, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const parameter of operation.parameters.filter((p) => p.schema?.type === "integer" && (p.in === "path" || p.in === "query"))) {
          const { minimum = -Infinity, maximum = Infinity } = parameter.schema!;
          for (const value of [...probes, String(minimum), String(maximum)]) {
            let url = template.replace(/\{(\w+)\}/g, (_m, name: string) => (name === parameter.name ? value : otherPathValue(name)));
            if (parameter.in === "query") url += `?${parameter.name}=${value}`;
            const res = await request(base)[method as "get"](url).set("authorization", `Bearer ${tokens[0]}`);
            const where = `${method.toUpperCase()} ${url} -> ${res.status} ${res.text.slice(0, 300)}`;
            const number = Number(value);
            if (Number.isSafeInteger(number) && number >= minimum && number <= maximum) {
              expect(res.status, where).to.be.below(500);
              continue;
            }
            expect(res.status, where).to.equal(400);
            expect(res.body.error.code, where).to.equal("INVALID_INPUT");
            expect(res.body.error.field, where).to.equal(parameter.name);
            expect(res.body.error.message, where).to.match(new RegExp(`^${parameter.name}: must be a whole number from -?\\d+ to \\d+$`));
          }
          checked.push(`${method} ${template} ${parameter.name}`);
        }
      }
    }
    // Every id a client can name, in a path or a query.
    for (const id of [
      "get /v1/organizations/{organizationId} organizationId",
      "get /v1/risk-ratings/{organizationId} organizationId",
      "get /v1/alerts organizationId",
      "get /v1/alerts before",
      "get /v1/batches mah",
      "get /v1/subscriptions/{id}/deliveries before",
    ]) {
      expect(checked, "integer parameters walked").to.include(id);
    }
    expect(await snapshot(h)).to.deep.equal(before);
  });

  it("answers no 5xx, refuses with a stable code and a message, and changes nothing stored", async () => {
    expect(operations.length).to.be.greaterThan(10);
    const realIds = [
      h.batches.released.batchId,
      h.batches.recalled.batchId,
      h.batches.unreleased.batchId,
      String(h.c.mah.id),
      String(h.c.distributor.id),
      String(h.regulator().id),
    ];
    const printed = [...h.batches.released.printed, ...h.batches.recalled.printed, ...h.batches.unreleased.printed];

    // ---- the pieces malformed requests are made of ----
    const unicode = fc.string({ unit: "binary", maxLength: 40 });
    const numberText = fc.oneof(
      fc.integer().map(String),
      fc.double().map(String),
      fc.constantFrom(
        "0",
        "-1",
        "1e400",
        "1.5",
        "0x10",
        "99999999999999999999",
        "NaN",
        "Infinity",
        "2147483648",
        "4294967295",
        "4294967296",
        "0xffffffff",
        " 1",
        "1 ",
      ),
    );
    const hexish = fc
      .tuple(fc.constantFrom("0x", "0X", "", "0x0x"), fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFgz"), maxLength: 70 }))
      .map(([p, d]) => p + d);
    /** A real code, truncated, extended, with a character swapped, a GS inserted, or another symbology. */
    const nearCode = fc
      .tuple(fc.constantFrom(...printed), fc.nat(), fc.constantFrom("", GROUP_SEPARATOR, "\u0000", "é", "😀", "(", ")", "]", "0", "A", "%", "/"))
      .chain(([code, at, ch]) =>
        fc.constantFrom(
          code.slice(0, at % (code.length + 1)),
          code + ch,
          code.slice(0, at % code.length) + ch + code.slice((at % code.length) + 1),
          code.slice(0, at % code.length) + ch + code.slice(at % code.length),
          code.replace("]d2", ch),
          code.repeat(1 + (at % 30)),
          code.toLowerCase(),
          code.replaceAll(GROUP_SEPARATOR, ""),
          `https://id.gs1.org/01/06901234567892/21/${encodeURIComponent(ch)}${at}`,
          `]Q1${code}`,
        ),
      );
    const codeText = fc.oneof(
      { weight: 4, arbitrary: nearCode },
      { weight: 2, arbitrary: unicode },
      { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...("0123456789()]d2QC" + GROUP_SEPARATOR)), maxLength: 60 }) },
      { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 18, maxLength: 22 }) },
      { weight: 1, arbitrary: fc.constant("x".repeat(600)) },
    );
    const jsonScalar = fc.oneof(codeText, numberText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
    const anyValue = fc.oneof(
      { weight: 3, arbitrary: jsonScalar },
      { weight: 1, arbitrary: fc.array(jsonScalar, { maxLength: 5 }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    );
    // "dest" reaches EPCIS subscriptions past their schema (a query that does not exist); no field the flood may fill
    // makes a request valid that writes (custody's explicit `keepSigningKey`, a named query's `name` and `query`).
    const fieldNames = ["code", "format", "key", "challenge", "signature", "codes", "dest", "__proto__", "constructor", ""];
    const body = fc.oneof(
      { weight: 4, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...fieldNames), unicode), anyValue, { maxKeys: 4 }) },
      { weight: 2, arbitrary: fc.record({ codes: fc.array(codeText, { maxLength: 12 }) }) },
      {
        weight: 2,
        arbitrary: fc.record({
          code: codeText,
          format: fc.option(fc.constantFrom("nmpa", "element-string", "hri", "digital-link", "gs1", ""), { nil: undefined }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          key: fc.oneof(hexish, unicode),
          challenge: fc.oneof(unicode, fc.constant("1.2.3")),
          signature: fc.oneof(hexish, unicode),
        }),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    );
    const rawBody = fc.oneof(
      unicode,
      fc.constantFrom("{", "[", '{"code":', '{"codes":[1,2', "nul", "{'a':1}", "\u0000", '{"code":"\\ud800"}', "[]".repeat(5000)),
      body.map((b) => JSON.stringify(b) ?? "").chain((text) => fc.nat().map((n) => text.slice(0, n % (text.length + 1)))),
    );
    const contentType = fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "application/json; charset=utf-16",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/merge-patch+json",
      "multipart/form-data; boundary=x",
      "",
    );
    const pathValue = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...realIds) },
      { weight: 2, arbitrary: hexish },
      { weight: 2, arbitrary: numberText },
      { weight: 2, arbitrary: unicode.map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...URL_SAFE), maxLength: 30 }) },
      { weight: 1, arbitrary: fc.constantFrom("%", "%E0%A4%A", "%00", "..", "%2F", "%2e%2e", realIds[0]!.toUpperCase().replace("0X", "0x")) },
    );
    const cursor = fc.oneof(
      unicode,
      fc
        .tuple(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)), fc.oneof(hexish, unicode, fc.constant(realIds[0]!)))
        .map((pair) => Buffer.from(JSON.stringify(pair)).toString("base64url")),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? "").toString("base64url")),
    );
    const queryValue = fc.oneof(
      numberText,
      unicode,
      hexish,
      cursor,
      fc.constantFrom("true", "false", "OPEN", "CLOSED", "I", "IV", "RECALLED", "MARKET_RELEASED", ""),
    );
    const query = fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            "limit",
            "cursor",
            "mah",
            "cmo",
            "product",
            "state",
            "region",
            "status",
            "level",
            "includeEmpty",
            "organizationId",
            "before",
            "rule",
            "rating",
            "perPage",
            "EQ_bizStep",
            "GE_eventTime",
            "MATCH_epc",
          ),
          unicode,
        ),
        queryValue,
      ),
      { maxLength: 5 },
    );
    const authorization = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constantFrom(...tokens).map((t) => `Bearer ${t}`) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...tokens), fc.nat(), fc.constantFrom("A", "_", ".", "-", ""))
          .map(([t, at, ch]) => `Bearer ${t.slice(0, at % t.length)}${ch}${t.slice((at % t.length) + 1)}`),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.jsonValue(), unicode)
          .map(
            ([claims, tag]) => `Bearer ${Buffer.from(JSON.stringify(claims) ?? "").toString("base64url")}.${Buffer.from(tag).toString("base64url")}`,
          ),
      },
      { weight: 2, arbitrary: unicode.map(headerSafe) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom("Bearer ", "bearer ", "Basic ", "Bearer\t", "Bearer  "), unicode)
          .map(([scheme, rest]) => headerSafe(scheme + rest)),
      },
    );
    const extraHeaders = fc.dictionary(
      fc.oneof(
        fc.constantFrom("accept", "accept-encoding", "content-encoding", "x-forwarded-for", "cookie", "origin", "if-none-match", "range"),
        fc.stringMatching(/^x-[a-z0-9-]{1,12}$/),
      ),
      fc.oneof(unicode.map(headerSafe), fc.constantFrom("gzip", "br", "identity", "deflate", "x-foo", "*/*", "bytes=0-1", "1.2.3.4, ::1")),
      { maxKeys: 3 },
    );
    const target = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...operations) },
      {
        weight: 1,
        arbitrary: fc.record<Operation>({
          method: fc.constantFrom("get", "post", "put", "delete", "patch"),
          path: fc.constantFrom("/v1/scans", "/v1/batches", "/v1/nope", "/docs", "/openapi.json", "/metrics"),
          pathParams: fc.constant<string[]>([]),
          queryParams: fc.constant<string[]>([]),
          hasBody: fc.boolean(),
        }),
      },
    );
    const malformedRequest = fc.record({
      target,
      params: fc.array(pathValue, { minLength: 2, maxLength: 2 }),
      query,
      body: fc.oneof(
        { weight: 3, arbitrary: body.map((value) => ({ json: value as unknown })) },
        { weight: 2, arbitrary: fc.tuple(rawBody, contentType).map(([raw, type]) => ({ raw, type })) },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
      authorization,
      headers: extraHeaders,
    });

    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await snapshot(h);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(malformedRequest, async (r) => {
        let url = r.target.path;
        r.target.pathParams.forEach((name, i) => (url = url.replace(`{${name}}`, r.params[i]!)));
        if (r.query.length) url += `?${r.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`;
        let req = request(base)[r.target.method as "get"](url).agent(keepAlive);
        for (const [name, value] of Object.entries(r.headers)) req = req.set(name, value);
        if (r.authorization !== undefined) req = req.set("authorization", r.authorization);
        if (r.body && "raw" in r.body) req = req.set("content-type", r.body.type).send(r.body.raw);
        else if (r.body) req = req.set("content-type", "application/json").send(JSON.stringify(r.body.json));
        const res = await req;
        const where = `${r.target.method.toUpperCase()} ${url} -> ${res.status} ${res.text.slice(0, 300)}`;
        seen.set(`${r.target.method} ${r.target.path} ${res.status}`, (seen.get(`${r.target.method} ${r.target.path} ${res.status}`) ?? 0) + 1);
        expect(res.status, where).to.be.below(500);
        if (res.status >= 400) {
          expect(res.headers["content-type"], where).to.match(/^application\/json/);
          const error = res.body?.error;
          expect(error, where).to.be.an("object");
          expect(codes.has(error.code), `unstable code: ${where}`).to.equal(true);
          expect(error.message, where).to.be.a("string").and.not.equal("");
          if ("field" in error) expect(error.field, where).to.be.a("string");
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    keepAlive.destroy();
    // A refused EPCIS capture is kept as its job's verdict, queryable by the organization that posted it (the
    // standard's capture job); it applies nothing and prepares nothing. Everything else is as it was.
    const after = await snapshot(h);
    const known = new Set(before.tables.epcis_captures!.map((row) => row.id));
    const captures = after.tables.epcis_captures!;
    for (const verdict of captures.filter((row) => !known.has(row.id))) expect(verdict).to.include({ status: "REJECTED", attestations: "[]" });
    after.tables.epcis_captures = captures.filter((row) => known.has(row.id));
    expect(after).to.deep.equal(before);

    // The flood reached past validation: every endpoint answered, and some requests got through to their handlers.
    const reached = new Set([...seen.keys()].map((k) => k.split(" ").slice(0, 2).join(" ")));
    for (const op of operations) expect(reached.has(`${op.method} ${op.path}`), `${op.method} ${op.path} never requested`).to.equal(true);
    const statuses = new Set([...seen.keys()].map((k) => Number(k.split(" ")[2])));
    for (const status of [200, 400, 401, 403, 404]) expect(statuses.has(status), `no ${status} among ${[...statuses]}`).to.equal(true);
  });
});
