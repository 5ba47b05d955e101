import express from "express";
import type { Express, RequestHandler } from "express";
import { createServer } from "node:http";
import type { RequestListener, Server } from "node:http";
import path from "node:path";
import { z } from "zod";
import { authRoutes, createAuthenticator, holdsIssuedToken } from "./auth";
import { batchRoute, batchRoutes, provenanceRoute } from "./batches";
import { refuseDamagedStore, STORE_READING_PATH } from "./context";
import type { ApiServices } from "./context";
import { notFound } from "../ledger/errors";
import { errorHandler, RATE_LIMITED } from "./errors";
import { documentRawUpload, documentRawUploadBody, documentRoutes, DOCUMENTS_PATH } from "./documents";
import { withFastPath } from "./fast-path";
import { createMetrics } from "./metrics";
import type { Metrics } from "./metrics";
import { clientAddress, createRateLimiter, PUBLIC_LIMITED_PATHS } from "./rate-limit";
import type { RateLimiter } from "./rate-limit";
import { ledgerRoutes } from "./ledger";
import { organizationRoutes } from "./organizations";
import { qualityDutyRoutes } from "./quality-duties";
import { agreementRoutes } from "./agreements";
import { qualityRoutes } from "./quality";
import { recallRoutes } from "./recalls";
import { releaseReviewRoutes } from "./release-review";
import { packProofRoutes } from "./pack-proofs";
import { shipmentListRoutes } from "./shipment-list";
import {
  CODES_PATH,
  CODES_ROOT_PATH,
  codeRegistrationRoutes,
  codesRootRoutes,
  codesRootTextUpload,
  codesTextUpload,
  documentCodesUpload,
} from "./codes-upload";
import { scanRoutes } from "./scan";
import { shipmentRoutes } from "./shipments";
import { caseRoutes } from "./cases";
import { epcisCaptureRoutes } from "./epcis-capture";
import { epcisQueryRoutes } from "./epcis-query";
import { epcisNamedQueryRoutes } from "./epcis-named-queries";
import { coldChainRoutes } from "./cold-chain";
import { epcisRoutes } from "./epcis";
import { RELAY_PATH } from "../ledger";
import { relayAnswerStatus } from "./relay";
import { defineRoute, mountRoutes, openApiDocument } from "./routes";
import type { AnyRoute } from "./routes";

export const API_VERSION = "1.0.0";

const healthRoute = defineRoute({
  method: "get",
  path: "/healthz",
  summary:
    "Liveness, the store's integrity (503 STORE_DAMAGED once damage is found), the chain and block the indexed store has reached, and whether this service writes it or stands by",
  tags: ["operations"],
  access: "public",
  response: z.object({
    status: z.literal("ok"),
    integrity: z.literal("ok"),
    chainId: z.number().int().nullable(),
    indexedBlock: z.number().int().nullable(),
    role: z
      .enum(["writer", "standby"])
      .nullable()
      .meta({ description: "writer: this service's indexer writes the read model; standby: another's does, this one takes over if it dies" }),
  }),
  async handle({ services }) {
    refuseDamagedStore(services);
    const sync = await services.store.db.selectFrom("sync_state").select(["chain_id", "block_number"]).executeTakeFirst();
    return {
      status: "ok" as const,
      integrity: "ok" as const,
      chainId: sync?.chain_id ?? null,
      indexedBlock: sync?.block_number ?? null,
      role: services.writerRole?.() ?? null,
    };
  },
});

/** Every route over the store; routes that need more (the relay needs a chain) are passed to createApp. */
export const coreRoutes: AnyRoute[] = [
  ...authRoutes,
  ...scanRoutes,
  ...codeRegistrationRoutes,
  ...codesRootRoutes,
  ...batchRoutes,
  ...releaseReviewRoutes,
  ...agreementRoutes,
  ...packProofRoutes,
  ...recallRoutes,
  ...organizationRoutes,
  ...qualityRoutes,
  ...epcisRoutes,
  ...shipmentRoutes,
  ...shipmentListRoutes,
  ...caseRoutes,
  ...epcisCaptureRoutes,
  ...epcisQueryRoutes,
  ...epcisNamedQueryRoutes,
  ...coldChainRoutes,
  ...ledgerRoutes,
  ...documentRoutes,
  ...qualityDutyRoutes,
  healthRoute,
];

/**
 * Something served beside the JSON routes that a route definition cannot describe (web pages, event streams),
 * mounted after the API's routes and before the "no such route" answer.
 */
export type AppMount = ((app: Express, services: ApiServices) => void) & {
  /** OpenAPI path items for what the mount serves, so the API's document lists it too. */
  openApiPaths?: Record<string, Record<string, unknown>>;
};

/**
 * The HTTP API: a node:http request listener, `listen` to serve it on a new server (as express's app.listen), and
 * the express app behind the fast scan path.
 */
export type Api = RequestListener & { listen(port: number, host: string, callback?: () => void): Server; express: Express };

/**
 * Builds the HTTP API without listening, so tests drive it directly: scans and FAST_READS answered from the
 * node:http handler (src/api/fast-path.ts), everything else (and the requests that path leaves) by express.
 */
export function createApp(services: ApiServices, extraRoutes: AnyRoute[] = [], mounts: AppMount[] = []): Api {
  const shared = { limiter: publicRateLimiter(services), metrics: createMetrics() };
  const app = createExpressApp(services, extraRoutes, mounts, shared);
  const handle = withFastPath(services, app, shared, FAST_READS);
  return Object.assign(handle, {
    listen: (port: number, host: string, callback?: () => void) => createServer(handle).listen(port, host, callback),
    express: app,
  });
}

/** Reads answered ahead of express too (src/api/fast-path.ts): a regulator's batch page asks for both. */
const FAST_READS: AnyRoute[] = [batchRoute, provenanceRoute];

/** Anonymous requests to public endpoints per client address and minute, one count across all of them. */
const publicRateLimiter = (services: ApiServices) => createRateLimiter({ limit: services.config.publicRateLimit, windowMs: 60_000 });

/**
 * The API as express serves it, every route included; createApp puts the fast path in front of it and shares its
 * rate limiter and metrics.
 */
export function createExpressApp(
  services: ApiServices,
  extraRoutes: AnyRoute[] = [],
  mounts: AppMount[] = [],
  shared: { limiter: RateLimiter; metrics: Metrics } = { limiter: publicRateLimiter(services), metrics: createMetrics() },
): Express {
  const routes = [...coreRoutes, ...extraRoutes];
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Answers are computed per request and rarely asked for twice; hashing each (a provenance is close to a
  // megabyte) for an ETag costs more than a conditional request could save.
  app.set("etag", false);
  const { metrics } = shared;
  app.use(metrics.middleware);
  app.use(STORE_READING_PATH, (_req, _res, next) => {
    refuseDamagedStore(services);
    next();
  });
  // The rate limit comes before any body is read: a limited caller's body is never parsed.
  app.use(PUBLIC_LIMITED_PATHS, rateLimited(services, shared.limiter));
  app.post(RELAY_PATH, anonymousRelayBody(services));
  // EPCIS documents come as JSON-LD too.
  app.use(express.json({ limit: BODY_LIMIT, type: ["application/json", "application/ld+json"] }));
  // Answers that leave with another status than a route definition declares (see the handler).
  app.post(RELAY_PATH, relayAnswerStatus);
  const authenticate = createAuthenticator(services);
  app.post(CODES_PATH, codesTextUpload(services, authenticate));
  app.post(CODES_ROOT_PATH, codesRootTextUpload(services, authenticate));
  app.post(DOCUMENTS_PATH, documentRawUpload(services, authenticate));
  mountRoutes(app, routes, services, authenticate);
  const document = openApiDocument(routes, { title: "Drug traceability ledger API", version: API_VERSION });
  documentCodesUpload(document);
  documentRawUploadBody(document);
  document.paths["/metrics"] = {
    get: {
      summary: "Prometheus metrics: request durations by route and status, errors, process figures",
      tags: ["operations"],
      parameters: [],
      responses: { "200": { description: "Prometheus text exposition format", content: { "text/plain": { schema: { type: "string" } } } } },
    },
  };
  for (const mount of mounts) Object.assign(document.paths, mount.openApiPaths);
  app.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  mountDocs(app);
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  for (const mount of mounts) mount(app, services);
  app.use((req, _res, next) => next(notFound("NO_SUCH_ROUTE", `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(services.log));
  return app;
}

const BODY_LIMIT = "2mb";
/** Room for a few dozen attestations: anonymous relaying is for a handful; a signed-in organization may send BODY_LIMIT. */
export const ANONYMOUS_RELAY_LIMIT = "64kb";

/**
 * Reads an anonymous relay request's body under ANONYMOUS_RELAY_LIMIT, so a stranger cannot make the API parse,
 * validate and hash megabytes of attestations; a body already declared larger is refused before it is read, and
 * the connection closed so that the rest is not read either. A caller holding a token this ledger issued passes on
 * to the general limit.
 */
function anonymousRelayBody(services: ApiServices): RequestHandler {
  const parse = express.json({ limit: ANONYMOUS_RELAY_LIMIT });
  return (req, res, next) => {
    if (holdsIssuedToken(services, req.headers.authorization)) return next();
    parse(req, res, (error?: unknown) => {
      if ((error as { type?: string } | undefined)?.type !== "entity.too.large") return next(error);
      res
        .set("connection", "close")
        .status(413)
        .json({
          error: {
            code: "BODY_TOO_LARGE",
            message:
              `an anonymous relay request may carry at most ${ANONYMOUS_RELAY_LIMIT.replace("kb", " KB")}; ` +
              `sign in (POST /v1/auth/challenge, then /v1/auth/token) to relay up to ${BODY_LIMIT.replace("mb", " MB")}`,
          },
        });
    });
  };
}

/** The interactive documentation page: Swagger UI from its npm package, reading /openapi.json. */
function mountDocs(app: Express) {
  const assets = path.dirname(require.resolve("swagger-ui-dist/package.json"));
  app.get("/docs", (_req, res) => {
    res.type("html").send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drug traceability ledger API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/openapi.json", dom_id: "#docs" });</script></body></html>`);
  });
  app.use("/docs/assets", express.static(assets, { index: false }));
}

/**
 * Signed-in organizations are identified and answerable; the limit protects against anonymous floods. Only a token
 * this ledger issued lifts it: any other Authorization header would let a flood through.
 */
function rateLimited(services: ApiServices, limiter: RateLimiter): RequestHandler {
  return (req, res, next) => {
    if (holdsIssuedToken(services, req.headers.authorization)) return next();
    const info = limiter.take(clientAddress(req));
    limiter.setHeaders(res, info);
    if (info.limited) res.status(RATE_LIMITED.status).json(RATE_LIMITED.body);
    else next();
  };
}
