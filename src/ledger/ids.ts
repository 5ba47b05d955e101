import { AbiCoder, id as hashText, keccak256 } from "ethers";

/** What AlertCases attestations call an alert: keccak256 of the alert's key, the same on every API server. */
export const alertKeyHash = (alertKey: string): string => hashText(alertKey);

/**
 * The key AlertCases keeps an alert's case under (`caseKeyOf`): the alert's key hash and the organization it
 * concerns (0 when none), so a taker naming another subject opens a case no alert points at.
 */
export const alertCaseKey = (alertKey: string, subjectId: number | null): string =>
  keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint32"], [alertKeyHash(alertKey), subjectId ?? 0]));
