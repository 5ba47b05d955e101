import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { isDeepStrictEqual } from "node:util";
import hre from "hardhat";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import { createStore } from "../../src/store";
import { apiHarness } from "../api/harness";
import type { ApiHarness } from "../api/harness";
import { handOver } from "../contracts/fixtures";
import { deploymentOf } from "../indexer/chain";
import { dumpDiff, dumpTables, MODEL_TABLES } from "../indexer/dump";
import { createPostgresDatabase } from "../indexer/stores";
import { attachedServers, signIn, terminateBackends } from "./attached";
import type { AttachedService } from "./attached";

/**
 * PostgreSQL drops every connection of an API server (a failover, a restart, an administrator's
 * pg_terminate_backend) while scans and signed-in reads are in flight, again and again. The server must live through
 * it, answer each request either correctly or 503 with Retry-After, and afterwards answer everything and index on
 * from its checkpoint without losing or repeating an event.
 */
const SCANNERS = 12;
const READERS = 4;
const ROUNDS = 5;
/** Rounds are repeated past ROUNDS until a termination has caught a request in flight (a 503), at most this many. */
const MAX_ROUNDS = 40;
/** Anonymous requests a minute the server allows here: more than the load can send. */
const ANONYMOUS_LIMIT = 1_000_000;

type Tally = { correct: number; unavailable: number; wrong: string[] };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>) {
  while (!(await condition())) await pause(20);
}

/** Asks once and checks the answer: the one the server gave before any fault, or 503 with Retry-After and a clear error. */
async function judge(tally: Tally, what: string, ask: () => Promise<Response>, expected: unknown) {
  let response: Response;
  try {
    response = await ask();
  } catch (error) {
    tally.wrong.push(`${what}: no answer (${(error as Error).cause ?? (error as Error).message})`);
    return;
  }
  const body = (await response.json()) as { error?: { code: string; message: string } };
  if (
    response.status === 503 &&
    /^[1-9][0-9]*$/.test(response.headers.get("retry-after") ?? "") &&
    body.error?.code === "STORE_UNAVAILABLE" &&
    body.error.message
  ) {
    tally.unavailable++;
  } else if (response.status === 200 && isDeepStrictEqual(body, expected)) {
    tally.correct++;
  } else {
    tally.wrong.push(`${what} -> ${response.status} retry-after=${response.headers.get("retry-after")} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

describe("PostgreSQL connections lost under load", () => {
  let h: ApiHarness;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let servers: ReturnType<typeof attachedServers>;
  let server: AttachedService & { apiUrl: string };

  beforeAll(async () => {
    h = await apiHarness("sqlite");
    database = await createPostgresDatabase("trace_lost");
    // The load sends well over the default 600 anonymous scans a minute, and how many depends on how soon a termination
    // catches a request in flight; refusals for rate would be wrong answers here, so the limit is set out of reach.
    servers = attachedServers({
      rpcUrl: h.chain.url,
      deployment: await deploymentOf(h.c),
      database: database.url,
      args: ["--public-rate-limit", String(ANONYMOUS_LIMIT)],
    });
    server = await servers.start();
  });
  afterAll(async () => {
    await servers?.close();
    await database?.drop();
    await h?.close();
  });

  it("keeps the server running, answers 503 with Retry-After while the database is away, then everything as before", async () => {
    const cmo = await signIn(server.apiUrl, h.c.cmo.key);
    for (const batch of [h.batches.released, h.batches.recalled]) {
      const registered = await fetch(`${server.apiUrl}/v1/batches/${batch.batchId}/codes`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${cmo}` },
        body: JSON.stringify({ codes: batch.printed }),
      });
      expect(registered.status, await registered.text()).to.equal(201);
    }
    const codes = [...h.batches.released.printed, ...h.batches.recalled.printed, ...h.batches.unreleased.printed];
    const scan = (code: string) =>
      fetch(`${server.apiUrl}/v1/scans`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code }) });
    const read = () => fetch(`${server.apiUrl}/v1/batches/${h.batches.released.batchId}`, { headers: { authorization: `Bearer ${cmo}` } });

    // What each request answers with the database up: the answers every later one must equal.
    const expectedScans = new Map<string, unknown>();
    for (const code of codes) expectedScans.set(code, await (await scan(code)).json());
    expect(new Set([...expectedScans.values()].map((a) => (a as { verdict: string }).verdict))).to.deep.equal(
      new Set(["GENUINE", "ALREADY_DISPENSED", "RECALLED", "UNKNOWN_CODE"]),
    );
    const expectedRead = await (await read()).json();

    const tally: Tally = { correct: 0, unavailable: 0, wrong: [] };
    let loading = true;
    const scanner = async (first: number) => {
      for (let i = first; loading; i++) {
        const code = codes[i % codes.length]!;
        await judge(tally, `scan ${code}`, () => scan(code), expectedScans.get(code));
      }
    };
    const reader = async () => {
      while (loading) await judge(tally, "GET batch", read, expectedRead);
    };
    const load = Promise.all([...Array.from({ length: SCANNERS }, (_, i) => scanner(i * 3)), ...Array.from({ length: READERS }, reader)]);

    let terminated = 0;
    for (let round = 0; round < ROUNDS || (tally.unavailable === 0 && round < MAX_ROUNDS); round++) {
      // Terminate only once the server answers correctly again: each round is a fresh loss, not the same one.
      const before = tally.correct;
      await until(() => tally.correct >= before + 50 || tally.wrong.length > 0 || !server.alive());
      if (tally.wrong.length > 0 || !server.alive()) break;
      terminated += await terminateBackends(database.url);
    }
    const recovered = tally.correct;
    await until(() => tally.correct >= recovered + 100 || tally.wrong.length > 0 || !server.alive());
    loading = false;
    await load;

    expect(server.alive(), `the server died:\n${server.output()}`).to.equal(true);
    expect(tally.wrong, tally.wrong.slice(0, 5).join("\n")).to.deep.equal([]);
    expect(terminated, "connections terminated").to.be.greaterThan(0);
    expect(tally.unavailable, "requests answered 503 while the database was away").to.be.greaterThan(0);
    for (const code of codes) expect(await (await scan(code)).json()).to.deep.equal(expectedScans.get(code));

    // The indexer kept following: a new shipment is indexed, and the read model equals a clean run's.
    await handOver(h.c, h.c.distributor, h.c.dispenser, h.batches.released.batchId, 1n);
    const head = Number(await hre.network.provider.send("eth_blockNumber", []));
    await until(async () => ((await (await fetch(`${server.apiUrl}/v1/ledger`)).json()) as { indexedBlock: number | null }).indexedBlock === head);
    const reference = await createPostgresDatabase("trace_lost_clean");
    const clean = createStore(reference.url);
    const observed = createStore(database.url);
    try {
      await clean.migrate();
      const source = createRpcSource(h.chain.url);
      await createIndexer({ source, store: clean, deployment: await deploymentOf(h.c), log: silentLogger() }).catchUp();
      source.close();
      expect(dumpDiff(await dumpTables(observed.db, MODEL_TABLES), await dumpTables(clean.db, MODEL_TABLES))).to.deep.equal({});
    } finally {
      await observed.close();
      await clean.close();
      await reference.drop();
    }
  });
});
