/**
 * The indexer benchmark's chain: a consortium's whole history of signed attestations, planned in order, signed with
 * ethers Wallets in worker threads, encoded as OpenZeppelin `multicall` bundles, and cached on disk so a rerun
 * only replays transactions. Everything is deterministic (fixed keys, seeded choices, fixed dates), so a cached
 * chain replays onto a fresh node at the same contract addresses.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { AbiCoder, getCreateAddress, id as hashText, keccak256, Wallet, ZeroHash } from "ethers";
import { createKeccak } from "hash-wasm";
import type { IHasher } from "hash-wasm";
import { AgreementKind, attestationTypes, CONTRACT_INTERFACES, PersonRole, ReleaseTester, Role } from "../src/ledger";
import {
  AggregationLedger__factory,
  AlertCases__factory,
  BatchLedger__factory,
  ConsortiumRegistry__factory,
  CorrectiveActions__factory,
  ProductRegistry__factory,
  QualityDuties__factory,
  SupervisionRecords__factory,
} from "../typechain-types";
import type { LedgerContract } from "../src/ledger";

export const CHAIN_ID = 31337;
/** Changing the plan below changes the chain: bump this so a stale cache is not replayed. */
const GENERATOR_VERSION = "indexer-chain-v2";
const MULTICALL_SIZE = 80;
const FOLLOW_SAMPLES = 100;

const JIANGSU = 320000;
const ZHEJIANG = 330000;
const SHANGHAI = 310000;
const GUANGDONG = 440000;
// Fixed dates keep cached signatures valid: made in 2023, expiring and agreements ending near 2096.
const MANUFACTURED_AT = 1_700_000_000;
const EXPIRES_AT = 4_000_000_000;
const VALID_FROM = 1_600_000_000;
const VALID_UNTIL = 4_100_000_000;
const PACKS_PER_BATCH = 64;

const abi = AbiCoder.defaultAbiCoder();

/** One transaction of the history: a contract and its calldata (a multicall bundle or a single attestation). */
export type ChainTx = { contract: LedgerContract; data: string; attestations: number };
export type BenchChain = {
  key: string;
  /** Contract addresses the history was signed for: the first three deployments of the node's account 0. */
  contracts: Record<LedgerContract, string>;
  bootstrapRegulator: string;
  /** The history, bundled; then single attestations sent one by one to measure follow-mode latency. */
  history: ChainTx[];
  follow: ChainTx[];
  events: number;
  mix: Record<string, number>;
  /** Seconds it took to plan, sign and encode the chain when it was generated. */
  generatedIn?: number;
  /** Whether this run loaded it from the cache. */
  cached?: boolean;
};

type Op = {
  contract: LedgerContract;
  fn: string;
  type: string;
  key: number;
  message: Record<string, unknown>;
  /** Arguments after the struct and before the signature (dispensing's multiproof). */
  middle?: unknown[];
  /** The counterparty's key for an agreement, signed twice. */
  counterKey?: number;
  event: string;
};

type Org = { id: number; role: number; region: number; key: number; nonce: bigint };

/** A small seeded generator (mulberry32): the same plan on every run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)), chance: (p: number) => next() < p };
}

/** A GTIN-14 with its check digit, as the product registry validates it. */
function gtin(n: number): string {
  const body = `069${String(n).padStart(10, "0")}`;
  let weighted = 0;
  for (let i = 0; i < 13; i++) weighted += Number(body[i]) * (i % 2 === 0 ? 3 : 1);
  return body + String((10 - (weighted % 10)) % 10);
}

let keccak: IHasher;
const hash = (data: Uint8Array): Buffer => {
  keccak.init();
  keccak.update(data);
  return Buffer.from(keccak.digest("binary"));
};

/**
 * A batch's pack codes as OpenZeppelin's StandardMerkleTree of ["string"] leaves builds them (a pack id is
 * keccak256(abi.encode(code)), its leaf keccak256(pack id); leaves sorted; pairs hashed in sorted order), with
 * its multiproofs: the library's algorithm over a WebAssembly keccak, as the library's JavaScript keccak made
 * planning 100,000 attestations take minutes. The contract checks every proof, so a mistake here fails the replay.
 */
function packTree(codes: string[]) {
  const packs = codes.map((code) => {
    const bytes = Buffer.from(code, "utf8");
    const encoded = Buffer.alloc(64 + Math.ceil(bytes.length / 32) * 32);
    encoded.writeUInt32BE(32, 28);
    encoded.writeUInt32BE(bytes.length, 60);
    bytes.copy(encoded, 64);
    const pack = hash(encoded);
    return { pack: `0x${pack.toString("hex")}`, leaf: hash(pack) };
  });
  const sorted = packs.map((p, index) => ({ ...p, index })).sort((a, b) => Buffer.compare(a.leaf, b.leaf));
  const tree: Buffer[] = new Array(2 * sorted.length - 1);
  const treeIndex = new Array<number>(codes.length);
  sorted.forEach((p, i) => {
    tree[tree.length - 1 - i] = p.leaf;
    treeIndex[p.index] = tree.length - 1 - i;
  });
  for (let i = tree.length - 1 - sorted.length; i >= 0; i--) {
    const pair = [tree[2 * i + 1]!, tree[2 * i + 2]!].sort(Buffer.compare);
    tree[i] = hash(Buffer.concat(pair));
  }
  const hex = (b: Buffer) => `0x${b.toString("hex")}`;
  const packOfLeaf = new Map(packs.map((p) => [hex(p.leaf), p.pack]));
  return {
    root: hex(tree[0]!),
    /** Packs (in the order the proof takes them), proof and flags that dispense the codes at these positions. */
    multiProof(positions: number[]) {
      const indices = positions.map((i) => treeIndex[i]!).sort((a, b) => b - a);
      const stack = [...indices];
      const proof: string[] = [];
      const proofFlags: boolean[] = [];
      while (stack.length > 0 && stack[0]! > 0) {
        const j = stack.shift()!;
        const sibling = j % 2 === 1 ? j + 1 : j - 1;
        if (sibling === stack[0]) {
          proofFlags.push(true);
          stack.shift();
        } else {
          proofFlags.push(false);
          proof.push(hex(tree[sibling]!));
        }
        stack.push(Math.floor((j - 1) / 2));
      }
      return { packs: indices.map((i) => packOfLeaf.get(hex(tree[i]!))!), proof, proofFlags };
    },
  };
}

/** Plans the history: registry, products and agreements, then batches whose lifecycles interleave. */
function plan(targetEvents: number, keys: string[]) {
  const rng = random(20241123);
  const ops: Op[] = [];
  const orgs: Org[] = [];
  const newKey = () => {
    keys.push(keccak256(Buffer.from(`bench-indexer key ${keys.length}`)));
    return keys.length - 1;
  };
  const nonce = (org: Org) => org.nonce++;
  const add = (org: number, role: number, region: number): Org => {
    const created = { id: org, role, region, key: newKey(), nonce: BigInt(org) << 128n };
    orgs.push(created);
    return created;
  };

  // Registry: the bootstrap regulator (deployed, not signed) onboards three provincial regulators, then members.
  const regulators = [add(1, Role.Regulator, JIANGSU)];
  const onboard = (by: Org, role: number, region: number, name: string): Org => {
    const org = add(orgs.length + 1, role, region);
    ops.push({
      contract: "ConsortiumRegistry",
      fn: "onboardOrganization",
      type: "Onboarding",
      key: by.key,
      event: "OrganizationOnboarded",
      message: {
        regulatorId: by.id,
        nonce: nonce(by),
        role,
        region,
        licenceHash: hashText(`licence ${name}`),
        signingKey: new Wallet(keys[org.key]!).address,
        name,
      },
    });
    return org;
  };
  for (const [region, name] of [
    [ZHEJIANG, "Zhejiang MPA"],
    [SHANGHAI, "Shanghai MPA"],
    [GUANGDONG, "Guangdong MPA"],
  ] as const) {
    regulators.push(onboard(regulators[0]!, Role.Regulator, region, name));
  }
  const regulatorOf = (i: number) => regulators[i % regulators.length]!;
  const member = (role: number, count: number, label: string) =>
    Array.from({ length: count }, (_, i) => {
      const regulator = regulatorOf(i);
      return onboard(regulator, role, regulator.region, `${label} ${i + 1}`);
    });
  const mahs = member(Role.Mah, 6, "MAH");
  const cmos = member(Role.Cmo, 6, "CMO");
  const distributors = member(Role.Distributor, 12, "Distributor");
  const dispensers = member(Role.Dispenser, 24, "Pharmacy");

  // Key rotation: ten members add a new key with the old one, then revoke the old one with the new one.
  for (const org of [...mahs.slice(0, 2), ...cmos.slice(0, 2), ...distributors.slice(0, 3), ...dispensers.slice(0, 3)]) {
    const next = newKey();
    const keyChange = (type: "SigningKeyAddition" | "SigningKeyRevocation", signer: number, key: number) => ({
      contract: "ConsortiumRegistry" as const,
      fn: type === "SigningKeyAddition" ? "addSigningKey" : "revokeSigningKey",
      type,
      key: signer,
      event: type === "SigningKeyAddition" ? "SigningKeyAdded" : "SigningKeyRevoked",
      message: { organizationId: org.id, nonce: nonce(org), signingKey: new Wallet(keys[key]!).address },
    });
    ops.push(keyChange("SigningKeyAddition", org.key, next));
    ops.push(keyChange("SigningKeyRevocation", next, org.key));
    org.key = next;
  }
  // A regulator suspends three distributors after an inspection and reinstates them.
  for (const org of distributors.slice(9, 12)) {
    const by = regulatorOf(org.id);
    for (const [fn, type, event] of [
      ["suspendOrganization", "Suspension", "OrganizationSuspended"],
      ["reinstateOrganization", "Reinstatement", "OrganizationReinstated"],
    ] as const) {
      ops.push({
        contract: "ConsortiumRegistry",
        fn,
        type,
        key: by.key,
        event,
        message: { regulatorId: by.id, nonce: nonce(by), organizationId: org.id, reasonHash: hashText(`${type} ${org.id}`) },
      });
    }
  }

  // Products: eight per MAH, each made by one CMO under a quality agreement.
  type Product = { id: string; mah: Org; cmo: Org; agreementId: string; batches: number };
  const products: Product[] = [];
  mahs.forEach((mah, m) => {
    for (let p = 0; p < 8; p++) {
      const code = gtin(m * 100 + p + 1);
      ops.push({
        contract: "ProductRegistry",
        fn: "registerProduct",
        type: "ProductRegistration",
        key: mah.key,
        event: "ProductRegistered",
        message: {
          mahId: mah.id,
          nonce: nonce(mah),
          productCode: code,
          approvalNumber: `国药准字H2024${String(m * 100 + p).padStart(4, "0")}`,
          name: `Product ${m}-${p}`,
        },
      });
      // A CMO of the MAH's own province (members are spread over the provinces in turn): a cross-province quality
      // agreement would wait for both provinces' regulators before any batch could be recorded under it.
      const local = cmos.filter((cmo) => cmo.region === mah.region);
      products.push({ id: hashText(code), mah, cmo: local[p % local.length]!, agreementId: "", batches: 0 });
    }
  });
  const agreement = (mah: Org, counterparty: Org, kind: number, productId: string, tester: number) => {
    const message = {
      mahId: mah.id,
      nonce: nonce(mah),
      kind,
      counterpartyId: counterparty.id,
      productId,
      documentHash: hashText(`agreement ${mah.id} ${counterparty.id} ${productId} ${kind}`),
      validFrom: VALID_FROM,
      validUntil: VALID_UNTIL,
      releaseTester: tester,
    };
    ops.push({
      contract: "ProductRegistry",
      fn: "signAgreement",
      type: "Agreement",
      key: mah.key,
      counterKey: counterparty.key,
      event: "AgreementSigned",
      message,
    });
    return keccak256(abi.encode(["uint32", "uint256"], [mah.id, message.nonce]));
  };
  for (const product of products) {
    product.agreementId = agreement(product.mah, product.cmo, AgreementKind.Quality, product.id, ReleaseTester.Cmo);
  }
  // Outsourced storage, transport and sales with distributors; a third of them later revoked by one party.
  mahs.forEach((mah, m) => {
    [AgreementKind.Storage, AgreementKind.Transport, AgreementKind.Sales].forEach((kind, k) => {
      const distributor = distributors[(m * 3 + k) % distributors.length]!;
      const agreementId = agreement(mah, distributor, kind, k === 2 ? products[m * 8]!.id : ZeroHash, ReleaseTester.None);
      if (k === 1) {
        const by = m % 2 === 0 ? mah : distributor;
        ops.push({
          contract: "ProductRegistry",
          fn: "revokeAgreement",
          type: "AgreementRevocation",
          key: by.key,
          event: "AgreementRevoked",
          message: { organizationId: by.id, nonce: nonce(by), agreementId, reasonHash: hashText(`ended ${agreementId}`) },
        });
      }
    });
  });

  // Batches: each a lifecycle of attestations; a pool of batches in flight interleaves them on the chain.
  const batchOps = (index: number): Op[] => {
    const product = products[index % products.length]!;
    const { mah, cmo } = product;
    const batchNumber = `B${String(index).padStart(6, "0")}`;
    const batchId = keccak256(abi.encode(["bytes32", "string"], [product.id, batchNumber]));
    const codes = Array.from({ length: PACKS_PER_BATCH }, (_, i) => `01${gtin(index % 1000)}21${batchNumber}P${i}`);
    const tree = packTree(codes);
    const quantity = 1000 + rng.int(0, 200);
    const list: Op[] = [];
    const holdings = new Map<number, number>([[cmo.id, quantity]]);
    const op = (fn: string, type: string, by: Org, event: string, fields: Record<string, unknown>, middle?: unknown[]) => {
      const [first] = (attestationTypes.BatchLedger as Record<string, readonly { name: string }[]>)[type]!;
      list.push({ contract: "BatchLedger", fn, type, key: by.key, event, middle, message: { [first!.name]: by.id, nonce: nonce(by), ...fields } });
    };
    op("recordBatch", "BatchRecord", cmo, "BatchRecorded", {
      agreementId: product.agreementId,
      batchNumber,
      quantity: BigInt(quantity),
      manufacturedAt: MANUFACTURED_AT,
      expiresAt: EXPIRES_AT,
      batchRecordHash: hashText(`record ${batchNumber}`),
      codesRoot: tree.root,
    });
    if (rng.chance(0.25)) {
      const by = rng.chance(0.5) ? cmo : mah;
      const reportHash = hashText(`deviation ${batchNumber}`);
      op("openDeviation", "DeviationReport", by, "DeviationOpened", { batchId, kind: rng.int(1, 3), severity: 1, category: 1, reportHash });
      op("closeDeviation", "DeviationClosure", cmo, "DeviationClosed", {
        batchId,
        reportHash,
        rootCause: 4,
        batchImpact: 1,
        closureHash: hashText(`capa ${batchNumber}`),
      });
    }
    op("releaseFromFactory", "FactoryRelease", cmo, "BatchFactoryReleased", { batchId, certificateHash: hashText(`coa ${batchNumber}`) });
    op("releaseToMarket", "MarketRelease", mah, "BatchMarketReleased", {
      batchId,
      decisionHash: hashText(`release ${batchNumber}`),
      signerRole: PersonRole.Organization,
      signerName: "",
    });
    const hand = (from: Org, to: Org, shipped: number, received = shipped) => {
      const shipNonce = from.nonce;
      op("shipBatch", "Shipment", from, "BatchShipped", { batchId, recipientId: to.id, quantity: BigInt(shipped), codesRoot: ZeroHash });
      const shipmentId = keccak256(abi.encode(["uint32", "uint256"], [from.id, shipNonce]));
      op("receiveShipment", "Receipt", to, "ShipmentReceived", {
        shipmentId,
        batchId,
        shipperId: from.id,
        shippedQuantity: BigInt(shipped),
        receivedQuantity: BigInt(received),
      });
      holdings.set(from.id, holdings.get(from.id)! - shipped);
      holdings.set(to.id, (holdings.get(to.id) ?? 0) + received);
    };
    const pick = <T>(list: T[], n: number) => {
      const start = rng.int(0, list.length - 1);
      return Array.from({ length: n }, (_, i) => list[(start + i) % list.length]!);
    };
    const [d1, d2] = pick(distributors.slice(0, 9), 2) as [Org, Org];
    hand(cmo, d1, 600, rng.chance(0.05) ? 600 - rng.int(1, 3) : 600);
    hand(cmo, d2, 300);
    const pharmacies = pick(dispensers, 5);
    pharmacies.forEach((pharmacy, i) => hand(i < 3 ? d1 : d2, pharmacy, 60));
    let nextPack = 0;
    for (let round = 0; round < 5; round++) {
      for (const pharmacy of pharmacies) {
        const count = rng.int(1, 3);
        if (nextPack + count > PACKS_PER_BATCH) continue;
        const proof = tree.multiProof(Array.from({ length: count }, (_, i) => nextPack + i));
        nextPack += count;
        op("dispensePacks", "Dispensing", pharmacy, "PacksDispensed", { batchId, packs: proof.packs }, [proof.proof, proof.proofFlags]);
        holdings.set(pharmacy.id, holdings.get(pharmacy.id)! - count);
      }
    }
    if (rng.chance(0.15)) {
      op("destroyStock", "Destruction", d2, "StockDestroyed", { batchId, quantity: 5n, reasonHash: hashText(`damaged ${batchNumber}`) });
      holdings.set(d2.id, holdings.get(d2.id)! - 5);
    }
    if (rng.chance(0.03)) {
      const by = rng.chance(0.5) ? mah : regulatorOf(index);
      op("startRecall", "RecallStart", by, "RecallStarted", { batchId, level: rng.int(1, 3), reasonHash: hashText(`recall ${batchNumber}`) });
      const holders = [...holdings].filter(([, held]) => held > 0);
      for (const [holderId, held] of holders) {
        const holder = orgs[holderId - 1]!;
        op("acknowledgeRecall", "RecallAcknowledgement", holder, "RecallAcknowledged", {
          batchId,
          quarantinedQuantity: BigInt(held),
          dispensedQuantity: 0n,
          destroyedQuantity: 0n,
          missingQuantity: 0n,
        });
      }
      if (rng.chance(0.67)) op("closeRecall", "RecallClosure", mah, "RecallClosed", { batchId, reportHash: hashText(`report ${batchNumber}`) });
    }
    return list;
  };

  const inFlight: Op[][] = [];
  let batches = 0;
  let planned = ops.length + 1; // the bootstrap regulator's onboarding is an event too
  while (planned < targetEvents || inFlight.length > 0) {
    while (inFlight.length < 40 && planned < targetEvents) {
      const lifecycle = batchOps(batches++);
      planned += lifecycle.length;
      inFlight.push(lifecycle);
    }
    const i = rng.int(0, inFlight.length - 1);
    ops.push(inFlight[i]!.shift()!);
    if (inFlight[i]!.length === 0) inFlight.splice(i, 1);
  }

  // Follow-mode samples: deviations the CMO reports on recorded batches, one transaction each.
  const follow: Op[] = [];
  for (let i = 0; i < FOLLOW_SAMPLES; i++) {
    const product = products[i % products.length]!;
    const batchId = keccak256(abi.encode(["bytes32", "string"], [product.id, `B${String(i).padStart(6, "0")}`]));
    const cmo = product.cmo;
    follow.push({
      contract: "BatchLedger",
      fn: "openDeviation",
      type: "DeviationReport",
      key: cmo.key,
      event: "DeviationOpened",
      message: { organizationId: cmo.id, nonce: nonce(cmo), batchId, kind: 3, severity: 1, category: 5, reportHash: hashText(`trend ${i}`) },
    });
  }
  return { ops, follow, batches };
}

/**
 * Signs every attestation with ethers Wallet.signTypedData and encodes its call, in worker threads (each takes most
 * of a millisecond per attestation in JavaScript).
 */
async function signAndEncode(ops: Op[], keys: string[], contracts: Record<LedgerContract, string>, workers: number): Promise<string[]> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { Interface, Wallet } = require(workerData.ethers);
    const wallets = workerData.keys.map((k) => new Wallet(k));
    const interfaces = Object.fromEntries(Object.entries(workerData.abis).map(([name, abi]) => [name, new Interface(abi)]));
    const sign = (op, key) => {
      const domain = { name: op.contract, version: "1", chainId: workerData.chainId, verifyingContract: workerData.contracts[op.contract] };
      return wallets[key].signTypedData(domain, { [op.type]: workerData.types[op.contract][op.type] }, op.message);
    };
    parentPort.on("message", async (ops) => {
      const out = [];
      for (const op of ops) {
        const signature = await sign(op, op.key);
        const iface = interfaces[op.contract];
        if (op.counterKey !== undefined) {
          out.push(iface.encodeFunctionData(op.fn, [op.message, signature, await sign(op, op.counterKey)]));
        } else {
          out.push(iface.encodeFunctionData(op.fn, [op.message, ...(op.middle || []), signature]));
        }
      }
      parentPort.postMessage(out);
    });`;
  const workerData = {
    ethers: require.resolve("ethers"),
    keys,
    contracts,
    chainId: CHAIN_ID,
    types: JSON.parse(JSON.stringify(attestationTypes)),
    abis: Object.fromEntries(Object.entries(CONTRACT_INTERFACES).map(([name, iface]) => [name, iface.formatJson()])),
  };
  const pool = Array.from({ length: workers }, () => new Worker(code, { eval: true, workerData }));
  const calls: string[] = new Array(ops.length);
  const CHUNK = 1_000;
  let next = 0;
  let done = 0;
  const started = Date.now();
  try {
    await Promise.all(
      pool.map(async (worker) => {
        while (next < ops.length) {
          const from = next;
          next += CHUNK;
          const chunk = ops.slice(from, from + CHUNK).map(({ event: _event, ...op }) => op);
          const out = await new Promise<string[]>((resolve, reject) => {
            const fail = (error: Error) => reject(error);
            worker.once("error", fail);
            worker.once("message", (message: string[]) => {
              worker.off("error", fail);
              resolve(message);
            });
            worker.postMessage(chunk);
          });
          out.forEach((call, i) => (calls[from + i] = call));
          done += out.length;
          if (done % 20_000 < CHUNK)
            console.log(`  signed ${done.toLocaleString("en")}/${ops.length.toLocaleString("en")} (${Math.round((Date.now() - started) / 1000)} s)`);
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return calls;
}

/** Groups consecutive calls to one contract into multicall transactions of up to MULTICALL_SIZE attestations. */
function bundle(calls: { contract: LedgerContract; data: string }[]): ChainTx[] {
  const txs: ChainTx[] = [];
  let current: { contract: LedgerContract; data: string[] } | undefined;
  const flush = () => {
    if (!current) return;
    txs.push({
      contract: current.contract,
      data: CONTRACT_INTERFACES[current.contract].encodeFunctionData("multicall", [current.data]),
      attestations: current.data.length,
    });
    current = undefined;
  };
  for (const call of calls) {
    if (current && (current.contract !== call.contract || current.data.length >= MULTICALL_SIZE)) flush();
    current ??= { contract: call.contract, data: [] };
    current.data.push(call.data);
  }
  flush();
  return txs;
}

/** The deterministic addresses of the eight contracts deployed by `deployer` with nonces 0 to 7 (QualityDuties before BatchLedger). */
export function expectedContracts(deployer: string): Record<LedgerContract, string> {
  return {
    ConsortiumRegistry: getCreateAddress({ from: deployer, nonce: 0 }),
    ProductRegistry: getCreateAddress({ from: deployer, nonce: 1 }),
    QualityDuties: getCreateAddress({ from: deployer, nonce: 2 }),
    BatchLedger: getCreateAddress({ from: deployer, nonce: 3 }),
    AggregationLedger: getCreateAddress({ from: deployer, nonce: 4 }),
    AlertCases: getCreateAddress({ from: deployer, nonce: 5 }),
    CorrectiveActions: getCreateAddress({ from: deployer, nonce: 6 }),
    SupervisionRecords: getCreateAddress({ from: deployer, nonce: 7 }),
  };
}

/** The bootstrap regulator's key: the registry's constructor argument. */
export const bootstrapRegulatorKey = () => new Wallet(keccak256(Buffer.from("bench-indexer key 0")));

/** Loads the cached chain for these parameters, or plans, signs and encodes it (and caches it). */
export async function benchChain(options: { targetEvents: number; deployer: string; cacheDir: string; workers: number }): Promise<BenchChain> {
  const contracts = expectedContracts(options.deployer);
  const bytecode = [
    ConsortiumRegistry__factory,
    ProductRegistry__factory,
    QualityDuties__factory,
    BatchLedger__factory,
    AggregationLedger__factory,
    AlertCases__factory,
    CorrectiveActions__factory,
    SupervisionRecords__factory,
  ]
    .map((f) => f.bytecode)
    .join("");
  const key = createHash("sha256")
    .update(JSON.stringify({ GENERATOR_VERSION, target: options.targetEvents, contracts, MULTICALL_SIZE, FOLLOW_SAMPLES }))
    .update(bytecode)
    .digest("hex")
    .slice(0, 16);
  const file = path.join(options.cacheDir, `indexer-chain-${key}.json`);
  if (fs.existsSync(file)) {
    const cached = JSON.parse(fs.readFileSync(file, "utf8")) as BenchChain;
    console.log(`chain: cached ${file} (${cached.events.toLocaleString("en")} events)`);
    return { ...cached, cached: true };
  }
  const started = Date.now();
  keccak = await createKeccak(256);
  const keys: string[] = [];
  const { ops, follow, batches } = plan(options.targetEvents, keys);
  if (keys[0] !== bootstrapRegulatorKey().privateKey) throw new Error("the bootstrap regulator must hold key 0");
  console.log(
    `chain: planned ${ops.length.toLocaleString("en")} attestations in ${batches} batches (${Math.round((Date.now() - started) / 1000)} s); signing with ${options.workers} workers`,
  );
  const encoded = await signAndEncode([...ops, ...follow], keys, contracts, options.workers);
  const calls = [...ops, ...follow].map((op, i) => ({ contract: op.contract, data: encoded[i]! }));
  const mix: Record<string, number> = { OrganizationOnboarded: 1 };
  for (const op of ops) mix[op.event] = (mix[op.event] ?? 0) + 1;
  const chain: BenchChain = {
    key,
    contracts,
    bootstrapRegulator: bootstrapRegulatorKey().address,
    history: bundle(calls.slice(0, ops.length)),
    follow: calls.slice(ops.length).map((call) => ({ ...call, attestations: 1 })),
    events: ops.length + 1,
    mix,
    generatedIn: (Date.now() - started) / 1000,
  };
  fs.mkdirSync(options.cacheDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(chain));
  console.log(`chain: generated in ${Math.round(chain.generatedIn!)} s, cached as ${file}`);
  return { ...chain, cached: false };
}
