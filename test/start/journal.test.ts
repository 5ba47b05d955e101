import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { expect } from "chai";
import { afterEach, describe, it } from "vitest";
import { startEmbeddedChain } from "../../src/chain/embedded";
import { JournalError, readJournal } from "../../src/chain/journal";
import { listenHttp } from "../../src/ops/listen";
import type { EmbeddedChain } from "../../src/chain/embedded";

const ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"; // Hardhat dev account 0
const BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const CAROL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

const open: EmbeddedChain[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const chain of open.splice(0)) await chain.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir() {
  const dir = mkdtempSync(path.join(tmpdir(), "trace-chain-"));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, now?: () => number) {
  const chain = await startEmbeddedChain({ hre, dataDir: dir, server: await listenHttp("127.0.0.1", 0), ...(now ? { now } : {}) });
  open.push(chain);
  return chain;
}

async function stop(chain: EmbeddedChain) {
  open.splice(open.indexOf(chain), 1);
  await chain.close();
}

async function rpc(chain: EmbeddedChain, method: string, params: unknown[] = []) {
  return chain.provider.request({ method, params });
}

async function send(chain: EmbeddedChain, from: string, to: string, value: bigint) {
  return rpc(chain, "eth_sendTransaction", [{ from, to, value: `0x${value.toString(16)}` }]);
}

async function blockHashes(chain: EmbeddedChain) {
  const head = Number(await rpc(chain, "eth_blockNumber"));
  const hashes: string[] = [];
  for (let n = 0; n <= head; n++) hashes.push(((await rpc(chain, "eth_getBlockByNumber", [`0x${n.toString(16)}`, false])) as { hash: string }).hash);
  return hashes;
}

/** A small history: transfers from two accounts and a balance set outside any block. */
async function makeHistory(chain: EmbeddedChain) {
  await send(chain, ALICE, BOB, 1000n);
  await send(chain, BOB, CAROL, 250n);
  await rpc(chain, "hardhat_setBalance", [CAROL, "0x1234"]);
  await send(chain, ALICE, CAROL, 7n);
}

const journalOf = (dir: string) => path.join(dir, "chain", "journal");

describe("durable embedded chain", () => {
  it("replays its journal on restart: same genesis, block hashes, balances and nonces", async () => {
    const dir = dataDir();
    const first = await start(dir);
    expect(first.fresh).to.equal(true);
    await makeHistory(first);
    const hashes = await blockHashes(first);
    const carol = await rpc(first, "eth_getBalance", [CAROL, "latest"]);
    const aliceNonce = await rpc(first, "eth_getTransactionCount", [ALICE, "latest"]);
    await stop(first);

    const second = await start(dir);
    expect(second.fresh).to.equal(false);
    expect(second.genesisHash).to.equal(first.genesisHash);
    expect(second.replayed).to.deep.equal({ entries: 4, blocks: 3, truncatedTail: false });
    expect(await blockHashes(second)).to.deep.equal(hashes);
    expect(await rpc(second, "eth_getBalance", [CAROL, "latest"])).to.equal(carol);
    expect(await rpc(second, "eth_getTransactionCount", [ALICE, "latest"])).to.equal(aliceNonce);
  });

  it("keeps journaling after a restart, with new blocks on the wall clock", async () => {
    const dir = dataDir();
    let clock = 1_900_000_000;
    const first = await start(dir, () => clock);
    await makeHistory(first);
    await stop(first);

    clock += 30 * 24 * 3600;
    const second = await start(dir, () => clock);
    await send(second, ALICE, BOB, 5n);
    const latest = (await rpc(second, "eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
    expect(Number(latest.timestamp)).to.be.at.least(clock);
    const hashes = await blockHashes(second);
    await stop(second);

    const third = await start(dir, () => clock + 60);
    expect(third.replayed.blocks).to.equal(4);
    expect(await blockHashes(third)).to.deep.equal(hashes);
  });

  it("serves the same chain over JSON-RPC that it journals", async () => {
    const dir = dataDir();
    const chain = await start(dir);
    const response = await fetch(chain.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_sendTransaction", params: [{ from: ALICE, to: BOB, value: "0x1" }] }),
    });
    expect(((await response.json()) as { result?: string }).result).to.match(/^0x[0-9a-f]{64}$/);
    await chain.close();
    open.splice(0);
    const { entries } = readJournal(journalOf(dir));
    expect(entries.map((e) => e.method)).to.deep.equal(["eth_sendTransaction"]);
    expect(entries[0]?.blocks.map((b) => b.number)).to.deep.equal([1]);
  });

  it("drops a last line cut short by a crash and appends after the intact lines", async () => {
    const dir = dataDir();
    const first = await start(dir);
    await makeHistory(first);
    const hashes = await blockHashes(first);
    await stop(first);
    appendFileSync(journalOf(dir), '{"method":"eth_sendRawTransaction","params":["0x02f8');

    const second = await start(dir);
    expect(second.replayed).to.deep.equal({ entries: 4, blocks: 3, truncatedTail: true });
    expect(await blockHashes(second)).to.deep.equal(hashes);
    await send(second, ALICE, BOB, 3n);
    await stop(second);

    const journal = readJournal(journalOf(dir));
    expect(journal.truncatedTail).to.equal(false);
    expect(journal.entries).to.have.length(5);
  });

  it("refuses a journal with a corrupt line that is not the last, naming the line", async () => {
    const dir = dataDir();
    const first = await start(dir);
    await makeHistory(first);
    await stop(first);
    const lines = readFileSync(journalOf(dir), "utf8").split("\n");
    lines[2] = lines[2]!.slice(0, 20);
    writeFileSync(journalOf(dir), lines.join("\n"));
    const failure = await start(dir).catch((error: unknown) => error);
    expect(failure).to.be.instanceOf(JournalError);
    expect((failure as Error).message).to.contain("line 3 is not JSON");
  });

  it("stops with a clear message when a replayed block's hash differs from the journal's", async () => {
    const dir = dataDir();
    const first = await start(dir);
    await makeHistory(first);
    await stop(first);
    const text = readFileSync(journalOf(dir), "utf8");
    const { entries } = readJournal(journalOf(dir));
    const recorded = entries[1]!.blocks[0]!.hash;
    writeFileSync(journalOf(dir), text.replace(recorded, `0x${"ab".repeat(32)}`));
    const failure = await start(dir).catch((error: unknown) => error);
    expect(failure).to.be.instanceOf(JournalError);
    expect((failure as Error).message).to.match(/line 3 \(eth_sendTransaction\): block 2 replayed as 0x[0-9a-f]{64}, the journal recorded 0xabab/);
    expect((failure as Error).message).to.contain("cannot be restored");
  });

  it("refuses requests that would make the history non-linear, and journals no failed transaction", async () => {
    const dir = dataDir();
    const chain = await start(dir);
    for (const method of ["evm_snapshot", "hardhat_reset", "evm_setAutomine"]) {
      const failure = await rpc(chain, method, method === "evm_setAutomine" ? [false] : []).catch((error: unknown) => error);
      expect((failure as Error).message).to.contain(`${method} is refused by the durable embedded chain`);
    }
    const overdraft = await send(chain, CAROL, BOB, 10n ** 30n).catch((error: unknown) => error);
    expect(overdraft).to.be.instanceOf(Error);
    await send(chain, ALICE, BOB, 1n);
    await stop(chain);
    expect(readJournal(journalOf(dir)).entries.map((e) => e.blocks.length)).to.deep.equal([1]);
  });
});

/** Runs test/start/journal-child.ts with a fault in its journal writes; its acknowledged and refused transfers. */
function faultyChain(
  dir: string,
  fault: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; acked: string[]; refused: string[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "journal-child.ts"), dir, fault], {
      cwd: path.resolve(__dirname, "../.."),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("close", (code, signal) => {
      const lines = stdout.split("\n");
      const after = (prefix: string) => lines.filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
      resolve({ code, signal, acked: after("acked "), refused: after("refused "), stderr });
    });
  });
}

async function mined(chain: EmbeddedChain, hashes: string[]) {
  const receipts = await Promise.all(hashes.map((hash) => rpc(chain, "eth_getTransactionReceipt", [hash])));
  return receipts.filter((receipt) => receipt !== null).length;
}

describe("durable embedded chain: no acknowledged transaction is lost", () => {
  it("killed after an entry's fsync but before its answer: every answered transfer, and that one, come back", async () => {
    const dir = dataDir();
    const run = await faultyChain(dir, "kill-after-fsync:4");
    expect(run.signal, run.stderr).to.equal("SIGKILL");
    expect(run.acked).to.have.length(2);
    const restored = await start(dir);
    expect(restored.replayed).to.deep.include({ entries: 3, truncatedTail: false });
    expect(await mined(restored, run.acked)).to.equal(2);
  });

  it("killed after an entry's write but before its fsync: every answered transfer comes back", async () => {
    const dir = dataDir();
    const run = await faultyChain(dir, "kill-after-write:4");
    expect(run.signal, run.stderr).to.equal("SIGKILL");
    expect(run.acked).to.have.length(2);
    const restored = await start(dir);
    expect(restored.replayed.truncatedTail).to.equal(false);
    expect(await mined(restored, run.acked)).to.equal(2);
  });

  it("writes each entry whole when the system writes fewer bytes than asked", async () => {
    const dir = dataDir();
    const run = await faultyChain(dir, "short-writes");
    expect(run.code, run.stderr).to.equal(0);
    expect(run.acked).to.have.length(6);
    const restored = await start(dir);
    expect(restored.replayed).to.deep.equal({ entries: 6, blocks: 6, truncatedTail: false });
    expect(await mined(restored, run.acked)).to.equal(6);
  });

  it("answers nothing more once a journal write fails, so the journal still replays every answered transfer", async () => {
    const dir = dataDir();
    const run = await faultyChain(dir, "disk-full:4");
    expect(run.code, run.stderr).to.equal(0);
    expect(run.acked).to.have.length(2);
    expect(run.refused).to.have.length(4);
    expect(run.refused[0]).to.contain("writing an entry failed (ENOSPC: no space left on device, write); the chain refuses further changes");
    const restored = await start(dir);
    expect(restored.replayed).to.deep.equal({ entries: 2, blocks: 2, truncatedTail: false });
    expect(await mined(restored, run.acked)).to.equal(2);
  });
});
