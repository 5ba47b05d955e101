import { CodeError } from "./errors";
import type { NmpaPack } from "./types";

export const NMPA_CODE_LENGTH = 20;
export const NMPA_PRODUCT_CODE_LENGTH = 7;

/**
 * A 20-digit NMPA drug traceability code: the first 7 digits are the drug identification code of the registered
 * product, the other 13 identify the pack. The public standard publishes no check algorithm, so none is invented:
 * length, digits and (through parse options) the product prefix are what can be validated. The canonical key is
 * the 20 digits themselves.
 */
export function parseNmpa(text: string, offset = 0): NmpaPack {
  if (text.length !== NMPA_CODE_LENGTH) {
    throw new CodeError("CODE_BAD_LENGTH", `an NMPA traceability code has ${NMPA_CODE_LENGTH} digits, got ${text.length}`, { field: "nmpa", position: offset + Math.min(text.length, NMPA_CODE_LENGTH) });
  }
  for (let i = 0; i < NMPA_CODE_LENGTH; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) {
      throw new CodeError("CODE_NOT_NUMERIC", `an NMPA traceability code is all digits; ${JSON.stringify(text[i])} at position ${offset + i}`, { field: "nmpa", position: offset + i });
    }
  }
  return { scheme: "nmpa", kind: "pack", key: text, productCode: text.slice(0, NMPA_PRODUCT_CODE_LENGTH), nmpa: text };
}

export function isNmpaProductCode(productCode: string): boolean {
  return /^[0-9]{7}$/.test(productCode);
}
