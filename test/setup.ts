// Hardhat loads hardhat.config.ts with plain `require`, so TypeScript must be registered for it.
process.env.TS_NODE_TRANSPILE_ONLY = "true";
require("ts-node/register");
