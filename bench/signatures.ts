/**
 * Signer recovery benchmark (`npm run bench:signatures`, not a test): the secp256k1 implementations the indexer could
 * recover attestation signers with, side by side on one thread, interleaved rounds, medians of CPU µs per signature
 * (process.cpuUsage, this process doing nothing else). Every candidate must first recover the same address as
 * ethers' recoverAddress on the same signatures, or the benchmark stops.
 *
 * Candidates: libsecp256k1 through the `secp256k1` package's native binding (the prebuilt one it ships, and, when
 * BENCH_SIGNATURES_BUILT names the directory of a copy rebuilt with node-gyp against Node's headers, that one); the
 * system's current libsecp256k1 through native/ when it was built at install (what the indexer prefers); ethers v6 (`SigningKey.recoverPublicKey`, @noble/curves in pure JavaScript); @noble/secp256k1 (pure JavaScript);
 * the `secp256k1` package's own JavaScript fallback (elliptic). Node's crypto is not a candidate: it cannot recover a
 * key from a signature, and its ECDSA verify hashes the message itself, so it cannot check an EIP-712 digest at all.
 *
 * Not a recovery, and not usable by the indexer, but measured beside them: libsecp256k1's ECDSA verify against the
 * signer's known public key (the event names its signer; a cache of address → key would give the key). It proves
 * less than recovery: verify checks only the x coordinate of the signature's point, so the same r ‖ s with the
 * other recovery id (v 27 ↔ 28) verifies too, where recovery gives another address and the indexer refuses it; and
 * it refuses high s, which recovery (as ethers) accepts. Telling the recovery id apart needs the point itself, the
 * whole cost of a recovery.
 *
 * Reference (not a candidate: nothing the indexer can load): libsecp256k1 itself, current upstream, when
 * BENCH_SIGNATURES_C_BENCH names the `bench` program of a build of bitcoin-core/secp256k1 with its recovery module
 * (built by hand outside the repository, e.g. `cmake -B build -DCMAKE_BUILD_TYPE=Release
 * -DSECP256K1_ENABLE_MODULE_RECOVERY=ON -DSECP256K1_BUILD_BENCHMARK=ON && cmake --build build`, then
 * build/bin/bench). It runs its own `ecdsa_recover` benchmark in each round, interleaved with the candidates; its CPU
 * (the child's user + system time, from bash's `times`) over its recoveries is the figure. The `secp256k1` package
 * bundles a 2019 libsecp256k1: the ratio says what a current one would save per signature.
 *
 * Environment: BENCH_SIGNATURES_ROUNDS (default 5), BENCH_SIGNATURES_BUILT, BENCH_SIGNATURES_C_BENCH (see above).
 */
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { computeAddress, keccak256, recoverAddress, Signature, SigningKey, Wallet } from "ethers";
import * as noble from "@noble/secp256k1";
import { libsecp256k1Builds } from "../src/indexer/signatures";

const ROUNDS = Number(process.env.BENCH_SIGNATURES_ROUNDS ?? 5);
const SAMPLES = 64;

type Sample = { digest: Buffer; signature: Buffer; hex: string; address: string; publicKey: Buffer };
/** The uncompressed public key (65 bytes) the sample's signature recovers to. */
type Recover = (sample: Sample) => Uint8Array;
/** Whether the sample's signature is valid for `publicKey` (a check against a known key, not a recovery). */
type Verify = (sample: Sample, publicKey: Uint8Array) => boolean;
type Candidate = { name: string; perRound: number } & ({ recover: Recover } | { verify: Verify });

const addressOf = (publicKey: Uint8Array) => computeAddress(`0x${Buffer.from(publicKey).toString("hex")}`).toLowerCase();

function samples(): Sample[] {
  return Array.from({ length: SAMPLES }, (_, i) => {
    const wallet = new Wallet(keccak256(Buffer.from(`bench-signatures key ${i}`)));
    const digest = Buffer.from(keccak256(Buffer.from(`bench-signatures message ${i}`)).slice(2), "hex");
    const hex = wallet.signingKey.sign(digest).serialized;
    return {
      digest,
      signature: Buffer.from(hex.slice(2), "hex"),
      hex,
      address: wallet.address.toLowerCase(),
      publicKey: Buffer.from(wallet.signingKey.publicKey.slice(2), "hex"),
    };
  });
}

type Binding = {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): boolean;
};

function libsecp256k1(name: string, binding: Binding): Candidate {
  return {
    name,
    perRound: 4_000,
    recover: (s) => binding.ecdsaRecover(s.signature.subarray(0, 64), s.signature[64]! - 27, s.digest, false),
  };
}

function libsecp256k1Verify(name: string, binding: Binding): Candidate {
  return { name, perRound: 4_000, verify: (s, publicKey) => binding.ecdsaVerify(s.signature.subarray(0, 64), s.digest, publicKey) };
}

/** The system's libsecp256k1 through native/, when it was built at install (src/indexer/signatures.ts). */
function systemLibsecp256k1(): Candidate[] {
  const recover = libsecp256k1Builds[0]!.recover;
  if (!recover) return [];
  const recovered = (s: Sample) => {
    const publicKey = recover(s.signature.subarray(0, 64), s.signature[64]! - 27, s.digest);
    if (!publicKey) throw new Error("no key recovered");
    return publicKey;
  };
  return [{ name: libsecp256k1Builds[0]!.name, perRound: 4_000, recover: recovered }];
}

function candidates(): Candidate[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prebuilt = require("secp256k1/bindings") as Binding;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const elliptic = require("secp256k1/elliptic") as Binding;
  const list: Candidate[] = [
    libsecp256k1("libsecp256k1, prebuilt binding shipped in `secp256k1`", prebuilt),
    libsecp256k1Verify("libsecp256k1, prebuilt binding shipped in `secp256k1`, verify against the known key", prebuilt),
  ];
  list.push(...systemLibsecp256k1());
  const built = process.env.BENCH_SIGNATURES_BUILT;
  if (built) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require("node-gyp-build")(path.resolve(built)) as { Secp256k1: new () => unknown };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const own = require("secp256k1/lib")(new addon.Secp256k1()) as Binding;
    list.push(libsecp256k1("libsecp256k1, `secp256k1` rebuilt with node-gyp here", own));
  }
  list.push(
    {
      name: "ethers v6 SigningKey.recoverPublicKey (@noble/curves, JavaScript)",
      perRound: 300,
      recover: (s) => Buffer.from(SigningKey.recoverPublicKey(s.digest, s.hex).slice(2), "hex"),
    },
    {
      name: "@noble/secp256k1 recoverPublicKey (JavaScript)",
      perRound: 300,
      recover: (s) => noble.recoverPublicKey(s.digest, s.signature.subarray(0, 64), s.signature[64]! - 27, false),
    },
    { ...libsecp256k1("elliptic (`secp256k1`'s JavaScript fallback)", elliptic), perRound: 300 },
  );
  return list;
}

/** Recoveries per round of the C reference: its bench runs 10 series of SECP256K1_BENCH_ITERS each. */
const C_BENCH_ITERS = 2_000;

/** CPU µs per recovery of libsecp256k1's own `ecdsa_recover` benchmark, run as a child process (see above). */
function cReferenceMicros(bench: string): number {
  const script = `SECP256K1_BENCH_ITERS=${C_BENCH_ITERS} "$0" ecdsa_recover > /dev/null && times`;
  // `times` prints the shell's own times, then its children's: "0m3.610s 0m0.012s".
  const children = execFileSync("bash", ["-c", script, bench], { encoding: "utf8" }).trim().split("\n")[1]!;
  const seconds = children.split(" ").reduce((sum, part) => {
    const [, minutes, secs] = /^(\d+)m([\d.]+)s$/.exec(part)!;
    return sum + Number(minutes) * 60 + Number(secs);
  }, 0);
  return (seconds * 1e6) / (10 * C_BENCH_ITERS);
}

/** Checks the candidate against ethers on every sample (and, for a verify, that another sample's key is refused). */
function vouchFor(candidate: Candidate, all: Sample[]) {
  all.forEach((s, i) => {
    const expected = recoverAddress(s.digest, Signature.from(s.hex)).toLowerCase();
    if (expected !== s.address) throw new Error(`ethers recovers ${expected} where ${s.address} signed`);
    if ("recover" in candidate) {
      const got = addressOf(candidate.recover(s));
      if (got !== expected) throw new Error(`${candidate.name}: ${got} where ethers recovers ${expected}`);
    } else if (!candidate.verify(s, s.publicKey) || candidate.verify(s, all[(i + 1) % all.length]!.publicKey)) {
      throw new Error(`${candidate.name}: wrong verdict on sample ${i}`);
    }
  });
}

function cpuMicrosPer(candidate: Candidate, all: Sample[]): number {
  const check = "recover" in candidate ? candidate.recover : (s: Sample) => candidate.verify(s, s.publicKey);
  const started = process.cpuUsage();
  for (let i = 0; i < candidate.perRound; i++) check(all[i % all.length]!);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / candidate.perRound;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function main() {
  const all = samples();
  const list = candidates();
  for (const candidate of list) vouchFor(candidate, all);
  const loads = [os.loadavg()[0]!];
  const micros = new Map<Candidate, number[]>(list.map((c) => [c, []]));
  const cBench = process.env.BENCH_SIGNATURES_C_BENCH;
  const cMicros: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < list.length; k++) {
      const candidate = list[(k + round) % list.length]!;
      micros.get(candidate)!.push(cpuMicrosPer(candidate, all));
      if (cBench && k === round % list.length) cMicros.push(cReferenceMicros(cBench));
    }
    loads.push(os.loadavg()[0]!);
  }
  const reference = median(micros.get(list[0]!)!);
  console.log(
    `Node ${process.version}, ${os.cpus()[0]?.model}, ${ROUNDS} interleaved rounds, load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
  );
  console.log("| implementation | CPU µs per signature (median) | × libsecp256k1 prebuilt |");
  console.log("| --- | ---: | ---: |");
  for (const candidate of list) {
    const m = median(micros.get(candidate)!);
    console.log(`| ${candidate.name} | ${m.toFixed(1)} | ${(m / reference).toFixed(2)} |`);
  }
  if (cBench) {
    const m = median(cMicros);
    console.log(
      `| reference: libsecp256k1's own \`bench ecdsa_recover\`, current upstream, C (not loadable by the indexer) | ${m.toFixed(1)} | ${(m / reference).toFixed(2)} |`,
    );
  }
}

main();
