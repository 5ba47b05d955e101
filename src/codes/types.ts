/** A GS1 date field (AI 11 production date, AI 17 expiry) as printed, and as a calendar date. */
export type Gs1Date = {
  /** Exactly as encoded: YYMMDD, DD may be "00". */
  yymmdd: string;
  /** YYYY-MM-DD; day "00" means the last day of that month (GS1 General Specifications 3.4). */
  iso: string;
};

/** A sales pack carrying a 20-digit NMPA drug traceability code. */
export type NmpaPack = {
  scheme: "nmpa";
  kind: "pack";
  key: string;
  /** The 7-digit NMPA drug identification code: the product registered on-chain. */
  productCode: string;
  nmpa: string;
};

/** A sales pack identified by GTIN + serial (an SGTIN); batch and dates are attributes, not identity. */
export type Gs1Pack = {
  scheme: "gs1";
  kind: "pack";
  key: string;
  /** The GTIN-14: the product registered on-chain. */
  productCode: string;
  gtin: string;
  serial: string;
  batch?: string;
  expiry?: Gs1Date;
  productionDate?: Gs1Date;
  /** AIs the code carries that the ledger does not read ((7003), (240), (714) NHRN, …), in order; absent if none. */
  ignoredAis?: string[];
};

/** A case or pallet identified by its SSCC; it belongs to no single product. */
export type LogisticUnit = {
  scheme: "gs1";
  kind: "logistic-unit";
  key: string;
  productCode: null;
  sscc: string;
  /** AIs the code carries that the ledger does not read, in order; absent if none. */
  ignoredAis?: string[];
};

export type TraceCode = NmpaPack | Gs1Pack | LogisticUnit;

/** The textual forms a code is scanned or printed in. */
export type CodeFormat = "nmpa" | "element-string" | "hri" | "digital-link";

export const CODE_FORMATS: readonly CodeFormat[] = ["nmpa", "element-string", "hri", "digital-link"];
