export { createIndexer, ChainMismatchError } from "./indexer";
export type { Indexer, IndexerOptions, VerificationMode } from "./indexer";
export { createRpcSource, RangeTooLargeError } from "./sync";
export type { ChainSource, ChainLog, BlockRef, BlockInfo } from "./sync";
export type { Deployment, LedgerEvent } from "./decode";
