/**
 * A process running the embedded chain that sends transfers one at a time and prints `acked <hash>` for each
 * answered one, with a fault in its journal's file writes chosen by the parent test (argv[3]):
 *   kill-after-fsync:N  SIGKILL right after the Nth fsync (the entry is on disk, its request not yet answered)
 *   kill-after-write:N  SIGKILL right after the Nth write, before its fsync
 *   short-writes        every write writes at most 7 bytes, as write(2) may
 *   disk-full:N         the Nth write fails with ENOSPC
 * Write 1 is the journal's header; write N+1 is the Nth transfer's entry.
 */
import fs from "node:fs";

const [dataDir, fault = ""] = process.argv.slice(2) as [string, string?];
const [kind, count] = fault.split(":") as [string, string?];
const nth = Number(count);
const journalFds = new Set<number>();
let writes = 0;
let fsyncs = 0;

const { openSync, writeSync, fsyncSync } = fs;
fs.openSync = ((file: fs.PathLike, ...rest: unknown[]) => {
  const fd = (openSync as (...args: unknown[]) => number)(file, ...rest);
  if (String(file).endsWith(`chain${"/"}journal`)) journalFds.add(fd);
  return fd;
}) as typeof fs.openSync;
fs.writeSync = ((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
  if (!journalFds.has(fd)) return (writeSync as (...args: unknown[]) => number)(fd, buffer, offset, length, position);
  writes++;
  if (kind === "disk-full" && writes === nth) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  const written = writeSync(fd, buffer, offset, kind === "short-writes" ? Math.min(length, 7) : length, position);
  if (kind === "kill-after-write" && writes === nth) process.kill(process.pid, "SIGKILL");
  return written;
}) as typeof fs.writeSync;
fs.fsyncSync = ((fd: number) => {
  fsyncSync(fd);
  if (journalFds.has(fd) && ++fsyncs === nth && kind === "kill-after-fsync") process.kill(process.pid, "SIGKILL");
}) as typeof fs.fsyncSync;

const ALICE = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

async function main() {
  const { default: hre } = await import("hardhat");
  const { startEmbeddedChain } = await import("../../src/chain/embedded");
  const { listenHttp } = await import("../../src/ops/listen");
  const chain = await startEmbeddedChain({ hre, dataDir, server: await listenHttp("127.0.0.1", 0) });
  for (let i = 1; i <= 6; i++) {
    try {
      const hash = await chain.provider.request({ method: "eth_sendTransaction", params: [{ from: ALICE, to: BOB, value: `0x${i.toString(16)}` }] });
      // Synchronous, so an acknowledgement printed is one the parent reads even if the process dies next.
      writeSync(1, `acked ${String(hash)}\n`);
    } catch (error) {
      writeSync(1, `refused ${(error as Error).message}\n`);
    }
  }
  await chain.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    writeSync(2, `${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
