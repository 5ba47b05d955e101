import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { createAuthenticator, holdsIssuedToken } from "./auth";
import { refuseDamagedStore } from "./context";
import type { ApiServices } from "./context";
import { errorAnswer, malformedJson, RATE_LIMITED, RETRY_AFTER_SECONDS } from "./errors";
import type { Metrics } from "./metrics";
import { clientAddress } from "./rate-limit";
import type { RateLimiter } from "./rate-limit";
import { answerScan, scanAnswerBody, scanRoute } from "./scan";

/**
 * Larger bodies go through express, which reads them under the API's 2 MB limit: a scan's body is a few hundred
 * bytes (a code of at most 512 characters and a place of at most 200).
 */
const FAST_BODY_LIMIT = 64 * 1024;
/** The content types express's JSON parser reads as UTF-8 JSON, as clients send them. */
const JSON_TYPES = new Set(["application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"]);

/**
 * Serves scans from the node:http request handler, ahead of express, and hands every other request to `express`.
 * A scan costs a pharmacy's phone a round trip and the server the lookup and its verdict; express's generic
 * pipeline (body parser, router, response helpers) cost more than the scan itself. The answers are express's to the
 * byte: the same route definition (one zod schema, one scan()), the same authentication, the same rate limiter and
 * its headers, the same error answers. What this path does not read the way express does (a compressed or chunked
 * body, another charset, a large body) it leaves to express, which still has the route.
 */
export function withFastScan(services: ApiServices, express: RequestListener, shared: { limiter: RateLimiter; metrics: Metrics }): RequestListener {
  const authenticate = createAuthenticator(services);
  const observe = shared.metrics.routeSeries("POST", scanRoute.path);
  const { limiter } = shared;

  /** Answers the scan once its body is read, and counts the answer. */
  async function answer(req: IncomingMessage, res: ServerResponse, started: number, limitHeaders: string[], body: Promise<string> | string) {
    let status: number;
    try {
      const json = parseJson(typeof body === "string" ? body : await body);
      const caller = await authenticate(req, false);
      const input = scanRoute.body!.parse(json);
      status = send(res, 200, scanAnswerBody(await answerScan(services, caller, input)), limitHeaders);
    } catch (error) {
      status = sendError(res, error, limitHeaders);
    }
    observe(status, (performance.now() - started) / 1000);
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
        if (info.limited) return observe(send(res, RATE_LIMITED.status, RATE_LIMITED_TEXT, limitHeaders), (performance.now() - started) / 1000);
      }
    } catch (error) {
      return observe(sendError(res, error, limitHeaders), (performance.now() - started) / 1000);
    }
    setImmediate(bodyArrived, req, res, started, limitHeaders);
  };

  function sendError(res: ServerResponse, error: unknown, limitHeaders: string[]) {
    const { status, body } = errorAnswer(error, services.log);
    const headers = status === 503 ? [...limitHeaders, "Retry-After", String(RETRY_AFTER_SECONDS)] : limitHeaders;
    return send(res, status, JSON.stringify(body), headers);
  }
}

const NO_HEADERS: string[] = [];
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

function send(res: ServerResponse, status: number, json: string | Buffer, headers: string[]): number {
  const length = typeof json === "string" ? Buffer.byteLength(json) : json.length;
  res.writeHead(status, [...headers, "Content-Type", "application/json; charset=utf-8", "Content-Length", String(length)]);
  res.end(json);
  return status;
}
