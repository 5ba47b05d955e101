export * from "./errors";
export * from "./types";
export { parseCode, detectFormat, formatCode, formatsOf, MAX_CODE_LENGTH, type ParseOptions, type FormatOptions } from "./parse";
export { gs1CheckDigit, withCheckDigit, parseGs1Date, sgtinKey, ssccKey, GROUP_SEPARATOR } from "./gs1";
export { DEFAULT_DIGITAL_LINK_DOMAIN } from "./digital-link";
export { isNmpaProductCode, NMPA_CODE_LENGTH, NMPA_PRODUCT_CODE_LENGTH } from "./nmpa";
export { packId, packLeaf, nodeHash, createTreeHasher, type TreeHasher } from "./leaf";
export { buildCodeTree, verifyProof, verifyMultiProof, processProof, processMultiProof, type CodeTree, type MultiProof } from "./merkle";
export { createTreeWriter, writeTree, openTree, type StoredTree, type TreeSummary, type TreeWriter, type BuildProgress } from "./tree-file";
export {
  generatePacks,
  reserveSerials,
  serialCapacity,
  GUESS_ODDS,
  GS1_SERIAL_LENGTH,
  type SerialScheme,
  type SerialBatchOptions,
  type SerialState,
} from "./serials";
export { codeTexts, importCodes, type CodeFileLine, type ImportOptions, type ImportSummary } from "./import";
export { aggregate, aggregationTree, createHierarchy, type Aggregate, type AggregationTree, type Hierarchy } from "./aggregation";
