/**
 * What went wrong, in the domain's terms. Below the edges everything throws a LedgerError with one of these kinds;
 * the API maps a kind to an HTTP status (src/api/errors.ts) and the CLI to an exit status (src/cli/io.ts), and
 * nothing else chooses either.
 */
export const ERROR_KINDS = [
  /** The input itself is malformed, whatever the ledger holds. */
  "bad_input",
  /** The caller did not say who it is, or its credentials do not hold. */
  "unauthenticated",
  /** The caller (or the attestation's signer) may not do this. */
  "not_allowed",
  "not_found",
  /** It was done already (a replayed nonce, a second registration). */
  "conflict",
  /** A rule of the ledger refuses it in the ledger's current state. */
  "refused",
  /** A dependency (the chain node, the database) or the caller's rate limit says not now: the same request may pass later. */
  "retry_later",
  /** It was started and has not finished in time; it may still finish, so do not simply repeat it. */
  "timed_out",
  /** The service is misconfigured or failed; the failure is logged. */
  "internal",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** A failure with a stable machine-readable code, a message in words and, for bad input, the field at fault. */
export class LedgerError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const badInput = (code: string, message: string, field?: string) => new LedgerError("bad_input", code, message, field);
export const unauthenticated = (code: string, message: string) => new LedgerError("unauthenticated", code, message);
export const notAllowed = (code: string, message: string) => new LedgerError("not_allowed", code, message);
export const notFound = (code: string, message: string) => new LedgerError("not_found", code, message);
export const conflict = (code: string, message: string) => new LedgerError("conflict", code, message);
export const refused = (code: string, message: string, field?: string) => new LedgerError("refused", code, message, field);
export const retryLater = (code: string, message: string) => new LedgerError("retry_later", code, message);
