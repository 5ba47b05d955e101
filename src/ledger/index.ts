/**
 * The ledger's protocol, with no I/O: what the contracts accept and emit, and how the rest of the system speaks
 * of it. The indexer, API, CLI, pages and demo read this module; none of it knows HTTP or exit statuses.
 */
export * from "./vocabulary";
export * from "./catalogue";
export * from "./domain";
export * from "./contracts";
export * from "./wire";
export * from "./sign";
export * from "./errors";
export * from "./refusals";
export * from "./china-time";
export * from "./recall-deadlines";
export * from "./events";
export * from "./ids";
export * from "./expiry";
export * from "./verdicts";
export * from "./release-gates";
export * from "./refusal-titles";
export * from "./quality-review";
