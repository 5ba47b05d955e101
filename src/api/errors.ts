import type { ErrorRequestHandler } from "express";
import { ZodError } from "zod";
import { badInput, LedgerError, retryLater } from "../ledger/errors";
import type { ErrorKind } from "../ledger/errors";
import type { Logger } from "../log";
import { isStoreUnavailable } from "../store";
import { StoreDamagedError } from "../store";

/** The HTTP status of each kind of failure: the one place below the routes' success statuses that chooses one. */
export const STATUS_OF_KIND: Record<ErrorKind, number> = {
  bad_input: 400,
  unauthenticated: 401,
  not_allowed: 403,
  not_found: 404,
  conflict: 409,
  refused: 422,
  retry_later: 503,
  timed_out: 504,
  internal: 500,
};

/** Seconds a client should wait before retrying a request that failed with retry_later. */
export const RETRY_AFTER_SECONDS = 1;

export type ErrorBody = { error: { code: string; message: string; field?: string } };

type Answer = { status: number; code: string; message: string; field?: string };

/** Maps every error to its answer; anything unexpected is logged and answered 500 without internals. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const { status, body } = errorAnswer(error, log);
    if (status === 503) res.set("Retry-After", String(RETRY_AFTER_SECONDS));
    res.status(status).json(body);
  };
}

/**
 * The status and body that answer `error`, logged as errorHandler logs it: for the fast path, which answers
 * outside express (src/api/fast-path.ts). A 503 goes with `Retry-After: RETRY_AFTER_SECONDS`.
 */
export function errorAnswer(error: unknown, log: Logger): { status: number; body: ErrorBody } {
  const answer = answerTo(error);
  if (answer.code === STORE_UNAVAILABLE) log.warn({ err: (error as Error).message }, "request failed: the database is unreachable");
  else if (answer.status >= 500) log.error({ err: error }, "request failed");
  const body: ErrorBody = { error: { code: answer.code, message: answer.message } };
  if (answer.field !== undefined) body.error.field = answer.field;
  return { status: answer.status, body };
}

const STORE_UNAVAILABLE = "STORE_UNAVAILABLE";

export const malformedJson = () => badInput("MALFORMED_JSON", "the request body is not valid JSON");

/** The answer to an anonymous client over its rate limit (src/api/rate-limit.ts). */
export const RATE_LIMITED: { status: number; body: ErrorBody } = {
  status: 429,
  body: { error: { code: "RATE_LIMITED", message: "too many requests; slow down or sign in" } },
};

function answerTo(error: unknown): Answer {
  if (error instanceof LedgerError) return { status: STATUS_OF_KIND[error.kind], code: error.code, message: error.message, field: error.field };
  if (isStoreUnavailable(error))
    return answerTo(retryLater(STORE_UNAVAILABLE, "the database is unreachable (restarting or failing over); retry shortly"));
  // The operator's message names the file; the client learns only that this server cannot answer now.
  if (error instanceof StoreDamagedError) {
    return answerTo(
      retryLater(
        "STORE_DAMAGED",
        "this server's store is damaged, so it gives no answers until its operator restores it; try another server or later",
      ),
    );
  }
  if (error instanceof ZodError) {
    const issue = error.issues[0]!;
    const field = issue.path.join(".");
    return answerTo(badInput("INVALID_INPUT", field ? `${field}: ${issue.message}` : issue.message, field || undefined));
  }
  // express's body parsers: malformed, too large or undecodable request bodies.
  const status = (error as { status?: number; type?: string }).status;
  const type = (error as { type?: string }).type;
  if (type === "entity.parse.failed") return answerTo(malformedJson());
  if (type === "entity.too.large") return { status: 413, code: "BODY_TOO_LARGE", message: "the request body is too large" };
  if (type === "charset.unsupported") return { status: 415, code: "UNSUPPORTED_CHARSET", message: "send JSON in UTF-8" };
  if (type === "encoding.unsupported")
    return { status: 415, code: "UNSUPPORTED_ENCODING", message: "send the body uncompressed, or gzip or deflate" };
  if (typeof status === "number" && status >= 400 && status < 500) return { status, code: "BAD_REQUEST", message: (error as Error).message };
  return { status: 500, code: "INTERNAL", message: "the server failed to answer; the failure is logged" };
}
