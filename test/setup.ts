import { afterAll, beforeAll } from "vitest";

// Hardhat loads hardhat.config.ts with plain `require`, so TypeScript must be registered for it.
process.env.TS_NODE_TRANSPILE_ONLY = "true";
require("ts-node/register");

// Test files share their worker's process (isolate: false in vitest.config.mts), and so its in-process Hardhat
// network: each file starts from the genesis, with no snapshot of another file's to revert to, as in a new process.
beforeAll(async () => {
  const { reset } = await import("@nomicfoundation/hardhat-network-helpers");
  await reset();
});

// PostgreSQL databases kept between a file's fresh stores (test/indexer/stores.ts) go with the file.
afterAll(async () => {
  const { dropSpareDatabases } = await import("./indexer/stores");
  await dropSpareDatabases();
});
