import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import fc from "fast-check";
import { getAddress, hexlify, id as hashText, recoverAddress, Signature, SigningKey, TypedDataEncoder, Wallet } from "ethers";
import { attestationTypes, DeviationKind, RecallLevel } from "../../src/ledger";
import type { LedgerContract } from "../../src/ledger";
import { attestationOf, counterpartyAttestationOf, createDecoder, createReferenceDecoder, isUndecodable } from "../../src/indexer/decode";
import type { LedgerEvent } from "../../src/indexer/decode";
import { createPreparePool, DECODE_PIECE } from "../../src/indexer/prepare-pool";
import { BACKGROUND_NICE_OFFSET } from "../../src/ops/thread-priority";
import {
  fastDigest,
  fastSignature,
  jobDigests,
  libsecp256k1Builds,
  nativeRecoveryUnavailable,
  recoverFast,
  recoverJobs,
  recoverReference,
  recoverSigner,
  SignatureJobs,
  signerOf,
  signaturesReady,
} from "../../src/indexer/signatures";
import type { AttestationToVerify } from "../../src/indexer/signatures";
import type { ChainLog } from "../../src/indexer/sync";
import { recoverAll, recoverSigners } from "../../src/indexer/verify";
import { writeRows } from "../../src/store";
import type { Database, Store } from "../../src/store";
import type { Kysely, Transaction } from "kysely";
import { dumpTables } from "./dump";
import { niceOf } from "../ops/nice";
import { freshStore, STORE_KINDS } from "./stores";
import { syntheticConsortium } from "./synthetic";
import type { SyntheticLedger } from "./synthetic";

/**
 * The indexer's fast paths (ABI plans for decoding, precomputed EIP-712 digests with a WebAssembly keccak,
 * libsecp256k1 recovery in worker threads, bulk writes) must give exactly what the reference gives: ethers'
 * Interface.parseLog, verifyTypedData, and the query builder's inserts. These tests compare them on every kind of
 * event, on random messages and signatures, and on logs and signatures spoiled in every way a node could spoil them.
 */

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const word = (n: bigint) => n.toString(16).padStart(64, "0");

/** A ledger with every kind of event, some of them forged. */
async function everyKindOfEvent(): Promise<SyntheticLedger> {
  const s = await syntheticConsortium();
  const l = s.ledger;
  const batchId = await s.releasedBatch("FAST-001", 100);
  const reportHash = hashText("deviation report");
  await l.openDeviation(s.cmo, batchId, reportHash, DeviationKind.OutOfTrend);
  await l.closeDeviation(s.cmo, batchId, reportHash);
  const shipmentId = await l.ship(s.cmo, s.distributor, batchId, 40);
  await l.receive(s.distributor, s.cmo, batchId, shipmentId, 40, 38);
  await l.handOver(s.distributor, s.dispenser, batchId, 10);
  await l.dispense(s.dispenser, batchId, [hashText("pack 1")]);
  await l.dispense(s.dispenser, batchId, [hashText("pack 2"), hashText("pack 3"), hashText("pack 4")]);
  await l.destroy(s.distributor, batchId, 2);
  await l.startRecall(s.mah, batchId, RecallLevel.II);
  await l.acknowledgeRecall(s.distributor, batchId, 26);
  await l.closeRecall(s.mah, batchId);
  await l.suspend(s.regulator, s.distributor2.id);
  await l.reinstate(s.regulator, s.distributor2.id);
  const key = await l.addKey(s.cmo);
  await l.revokeKey(s.cmo, key.address);
  await l.revokeAgreement(s.mah, s.agreementId);
  await l.onboard(s.regulator, 3, "0xABCDEF looks like hex");
  await l.onboard(s.regulator, 4, "药房 ☤ 𝄞 and a BOM \ufeff");
  // Forgeries: a stranger's key, a named signer that did not sign, a struct changed after signing.
  await l.ship(s.cmo, s.distributor, batchId, 1, { key: Wallet.createRandom() });
  await l.ship(s.cmo, s.distributor, batchId, 1, { claimedSigner: s.mah.key.address });
  await l.ship(s.cmo, s.distributor, batchId, 1, { tamper: (shipment) => ({ ...shipment, quantity: 9 }) });
  await l.signAgreement(s.mah, s.cmo, s.productId, {}, { counterpartyKey: Wallet.createRandom() });
  return l;
}

describe("fast decoding", () => {
  let l: SyntheticLedger;
  beforeAll(async () => {
    l = await everyKindOfEvent();
  });

  it("gives the reference's events, field for field and in the same order, for every kind of event", () => {
    const fast = createDecoder(l.deployment);
    const reference = createReferenceDecoder(l.deployment);
    const names = new Set<string>();
    for (const log of l.logs) {
      const expected = reference(log);
      expect(isUndecodable(expected), `reference decodes ${log.topics[0]}`).to.equal(false);
      const got = fast(log);
      expect(got).to.deep.equal(expected);
      expect(JSON.stringify(got)).to.equal(JSON.stringify(expected));
      names.add((got as LedgerEvent).name);
    }
    expect(names.size).to.equal(20);
  });

  it("gives the reference's result for logs spoiled at random: bytes changed, cut, added, or not hex", () => {
    const fast = createDecoder(l.deployment);
    const reference = createReferenceDecoder(l.deployment);
    const logs = l.logs as unknown as ChainLog[];
    const spoil = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
      fc.record({ kind: fc.constant("char" as const), at: fc.nat(), char: fc.constantFrom("g", "X", " ", "A", "F") }),
      fc.record({ kind: fc.constant("topic" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("topics" as const), keep: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.nat(), fc.array(spoil, { minLength: 1, maxLength: 3 }), (which, spoils) => {
        const original = logs[which % logs.length]!;
        let data = original.data;
        let topics = [...original.topics];
        for (const s of spoils) {
          const bytes = Buffer.from(data.slice(2), "hex");
          if (s.kind === "flip" && bytes.length > 0) {
            bytes[s.at % bytes.length] = s.value;
            data = hexlify(bytes);
          } else if (s.kind === "cut") data = hexlify(bytes.subarray(0, s.at % (bytes.length + 1)));
          else if (s.kind === "append") data = hexlify(Buffer.concat([bytes, s.bytes]));
          else if (s.kind === "char") {
            const at = 2 + (s.at % Math.max(1, data.length - 2));
            data = data.slice(0, at) + s.char + data.slice(at + 1);
          } else if (s.kind === "topic" && topics.length > 1) {
            const i = 1 + (s.at % (topics.length - 1));
            const topic = Buffer.from(topics[i]!.slice(2), "hex");
            topic[s.at % 32] = s.value;
            topics[i] = hexlify(topic);
          } else if (s.kind === "topics") topics = topics.slice(0, s.keep % (topics.length + 2));
        }
        const log = { ...original, data, topics };
        expect(fast(log)).to.deep.equal(reference(log));
      }),
      { numRuns: 3_000 },
    );
  });

  it("gives the reference's result for dirty high bits, padding and offsets, which ethers reads leniently", () => {
    const fast = createDecoder(l.deployment);
    const reference = createReferenceDecoder(l.deployment);
    const logs = l.logs as unknown as ChainLog[];
    for (const original of logs) {
      const words = original.data.length / 64;
      for (let w = 0; w < words; w++) {
        for (const at of [0, 12, 26, 31]) {
          const bytes = Buffer.from(original.data.slice(2), "hex");
          bytes[32 * w + at] ^= 0x01;
          const log = { ...original, data: hexlify(bytes) };
          expect(fast(log)).to.deep.equal(reference(log));
        }
      }
    }
  });

  it("leaves logs of other contracts and events to the reference, with its reasons", () => {
    const fast = createDecoder(l.deployment);
    const reference = createReferenceDecoder(l.deployment);
    const log = l.logs[3] as unknown as ChainLog;
    for (const odd of [
      { ...log, address: Wallet.createRandom().address },
      { ...log, topics: [hashText("Unrelated(uint256)"), ...log.topics.slice(1)] },
      { ...log, topics: [] },
      { ...log, address: log.address.toUpperCase().replace("0X", "0x"), topics: log.topics.map((t) => t.toUpperCase().replace("0X", "0x")) },
      { ...log, data: log.data.toUpperCase().replace("0X", "0x") },
    ]) {
      expect(fast(odd)).to.deep.equal(reference(odd));
    }
  });
});

/** Arbitrary values for each EIP-712 field type: mostly as decoded events carry them, sometimes anything else. */
function valueOf(type: string): fc.Arbitrary<unknown> {
  const uint = /^uint(\d+)$/.exec(type);
  if (uint) {
    const max = (1n << BigInt(uint[1]!)) - 1n;
    return fc.oneof(
      { arbitrary: fc.bigInt({ min: 0n, max }).map((v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString())), weight: 20 },
      { arbitrary: fc.bigInt({ min: 0n, max }), weight: 2 },
      { arbitrary: fc.constantFrom(max, max + 1n, -1n, 0, -1, 1.5, "007", "0x10", "", null), weight: 1 },
    );
  }
  if (type === "bytes32") {
    return fc.oneof(
      { arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b)), weight: 20 },
      { arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b).toUpperCase().replace("0X", "0x")), weight: 1 },
      { arbitrary: fc.constantFrom("0x12", `0x${"g".repeat(64)}`, undefined), weight: 1 },
    );
  }
  if (type === "address") {
    return fc.oneof(
      { arbitrary: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => hexlify(b)), weight: 20 },
      { arbitrary: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b))), weight: 1 },
      { arbitrary: fc.constantFrom("0xAbCdEf0000000000000000000000000000000000", "0x1234"), weight: 1 },
    );
  }
  if (type === "string") {
    return fc.oneof(
      { arbitrary: fc.string({ unit: "binary" }), weight: 10 },
      { arbitrary: fc.string(), weight: 10 },
      { arbitrary: fc.constantFrom("\ud800", "a\udc00b", "0xAbC"), weight: 1 },
    );
  }
  if (type === "bytes32[]") return fc.array(valueOf("bytes32"), { maxLength: 5 });
  if (type === "bool") return fc.oneof({ arbitrary: fc.boolean(), weight: 20 }, { arbitrary: fc.constantFrom(0, 1, "true", undefined), weight: 1 });
  throw new Error(`no arbitrary for ${type}`);
}

const CONTRACTS: Record<LedgerContract, string> = {
  ConsortiumRegistry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  ProductRegistry: "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
  BatchLedger: "0x9fe46736679d2d9a65f0367e5d3b8bad7b9bd79a",
  AggregationLedger: "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9",
  AlertCases: "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9",
  CorrectiveActions: "0x5fc8d32690cc91d4c39d9d3abcbd16989f875707",
  QualityDuties: "0x2279b7a0a67db372996a5fab50d91eaa73d2ebe6",
  SupervisionRecords: "0x5fc8d32690cc91d4c39d9d3abc3403d8b4ab5b5c",
};

const attestations: fc.Arbitrary<AttestationToVerify> = fc
  .constantFrom(
    ...(Object.entries(attestationTypes) as [LedgerContract, Record<string, readonly { name: string; type: string }[]>][]).flatMap(
      ([contract, types]) => Object.keys(types).map((type) => ({ contract, type, fields: types[type]! })),
    ),
  )
  .chain(({ contract, type, fields }) =>
    fc.record({
      contract: fc.constant(contract),
      chainId: fc.constantFrom(31337n, 1337n, 2n ** 64n),
      verifyingContract: fc.constant(CONTRACTS[contract]),
      type: fc.constant(type),
      message: fc.record(Object.fromEntries(fields.map((f) => [f.name, valueOf(f.type)]))),
    }),
  );

function referenceDigestOf(a: AttestationToVerify): string | null {
  try {
    return TypedDataEncoder.hash(
      { name: a.contract, version: "1", chainId: a.chainId, verifyingContract: a.verifyingContract },
      { [a.type]: (attestationTypes[a.contract] as Record<string, readonly { name: string; type: string }[]>)[a.type]!.map((f) => ({ ...f })) },
      a.message,
    );
  } catch {
    return null;
  }
}

/** A signature, and the same spoiled in every way the fast paths must judge as the reference does. */
function signatureVariants(signature: string): string[] {
  const bytes = Buffer.from(signature.slice(2), "hex");
  const variant = (change: (b: Buffer) => void) => {
    const copy = Buffer.from(bytes);
    change(copy);
    return hexlify(copy);
  };
  const sig = Signature.from(signature);
  return [
    signature,
    variant((b) => (b[7] ^= 0x40)),
    variant((b) => (b[40] ^= 0x01)),
    variant((b) => (b[64] = b[64] === 27 ? 28 : 27)),
    variant((b) => (b[64] = b[64]! - 27)),
    variant((b) => (b[64] = 29)),
    variant((b) => (b[64] = 37)),
    variant((b) => (b[32] |= 0x80)),
    variant((b) => b.fill(0, 0, 32)),
    variant((b) => b.fill(0, 32, 64)),
    variant((b) => b.write(word(N), 0, "hex")),
    variant((b) => b.write(word(N + 1n), 32, "hex")),
    // The same signature with s flipped to n - s and v to the other parity: ethers refuses the high s.
    hexlify(Buffer.concat([Buffer.from(sig.r.slice(2), "hex"), Buffer.from(word(N - BigInt(sig.s)), "hex"), Buffer.from([sig.v === 27 ? 28 : 27])])),
    signature.slice(0, 130),
    signature + "00",
    signature.toUpperCase().replace("0X", "0x"),
    // "İ" (U+0130) where a hex digit was: Node's hex decoder would read it by its low byte, "0".
    `${signature.slice(0, 10)}İ${signature.slice(11)}`,
    "0x",
    "not a signature",
  ];
}

describe("fast EIP-712 digests and signer recovery", () => {
  beforeAll(async () => {
    await signaturesReady();
  });

  it("digests equal ethers' TypedDataEncoder.hash wherever the fast path takes a message", () => {
    let taken = 0;
    fc.assert(
      fc.property(attestations, (a) => {
        const fast = fastDigest(a);
        const reference = referenceDigestOf(a);
        if (fast) {
          taken += 1;
          expect(hexlify(fast)).to.equal(reference);
        }
      }),
      { numRuns: 5_000 },
    );
    expect(taken).to.be.greaterThan(1_000);
  });

  it("leaves to the reference a bytes32 field written with characters above U+00FF (hex decoding would read their low byte)", () => {
    let spoiled = 0;
    for (const a of fc.sample(attestations, 300)) {
      for (const [name, value] of Object.entries(a.message)) {
        if (typeof value !== "string" || !/^0x[0-9a-f]{64}$/.test(value)) continue;
        const message = { ...a.message, [name]: `0x${"İ".repeat(64)}` };
        expect(fastDigest({ ...a, message })).to.equal(undefined);
        spoiled += 1;
      }
    }
    expect(spoiled).to.be.greaterThan(0);
  });

  it("loads the system's libsecp256k1 here (native/, built at install), and the `secp256k1` package's", () => {
    expect(nativeRecoveryUnavailable()).to.equal(undefined);
    for (const build of libsecp256k1Builds) expect(build.unavailable, build.name).to.equal(undefined);
  });

  it.each(libsecp256k1Builds.map((build) => [build.name, build] as const))(
    "%s recovers the address ethers' recoverAddress recovers, for random keys, digests and spoiled signatures",
    (_name, build) => {
      const scalar = fc.bigInt({ min: 1n, max: N - 1n });
      const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
      const spoil = fc.option(fc.record({ at: fc.nat({ max: 64 }), value: fc.integer({ min: 0, max: 255 }) }), { freq: 2 });
      let genuine = 0;
      fc.assert(
        fc.property(scalar, digest, spoil, (key, message, spoiled) => {
          const bytes = Buffer.from(new SigningKey(`0x${word(key)}`).sign(message).serialized.slice(2), "hex");
          if (spoiled) bytes[spoiled.at] = spoiled.value;
          const signature = hexlify(bytes);
          let expected: string | null;
          try {
            expected = recoverAddress(message, signature).toLowerCase();
          } catch {
            expected = null;
          }
          const fast = fastSignature(signature);
          // A signature the fast path declines goes to the reference itself (recoverSigner): only taken ones matter.
          if (!fast) return;
          if (!spoiled) genuine += 1;
          expect(recoverFast(message, fast, build)).to.equal(expected);
        }),
        { numRuns: 600 },
      );
      expect(genuine).to.be.greaterThan(200);
    },
  );

  it("recovers what verifyTypedData recovers: genuine, tampered and malformed signatures of random messages", async () => {
    const keys = Array.from({ length: 4 }, () => Wallet.createRandom());
    const samples = fc.sample(attestations, 150);
    let checked = 0;
    for (const [i, a] of samples.entries()) {
      if (!referenceDigestOf(a)) {
        expect(recoverSigner(a, `0x${"11".repeat(64)}1b`)).to.equal(recoverReference(a, `0x${"11".repeat(64)}1b`));
        continue;
      }
      const key = keys[i % keys.length]!;
      const signature = key.signingKey.sign(referenceDigestOf(a)!).serialized;
      const variants = signatureVariants(signature);
      for (const candidate of variants) {
        expect(recoverSigner(a, candidate), `variant ${variants.indexOf(candidate)}`).to.equal(recoverReference(a, candidate));
      }
      expect(recoverSigner(a, signature)).to.equal(key.address.toLowerCase());
      // The message changed after signing: a field of another value, or another type or contract.
      const [field] = Object.keys(a.message);
      const changed = { ...a, message: { ...a.message, [field!]: a.message[field!] === 1 ? 2 : 1 } };
      expect(recoverSigner(changed, signature)).to.equal(recoverReference(changed, signature));
      checked += 1;
    }
    expect(checked).to.be.greaterThan(50);
  });

  it("recovers in native/'s batches what verifyTypedData recovers, with ethers' digests, for the signatures the fast path takes", () => {
    const keys = Array.from({ length: 4 }, () => Wallet.createRandom());
    const jobs = new SignatureJobs();
    const taken: { a: AttestationToVerify; signature: string }[] = [];
    for (const [i, a] of fc.sample(attestations, 150).entries()) {
      const digest = referenceDigestOf(a);
      const signature = keys[i % keys.length]!.signingKey.sign(digest ?? hashText(String(i))).serialized;
      for (const candidate of signatureVariants(signature)) {
        // The batch takes exactly what the one-at-a-time fast path takes; the reference judges the rest.
        let added: boolean | "throws";
        try {
          added = jobs.add(a, candidate);
        } catch {
          added = "throws";
        }
        let fast: boolean | "throws";
        try {
          fast = !!fastSignature(candidate) && !!fastDigest(a);
        } catch {
          fast = "throws";
        }
        expect(added, `variant ${signatureVariants(signature).indexOf(candidate)}`).to.equal(fast);
        if (added === true) taken.push({ a, signature: candidate });
      }
    }
    expect(taken.length).to.be.greaterThan(500);
    const digests = jobDigests(jobs.bytes(), jobs.count);
    const results = recoverJobs(jobs.bytes(), jobs.count);
    taken.forEach(({ a, signature }, j) => {
      expect(hexlify(digests.subarray(32 * j, 32 * j + 32))).to.equal(referenceDigestOf(a));
      expect(signerOf(results, j)).to.equal(recoverReference(a, signature));
    });
    // A part of the jobs alone, as a worker is given it.
    const part = new Uint8Array(jobs.bytes(10, 20));
    const partResults = recoverJobs(part, 10);
    for (let j = 0; j < 10; j++) expect(signerOf(partResults, j)).to.equal(signerOf(results, 10 + j));
    expect(() => recoverJobs(part.subarray(0, part.length - 1), 10)).to.throw(/malformed/);
  });

  it("decodes and recovers the same signers on the calling thread and in worker threads as the reference, event by event", async () => {
    const l = await everyKindOfEvent();
    const decode = createDecoder(l.deployment);
    const events = l.logs.map((log) => decode(log));
    const chainId = l.deployment.chainId;
    const expected = events.map((event) =>
      isUndecodable(event)
        ? []
        : [attestationOf(event), counterpartyAttestationOf(event)]
            .filter((a) => !!a)
            .map((a) =>
              recoverReference(
                { contract: event.contract, chainId: BigInt(chainId), verifyingContract: event.address, type: a!.type, message: a!.message },
                a!.signature,
              ),
            ),
    );
    expect(expected.flat().filter((r) => r === null)).to.have.length(0);
    expect(events.map((event) => (isUndecodable(event) ? [] : recoverSigners(event, chainId)))).to.deep.equal(expected);
    expect(recoverAll(events, chainId)).to.deep.equal(expected);
    // Enough copies that the pool hands their signatures to its workers, in several pieces decoded one after another.
    const copies = Math.ceil((2.5 * DECODE_PIECE) / l.logs.length);
    const many = Array.from({ length: copies }, () => l.logs).flat();
    const threadsBefore = new Set(readdirSync("/proc/self/task"));
    const pool = createPreparePool(2);
    const prepared = await pool.prepare(many, l.deployment);
    expect(pool.counts).to.deep.equal({ inWorkers: copies * expected.flat().length, onCallingThread: 0 });
    // The workers run 10 nice values below this thread (which keeps its own): it applies and writes, the critical path.
    const newThreadNices = readdirSync("/proc/self/task")
      .filter((tid) => !threadsBefore.has(tid))
      .map((tid) => niceOf(`/proc/self/task/${tid}/stat`));
    const own = niceOf("/proc/thread-self/stat");
    // At least the pool's 2 (other tests' threads may start meanwhile; test/ops checks that only workers are lowered).
    expect(newThreadNices.filter((nice) => nice === Math.min(19, own + BACKGROUND_NICE_OFFSET))).to.have.length.of.at.least(2);
    expect(prepared.recovered).to.deep.equal(Array.from({ length: copies }, () => expected).flat());
    expect(prepared.decoded).to.deep.equal(Array.from({ length: copies }, () => events).flat());
  });
});

/** The `i`th ledger_events row of a test's writes, what its cases do not set themselves. */
const eventRow = (i: number) => ({
  block_hash: hashText(`block ${i}`),
  block_time: 1_750_000_000 + i,
  tx_hash: hashText(`tx ${i}`),
  contract: "BatchLedger",
  address: CONTRACTS.BatchLedger,
  agreement_id: null,
  signer: null,
  signer_organization_id: null,
});

describe.each(STORE_KINDS)("bulk writes on %s", (kind) => {
  let store: Store;
  beforeAll(async () => {
    store = await freshStore(kind);
  });
  afterAll(async () => {
    await store.close();
  });

  /**
   * The same writes, once through the bulk path into the shared store and once through the query builder into a
   * fresh one (a second Kysely instance over its connection, which the bulk path does not know); both stores' tables.
   */
  async function bothWays(tables: string[], write: (db: Kysely<Database>, trx: Transaction<Database>) => Promise<unknown>) {
    const other = await freshStore(kind);
    try {
      for (const [target, db] of [
        [store, store.db],
        [other, other.db.withoutPlugins()],
      ] as const) {
        await target.db.transaction().execute((trx) => write(db, trx));
      }
      return [await dumpTables(store.db, tables), await dumpTables(other.db, tables)];
    } finally {
      await other.close();
    }
  }

  it("store what the query builder's inserts and upserts store", async () => {
    const rows = (n: number, quantity: number) =>
      Array.from({ length: n }, (_, i) => ({
        batch_id: `0x${(i % 7).toString(16).padStart(64, "0")}`,
        organization_id: i,
        quantity: quantity + i,
        recall_acknowledged: i % 2,
      }));
    const events = Array.from({ length: 30 }, (_, i) => ({
      ...eventRow(i),
      block_number: 1 + Math.floor(i / 4),
      log_index: i % 4,
      name: "BatchShipped",
      batch_id: i % 3 === 0 ? null : hashText(`batch ${i % 5}`),
      organization_id: i % 3 === 0 ? null : i,
      verification: "verified" as const,
      problem: i % 5 === 0 ? "it's \"quoted\" and 'quoted' — ünïcode" : null,
      payload: JSON.stringify({ i, text: 'a\\b"c', big: "123456789012345678901234567890" }),
    }));
    const tables = ["ledger_events", "holdings", "indexed_blocks", "pack_states"];
    const [bulk, builder] = await bothWays(tables, async (db, trx) => {
      await writeRows(db, trx, "ledger_events", events);
      await writeRows(db, trx, "holdings", rows(20, 5), { key: ["batch_id", "organization_id"] });
      // Upserts: some rows replaced, new ones added.
      await writeRows(db, trx, "holdings", rows(25, 100).slice(10), { key: ["batch_id", "organization_id"] });
      // Rows naming their columns in another order, between the others: written all the same.
      const mixed = rows(30, 50)
        .slice(25)
        .map((row, i) =>
          i % 2 === 0
            ? row
            : {
                recall_acknowledged: row.recall_acknowledged,
                quantity: row.quantity,
                organization_id: row.organization_id,
                batch_id: row.batch_id,
              },
        );
      await writeRows(db, trx, "holdings", mixed, { key: ["batch_id", "organization_id"] });
      await writeRows(db, trx, "indexed_blocks", [{ block_number: 1, block_hash: "0x01", block_time: 10 }], {
        key: ["block_number"],
        update: ["block_hash"],
      });
      await writeRows(db, trx, "indexed_blocks", [{ block_number: 1, block_hash: "0x02", block_time: 20 }], {
        key: ["block_number"],
        update: ["block_hash"],
      });
      await writeRows(db, trx, "pack_states", [{ pack: "0x0a", batch_id: "0x0b", state: "DISPENSED", organization_id: 1, changed_at: 1 }], {
        key: ["pack"],
        update: [],
      });
      await writeRows(db, trx, "pack_states", [{ pack: "0x0a", batch_id: "0x0c", state: "DISPENSED", organization_id: 2, changed_at: 2 }], {
        key: ["pack"],
        update: [],
      });
    });
    expect(bulk).to.deep.equal(builder);
    expect(bulk.ledger_events).to.have.length(30);
    expect(bulk.holdings).to.have.length(30);
    expect(bulk.indexed_blocks).to.deep.equal([{ block_number: 1, block_hash: "0x02", block_time: 10 }]);
    expect(bulk.pack_states).to.deep.equal([{ pack: "0x0a", batch_id: "0x0b", state: "DISPENSED", organization_id: 1, changed_at: 1 }]);
  });

  it("write rows too many for one statement's parameter, whatever their sizes, as the query builder does", async () => {
    // Payloads from a few bytes to 4 KB, growing then shrinking: PostgreSQL's statements hold about 96 KiB of rows
    // each, so the rows go in many statements of changing lengths.
    const events = Array.from({ length: 600 }, (_, i) => ({
      ...eventRow(i),
      block_number: 100 + i,
      log_index: 0,
      name: "PacksDispensed",
      batch_id: hashText(`batch ${i % 5}`),
      organization_id: i,
      verification: "pending" as const,
      problem: null,
      payload: JSON.stringify({ i, packs: "ab".repeat(i < 300 ? i * 7 : (600 - i) * 7) }),
    }));
    const [bulk, builder] = await bothWays(["ledger_events"], (db, trx) => writeRows(db, trx, "ledger_events", events));
    const where = (rows: Record<string, unknown>[]) => rows.filter((row) => Number(row.block_number) >= 100);
    expect(where(bulk.ledger_events!)).to.have.length(600);
    expect(where(bulk.ledger_events!)).to.deep.equal(where(builder.ledger_events!));
  });
});
