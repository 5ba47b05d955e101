import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "vitest";
import { expect } from "chai";
import { createRpcSource, RpcError } from "../../src/indexer/sync";

/**
 * The JSON-RPC source reads a node's answers as they arrive in pieces: an ASCII body (a node's usual JSON) is decoded
 * as Latin-1 a piece at a time, anything else as UTF-8, and either way the text is what the node sent.
 */

/** A node that answers every request with `pieces`, written one after another (each its own chunk on the wire). */
async function nodeAnswering(pieces: (id: number) => Buffer[]) {
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { id } = JSON.parse(Buffer.concat(chunks).toString()) as { id: number };
    res.setHeader("content-type", "application/json");
    for (const piece of pieces(id)) {
      res.write(piece);
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const logOf = (data: string) => ({
  blockNumber: "0x2a",
  logIndex: "0x3",
  blockHash: `0x${"ab".repeat(32)}`,
  transactionHash: `0x${"cd".repeat(32)}`,
  address: `0x${"ef".repeat(20)}`,
  topics: [`0x${"01".repeat(32)}`],
  data,
});

/** A body cut into pieces of `size` bytes, wherever that falls (within a character too). */
const cut = (body: Buffer, size: number) => Array.from({ length: Math.ceil(body.length / size) }, (_, i) => body.subarray(i * size, (i + 1) * size));

describe("the JSON-RPC source's reading of answers", () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  it("reads a large ASCII answer that arrives in many pieces, every log's data whole", async () => {
    // 300 KB of data in one log and small ones around it: larger than the pieces it is decoded in.
    const logs = [logOf("0x01"), logOf(`0x${"0123456789abcdef".repeat(19_200)}`), logOf("0x02")];
    const node = await nodeAnswering((id) => cut(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, result: logs })), 48_000));
    closing.push(node.close);
    const source = createRpcSource(node.url);
    closing.push(async () => source.close());
    const fetched = await source.logs({ fromBlock: 42, toBlock: 42, addresses: [], topics: [] });
    expect(fetched.map((log) => log.data)).to.deep.equal(logs.map((log) => log.data));
    expect(fetched.map((log) => [log.blockNumber, log.index])).to.deep.equal([
      [42, 3],
      [42, 3],
      [42, 3],
    ]);
  });

  it("reads an answer that is not ASCII as UTF-8, a character cut between two pieces included", async () => {
    const message = "查询的区块范围过大 (block range too large)";
    const node = await nodeAnswering((id) => cut(Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32005, message } })), 7));
    closing.push(node.close);
    const source = createRpcSource(node.url);
    closing.push(async () => source.close());
    const refusal = await source.chainId().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).to.be.instanceOf(RpcError);
    expect((refusal as RpcError).message).to.equal(message);
  });
});
