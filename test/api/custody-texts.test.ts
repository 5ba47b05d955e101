import { describe, it } from "vitest";
import { expect } from "chai";
import { createCustodyTexts, KEPT_PATH_BYTES } from "../../src/api/custody-texts";
import { scanAnswerBody } from "../../src/api/scan";
import type { ScanResult } from "../../src/api/scan";
import type { BatchFacts } from "../../src/store/scan-reads";

/** A batch's facts as the kept paths read them: its id and facts version. */
const facts = (id: string, version: number) => ({ id, facts_version: version }) as BatchFacts;

/** What a kept path of `bytes` bytes of text counts against the bound. */
const cost = (bytes: number) => bytes + KEPT_PATH_BYTES;

/** A read of a path of `bytes` bytes that counts how often it ran. */
function reader(bytes: number) {
  const read = async () => {
    read.calls++;
    return Buffer.alloc(bytes, 0x5b);
  };
  read.calls = 0;
  return read;
}

/** A read that ends when the test says, with a text of `bytes` bytes or a failure. */
function pendingRead(bytes: number) {
  let finish!: (failure?: Error) => void;
  const text = new Promise<Buffer>((resolve, reject) => {
    finish = (failure) => (failure ? reject(failure) : resolve(Buffer.alloc(bytes)));
  });
  return { read: () => text, finish };
}

describe("kept custody paths", () => {
  it("keeps a batch's path for its facts version and reads it again for the next", async () => {
    const texts = createCustodyTexts(cost(1_000));
    const read = reader(10);
    await texts.textOf(facts("0xa", 1), read);
    await texts.textOf(facts("0xa", 1), read);
    expect(read.calls).to.equal(1);
    await texts.textOf(facts("0xa", 2), read);
    expect([read.calls, texts.keptBytes()]).to.deep.equal([2, cost(10)]);
  });

  it("shares one read among scans that ask while it runs", async () => {
    const texts = createCustodyTexts(cost(1_000));
    const read = reader(10);
    const [first, second] = await Promise.all([texts.textOf(facts("0xa", 1), read), texts.textOf(facts("0xa", 1), read)]);
    expect([read.calls, first === second]).to.deep.equal([1, true]);
  });

  it("keeps no failed read: the scan gets the failure and the next one reads again", async () => {
    const texts = createCustodyTexts(cost(1_000));
    const failing = async () => {
      throw new Error("database gone");
    };
    let failure: unknown;
    await texts.textOf(facts("0xa", 1), failing).catch((error: unknown) => (failure = error));
    expect((failure as Error).message).to.equal("database gone");
    expect(texts.keptBytes()).to.equal(0);
    const read = reader(10);
    await texts.textOf(facts("0xa", 1), read);
    expect([read.calls, texts.keptBytes()]).to.deep.equal([1, cost(10)]);
  });

  it("counts only the newest version's path when an older one's read ends after it, in text or in failure", async () => {
    const texts = createCustodyTexts(cost(1_000));
    const [older, failed] = [pendingRead(50), pendingRead(60)];
    const olderText = texts.textOf(facts("0xa", 1), older.read);
    const failedText = texts.textOf(facts("0xb", 1), failed.read).catch(() => undefined);
    await texts.textOf(facts("0xa", 2), reader(10));
    await texts.textOf(facts("0xb", 2), reader(20));
    older.finish();
    failed.finish(new Error("database gone"));
    await Promise.all([olderText, failedText]);
    expect(texts.keptBytes()).to.equal(cost(10) + cost(20));
    const again = reader(99);
    await texts.textOf(facts("0xa", 2), again);
    await texts.textOf(facts("0xb", 2), again);
    expect(again.calls).to.equal(0);
  });

  it("keeps at most its bytes, dropping the path answered longest ago, and always the one just read", async () => {
    const texts = createCustodyTexts(cost(40) * 2 + 10);
    const reads = ["0xa", "0xb", "0xc"].map(() => reader(40));
    for (const [i, id] of ["0xa", "0xb", "0xc"].entries()) await texts.textOf(facts(id, 1), reads[i]!);
    // 0xa was dropped for 0xc. 0xb answered again is the newest, so 0xa read again drops 0xc.
    expect(texts.keptBytes()).to.equal(cost(40) * 2);
    await texts.textOf(facts("0xb", 1), reads[1]!);
    await texts.textOf(facts("0xa", 1), reads[0]!);
    await texts.textOf(facts("0xb", 1), reads[1]!);
    expect(reads.map((r) => r.calls)).to.deep.equal([2, 1, 1]);
    await texts.textOf(facts("0xc", 1), reads[2]!);
    expect(reads.map((r) => r.calls)).to.deep.equal([2, 1, 2]);
    const huge = reader(500);
    await texts.textOf(facts("0xd", 1), huge);
    expect(texts.keptBytes()).to.equal(cost(500));
    await texts.textOf(facts("0xd", 1), huge);
    expect(huge.calls).to.equal(1);
  });

  it("drops no path still being read to make room: the scans waiting for it share its one read", async () => {
    const texts = createCustodyTexts(cost(40) + 10);
    const pending = pendingRead(40);
    const waiting = texts.textOf(facts("0xa", 1), pending.read);
    await texts.textOf(facts("0xb", 1), reader(40));
    await texts.textOf(facts("0xc", 1), reader(40));
    const sameRead = texts.textOf(facts("0xa", 1), reader(40));
    pending.finish();
    expect((await sameRead) === (await waiting)).to.equal(true);
  });
});

describe("a scan's answer with its batch's kept custody path", () => {
  const entries = [{ event: "CustodyTransferred", from: { name: "配送中心" } }, { event: "ShipmentReceived" }];
  const answerOf = (proof?: { packId: string; root: string; proof: string[] }) =>
    ({
      verdict: "GENUINE",
      reason: "a released pack",
      code: { format: "hri", canonicalKey: "(01)06901234567892(21)A1", productCode: "06901234567892" },
      product: null,
      mah: null,
      batch: null,
      ...(proof && { proof }),
    }) as ScanResult["answer"];

  it("is, byte for byte, the JSON of the answer with the path's entries before the proof, with a proof or without", () => {
    const custody = Buffer.from(JSON.stringify(entries));
    const proof = { packId: "0x01", root: "0x02", proof: ["0x03"] };
    for (const withProof of [proof, undefined]) {
      const { proof: _proof, ...head } = answerOf(withProof);
      const expected = JSON.stringify({ ...head, custody: entries, ...(withProof && { proof: withProof }) });
      expect(Buffer.from(scanAnswerBody({ answer: answerOf(withProof), custody })).toString("utf8")).to.equal(expected);
    }
  });
});
