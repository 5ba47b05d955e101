import type { ServerResponse } from "node:http";
import type { Express, NextFunction, Request, Response } from "express";
import { z } from "zod";
import type { ApiServices, Caller } from "./context";

/**
 * An answer written as it is produced: the text of one JSON document in chunks, sent chunked with the connection's
 * backpressure, for documents too large to hold whole (a batch's whole history). A route returns it once every
 * check has passed; a failure before the first chunk is answered as any error, a failure after it ends the
 * connection, so the client sees a truncated document rather than a complete-looking one.
 */
export class StreamedJson {
  constructor(
    readonly chunks: AsyncIterable<string>,
    /**
     * The Content-Type header written with it, the one express wrote before both paths shared this: JSON's with its
     * charset, EPCIS's JSON-LD without one (mime-db gives that type no charset).
     */
    readonly contentType = "application/json; charset=utf-8",
  ) {}
}

/** Who may call a route: anyone, or an organization signed in with its on-chain key. */
export type Access = "public" | "organization";

/**
 * One endpoint, written once: its schemas validate requests and answers and produce the OpenAPI document.
 * `public` routes still receive the caller when a token is sent, so they can answer more to organizations.
 */
export type Route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType> = {
  method: "get" | "post" | "put" | "delete";
  path: string;
  summary: string;
  tags: string[];
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  response: R;
  /** Status codes other than 200/400/500 this route answers, with what they mean. */
  errors?: Record<number, string>;
  /** Status of a successful answer (default 200). */
  status?: number;
  handle(request: {
    params: z.output<P>;
    query: z.output<Q>;
    body: z.output<B>;
    caller: Caller | undefined;
    services: ApiServices;
  }): Promise<z.input<R> | StreamedJson>;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = Route<any, any, any, any>;

export function defineRoute<
  P extends z.ZodType = z.ZodObject<{}>,
  Q extends z.ZodType = z.ZodObject<{}>,
  B extends z.ZodType = z.ZodUndefined,
  R extends z.ZodType = z.ZodType,
>(route: Route<P, Q, B, R>): Route<P, Q, B, R> {
  return route;
}

/** Express paths use `:name`; OpenAPI uses `{name}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z]+)/g, "{$1}");

export function mountRoutes(
  app: Express,
  routes: AnyRoute[],
  services: ApiServices,
  authenticate: (req: Request, required: boolean) => Promise<Caller | undefined>,
) {
  for (const route of routes) {
    app[route.method](route.path, async (req: Request, res: Response, next: NextFunction) => {
      try {
        const caller = await authenticate(req, route.access === "organization");
        const params = route.params ? route.params.parse(req.params) : {};
        const query = route.query ? route.query.parse(req.query) : {};
        const body = route.body ? route.body.parse(req.body) : undefined;
        const answer = await route.handle({ params, query, body, caller, services });
        if (answer instanceof StreamedJson) await sendStreamed(res, route.status ?? 200, answer);
        else res.status(route.status ?? 200).json(answer);
      } catch (error) {
        next(error);
      }
    });
  }
}

/** Waits until the connection takes more, or is gone. */
function drainedOrClosed(res: ServerResponse) {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Writes a streamed answer as it is made, waiting while the connection is full; the same for express's routes and
 * the fast path's (src/api/fast-path.ts). False when the document was cut short (the client gone, or a failure
 * after its first chunk).
 */
export async function sendStreamed(res: ServerResponse, status: number, answer: StreamedJson): Promise<boolean> {
  const chunks = answer.chunks[Symbol.asyncIterator]();
  let chunk = await chunks.next();
  res.writeHead(status, ["Content-Type", answer.contentType]);
  try {
    while (!chunk.done) {
      if (!res.write(chunk.value)) await drainedOrClosed(res);
      if (res.destroyed) {
        await chunks.return?.();
        return false;
      }
      chunk = await chunks.next();
    }
    res.end();
    return true;
  } catch (error) {
    // Headers and part of the document are out: only ending the connection tells the client it is incomplete.
    res.destroy(error as Error);
    return false;
  }
}

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", description: "stable machine-readable code" },
        message: { type: "string", description: "what is wrong, for people" },
        field: { type: "string", description: "the offending field, for bad input" },
      },
    },
  },
};

/** The OpenAPI 3.1 document of `routes`, from the same zod schemas that validate them. */
export function openApiDocument(routes: AnyRoute[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters = [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")];
    const responses: Record<string, unknown> = {
      [String(route.status ?? 200)]: {
        description: "success",
        content: { "application/json": { schema: jsonSchema(route.response, "output") } },
      },
      "400": errorResponse("bad input: see error.code and error.field"),
      "429": errorResponse("too many requests"),
      "500": errorResponse("the server failed; never caused by the input"),
    };
    // Every route reads a token when one is sent, so every route can refuse a bad one or a suspended organization.
    responses["401"] = errorResponse(
      route.access === "organization" ? "no valid token" : "a token was sent but is not valid (anonymous callers are answered)",
    );
    responses["403"] = errorResponse("the signed-in organization is suspended");
    if (route.body) responses["413"] = errorResponse("the request body is too large");
    for (const [status, description] of Object.entries(route.errors ?? {})) {
      responses[status] = errorResponse(status === "403" ? `${description}; or the organization is suspended` : description);
    }
    const operation: Record<string, unknown> = {
      summary: route.summary,
      tags: route.tags,
      parameters,
      responses,
      ...(route.access === "organization" ? { security: [{ organizationToken: [] }] } : {}),
    };
    if (route.body) {
      operation.requestBody = { required: true, content: { "application/json": { schema: jsonSchema(route.body, "input") } } };
    }
    (paths[openApiPath(route.path)] ??= {})[route.method] = operation;
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      securitySchemes: {
        organizationToken: {
          type: "http",
          scheme: "bearer",
          description: "a token from POST /v1/auth/token, signed in with an organization's on-chain key",
        },
      },
    },
  };
}

function errorResponse(description: string) {
  return { description, content: { "application/json": { schema: errorSchema } } };
}

function jsonSchema(schema: z.ZodType, io: "input" | "output") {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" });
  return rest;
}

function parametersOf(schema: z.ZodType | undefined, location: "path" | "query") {
  if (!schema) return [];
  const json = jsonSchema(schema, "input") as { properties?: Record<string, { description?: string }>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === "path" || (json.required ?? []).includes(name),
    description: property.description,
    schema: property,
  }));
}
