import { describe, it } from "vitest";
import { expect } from "chai";
import { createCustodyTexts } from "../../src/api/custody-texts";
import type { BatchFacts } from "../../src/store/scan-reads";

/** A batch's facts as the kept paths read them: its id and facts version. */
const facts = (id: string, version: number) => ({ id, facts_version: version }) as BatchFacts;

/** A read of a path of `bytes` bytes that counts how often it ran. */
function reader(bytes: number) {
  const read = async () => {
    read.calls++;
    return Buffer.alloc(bytes, 0x5b);
  };
  read.calls = 0;
  return read;
}

describe("kept custody paths", () => {
  it("keeps a batch's path for its facts version and reads it again for the next", async () => {
    const texts = createCustodyTexts(1_000);
    const read = reader(10);
    await texts.textOf(facts("0xa", 1), read);
    await texts.textOf(facts("0xa", 1), read);
    expect(read.calls).to.equal(1);
    await texts.textOf(facts("0xa", 2), read);
    expect([read.calls, texts.keptBytes()]).to.deep.equal([2, 10]);
  });

  it("shares one read among scans that ask while it runs", async () => {
    const texts = createCustodyTexts(1_000);
    const read = reader(10);
    const [first, second] = await Promise.all([texts.textOf(facts("0xa", 1), read), texts.textOf(facts("0xa", 1), read)]);
    expect([read.calls, first === second]).to.deep.equal([1, true]);
  });

  it("keeps no failed read: the scan gets the failure and the next one reads again", async () => {
    const texts = createCustodyTexts(1_000);
    const failing = async () => {
      throw new Error("database gone");
    };
    let failure: unknown;
    await texts.textOf(facts("0xa", 1), failing).catch((error: unknown) => (failure = error));
    expect((failure as Error).message).to.equal("database gone");
    expect(texts.keptBytes()).to.equal(0);
    const read = reader(10);
    await texts.textOf(facts("0xa", 1), read);
    expect([read.calls, texts.keptBytes()]).to.deep.equal([1, 10]);
  });

  it("keeps at most its bytes, dropping the path read longest ago, and always the one just read", async () => {
    const texts = createCustodyTexts(100);
    const reads = ["0xa", "0xb", "0xc"].map(() => reader(40));
    for (const [i, id] of ["0xa", "0xb", "0xc"].entries()) await texts.textOf(facts(id, 1), reads[i]!);
    // 0xa was dropped for 0xc. 0xb answered again is the newest, so 0xa read again drops 0xc.
    expect(texts.keptBytes()).to.equal(80);
    await texts.textOf(facts("0xb", 1), reads[1]!);
    await texts.textOf(facts("0xa", 1), reads[0]!);
    await texts.textOf(facts("0xb", 1), reads[1]!);
    expect(reads.map((r) => r.calls)).to.deep.equal([2, 1, 1]);
    await texts.textOf(facts("0xc", 1), reads[2]!);
    expect(reads.map((r) => r.calls)).to.deep.equal([2, 1, 2]);
    const huge = reader(500);
    await texts.textOf(facts("0xd", 1), huge);
    expect(texts.keptBytes()).to.equal(500);
    await texts.textOf(facts("0xd", 1), huge);
    expect(huge.calls).to.equal(1);
  });
});
