import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { errorOf, trace } from "./helpers";

/**
 * The CLI's exit status comes from what went wrong, not from the HTTP status it came with: an API that answers
 * 429 (rate limited) or 503 (its database or node away) means "retry later" (4), like an API that does not answer
 * at all; bad input is 2 and a refusal 3. The API here answers every request with the status the test sets.
 */
describe("trace exit statuses from the API's answers", () => {
  let server: Server;
  let api: string;
  let answer = { status: 200, body: {} as unknown };

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const scanAnswered = async (status: number, code: string) => {
    answer = { status, body: { error: { code, message: `answered ${status}` } } };
    return trace({}, "scan", "010690123456789221SERIAL1", "--api", api, "--json");
  };

  for (const [status, code, exit] of [
    [429, "RATE_LIMITED", 4],
    [503, "STORE_UNAVAILABLE", 4],
    [504, "NOT_INDEXED_IN_TIME", 4],
    [500, "INTERNAL", 4],
    [400, "INVALID_INPUT", 2],
    [404, "NOT_FOUND", 2],
    [403, "NOT_BATCH_PARTY", 3],
    [409, "REPLAYED_ATTESTATION", 3],
    [422, "BATCH_RECALLED", 3],
  ] as const) {
    it(`exits ${exit} when the API answers ${status}, showing the API's code`, async () => {
      expect(errorOf(await scanAnswered(status, code), exit).code).to.equal(code);
    });
  }

  it("exits 4 when nothing answers at the API's address", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    expect(errorOf(await trace({}, "scan", "010690123456789221SERIAL1", "--api", url, "--json"), 4).code).to.equal("API_UNREACHABLE");
  });
});
