import express from "express";
import type { Express, Request, RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import path from "node:path";
import { z } from "zod";
import { authRoutes, createAuthenticator, holdsIssuedToken } from "./auth";
import { batchRoutes } from "./batches";
import type { ApiServices } from "./context";
import { notFound } from "../ledger/errors";
import { errorHandler } from "./errors";
import { documentRoutes } from "./documents";
import { ledgerRoutes } from "./ledger";
import { organizationRoutes } from "./organizations";
import { recallRoutes } from "./recalls";
import { CODES_PATH, codeRegistrationRoutes, codesTextUpload, documentCodesUpload } from "./codes-upload";
import { scanRoutes } from "./scan";
import { shipmentRoutes } from "./shipments";
import { epcisMediaType, epcisRoutes, EPCIS_PATH } from "./epcis";
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

/** Once damage is found (at start or by any query since), answers come from a store that cannot be trusted. */
function refuseDamagedStore(services: ApiServices) {
  const { damage } = services.store.health;
  if (damage) throw damage;
}

/** Every route over the store; routes that need more (the relay needs a chain) are passed to createApp. */
export const coreRoutes: AnyRoute[] = [
  ...authRoutes,
  ...scanRoutes,
  ...codeRegistrationRoutes,
  ...batchRoutes,
  ...recallRoutes,
  ...organizationRoutes,
  ...epcisRoutes,
  ...shipmentRoutes,
  ...ledgerRoutes,
  ...documentRoutes,
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

/** Builds the HTTP API without listening, so tests drive it directly. */
export function createApp(services: ApiServices, extraRoutes: AnyRoute[] = [], mounts: AppMount[] = []): Express {
  const routes = [...coreRoutes, ...extraRoutes];
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Answers are computed per request and rarely asked for twice; hashing each (a provenance is close to a
  // megabyte) for an ETag costs more than a conditional request could save.
  app.set("etag", false);
  const metrics = createMetrics();
  app.use(metrics.middleware);
  app.use("/v1", (_req, _res, next) => {
    refuseDamagedStore(services);
    next();
  });
  // The rate limit comes before any body is read: a limited caller's body is never parsed.
  app.use(
    ["/v1/scans", "/v1/auth", "/v1/organizations", RELAY_PATH],
    rateLimit({
      windowMs: 60_000,
      limit: services.config.publicRateLimit,
      // draft-7's RateLimit header says the same to a client as draft-8's without hashing the client's key into a
      // partition key on every request.
      standardHeaders: "draft-7",
      legacyHeaders: false,
      // Signed-in organizations are identified and answerable; the limit protects against anonymous floods. Only a
      // token this ledger issued counts: any other Authorization header would let a flood through.
      skip: (req: Request) => holdsIssuedToken(services, req.headers.authorization),
      handler: (_req, res) => {
        res.status(429).json({ error: { code: "RATE_LIMITED", message: "too many requests; slow down or sign in" } });
      },
    }),
  );
  app.post(RELAY_PATH, anonymousRelayBody(services));
  app.use(express.json({ limit: BODY_LIMIT }));
  // Answers that leave as another media type or status than a route definition declares (see each handler).
  app.get(EPCIS_PATH, epcisMediaType);
  app.post(RELAY_PATH, relayAnswerStatus);
  const authenticate = createAuthenticator(services);
  app.post(CODES_PATH, codesTextUpload(services, authenticate));
  mountRoutes(app, routes, services, authenticate);
  const document = openApiDocument(routes, { title: "Drug traceability ledger API", version: API_VERSION });
  documentCodesUpload(document);
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

function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const errors = new Counter({
    name: "http_errors_total",
    help: "HTTP answers with status >= 400 by route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const middleware: express.RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on("finish", () => {
      const labels = { method: req.method, route: (req.route as { path?: string } | undefined)?.path ?? "unmatched", status: String(res.statusCode) };
      end(labels);
      if (res.statusCode >= 400) errors.inc(labels);
    });
    next();
  };
  return { registry, middleware };
}
