import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Option, type Command } from "commander";
import { positiveIntegerArg } from "./args";
import {
  CODE_FORMATS,
  CodeError,
  createTreeWriter,
  formatCode,
  formatsOf,
  generatePacks,
  importCodes,
  isNmpaProductCode,
  openTree,
  packLeaf,
  parseCode,
  reserveSerials,
  verifyProof,
  type BuildProgress,
  type CodeFormat,
  type SerialScheme,
  type TraceCode,
} from "../codes";
import { EXIT_NO, EXIT_OK, printResult, progressBar, type CliIo } from "./io";

/** Every action returns its exit status; errors are reported by the program's handler. */
// commander hands an action its arguments and options untyped.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Act = (action: (...args: any[]) => Promise<number>) => (...args: any[]) => Promise<void>;

const TREE_MAGIC = "TRCTREE1";

function describeCode(code: TraceCode, domain: string | undefined): Record<string, unknown> {
  const printed = Object.fromEntries(formatsOf(code).map((format) => [format, formatCode(code, format, domain === undefined ? {} : { domain })]));
  const { key, scheme, kind, productCode, ...fields } = code;
  return { key, scheme, kind, productCode, leaf: packLeaf(key), ...fields, ...printed };
}

/** Progress bars for the phases of building a codes tree (only on a terminal). */
export function buildProgress(io: CliIo, json: boolean, expected: number): (progress: BuildProgress) => void {
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const labels = { "hash-leaves": "hashing codes", sort: "sorting     ", "hash-nodes": "hashing tree" };
  return ({ phase, done, total }) => {
    let bar = bars.get(phase);
    if (bar === undefined) {
      for (const other of bars.values()) other.stop();
      bar = progressBar(io, labels[phase], phase === "hash-leaves" ? expected : total, json);
      bars.set(phase, bar);
    }
    bar.update(done);
    if (done >= total && phase !== "hash-leaves") bar.stop();
  };
}

function schemeOf(productCode: string): SerialScheme {
  if (isNmpaProductCode(productCode)) return "nmpa";
  if (/^[0-9]{14}$/.test(productCode)) return "gs1";
  throw new CodeError(
    "CODE_BAD_LENGTH",
    `a product code is a 7-digit NMPA drug identification code or a GTIN-14, got ${JSON.stringify(productCode)}`,
    { field: "product" },
  );
}

function treePathFor(out: string): string {
  return out.replace(/\.[^./]*$/, "") + ".tree";
}

type GenerateOptions = {
  product: string;
  count: number;
  out: string;
  tree?: string;
  state?: string;
  print?: CodeFormat;
  batch?: string;
  expiry?: string;
  domain?: string;
  json: boolean;
};

async function generate(io: CliIo, options: GenerateOptions): Promise<number> {
  const scheme = schemeOf(options.product);
  const print = options.print ?? (scheme === "nmpa" ? "nmpa" : "hri");
  const statePath = options.state ?? path.join(".data", "serials", `${options.product}.json`);
  const treePath = options.tree ?? treePathFor(options.out);
  const reservation = { ...reserveSerials(statePath, scheme, options.product, options.count), batch: options.batch, expiry: options.expiry };
  const writer = await createTreeWriter(treePath, { expectedCount: options.count, onProgress: buildProgress(io, options.json, options.count) });
  const out = fs.openSync(options.out, "w");
  try {
    let lines: string[] = [];
    for (const pack of generatePacks(reservation)) {
      writer.add(pack.key);
      lines.push(formatCode(pack, print, options.domain === undefined ? {} : { domain: options.domain }));
      if (lines.length === 10_000) {
        fs.writeSync(out, `${lines.join("\n")}\n`);
        lines = [];
      }
    }
    if (lines.length > 0) fs.writeSync(out, `${lines.join("\n")}\n`);
  } catch (error) {
    writer.abort();
    throw error;
  } finally {
    fs.closeSync(out);
  }
  const summary = writer.finish();
  printResult(io, options.json, {
    root: summary.root,
    count: summary.leafCount,
    product: options.product,
    codes: options.out,
    tree: summary.path,
    firstSerialIndex: reservation.firstIndex,
    state: statePath,
  });
  return EXIT_OK;
}

type ImportCliOptions = { tree: string; product?: string; batch?: string; expiry?: string; json: boolean };

async function importFile(io: CliIo, file: string, options: ImportCliOptions): Promise<number> {
  const summary = await importCodes(file, {
    treePath: options.tree,
    productCode: options.product,
    batch: options.batch,
    expiry: options.expiry,
    onProgress: buildProgress(io, options.json, 0),
  });
  printResult(io, options.json, { root: summary.root, count: summary.leafCount, product: summary.productCode, tree: summary.path });
  return EXIT_OK;
}

function isTreeFile(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(TREE_MAGIC.length);
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.toString("latin1") === TREE_MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

/** The root of a stored tree (read from it) or of a codes file (validated and committed to a scratch tree). */
async function root(io: CliIo, file: string, options: { json: boolean }): Promise<number> {
  if (isTreeFile(file)) {
    const tree = openTree(file);
    printResult(io, options.json, { root: tree.root, count: tree.leafCount });
    tree.close();
    return EXIT_OK;
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "trace-root-"));
  try {
    const summary = await importCodes(file, { treePath: path.join(scratch, "codes.tree"), onProgress: buildProgress(io, options.json, 0) });
    printResult(io, options.json, { root: summary.root, count: summary.leafCount, product: summary.productCode });
    return EXIT_OK;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function prove(io: CliIo, text: string, options: { tree: string; json: boolean }): Promise<number> {
  const code = parseCode(text);
  const tree = openTree(options.tree);
  try {
    const proof = tree.proof(code.key);
    if (options.json) printResult(io, true, { key: code.key, leaf: packLeaf(code.key), root: tree.root, proof });
    else printResult(io, false, { key: code.key, leaf: packLeaf(code.key), root: tree.root, proof: proof.join(",") });
    return EXIT_OK;
  } finally {
    tree.close();
  }
}

const HASH = /^0x[0-9a-fA-F]{64}$/;

/** A proof as a JSON array, or comma-separated hashes (what `prove` prints); "" is the proof of a one-code batch. */
function parseProof(text: string): string[] {
  const trimmed = text.trim();
  const hashes = trimmed.startsWith("[") ? (JSON.parse(trimmed) as unknown[]) : trimmed === "" ? [] : trimmed.split(",").map((h) => h.trim());
  hashes.forEach((hash, i) => {
    if (typeof hash !== "string" || !HASH.test(hash))
      throw new CodeError("CODE_BAD_PROOF", `proof element ${i} is not a 32-byte hex hash`, { field: "proof", position: i });
  });
  return hashes as string[];
}

async function verify(io: CliIo, text: string, proofText: string, rootHash: string, options: { json: boolean }): Promise<number> {
  if (!HASH.test(rootHash)) throw new CodeError("CODE_BAD_PROOF", "the root is not a 32-byte hex hash", { field: "root" });
  const code = parseCode(text);
  const valid = verifyProof(rootHash, code.key, parseProof(proofText));
  if (options.json) printResult(io, true, { key: code.key, root: rootHash, valid });
  else
    io.out(valid ? `VALID: ${code.key} is in the batch with root ${rootHash}` : `NOT VALID: the proof does not tie ${code.key} to root ${rootHash}`);
  return valid ? EXIT_OK : EXIT_NO;
}

async function parse(io: CliIo, text: string, options: { product?: string; format?: CodeFormat; domain?: string; json: boolean }): Promise<number> {
  const code = parseCode(text, { productCode: options.product, format: options.format });
  printResult(io, options.json, describeCode(code, options.domain));
  return EXIT_OK;
}

export function addCodesCommands(program: Command, io: CliIo, act: Act): void {
  const codes = program.command("codes").description("traceability codes: parse, generate, import, commit (Merkle root) and prove");
  const json = () => new Option("--json", "machine-readable output").default(false);
  const formatOption = (flags: string, description: string) => new Option(flags, description).choices(CODE_FORMATS as string[]);

  codes
    .command("parse")
    .description("validate a scanned code and print its canonical key and every format")
    .argument("<code>")
    .option("--product <code>", "the product it must belong to (7-digit NMPA code or GTIN-14)")
    .addOption(formatOption("--format <format>", "skip format detection"))
    .option("--domain <url>", "resolver domain for the Digital Link form")
    .addOption(json())
    .action(act((text: string, options) => parse(io, text, options)));

  codes
    .command("generate")
    .description("mint unguessable serials for a batch, write the codes and the batch's stored tree")
    .requiredOption("--product <code>", "7-digit NMPA drug identification code or GTIN-14")
    .requiredOption("--count <n>", "how many packs", positiveIntegerArg)
    .requiredOption("--out <file>", "codes file, one per line")
    .option("--tree <file>", "stored tree (default: the codes file with .tree)")
    .option("--state <file>", "the product's serial state: secret key and next index (default .data/serials/<product>.json)")
    .addOption(formatOption("--print <format>", "format of the written codes (default nmpa or hri)"))
    .option("--batch <lot>", "GS1: batch number printed with each code")
    .option("--expiry <yymmdd>", "GS1: expiry date printed with each code")
    .option("--domain <url>", "resolver domain for --print digital-link")
    .addOption(json())
    .action(act((options) => generate(io, options)));

  codes
    .command("import")
    .description("validate a codes file (one per line, or CSV with a code column) and store its tree; all or nothing")
    .argument("<file>")
    .requiredOption("--tree <file>", "where to store the batch's tree")
    .option("--product <code>", "the batch's product (default: the first code's)")
    .option("--batch <lot>", "batch number that codes carrying (10) must show")
    .option("--expiry <yymmdd>", "expiry that codes carrying (17) must show")
    .addOption(json())
    .action(act((file: string, options) => importFile(io, file, options)));

  codes
    .command("root")
    .description("the Merkle root to commit on-chain, of a stored tree or of a codes file")
    .argument("<file>")
    .addOption(json())
    .action(act((file: string, options) => root(io, file, options)));

  codes
    .command("prove")
    .description("the Merkle proof that a code belongs to a stored batch")
    .argument("<code>")
    .requiredOption("--tree <file>", "the batch's stored tree")
    .addOption(json())
    .action(act((text: string, options) => prove(io, text, options)));

  codes
    .command("verify")
    .description("check a proof against a root, as the contract does; exit 1 when it does not hold")
    .argument("<code>")
    .argument("<proof>", "comma-separated hashes or a JSON array")
    .argument("<root>")
    .addOption(json())
    .action(act((text: string, proof: string, rootHash: string, options) => verify(io, text, proof, rootHash, options)));
}
