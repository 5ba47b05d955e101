/**
 * Vitest setup file for coverage runs (after test/setup.ts): attaches solidity-coverage's collector to the
 * in-process Hardhat network of this test process and, when the test file is done, writes the hits it saw.
 */
import { afterAll, beforeAll } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import path from "node:path";
import hre from "hardhat";
import { HITS_DIR, INSTRUMENTATION_DATA } from "./paths";

type Instrumentation = Record<string, { hits: number }>;
type Collector = { step(info: unknown): void; instrumentationData: Instrumentation };
type ProviderLayer = {
  init?: () => Promise<void>;
  _wrapped?: ProviderLayer;
  _node?: { _vm: { evm: { events: { on(event: "step", listener: (info: unknown) => void): void } } } };
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const DataCollector = require("solidity-coverage/lib/collector") as new (data: Instrumentation, viaIR: boolean) => Collector;

const state = globalThis as typeof globalThis & { __solidityCoverage?: Collector };

beforeAll(async () => {
  if (state.__solidityCoverage) return;
  const collector = new DataCollector(JSON.parse(readFileSync(INSTRUMENTATION_DATA, "utf8")) as Instrumentation, false);
  let layer = hre.network.provider as unknown as ProviderLayer;
  await layer.init?.();
  while (!layer._node && layer._wrapped) layer = layer._wrapped;
  if (!layer._node) throw new Error("coverage: the in-process Hardhat network exposes no VM events to attach to");
  // With a step listener, the network hands over every executed step; the collector counts instrumentation hits.
  layer._node._vm.evm.events.on("step", (info) => collector.step(info));
  state.__solidityCoverage = collector;
});

afterAll(() => {
  const collector = state.__solidityCoverage;
  if (!collector) return;
  const hits: Record<string, number> = {};
  for (const [hash, entry] of Object.entries(collector.instrumentationData)) {
    if (entry.hits > 0) hits[hash] = entry.hits;
    entry.hits = 0; // written once: a process that runs several files reports each file's hits separately
  }
  mkdirSync(HITS_DIR, { recursive: true });
  writeFileSync(path.join(HITS_DIR, `${process.pid}-${randomUUID()}.json`), JSON.stringify(hits));
});
