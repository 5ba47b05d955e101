import type { ParamType, Result } from "ethers";
import { ATTESTATION_BY_EVENT, ATTESTATIONS, CONTRACT_INTERFACES, LEDGER_CONTRACTS } from "../ledger";
import type { ArgValue, Deployment, EventArgs, LedgerContract } from "../ledger";
import type { ChainLog } from "./sync";

export type { Deployment } from "../ledger";

export type { ArgValue, EventArgs } from "../ledger";

/** Where an event sits on the chain. */
export type EventPosition = {
  blockNumber: number;
  logIndex: number;
  blockHash: string;
  txHash: string;
};

/** One ledger event, decoded and flattened: indexed ids, the attested struct's fields, signer and signature. */
export type LedgerEvent = EventPosition & {
  contract: LedgerContract;
  address: string;
  name: string;
  args: EventArgs;
};

/** An attestation an event carries: what was signed, by whom, for which organization. */
export type EventAttestation = {
  type: string;
  organizationId: number;
  message: Record<string, unknown>;
  signer: string;
  signature: string;
};

/** A log the indexer could not decode: recorded and reported, never dropped. */
export type UndecodableLog = EventPosition & { address: string; reason: string };

export { LEDGER_EVENT_TOPICS } from "../ledger";

export type Decoder = (log: ChainLog) => LedgerEvent | UndecodableLog;

/**
 * Decodes the deployment's logs; a log from elsewhere or that does not parse comes back as UndecodableLog.
 * Canonically encoded logs (all that a contract emits) are decoded by plans compiled from the ABI, straight from the
 * hex; anything else goes to the reference (ethers' Interface.parseLog), so the result is the reference's on every
 * input. test/indexer/fast-verify.test.ts compares the two.
 */
export function createDecoder(deployment: Deployment): Decoder {
  const reference = createReferenceDecoder(deployment);
  const byAddress = addressesOf(deployment);
  return (log) => {
    const address = log.address.toLowerCase();
    const contract = byAddress.get(address);
    const topic = log.topics[0];
    const plan = contract && typeof topic === "string" ? PLANS[contract].get(topic.toLowerCase()) : undefined;
    const args = plan && decodeFast(plan, log);
    if (!args) return reference(log);
    return {
      blockNumber: log.blockNumber,
      logIndex: log.index,
      blockHash: log.blockHash.toLowerCase(),
      txHash: log.transactionHash.toLowerCase(),
      contract: contract!,
      address,
      name: plan!.name,
      args,
    };
  };
}

/** The reference decoder: ethers' Interface.parseLog, its values walked by ABI type and normalized. */
export function createReferenceDecoder(deployment: Deployment): Decoder {
  const byAddress = addressesOf(deployment);
  return (log) => {
    const position: EventPosition = {
      blockNumber: log.blockNumber,
      logIndex: log.index,
      blockHash: log.blockHash.toLowerCase(),
      txHash: log.transactionHash.toLowerCase(),
    };
    const address = log.address.toLowerCase();
    const contract = byAddress.get(address);
    if (!contract) return { ...position, address, reason: "log from an address outside the deployment" };
    try {
      const parsed = CONTRACT_INTERFACES[contract].parseLog({ topics: [...log.topics], data: log.data });
      if (!parsed || !ATTESTATION_BY_EVENT.has(parsed.name)) return { ...position, address, reason: "not a ledger event" };
      return { ...position, contract, address, name: parsed.name, args: flatten(parsed.name, parsed.fragment.inputs, parsed.args) };
    } catch (error) {
      return { ...position, address, reason: `undecodable log: ${(error as Error).message}` };
    }
  };
}

function addressesOf(deployment: Deployment): Map<string, LedgerContract> {
  const byAddress = new Map<string, LedgerContract>();
  for (const [name, address] of Object.entries(deployment.contracts)) {
    byAddress.set(address.toLowerCase(), name as LedgerContract);
  }
  return byAddress;
}

// ----- the fast path: decoding plans compiled from the ABI -----

type Decoded = ArgValue | { [field: string]: Decoded };

/**
 * Decodes the ABI value at byte `offset` of `data`: a static value from its head there, a dynamic one from its
 * encoding there, leaving how many bytes that took in `dynamicSize` (a variable rather than a pair returned: one
 * object less per value decoded). Throws NotCanonical for anything a canonical encoder would not have written
 * (dirty high bits or padding, an offset other than the next free byte, invalid UTF-8, trailing bytes): the
 * reference then decodes the log, and decides.
 */
type Coder = { dynamic: boolean; head: number; decode(data: Buffer, offset: number): Decoded };

/** The size of the encoding a dynamic coder's decode() last read. */
let dynamicSize = 0;
type EventPlan = { name: string; struct: string; order: string[]; indexed: { name: string; coder: Coder }[]; data: Coder };

class NotCanonical extends Error {}

const HEX_TEXT = /^0x[0-9a-fA-F]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes `from`..`to` are zero (and there). */
function zeros(data: Buffer, from: number, to: number) {
  if (to > data.length || from < 0) throw new NotCanonical();
  for (let i = from; i < to; i++) if (data[i] !== 0) throw new NotCanonical();
}

/** A length or an offset (at most 6 bytes). */
function count(data: Buffer, offset: number): number {
  zeros(data, offset, offset + 26);
  return data.readUIntBE(offset + 26, 6);
}

function uintCoder(bits: number): Coder {
  const bytes = bits / 8;
  return {
    dynamic: false,
    head: 32,
    decode(data, offset) {
      if (offset + 32 > data.length) throw new NotCanonical();
      zeros(data, offset, offset + 32 - bytes);
      if (bytes <= 6) return data.readUIntBE(offset + 32 - bytes, bytes);
      // As normalize() has it: a number up to 2^53 - 1, else decimal text.
      const high = data.readUInt32BE(offset + 24);
      if (high < 2 ** 21 && isZero(data, offset, offset + 24)) return high * 2 ** 32 + data.readUInt32BE(offset + 28);
      return BigInt(`0x${data.toString("hex", offset, offset + 32)}`).toString();
    },
  };
}

function isZero(data: Buffer, from: number, to: number) {
  for (let i = from; i < to; i++) if (data[i] !== 0) return false;
  return true;
}

function fixedBytesCoder(length: number): Coder {
  return {
    dynamic: false,
    head: 32,
    decode(data, offset) {
      zeros(data, offset + length, offset + 32);
      return `0x${data.toString("hex", offset, offset + length)}`;
    },
  };
}

const BYTES32 = fixedBytesCoder(32);
const LOWER_HEX32 = /^0x[0-9a-f]{64}$/;

const addressCoder: Coder = {
  dynamic: false,
  head: 32,
  decode(data, offset) {
    if (offset + 32 > data.length) throw new NotCanonical();
    zeros(data, offset, offset + 12);
    return `0x${data.toString("hex", offset + 12, offset + 32)}`;
  },
};

const boolCoder: Coder = {
  dynamic: false,
  head: 32,
  decode(data, offset) {
    zeros(data, offset, offset + 31);
    const last = data[offset + 31];
    if (last !== 0 && last !== 1) throw new NotCanonical();
    return last === 1;
  },
};

/** How many bytes a `bytes` or `string` encoding at `offset` holds after its length word (then zeros to a word). */
function dynamicBytes(data: Buffer, offset: number): number {
  const length = count(data, offset);
  const padded = Math.ceil(length / 32) * 32;
  zeros(data, offset + 32 + length, offset + 32 + padded);
  dynamicSize = 32 + padded;
  return length;
}

const bytesCoder: Coder = {
  dynamic: true,
  head: 32,
  decode(data, offset) {
    const length = dynamicBytes(data, offset);
    return `0x${data.toString("hex", offset + 32, offset + 32 + length)}`;
  },
};

const stringCoder: Coder = {
  dynamic: true,
  head: 32,
  decode(data, offset) {
    const length = dynamicBytes(data, offset);
    let text: string;
    try {
      text = utf8.decode(data.subarray(offset + 32, offset + 32 + length));
    } catch {
      throw new NotCanonical();
    }
    // What normalize() does to every string: hex-looking text is lowercased.
    return HEX_TEXT.test(text) ? text.toLowerCase() : text;
  },
};

function arrayCoder(element: Coder): Coder {
  return {
    dynamic: true,
    head: 32,
    decode(data, offset) {
      const length = count(data, offset);
      if (offset + 32 + length * element.head > data.length) throw new NotCanonical();
      const values: ArgValue[] = [];
      for (let i = 0; i < length; i++) values.push(element.decode(data, offset + 32 + i * element.head) as ArgValue);
      dynamicSize = 32 + length * element.head;
      return values;
    },
  };
}

/** Head, then tails: each dynamic member's offset must point exactly where the previous tail ended. */
function tupleCoder(members: { name: string; coder: Coder }[]): Coder {
  const dynamic = members.some((m) => m.coder.dynamic);
  const headSize = members.reduce((sum, m) => sum + (m.coder.dynamic ? 32 : m.coder.head), 0);
  return {
    dynamic,
    head: dynamic ? 32 : headSize,
    decode(data, offset) {
      const value: { [field: string]: Decoded } = {};
      let at = 0;
      let tail = headSize;
      for (const { name, coder } of members) {
        if (coder.dynamic) {
          if (count(data, offset + at) !== tail) throw new NotCanonical();
          value[name] = coder.decode(data, offset + tail);
          tail += dynamicSize;
          at += 32;
        } else {
          value[name] = coder.decode(data, offset + at);
          at += coder.head;
        }
      }
      dynamicSize = tail;
      return value;
    },
  };
}

/** A coder for the types the ledger's events use; undefined for others (their events take the reference path). */
function coderOf(param: ParamType): Coder | undefined {
  if (param.isTuple()) return tupleOf(param.components);
  if (param.isArray()) {
    const element = param.arrayLength === -1 ? coderOf(param.arrayChildren) : undefined;
    return element && !element.dynamic ? arrayCoder(element) : undefined;
  }
  const uint = /^uint(\d+)$/.exec(param.type);
  if (uint) return uintCoder(Number(uint[1]));
  const fixed = /^bytes(\d+)$/.exec(param.type);
  if (fixed) return Number(fixed[1]) === 32 ? BYTES32 : fixedBytesCoder(Number(fixed[1]));
  switch (param.type) {
    case "address":
      return addressCoder;
    case "bool":
      return boolCoder;
    case "bytes":
      return bytesCoder;
    case "string":
      return stringCoder;
  }
  return undefined;
}

function tupleOf(params: readonly ParamType[]): Coder | undefined {
  const members = params.map((p) => ({ name: p.name, coder: coderOf(p) }));
  // Unnamed or repeated names would be merged differently by the reference: let it decode those.
  if (members.some((m) => !m.coder || !m.name) || new Set(members.map((m) => m.name)).size !== members.length) return undefined;
  return tupleCoder(members as { name: string; coder: Coder }[]);
}

/** Per contract, per event topic: a plan for each ledger event the fast path decodes. */
const PLANS = Object.fromEntries(
  LEDGER_CONTRACTS.map((contract) => {
    const iface = CONTRACT_INTERFACES[contract];
    const plans = new Map<string, EventPlan>();
    iface.forEachEvent((event) => {
      const spec = ATTESTATION_BY_EVENT.get(event.name);
      if (!spec || event.anonymous) return;
      const indexed = event.inputs.filter((p) => p.indexed).map((p) => ({ name: p.name, coder: coderOf(p) }));
      const data = tupleOf(event.inputs.filter((p) => !p.indexed));
      if (!data || indexed.some((p) => !p.coder || p.coder.dynamic || p.coder.head !== 32)) return;
      plans.set(event.topicHash, {
        name: event.name,
        struct: spec.struct,
        order: event.inputs.map((p) => p.name),
        indexed: indexed as EventPlan["indexed"],
        data,
      });
    });
    return [contract, plans];
  }),
) as Record<LedgerContract, Map<string, EventPlan>>;

/** The bytes of 0x-prefixed hex, or undefined if it is not that (Buffer's decoder stops at the first non-hex pair). */
function hexBytes(hex: unknown): Buffer | undefined {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || hex[0] !== "0" || (hex[1] !== "x" && hex[1] !== "X")) return undefined;
  const bytes = Buffer.from(hex.slice(2), "hex");
  return 2 * bytes.length === hex.length - 2 ? bytes : undefined;
}

/** The event's arguments exactly as the reference would give them, or undefined when the reference must decode. */
function decodeFast(plan: EventPlan, log: ChainLog): EventArgs | undefined {
  if (log.topics.length !== plan.indexed.length + 1) return undefined;
  const data = hexBytes(log.data);
  if (!data) return undefined;
  try {
    const values: { [name: string]: Decoded } = {};
    for (let i = 0; i < plan.indexed.length; i++) {
      const text = log.topics[i + 1];
      // A word of bytes32 as Node's hex has it is its own value (most indexed ids are).
      if (plan.indexed[i]!.coder === BYTES32 && typeof text === "string" && LOWER_HEX32.test(text)) {
        values[plan.indexed[i]!.name] = text;
        continue;
      }
      const topic = hexBytes(text);
      if (topic?.length !== 32) return undefined;
      values[plan.indexed[i]!.name] = plan.indexed[i]!.coder.decode(topic, 0);
    }
    const decoded = plan.data.decode(data, 0);
    if ((plan.data.dynamic ? dynamicSize : plan.data.head) !== data.length) return undefined;
    Object.assign(values, decoded);
    // flatten()'s assignments, in its order: the struct's fields take the struct's place.
    const args: EventArgs = {};
    for (const name of plan.order) {
      if (name === plan.struct) Object.assign(args, values[name]);
      else args[name] = values[name] as ArgValue;
    }
    return args;
  } catch {
    // NotCanonical, or a read past the end: the reference decides.
    return undefined;
  }
}

export function isUndecodable(decoded: LedgerEvent | UndecodableLog): decoded is UndecodableLog {
  return "reason" in decoded;
}

/** The attestation an event carries, to verify off-chain; undefined for the deployer's bootstrap regulator. */
export function attestationOf(event: LedgerEvent): EventAttestation | undefined {
  return attestationsCarried(event)[0];
}

/** The counterparty's signature on an agreement, the one event signed twice. */
export function counterpartyAttestationOf(event: LedgerEvent): EventAttestation | undefined {
  return attestationsCarried(event)[1];
}

// Verifying, judging and recording an event each ask for its attestations: they are built once per event.
const CARRIED = new WeakMap<LedgerEvent, [EventAttestation | undefined, EventAttestation | undefined]>();

function attestationsCarried(event: LedgerEvent): [EventAttestation | undefined, EventAttestation | undefined] {
  let carried = CARRIED.get(event);
  if (!carried) {
    carried = [primaryAttestation(event), counterpartyAttestation(event)];
    CARRIED.set(event, carried);
  }
  return carried;
}

function primaryAttestation(event: LedgerEvent): EventAttestation | undefined {
  const spec = ATTESTATION_BY_EVENT.get(event.name);
  if (!spec) return undefined;
  const signer = String(event.args[event.name === "AgreementSigned" ? "mahSigner" : "signer"]);
  const signature = String(event.args[event.name === "AgreementSigned" ? "mahSignature" : "signature"]);
  if (signature === "0x") return undefined;
  return {
    type: spec.name,
    organizationId: Number(event.args[spec.fields[0]!.name]),
    message: messageOf(spec.fields, event.args),
    signer,
    signature,
  };
}

function counterpartyAttestation(event: LedgerEvent): EventAttestation | undefined {
  if (event.name !== "AgreementSigned") return undefined;
  return {
    type: "Agreement",
    organizationId: Number(event.args.counterpartyId),
    message: messageOf(ATTESTATIONS.Agreement.fields, event.args),
    signer: String(event.args.counterpartySigner),
    signature: String(event.args.counterpartySignature),
  };
}

function messageOf(fields: readonly { name: string }[], args: EventArgs): Record<string, unknown> {
  const message: Record<string, unknown> = {};
  for (const field of fields) message[field.name] = args[field.name];
  return message;
}

/** Indexed arguments, then the struct's fields, then signer(s) and signature(s), in one flat object. */
function flatten(name: string, inputs: readonly ParamType[], result: Result): EventArgs {
  const spec = ATTESTATION_BY_EVENT.get(name);
  const args: EventArgs = {};
  inputs.forEach((input, i) => {
    const value = plain(input, result[i]);
    if (spec && input.name === spec.struct) Object.assign(args, value as EventArgs);
    else args[input.name] = value as ArgValue;
  });
  return args;
}

/**
 * A decoded value as plain data, walked by its ABI type: structs become objects by field name, arrays stay arrays.
 * (ethers' Result.toObject(true) turns a one-element array into `{ _: item }`, which lost single-pack dispensings.)
 */
function plain(type: ParamType, value: unknown): unknown {
  if (type.isTuple()) {
    const fields = value as Result;
    return Object.fromEntries(type.components.map((component, i) => [component.name, plain(component, fields[i])]));
  }
  if (type.isArray()) return [...(value as Result)].map((item) => plain(type.arrayChildren, item));
  return normalize(value);
}

function normalize(value: unknown): unknown {
  if (typeof value === "bigint") return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (typeof value === "string") return /^0x[0-9a-fA-F]*$/.test(value) ? value.toLowerCase() : value;
  return value;
}
