import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { parse as parseQuery } from "node:querystring";
import { createAuthenticator, holdsIssuedToken } from "./auth";
import { refuseDamagedStore, STORE_READING_PATH } from "./context";
import type { ApiServices } from "./context";
import { errorAnswer, malformedJson, RATE_LIMITED, RETRY_AFTER_SECONDS } from "./errors";
import type { Metrics } from "./metrics";
import { UNROUTED } from "./metrics";
import { clientAddress, isPublicLimitedPath } from "./rate-limit";
import type { RateLimiter } from "./rate-limit";
import { sendStreamed, StreamedJson } from "./routes";
import type { AnyRoute } from "./routes";
import { answerScan, scanAnswerBody, scanRoute } from "./scan";

/**
 * Larger bodies go through express, which reads them under the API's 2 MB limit: a scan's body is a few hundred
 * bytes (a code of at most MAX_CODE_LENGTH characters and a place of at most 200).
 */
const FAST_BODY_LIMIT = 64 * 1024;
/** The content types express's JSON parser reads as UTF-8 JSON, as clients send them. */
const JSON_TYPES = new Set(["application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"]);

/**
 * Serves scans, and the GET routes in `reads` (see fastReads), from the node:http request handler, ahead of
 * express, and hands every other request to `express`.
 * A scan costs a pharmacy's phone a round trip and the server the lookup and its verdict; express's generic
 * pipeline (body parser, router, response helpers) cost more than the scan itself. The answers are express's to the
 * byte: the same route definition (one zod schema, one scan()), the same authentication, the same rate limiter and
 * its headers, the same error answers. What this path does not read the way express does (a compressed or chunked
 * body, another charset, a large body) it leaves to express, which still has the route.
 */
export function withFastPath(
  services: ApiServices,
  express: RequestListener,
  shared: { limiter: RateLimiter; metrics: Metrics },
  reads: AnyRoute[] = [],
): RequestListener {
  const authenticate = createAuthenticator(services);
  const observe = shared.metrics.routeSeries("POST", scanRoute.path);
  // Express refuses a damaged store, a client over the limit and a body it cannot read before routing the scan.
  const observeUnrouted = shared.metrics.routeSeries("POST", UNROUTED);
  const { limiter } = shared;
  const read = fastReads(services, reads, shared.metrics);

  /** Answers the scan once its body is read, and counts the answer. */
  async function answer(req: IncomingMessage, res: ServerResponse, started: number, limitHeaders: string[], body: Promise<string> | string) {
    let status: number;
    let routed = false;
    try {
      const json = parseJson(typeof body === "string" ? body : await body);
      routed = true;
      const caller = await authenticate(req, false);
      const input = scanRoute.body!.parse(json);
      status = send(res, 200, scanAnswerBody(await answerScan(services, caller, input)), limitHeaders);
    } catch (error) {
      status = sendError(res, error, limitHeaders);
    }
    (routed ? observe : observeUnrouted)(status, secondsSince(started));
  }

  /**
   * Reads the body the parser has taken in since the request's headers: a scan's few hundred bytes usually come in
   * the headers' own packet, parsed once the loop has finished its reads (not a tick later: the tick queue runs as
   * soon as the headers' callback returns, before the body's), so they are read at once, without a listener, a
   * promise or the stream's flowing mode. A body still on its way is read as it arrives.
   */
  function bodyArrived(req: IncomingMessage, res: ServerResponse, started: number, limitHeaders: string[]) {
    const body = req.complete ? ((req.read() as Buffer | null)?.toString("utf8") ?? "") : readBody(req);
    void answer(req, res, started, limitHeaders, body);
  }

  return (req, res) => {
    if (read(req, res)) return;
    if (!isPlainScan(req)) return express(req, res);
    const started = performance.now();
    // Written with the answer's own, in one writeHead: headers set one by one are each checked and stored twice.
    let limitHeaders = NO_HEADERS;
    try {
      refuseDamagedStore(services);
      // As in express: the limit comes before the body is read, and a token this ledger issued lifts it.
      if (!holdsIssuedToken(services, req.headers.authorization)) {
        const info = limiter.take(clientAddress(req));
        limitHeaders = limiter.headers(info);
        if (info.limited) return observeUnrouted(send(res, RATE_LIMITED.status, RATE_LIMITED_TEXT, limitHeaders), secondsSince(started));
      }
    } catch (error) {
      return observeUnrouted(sendError(res, error, limitHeaders), secondsSince(started));
    }
    setImmediate(bodyArrived, req, res, started, limitHeaders);
  };

  function sendError(res: ServerResponse, error: unknown, limitHeaders: string[]) {
    return sendRefusal(res, errorAnswer(error, services.log), limitHeaders);
  }
}

const NO_HEADERS: string[] = [];

/** Seconds since `started` (a performance.now() reading), as the metrics series take an answer's duration. */
const secondsSince = (started: number) => (performance.now() - started) / 1000;

/**
 * GET routes answered here too, for the same reason as scans: a regulator's provenance page cost about 290 µs more
 * server CPU through express than from here (1,082 against 791 µs). A read is answered here only where express would
 * route it to the same definition and read it the same way: its path in exactly the route's case and with
 * parameters of unreserved characters (nothing to decode), a query of plain characters (read by node's querystring,
 * express's "simple" parser), no body and no conditional header (see hasBody and isConditional), outside the
 * rate-limited paths (express's middleware is the one home of that limit). Everything else, HEAD included, goes to
 * express, which still has the route.
 */
function fastReads(services: ApiServices, routes: AnyRoute[], metrics: Metrics) {
  const authenticate = createAuthenticator(services);
  const reads = routes.map((route) => {
    if (route.method !== "get" || route.body) throw new Error(`${route.method.toUpperCase()} ${route.path} is not a read without a body`);
    if (isPublicLimitedPath(route.path)) throw new Error(`${route.path} is rate limited: express serves it`);
    // Express refuses every /v1 request while the store is damaged, before routing it.
    const guardsStore = route.path.startsWith(`${STORE_READING_PATH}/`);
    return { route, ...pathPattern(route.path), guardsStore, observe: metrics.routeSeries("GET", route.path) };
  });
  const observeUnrouted = metrics.routeSeries("GET", UNROUTED);

  /** Answers the read and counts the answer, in the series express would count it in (none for a document cut short). */
  async function answerRead(req: IncomingMessage, res: ServerResponse, read: (typeof reads)[number], values: string[], query: string) {
    const started = performance.now();
    const { route } = read;
    if (read.guardsStore) {
      try {
        refuseDamagedStore(services);
      } catch (damage) {
        return observeUnrouted(sendRefusal(res, errorAnswer(damage, services.log), NO_HEADERS), secondsSince(started));
      }
    }
    let status = route.status ?? 200;
    try {
      const caller = await authenticate(req, route.access === "organization");
      const params = route.params ? route.params.parse(Object.fromEntries(read.names.map((name, i) => [name, values[i]]))) : {};
      const result = await route.handle({
        params,
        query: route.query ? route.query.parse(parseQuery(query)) : {},
        body: undefined,
        caller,
        services,
      });
      if (result instanceof StreamedJson) {
        if (!(await sendStreamed(res, status, result))) return;
      } else send(res, status, JSON.stringify(result), NO_HEADERS);
    } catch (error) {
      status = sendRefusal(res, errorAnswer(error, services.log), NO_HEADERS);
    }
    read.observe(status, secondsSince(started));
  }

  /** Answers `req` if it is one of the reads served here; false leaves it to express. */
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET" || reads.length === 0 || hasBody(req) || isConditional(req)) return false;
    const url = req.url ?? "";
    const mark = url.indexOf("?");
    const [path, query] = mark === -1 ? [url, ""] : [url.slice(0, mark), url.slice(mark + 1)];
    if (!PLAIN_QUERY.test(query)) return false;
    for (const read of reads) {
      const values = read.pattern.exec(path);
      if (values) {
        void answerRead(req, res, read, values.slice(1), query);
        return true;
      }
    }
    return false;
  };
}

/** Characters a path parameter may hold here: RFC 3986's unreserved, which express's router decodes to themselves. */
const PARAMETER = "([A-Za-z0-9._~-]+)";
/** A query of names and values in unreserved characters, percent escapes and `+`, joined by `=` and `&`. */
const PLAIN_QUERY = /^[A-Za-z0-9._~%+=&-]*$/;

/** A route path (`/v1/batches/:batchId`) as a pattern matching it exactly, and its parameters' names in order. */
function pathPattern(path: string) {
  const names: string[] = [];
  const source = path
    .split("/")
    .map((segment) => {
      if (!segment.startsWith(":")) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(segment.slice(1));
      return PARAMETER;
    })
    .join("/");
  return { pattern: new RegExp(`^${source}$`), names };
}

/**
 * Whether a request says it has a body, as express's body parser asks it (type-is: any length, even 0, or a transfer
 * encoding), so that the parser's checks of its type, charset and encoding still come first.
 */
function hasBody(req: IncomingMessage): boolean {
  const { headers } = req;
  return headers["transfer-encoding"] !== undefined || headers["content-length"] !== undefined;
}

/** A conditional GET: express's res.json may answer it 304 without a body (`If-None-Match: *`). */
function isConditional(req: IncomingMessage): boolean {
  const { headers } = req;
  return headers["if-none-match"] !== undefined || headers["if-modified-since"] !== undefined;
}
const RATE_LIMITED_TEXT = JSON.stringify(RATE_LIMITED.body);

/** A scan whose body this path reads exactly as express's JSON parser would: UTF-8 JSON of a declared, small length. */
function isPlainScan(req: IncomingMessage): boolean {
  if (req.method !== "POST") return false;
  const url = req.url ?? "";
  if (url !== scanRoute.path && !url.startsWith(`${scanRoute.path}?`)) return false;
  const { headers } = req;
  const type = headers["content-type"];
  if (type === undefined || !JSON_TYPES.has(type.toLowerCase())) return false;
  if (headers["content-encoding"] !== undefined && headers["content-encoding"].toLowerCase() !== "identity") return false;
  const length = headers["content-length"];
  return length !== undefined && /^\d+$/.test(length) && Number(length) <= FAST_BODY_LIMIT;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8")));
    // As express's body reader names a body cut short by the client (a 400 nobody is left to read), also when the
    // client left before this read began (its error was emitted to no listener).
    const aborted = () => reject(Object.assign(new Error("request aborted"), { status: 400, type: "request.aborted" }));
    if (req.destroyed) return aborted();
    req.on("error", aborted);
  });
}

/**
 * The body as express's strict JSON parser reads it: an empty body is an empty object, a byte order mark is
 * dropped, and only an object or an array is JSON enough.
 */
function parseJson(received: string): unknown {
  const text = received.charCodeAt(0) === 0xfeff ? received.slice(1) : received;
  if (text.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformedJson();
  }
  if (value === null || typeof value !== "object") throw malformedJson();
  return value;
}

/** An error's answer as express's error handler writes it, after `headers`; returns its status. */
function sendRefusal(res: ServerResponse, { status, body }: ReturnType<typeof errorAnswer>, headers: string[]): number {
  return send(res, status, JSON.stringify(body), status === 503 ? [...headers, "Retry-After", String(RETRY_AFTER_SECONDS)] : headers);
}

function send(res: ServerResponse, status: number, json: string | Buffer, headers: string[]): number {
  const length = typeof json === "string" ? Buffer.byteLength(json) : json.length;
  res.writeHead(status, [...headers, "Content-Type", "application/json; charset=utf-8", "Content-Length", String(length)]);
  res.end(json);
  return status;
}
