import { CodeError } from "./errors";
import type { NmpaPack } from "./types";

export const NMPA_CODE_LENGTH = 20;
export const NMPA_PRODUCT_CODE_LENGTH = 7;

/**
 * A 20-digit NMPA drug traceability code: the first 7 digits are the drug identification code of the registered
 * product, the other 13 identify the pack. The public standard publishes no check algorithm, so none is invented:
 * length, digits and (through parse options) the product prefix are what can be validated. So a mistyped code is
 * told apart only where its structure shows it (a digit missing or extra, a letter or space among the digits) and
 * the message then says to check the digits; a wrong digit reads as another, well-formed code. The canonical key
 * is the 20 digits themselves.
 */
export function parseNmpa(text: string, offset = 0): NmpaPack {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) {
      const hint = c === 32 || c === 45 ? "type the 20 digits without spaces or hyphens" : "check the digits";
      throw new CodeError(
        "CODE_NOT_NUMERIC",
        `an NMPA traceability code is 20 digits; ${JSON.stringify(text[i])} at position ${offset + i}: ${hint}`,
        { field: "nmpa", position: offset + i },
      );
    }
  }
  if (text.length !== NMPA_CODE_LENGTH) {
    const how = text.length < NMPA_CODE_LENGTH ? "missing" : "too many";
    throw new CodeError(
      "CODE_BAD_LENGTH",
      `an NMPA traceability code has ${NMPA_CODE_LENGTH} digits, this has ${text.length}: check the digits (${Math.abs(NMPA_CODE_LENGTH - text.length)} ${how})`,
      { field: "nmpa", position: offset + Math.min(text.length, NMPA_CODE_LENGTH) },
    );
  }
  return { scheme: "nmpa", kind: "pack", key: text, productCode: text.slice(0, NMPA_PRODUCT_CODE_LENGTH), nmpa: text };
}

export function isNmpaProductCode(productCode: string): boolean {
  return /^[0-9]{7}$/.test(productCode);
}
