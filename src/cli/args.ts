import * as fs from "node:fs";
import { AbiCoder, getAddress, id as hashText, isAddress, keccak256 } from "ethers";
import { InvalidArgumentError } from "commander";
import { isNmpaProductCode } from "../codes";
import { CHINA_OFFSET } from "../ledger/china-time";
import { parseChinaDateTime, parseExpiry } from "../ledger/expiry";

/** Parsers for command-line values: each rejects bad input with a message that says what is expected. */

const HASH = /^0x[0-9a-fA-F]{64}$/;
const UINT32_MAX = 4_294_967_295;
const UINT64_MAX = (1n << 64n) - 1n;

/** An organization id: a positive uint32. */
export function organizationArg(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > UINT32_MAX) {
    throw new InvalidArgumentError("expected an organization id (a positive integer)");
  }
  return value;
}

function uint64(text: string, min: bigint): bigint {
  if (!/^[0-9]+$/.test(text)) throw new InvalidArgumentError(`expected a whole number of packs${min > 0n ? " (at least 1)" : ""}`);
  const value = BigInt(text);
  if (value < min || value > UINT64_MAX) throw new InvalidArgumentError(`expected a whole number of packs from ${min} to ${UINT64_MAX}`);
  return value;
}

/** A quantity of packs, at least 1. */
export const quantityArg = (text: string): bigint => uint64(text, 1n);
/** A quantity that may be 0 (a lost consignment received, nothing quarantined). */
export const countArg = (text: string): bigint => uint64(text, 0n);

/** A count of things (packs to make, events to answer): a positive integer. */
export function positiveIntegerArg(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError("expected a positive integer");
  return value;
}

/** A province code or other small non-negative integer. */
export function regionArg(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value > UINT32_MAX) throw new InvalidArgumentError("expected a province code such as 320000");
  return value;
}

/**
 * A document the ledger commits by hash (a reason, a report, a certificate): a 0x 32-byte hash as it is, @FILE for
 * the keccak-256 of a file's bytes, or any other text for the keccak-256 of its UTF-8.
 */
export function hashArg(text: string): string {
  if (HASH.test(text)) return text.toLowerCase();
  if (text.startsWith("@")) {
    try {
      return keccak256(fs.readFileSync(text.slice(1)));
    } catch (error) {
      throw new InvalidArgumentError(`cannot read ${text.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  if (text.trim() === "") throw new InvalidArgumentError("expected a text, @FILE or a 0x 32-byte hash");
  return hashText(text);
}

/** A 0x 32-byte id (an agreement, a shipment). */
export function idArg(text: string): string {
  if (!HASH.test(text)) throw new InvalidArgumentError("expected a 0x id of 32 bytes (64 hex digits)");
  return text.toLowerCase();
}

export function addressArg(text: string): string {
  if (!isAddress(text)) throw new InvalidArgumentError("expected an address: 0x and 40 hex digits (valid checksum if mixed case)");
  return getAddress(text);
}

/** A time: unix seconds, a date (midnight China Standard Time, the start of that day) or an ISO 8601 date-time. */
export function timeArg(text: string): number {
  if (/^[0-9]+$/.test(text)) return Number(text);
  const seconds = /^\d{4}-\d{2}-\d{2}$/.test(text) ? parseChinaDateTime(`${text}T00:00:00${CHINA_OFFSET}`) : parseChinaDateTime(text);
  if (seconds === undefined) throw new InvalidArgumentError("expected a date (2027-12-31, China time), an ISO date-time or unix seconds");
  return seconds;
}

/** An expiry: a date means the END of that day in China time, as a pack's GS1 (17) does (see src/ledger/expiry). */
export function expiryArg(text: string): number {
  const seconds = parseExpiry(text);
  if (seconds === undefined)
    throw new InvalidArgumentError(
      "expected an expiry date (2027-12-31: valid to the end of that day, China time), an ISO date-time or unix seconds",
    );
  return seconds;
}

export function isProductCode(text: string): boolean {
  return isNmpaProductCode(text) || /^[0-9]{14}$/.test(text);
}

/** A product by its code (7-digit NMPA code or GTIN-14) or its 0x id; the id is keccak-256 of the code. */
export type ProductRef = { id: string; code?: string };

export function productArg(text: string): ProductRef {
  if (HASH.test(text)) return { id: text.toLowerCase() };
  if (!isProductCode(text)) throw new InvalidArgumentError("expected a product code (7-digit NMPA code or GTIN-14) or a 0x product id");
  return { id: hashText(text), code: text };
}

/** A batch by its 0x id or as PRODUCT/BATCHNUMBER; its id is keccak-256 of abi.encode(product id, batch number). */
export type BatchRef = { id: string; label?: string; productCode?: string };

export function batchIdOf(productId: string, batchNumber: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [productId, batchNumber]));
}

export function batchArg(text: string): BatchRef {
  if (HASH.test(text)) return { id: text.toLowerCase() };
  const slash = text.indexOf("/");
  const productCode = text.slice(0, slash);
  const batchNumber = text.slice(slash + 1);
  if (slash < 0 || !isProductCode(productCode) || batchNumber.length < 1 || batchNumber.length > 20) {
    throw new InvalidArgumentError("expected a 0x batch id or PRODUCT/BATCHNUMBER, e.g. 06901234567892/B-2024-001");
  }
  return { id: batchIdOf(hashText(productCode), batchNumber).toLowerCase(), label: batchNumber, productCode };
}

/** An enum option by name, case-insensitively, as the number the contracts sign. */
export function enumArg(values: Record<string, number>): (text: string) => number {
  return (text) => {
    const found = Object.entries(values).find(([name]) => name.toLowerCase() === text.toLowerCase());
    if (!found) throw new InvalidArgumentError(`expected one of ${Object.keys(values).join(", ")}`);
    return found[1];
  };
}
