import type { ErrorRequestHandler } from "express";
import { ZodError } from "zod";
import type { Logger } from "../log";

/**
 * An error the API answers with its status, a stable machine-readable `code`, a human `message` and, for bad
 * input, the offending `field`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string, field?: string) => new ApiError(400, code, message, field);
export const unauthorized = (code: string, message: string) => new ApiError(401, code, message);
export const forbidden = (code: string, message: string) => new ApiError(403, code, message);
export const notFound = (code: string, message: string) => new ApiError(404, code, message);

export type ErrorBody = { error: { code: string; message: string; field?: string } };

/** Maps every error to its answer; anything unexpected is logged and answered 500 without internals. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const answer = toApiError(error);
    if (answer.status >= 500) log.error({ err: error }, "request failed");
    const body: ErrorBody = { error: { code: answer.code, message: answer.message } };
    if (answer.field !== undefined) body.error.field = answer.field;
    res.status(answer.status).json(body);
  };
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ZodError) {
    const issue = error.issues[0]!;
    const field = issue.path.join(".");
    return badRequest("INVALID_INPUT", field ? `${field}: ${issue.message}` : issue.message, field || undefined);
  }
  const status = (error as { status?: number; type?: string }).status;
  const type = (error as { type?: string }).type;
  if (type === "entity.parse.failed") return badRequest("MALFORMED_JSON", "the request body is not valid JSON");
  if (type === "entity.too.large") return new ApiError(413, "BODY_TOO_LARGE", "the request body is too large");
  if (type === "charset.unsupported") return new ApiError(415, "UNSUPPORTED_CHARSET", "send JSON in UTF-8");
  if (type === "encoding.unsupported") return new ApiError(415, "UNSUPPORTED_ENCODING", "send the body uncompressed, or gzip or deflate");
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new ApiError(status, "BAD_REQUEST", (error as Error).message);
  }
  return new ApiError(500, "INTERNAL", "the server failed to answer; the failure is logged");
}
