import { LedgerError } from "../ledger/errors";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AbiCoder, id as hashText, keccak256, ZeroHash } from "ethers";
import { Option, type Command } from "commander";
import type { SignedAttestation } from "../ledger";
import { CONTRACT_INTERFACES } from "../ledger";
import {
  AgreementKind,
  BATCH_IMPACTS,
  DEVIATION_CATEGORIES,
  DEVIATION_SEVERITIES,
  DeviationKind,
  PACK_STATES,
  PackState,
  PERSON_ROLES,
  PersonRole,
  releaseSigner,
  type ReleaseReviewDuties,
  RecallLevel,
  recoverAttester,
  ReleaseTester,
  Role,
  ROOT_CAUSES,
} from "../ledger";
import { codeTexts, importCodes, openTree, packId, packLeaf, parseCode, buildCodeTree, type CodeTree } from "../codes";
import {
  addressArg,
  batchArg,
  batchIdOf,
  countArg,
  enumArg,
  hashArg,
  idArg,
  organizationArg,
  productArg,
  quantityArg,
  regionArg,
  timeArg,
  expiryArg,
  type BatchRef,
  type ProductRef,
} from "./args";
import { buildProgress, type Act } from "./codes";
import { EXIT_OK, progressBar, type CliIo, type Progress } from "./io";
import { loadKey, COUNTERPARTY_KEY } from "./keys";
import { printRecord, toJson } from "./output";
import { attest, messageFor, printSent, sign, submit, withLedgerOptions, withSession, type LedgerOptions, type Session } from "./session";
import type { Submission } from "./transport";

const abi = AbiCoder.defaultAbiCoder();

/** Remembers a batch's number so messages can name it as people do. */
export function named(session: Session, batch: BatchRef): string {
  if (batch.label !== undefined) session.labels.batches.set(batch.id, batch.label);
  return batch.id;
}

/**
 * The organization id an onboarding established: from the transaction's receipt (straight to a node), or from
 * what the relay read back from the indexed event (through the API with wait); null when neither is at hand.
 */
function onboardedId(submission: Submission): number | null {
  for (const log of submission.logs) {
    const parsed = CONTRACT_INTERFACES.ConsortiumRegistry.parseLog(log) ?? null;
    if (parsed?.name === "OrganizationOnboarded") return Number(parsed.args.getValue("organizationId"));
  }
  return submission.established?.find((e) => e.event === "OrganizationOnboarded")?.organizationId ?? null;
}

// ---------- codes files ----------

/** The Merkle root (and product) of a codes file, hashed with a progress bar; the tree is kept only when asked. */
/** Validates and commits codes; with `expiresAt` (a batch's), codes printing an expiry (17) must expire then. */
async function commitCodes(io: CliIo, file: string, json: boolean, { treePath, expiresAt }: { treePath?: string; expiresAt?: number } = {}) {
  const scratch = treePath === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), "trace-codes-")) : undefined;
  try {
    return await importCodes(file, { treePath: treePath ?? path.join(scratch!, "codes.tree"), expiresAt, onProgress: buildProgress(io, json, 0) });
  } finally {
    if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

const UPLOAD_LINES = 10_000;

/** A codes file's codes as text/plain chunks, one code a line, reporting the share of the file read. */
async function* codeChunks(file: string, onRead: (bytes: number) => void): AsyncGenerator<string> {
  let lines: string[] = [];
  let read = 0;
  for (const { text } of codeTexts(file)) {
    lines.push(text);
    // Counts the codes' bytes: close to the file's for one code a line, an underestimate for CSV (the bar ends at 100%).
    read += Buffer.byteLength(text) + 1;
    if (lines.length === UPLOAD_LINES) {
      yield `${lines.join("\n")}\n`;
      onRead(read);
      lines = [];
    }
  }
  if (lines.length > 0) yield `${lines.join("\n")}\n`;
}

/**
 * Registers a batch's codes with the API (signed in as the batch's CMO or MAH); refused unless they hash to its root.
 * The file is streamed a chunk at a time as text/plain, so a batch of millions of codes never sits in memory.
 */
async function uploadCodes(session: Session, batchId: string, file: string): Promise<{ root: string; count: number }> {
  if (!session.api)
    throw new LedgerError("bad_input", "API_REQUIRED", "uploading codes needs --api URL: the codes live in the API's code book, not on chain");
  const { token } = await session.api.signIn(session.key);
  const size = fs.statSync(file).size;
  const bar: Progress = progressBar(session.io, "uploading codes", size, session.options.json);
  try {
    const registered = await session.api.request<{ root: string; count: number }>(
      "POST",
      `/v1/batches/${batchId}/codes`,
      { text: codeChunks(file, (read) => bar.update(Math.min(read, size))) },
      token,
    );
    bar.update(size);
    return registered;
  } finally {
    bar.stop();
  }
}

// ---------- commands ----------

// commander hands an action its options untyped; each command reads the ones it declared.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Options = LedgerOptions & Record<string, any>;

/** An attestation command: its ledger options, and an action run in a signing session. */
export function attestation(
  parent: Command,
  io: CliIo,
  act: Act,
  name: string,
  description: string,
  configure: (command: Command) => Command,
  work: (session: Session, ...args: Parameters<Parameters<Act>[0]>) => Promise<number>,
) {
  const command = configure(parent.command(name).description(description));
  withLedgerOptions(command).action(
    act(async (...args: Parameters<Parameters<Act>[0]>) => {
      const options = args.at(-2) as Options;
      return withSession(io, options, (session) => work(session, ...args));
    }),
  );
}

const RELEASE_SIGNER_ROLES = { qp: PersonRole.QualifiedPerson, organization: PersonRole.Organization };

/**
 * Who a market release states as its signer: the options if given, else the appointment of this key as the
 * product's quality authorized person read from the API (the MAH's own key, no person named, when it holds none).
 */
async function releaseSignerFor(session: Session, batchId: string, options: Options): Promise<{ signerName: string; signerRole: number }> {
  if (options.signerRole !== undefined || options.signerName !== undefined) {
    const signerRole = (options.signerRole as number | undefined) ?? (options.signerName ? PersonRole.QualifiedPerson : PersonRole.Organization);
    return { signerName: (options.signerName as string | undefined) ?? "", signerRole };
  }
  if (!session.api) return { signerName: "", signerRole: PersonRole.Organization };
  const { token } = await session.api.signIn(session.key);
  const review = await session.api.request<{ qualityDuties: ReleaseReviewDuties }>("GET", `/v1/batches/${batchId}/release-review`, undefined, token);
  return releaseSigner(review.qualityDuties, session.key.address);
}

const ROLE_NAMES = {
  mah: Role.Mah,
  cmo: Role.Cmo,
  distributor: Role.Distributor,
  dispenser: Role.Dispenser,
  regulator: Role.Regulator,
  laboratory: Role.Laboratory,
};
const KIND_NAMES = {
  quality: AgreementKind.Quality,
  storage: AgreementKind.Storage,
  transport: AgreementKind.Transport,
  sales: AgreementKind.Sales,
  testing: AgreementKind.Testing,
};
const TESTER_NAMES = { cmo: ReleaseTester.Cmo, mah: ReleaseTester.Mah, "contract-laboratory": ReleaseTester.ContractLaboratory };
const DEVIATION_NAMES = { deviation: DeviationKind.Deviation, oos: DeviationKind.OutOfSpecification, oot: DeviationKind.OutOfTrend };
const LEVEL_NAMES = { I: RecallLevel.I, II: RecallLevel.II, III: RecallLevel.III };
/** An enum's names as options take them (lowercase, hyphens), each with the number the contracts sign; NONE left out. */
const optionNames = (names: readonly string[]) =>
  Object.fromEntries(names.slice(1).map((name, i) => [name.toLowerCase().replaceAll("_", "-"), i + 1]));
const SEVERITY_NAMES = optionNames(DEVIATION_SEVERITIES.names);
const CATEGORY_NAMES = optionNames(DEVIATION_CATEGORIES.names);
const ROOT_CAUSE_NAMES = optionNames(ROOT_CAUSES.names);
const IMPACT_NAMES = optionNames(BATCH_IMPACTS.names);
const PACK_STATE_NAMES = {
  dispensed: PackState.Dispensed,
  destroyed: PackState.Destroyed,
  stolen: PackState.Stolen,
  sample: PackState.Sample,
  exported: PackState.Exported,
  locked: PackState.Locked,
};

/** A batch and the codes of some of its packs, with where their Merkle tree comes from. */
export function packsArguments(command: Command) {
  return batchArgument(command)
    .argument("<codes...>", "the packs' codes as scanned")
    .option("--tree <file>", "the batch's stored tree (from `codes import` or `batches record --tree`)")
    .option("--batch-codes <file>", "or the batch's whole codes file, to build its tree");
}

/** The pack ids of scanned codes, in the order of the multiproof that proves them part of the batch, and that proof. */
export async function provedPacks(texts: string[], options: Options) {
  const keys = texts.map((text) => parseCode(text).key);
  const { tree, close } = await batchTree(options);
  try {
    const multi = tree.multiProof(keys);
    const byLeaf = new Map(keys.map((key) => [packLeaf(key), key]));
    return { packs: multi.leaves.map((leaf) => packId(byLeaf.get(leaf)!)), proof: { proof: multi.proof, proofFlags: multi.proofFlags } };
  } finally {
    close();
  }
}

export const hashOption = (flags: string, what: string) => new Option(flags, `${what}: text, @FILE (its keccak-256) or a 0x hash`).argParser(hashArg);

function addOrganizationCommands(program: Command, io: CliIo, act: Act) {
  const organizations = program
    .command("organizations")
    .description("the consortium: onboard, suspend and reinstate organizations (regulators); add and revoke keys");
  attestation(
    organizations,
    io,
    act,
    "onboard",
    "a regulator admits an organization with its first signing key",
    (c) =>
      c
        .requiredOption("--name <name>", "the organization's name")
        .requiredOption("--role <role>", "mah, cmo, distributor, dispenser, regulator or laboratory", enumArg(ROLE_NAMES))
        .requiredOption("--region <code>", "province code, e.g. 320000 (Jiangsu)", regionArg)
        .addOption(hashOption("--licence <licence>", "its licence").makeOptionMandatory())
        .requiredOption("--key <address>", "the organization's first signing key", addressArg),
    async (session, options: Options) => {
      // The new id is known once the onboarding is indexed: through the API, wait for it.
      if (session.transport.kind === "api") session.options.wait = true;
      const sent = await attest(session, "ConsortiumRegistry", "Onboarding", {
        role: options.role,
        region: options.region,
        licenceHash: options.licence,
        signingKey: options.key,
        name: options.name,
      });
      printSent(session, sent, { onboardedOrganizationId: onboardedId(sent.submission) });
      return EXIT_OK;
    },
  );
  for (const [name, type, verb] of [
    ["suspend", "Suspension", "suspends"],
    ["reinstate", "Reinstatement", "reinstates"],
  ] as const) {
    attestation(
      organizations,
      io,
      act,
      name,
      `a regulator ${verb} an organization`,
      (c) => c.argument("<organization>", "organization id", organizationArg).addOption(hashOption("--reason <reason>", "why").makeOptionMandatory()),
      async (session, organizationId: number, options: Options) => {
        printSent(session, await attest(session, "ConsortiumRegistry", type, { organizationId, reasonHash: options.reason }), {
          subject: organizationId,
        });
        return EXIT_OK;
      },
    );
  }
  for (const [name, type, verb] of [
    ["add-key", "SigningKeyAddition", "adds"],
    ["revoke-key", "SigningKeyRevocation", "revokes"],
  ] as const) {
    attestation(
      organizations,
      io,
      act,
      name,
      `an organization ${verb} one of its signing keys (signed by a current key)`,
      (c) => c.argument("<address>", "the signing key's address", addressArg),
      async (session, signingKey: string) => {
        printSent(session, await attest(session, "ConsortiumRegistry", type, { signingKey }), { signingKey });
        return EXIT_OK;
      },
    );
  }
}

function addProductCommands(program: Command, io: CliIo, act: Act) {
  const products = program.command("products").description("an MAH's products");
  attestation(
    products,
    io,
    act,
    "register",
    "an MAH registers a product",
    (c) =>
      c
        .requiredOption("--code <code>", "7-digit NMPA drug identification code or GTIN-14")
        .requiredOption("--approval <number>", "the drug approval number (国药准字…)")
        .requiredOption("--name <name>", "the product's name"),
    async (session, options: Options) => {
      session.labels.products.set(hashText(options.code), options.code);
      const sent = await attest(session, "ProductRegistry", "ProductRegistration", {
        productCode: options.code,
        approvalNumber: options.approval,
        name: options.name,
      });
      printSent(session, sent, { productId: hashText(options.code) });
      return EXIT_OK;
    },
  );
}

/** An agreement signed by one party, for the other to countersign. */
type AgreementDraft = {
  kind: "trace-agreement-draft";
  chainId: number;
  verifyingContract: string;
  message: Record<string, unknown>;
  signature: string;
};

function agreementId(message: Record<string, unknown>): string {
  return keccak256(abi.encode(["uint32", "uint256"], [message.mahId, message.nonce]));
}

async function sendAgreement(
  session: Session,
  message: Record<string, unknown>,
  signature: string,
  counterpartySignature: string,
  counterparty: { address: string; organizationId: number },
) {
  const attestation: SignedAttestation = {
    contract: "ProductRegistry",
    type: "Agreement",
    message: message as SignedAttestation["message"],
    signature,
    counterpartySignature,
  };
  return submit(session, attestation, [counterparty]);
}

function addAgreementCommands(program: Command, io: CliIo, act: Act) {
  const agreements = program
    .command("agreements")
    .description("agreements between an MAH and a CMO or distributor, signed by both; regulators review quality agreements across provinces");
  for (const [name, type, description] of [
    ["opinion", "AgreementOpinion", "the CMO-province regulator gives its opinion on a cross-province quality agreement"],
    ["approve", "AgreementApproval", "the MAH-province regulator approves it after the opinion: the agreement takes effect"],
  ] as const) {
    attestation(
      agreements,
      io,
      act,
      name,
      description,
      (c) =>
        c
          .argument("<agreement>", "the agreement's 0x id", idArg)
          .addOption(
            hashOption("--document <document>", type === "AgreementOpinion" ? "the opinion" : "the approval decision").makeOptionMandatory(),
          ),
      async (session, agreementId: string, options: Options) => {
        printSent(session, await attest(session, "ProductRegistry", type, { agreementId, documentHash: options.document }), { agreementId });
        return EXIT_OK;
      },
    );
  }
  attestation(
    agreements,
    io,
    act,
    "sign",
    "the MAH signs an agreement; with the counterparty's key it is sent, with --sign-only it is written for the counterparty to countersign",
    (c) =>
      c
        .requiredOption("--kind <kind>", "quality, storage, transport, sales or testing (a contract laboratory)", enumArg(KIND_NAMES))
        .requiredOption("--counterparty <id>", "the CMO or distributor", organizationArg)
        .option("--product <product>", "product code or 0x id (storage, transport, sales: omit for all of the MAH's products)", productArg)
        .addOption(hashOption("--document <document>", "the signed agreement document").makeOptionMandatory())
        .option("--from <time>", "in force from (default now)", timeArg)
        .requiredOption("--until <time>", "in force until: a date (China time), ISO date-time or unix seconds", timeArg)
        .option("--release-tester <who>", "quality agreements: who performs release testing (cmo, mah, contract-laboratory)", enumArg(TESTER_NAMES))
        .option(
          "--counterparty-keystore <file>",
          `the counterparty's keystore (password ${COUNTERPARTY_KEY.passwordVariable}; or ${COUNTERPARTY_KEY.privateKeyVariable})`,
        )
        .option("--sign-only", "do not send: write the MAH-signed agreement for the counterparty's `trace agreements countersign`", false)
        .option("--out <file>", "with --sign-only: where to write the draft (default: standard output)"),
    async (session, options: Options) => {
      const quality = options.kind === AgreementKind.Quality;
      if (quality && options.product === undefined)
        throw new LedgerError("bad_input", "PRODUCT_REQUIRED", "a quality agreement is for one product: pass --product", "--product");
      if (quality && options.releaseTester === undefined)
        throw new LedgerError(
          "bad_input",
          "RELEASE_TESTER_REQUIRED",
          "a quality agreement says who performs release testing: pass --release-tester",
          "--release-tester",
        );
      const product = options.product as ProductRef | undefined;
      if (product?.code !== undefined) session.labels.products.set(product.id, product.code);
      const message = messageFor(session, "Agreement", {
        kind: options.kind,
        counterpartyId: options.counterparty,
        productId: product?.id ?? ZeroHash,
        documentHash: options.document,
        validFrom: options.from ?? Math.floor(Date.now() / 1000),
        validUntil: options.until,
        releaseTester: quality ? options.releaseTester : ReleaseTester.None,
      });
      const signature = await sign(session.key, session.deployment, "ProductRegistry", "Agreement", message);
      const id = agreementId(message);
      if (options.signOnly) {
        const draft: AgreementDraft = {
          kind: "trace-agreement-draft",
          chainId: session.deployment.chainId,
          verifyingContract: session.deployment.contracts.ProductRegistry,
          message,
          signature,
        };
        if (options.out === undefined) io.out(toJson(draft));
        else {
          fs.writeFileSync(options.out, toJson(draft));
          printRecord(io, options.json, {
            agreementId: id,
            draft: options.out,
            next: `the counterparty runs: trace agreements countersign ${options.out}`,
          });
        }
        return EXIT_OK;
      }
      const source = { ...COUNTERPARTY_KEY, keystore: options.counterpartyKeystore };
      if (source.keystore === undefined && io.env[source.privateKeyVariable] === undefined) {
        throw new LedgerError(
          "bad_input",
          "COUNTERPARTY_SIGNATURE_REQUIRED",
          `an agreement is signed by both parties: pass --counterparty-keystore FILE, set ${source.privateKeyVariable}, or --sign-only for the counterparty to countersign`,
        );
      }
      const counterpartyKey = await loadKey(io, source);
      const counterpartySignature = await sign(counterpartyKey, session.deployment, "ProductRegistry", "Agreement", message);
      const sent = await sendAgreement(session, message, signature, counterpartySignature, {
        address: counterpartyKey.address,
        organizationId: options.counterparty,
      });
      printSent(session, sent, { agreementId: id });
      return EXIT_OK;
    },
  );
  attestation(
    agreements,
    io,
    act,
    "countersign",
    "the counterparty countersigns an MAH's draft agreement and sends it",
    (c) => c.argument("<draft>", "the file `trace agreements sign --sign-only --out` wrote"),
    async (session, file: string) => {
      const draft = readDraft(file);
      if (
        draft.chainId !== session.deployment.chainId ||
        draft.verifyingContract.toLowerCase() !== session.deployment.contracts.ProductRegistry.toLowerCase()
      ) {
        throw new LedgerError(
          "bad_input",
          "DRAFT_OTHER_LEDGER",
          `${file} was signed for chain ${draft.chainId}, contract ${draft.verifyingContract}, not this deployment's ProductRegistry`,
        );
      }
      if (Number(draft.message.counterpartyId) !== session.organizationId) {
        throw new LedgerError(
          "not_allowed",
          "NOT_AGREEMENT_COUNTERPARTY",
          `${file} names organization ${draft.message.counterpartyId} as counterparty; this key signs for organization ${session.organizationId}`,
        );
      }
      const domain = { contract: "ProductRegistry" as const, chainId: BigInt(draft.chainId), verifyingContract: draft.verifyingContract };
      let mahSigner: string;
      try {
        mahSigner = recoverAttester({ domain, type: "Agreement", message: draft.message }, draft.signature);
      } catch {
        throw new LedgerError("bad_input", "DRAFT_MALFORMED", `${file}: the MAH's signature or the message is malformed`);
      }
      const counterpartySignature = await sign(session.key, session.deployment, "ProductRegistry", "Agreement", draft.message);
      // The session's key signs second here: the relay and the refusals expect the MAH's signer first.
      const attestation: SignedAttestation = {
        contract: "ProductRegistry",
        type: "Agreement",
        message: draft.message as SignedAttestation["message"],
        signature: draft.signature,
        counterpartySignature,
      };
      const submission = await session.transport.submit(
        {
          attestation,
          signers: [mahSigner.toLowerCase(), session.key.address.toLowerCase()],
          signerOrganizations: [Number(draft.message.mahId), session.organizationId],
          labels: session.labels,
        },
        { wait: session.options.wait },
      );
      printSent(session, { attestation, submission }, { agreementId: agreementId(draft.message), mahSigner });
      return EXIT_OK;
    },
  );
  attestation(
    agreements,
    io,
    act,
    "revoke",
    "either party revokes an agreement",
    (c) => c.argument("<agreement>", "the agreement's 0x id", idArg).addOption(hashOption("--reason <reason>", "why").makeOptionMandatory()),
    async (session, agreement: string, options: Options) => {
      printSent(session, await attest(session, "ProductRegistry", "AgreementRevocation", { agreementId: agreement, reasonHash: options.reason }), {
        agreementId: agreement,
      });
      return EXIT_OK;
    },
  );
}

function readDraft(file: string): AgreementDraft {
  let draft: Partial<AgreementDraft>;
  try {
    draft = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<AgreementDraft>;
  } catch (error) {
    throw new LedgerError("bad_input", "DRAFT_UNREADABLE", `cannot read the draft agreement ${file}: ${(error as Error).message}`);
  }
  if (
    draft.kind !== "trace-agreement-draft" ||
    typeof draft.message !== "object" ||
    typeof draft.signature !== "string" ||
    typeof draft.verifyingContract !== "string"
  ) {
    throw new LedgerError("bad_input", "DRAFT_MALFORMED", `${file} is not a draft agreement written by \`trace agreements sign --sign-only\``);
  }
  return draft as AgreementDraft;
}

function addBatchCommands(program: Command, io: CliIo, act: Act) {
  const batches = program.command("batches").description("batches: record (with their codes), register codes");
  attestation(
    batches,
    io,
    act,
    "record",
    "a CMO records a batch under its quality agreement, committing the Merkle root of its codes; with --api the codes are registered too",
    (c) =>
      c
        .requiredOption("--agreement <id>", "the quality agreement's 0x id", idArg)
        .requiredOption("--number <batch>", "the batch number (1 to 20 characters)")
        .requiredOption("--codes <file>", "the batch's codes, one a line (or CSV with a code column)")
        .option("--tree <file>", "keep the batch's stored tree here (for proofs and dispensing)")
        .option("--quantity <n>", "packs made (default: the number of codes)", quantityArg)
        .requiredOption("--manufactured <time>", "manufacturing date (China time), ISO date-time or unix seconds", timeArg)
        .requiredOption(
          "--expires <date>",
          "expiry: a date is valid to the end of that day, China time, as the packs' (17) means; or an ISO date-time or unix seconds",
          expiryArg,
        )
        .addOption(hashOption("--record <record>", "the batch record").makeOptionMandatory())
        .option("--no-upload", "with --api: do not register the codes with the API"),
    async (session, options: Options) => {
      const codes = await commitCodes(io, options.codes, options.json, { treePath: options.tree, expiresAt: options.expires });
      const batchId = named(session, { id: batchIdOf(hashText(codes.productCode), options.number).toLowerCase(), label: options.number });
      // The API registers codes only for a batch it has indexed.
      const uploading = session.api !== undefined && options.upload !== false;
      if (uploading) session.options.wait = true;
      const sent = await attest(session, "BatchLedger", "BatchRecord", {
        agreementId: options.agreement,
        batchNumber: options.number,
        quantity: options.quantity ?? BigInt(codes.leafCount),
        manufacturedAt: options.manufactured,
        expiresAt: options.expires,
        batchRecordHash: options.record,
        codesRoot: codes.root,
      });
      const registered = uploading ? await uploadCodes(session, batchId, options.codes) : undefined;
      printSent(session, sent, {
        batchId,
        product: codes.productCode,
        codesRoot: codes.root,
        codes: codes.leafCount,
        codesRegistered: registered?.count ?? 0,
        tree: options.tree,
      });
      return EXIT_OK;
    },
  );
  attestation(
    batches,
    io,
    act,
    "upload-codes",
    "register a recorded batch's codes with the API (as its CMO or MAH)",
    (c) => c.argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg).requiredOption("--codes <file>", "the batch's codes"),
    async (session, batch: BatchRef, options: Options) => {
      const registered = await uploadCodes(session, named(session, batch), options.codes);
      printRecord(io, options.json, { batchId: batch.id, root: registered.root, codesRegistered: registered.count });
      return EXIT_OK;
    },
  );
}

export const batchArgument = (c: Command) => c.argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg);

function addBatchStepCommands(program: Command, io: CliIo, act: Act) {
  const deviations = program.command("deviations").description("deviations, OOS and OOT results of a batch (its MAH or CMO)");
  attestation(
    deviations,
    io,
    act,
    "open",
    "report a deviation: the batch cannot be released until it is closed",
    (c) =>
      batchArgument(c)
        .requiredOption("--kind <kind>", "deviation, oos or oot", enumArg(DEVIATION_NAMES))
        .requiredOption("--severity <severity>", "minor, major or critical (a major or critical one only the MAH closes)", enumArg(SEVERITY_NAMES))
        .requiredOption("--category <category>", Object.keys(CATEGORY_NAMES).join(", "), enumArg(CATEGORY_NAMES))
        .addOption(hashOption("--report <report>", "the deviation report").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(
        session,
        await attest(session, "BatchLedger", "DeviationReport", {
          batchId: named(session, batch),
          kind: options.kind,
          severity: options.severity,
          category: options.category,
          reportHash: options.report,
        }),
        { batchId: batch.id, reportHash: options.report },
      );
      return EXIT_OK;
    },
  );
  attestation(
    deviations,
    io,
    act,
    "close",
    "close a deviation with its closure report",
    (c) =>
      batchArgument(c)
        .addOption(hashOption("--report <report>", "the deviation's report, as opened").makeOptionMandatory())
        .requiredOption("--root-cause <cause>", Object.keys(ROOT_CAUSE_NAMES).join(", "), enumArg(ROOT_CAUSE_NAMES))
        .requiredOption("--impact <impact>", `the impact on the batch: ${Object.keys(IMPACT_NAMES).join(", ")}`, enumArg(IMPACT_NAMES))
        .addOption(hashOption("--closure <closure>", "the closure report").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(
        session,
        await attest(session, "BatchLedger", "DeviationClosure", {
          batchId: named(session, batch),
          reportHash: options.report,
          rootCause: options.rootCause,
          batchImpact: options.impact,
          closureHash: options.closure,
        }),
        { batchId: batch.id },
      );
      return EXIT_OK;
    },
  );

  const capa = program
    .command("capa")
    .description("corrective and preventive actions for a batch's deviations (its MAH or CMO; the MAH checks effectiveness)");
  attestation(
    capa,
    io,
    act,
    "record",
    "record a CAPA for a deviation: its plan, owner (the batch's MAH or CMO) and due date",
    (c) =>
      batchArgument(c)
        .addOption(hashOption("--report <report>", "the deviation's report, as opened").makeOptionMandatory())
        .addOption(hashOption("--capa <capa>", "the CAPA plan").makeOptionMandatory())
        .requiredOption("--owner <id>", "the organization that carries it out (the batch's MAH or CMO)", organizationArg)
        .requiredOption("--due <time>", "when it must be done: a date (China time), ISO date-time or unix seconds", timeArg),
    async (session, batch: BatchRef, options: Options) => {
      printSent(
        session,
        await attest(session, "CorrectiveActions", "CapaRecord", {
          batchId: named(session, batch),
          reportHash: options.report,
          capaHash: options.capa,
          ownerId: options.owner,
          dueAt: options.due,
        }),
        { batchId: batch.id, capaHash: options.capa },
      );
      return EXIT_OK;
    },
  );
  attestation(
    capa,
    io,
    act,
    "check",
    "the MAH records whether a CAPA proved effective (once; an ineffective one needs a new CAPA)",
    (c) =>
      batchArgument(c)
        .addOption(hashOption("--capa <capa>", "the CAPA plan, as recorded").makeOptionMandatory())
        .addOption(new Option("--effective", "it worked").conflicts("ineffective"))
        .addOption(new Option("--ineffective", "it did not: the deviation needs a new CAPA"))
        .addOption(hashOption("--check <check>", "the effectiveness check's report").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      if (options.effective === undefined && options.ineffective === undefined) {
        throw new LedgerError("bad_input", "EFFECTIVENESS_REQUIRED", "say whether the CAPA worked: --effective or --ineffective", "--effective");
      }
      printSent(
        session,
        await attest(session, "CorrectiveActions", "EffectivenessCheck", {
          batchId: named(session, batch),
          capaHash: options.capa,
          effective: options.effective === true,
          checkHash: options.check,
        }),
        { batchId: batch.id, capaHash: options.capa },
      );
      return EXIT_OK;
    },
  );

  const release = program.command("release").description("factory release (the CMO's QA) then market release (the MAH's QA)");
  attestation(
    release,
    io,
    act,
    "factory",
    "the CMO releases a batch from the factory",
    (c) => batchArgument(c).addOption(hashOption("--certificate <certificate>", "the QA release certificate").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(
        session,
        await attest(session, "BatchLedger", "FactoryRelease", { batchId: named(session, batch), certificateHash: options.certificate }),
        { batchId: batch.id },
      );
      return EXIT_OK;
    },
  );
  attestation(
    release,
    io,
    act,
    "market",
    "the MAH releases a batch to the market",
    (c) =>
      batchArgument(c)
        .addOption(hashOption("--decision <decision>", "the release decision").makeOptionMandatory())
        .option("--signer-name <name>", "the signer's name as appointed quality authorized person (default: read from the API)")
        .option("--signer-role <role>", "qp, or organization for the MAH's own key (default: read from the API)", enumArg(RELEASE_SIGNER_ROLES)),
    async (session, batch: BatchRef, options: Options) => {
      const signer = await releaseSignerFor(session, named(session, batch), options);
      printSent(
        session,
        await attest(session, "BatchLedger", "MarketRelease", { batchId: named(session, batch), decisionHash: options.decision, ...signer }),
        { batchId: batch.id, signerName: signer.signerName, signerRole: PERSON_ROLES.nameOf(signer.signerRole) },
      );
      return EXIT_OK;
    },
  );
  attestation(
    release,
    io,
    act,
    "refuse",
    "the MAH refuses a batch market release: the batch is rejected, to be destroyed, and never released or shipped",
    (c) => batchArgument(c).addOption(hashOption("--reason <reason>", "the signed reasons for the refusal").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(session, await attest(session, "BatchLedger", "ReleaseRefusal", { batchId: named(session, batch), reasonHash: options.reason }), {
        batchId: batch.id,
      });
      return EXIT_OK;
    },
  );

  attestation(
    program,
    io,
    act,
    "ship",
    "the holder ships part of its holding to another organization",
    (c) =>
      batchArgument(c)
        .requiredOption("--to <id>", "the recipient organization", organizationArg)
        .requiredOption("--quantity <n>", "packs shipped", quantityArg)
        .option("--codes <file>", "the shipped packs' codes: commits their Merkle root"),
    async (session, batch: BatchRef, options: Options) => {
      const codesRoot = options.codes === undefined ? ZeroHash : (await commitCodes(io, options.codes, options.json)).root;
      const sent = await attest(session, "BatchLedger", "Shipment", {
        batchId: named(session, batch),
        recipientId: options.to,
        quantity: options.quantity,
        codesRoot,
      });
      const shipmentId = keccak256(abi.encode(["uint32", "uint256"], [session.organizationId, sent.attestation.message.nonce]));
      printSent(session, sent, {
        batchId: batch.id,
        shipmentId,
        recipientId: options.to,
        quantity: options.quantity,
        receiveWith: `trace receive ${shipmentId} --batch ${batch.id} --from ${session.organizationId} --shipped ${options.quantity}`,
      });
      return EXIT_OK;
    },
  );
  attestation(
    program,
    io,
    act,
    "receive",
    "the addressee receives a shipment (less than shipped records a shortfall); with --api the shipment's details are looked up",
    (c) =>
      c
        .argument("<shipment>", "the shipment's 0x id", idArg)
        .option("--batch <batch>", "0x batch id or PRODUCT/BATCHNUMBER (default with --api: the shipment's)", batchArg)
        .option("--from <id>", "the shipper (default with --api: the shipment's)", organizationArg)
        .option("--shipped <n>", "packs shipped (default with --api: the shipment's)", quantityArg)
        .option("--received <n>", "packs received (default: all)", countArg),
    async (session, shipmentId: string, options: Options) => {
      const shipment = await shipmentDetails(session, shipmentId, options);
      const batchId = named(session, shipment.batch);
      const received = (options.received as bigint | undefined) ?? shipment.shipped;
      const sent = await attest(session, "BatchLedger", "Receipt", {
        shipmentId,
        batchId,
        shipperId: shipment.from,
        shippedQuantity: shipment.shipped,
        receivedQuantity: received,
      });
      printSent(session, sent, { shipmentId, batchId, received });
      return EXIT_OK;
    },
  );
  attestation(
    program,
    io,
    act,
    "dispense",
    "a dispenser decommissions packs by their codes, proven against the batch's committed codes",
    (c) => packsArguments(c),
    async (session, batch: BatchRef, texts: string[], options: Options) => {
      const { packs, proof } = await provedPacks(texts, options);
      const sent = await attest(session, "BatchLedger", "Dispensing", { batchId: named(session, batch), packs }, proof);
      printSent(session, sent, { batchId: batch.id, packs: packs.length });
      return EXIT_OK;
    },
  );

  const packStates = program
    .command("packs")
    .description("pack states by code: destroyed, stolen, sample, exported, locked (suspect), dispensed; undo");
  attestation(
    packStates,
    io,
    act,
    "set",
    "set the state of packs by their codes: dispensed, destroyed, stolen, sample and exported leave your stock; locked stays in it, unsellable",
    (c) =>
      packsArguments(c)
        .requiredOption("--state <state>", Object.keys(PACK_STATE_NAMES).join(", "), enumArg(PACK_STATE_NAMES))
        .addOption(
          hashOption("--reason <reason>", "why (damaged, theft report, sampling plan, export declaration, complaint)").makeOptionMandatory(),
        ),
    async (session, batch: BatchRef, texts: string[], options: Options) => {
      const { packs, proof } = await provedPacks(texts, options);
      const sent = await attest(
        session,
        "BatchLedger",
        "PackStateChange",
        { batchId: named(session, batch), state: options.state, packs, reasonHash: options.reason },
        proof,
      );
      printSent(session, sent, { batchId: batch.id, packs: packs.length, state: PACK_STATES.names[Number(options.state)] });
      return EXIT_OK;
    },
  );
  attestation(
    packStates,
    io,
    act,
    "undo",
    "undo your own dispensing, sample or export within the ledger's undo window (returning the packs to your stock), or your lock",
    (c) => packsArguments(c).addOption(hashOption("--reason <reason>", "why").makeOptionMandatory()),
    async (session, batch: BatchRef, texts: string[], options: Options) => {
      const { packs, proof } = await provedPacks(texts, options);
      const sent = await attest(
        session,
        "BatchLedger",
        "PackStateChange",
        { batchId: named(session, batch), state: PackState.Active, packs, reasonHash: options.reason },
        proof,
      );
      printSent(session, sent, { batchId: batch.id, packs: packs.length, state: "ACTIVE" });
      return EXIT_OK;
    },
  );
  attestation(
    program,
    io,
    act,
    "destroy",
    "a holder records the destruction of part of its holding",
    (c) =>
      batchArgument(c)
        .requiredOption("--quantity <n>", "packs destroyed", quantityArg)
        .addOption(hashOption("--reason <reason>", "why (damaged, expired, recalled)").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(
        session,
        await attest(session, "BatchLedger", "Destruction", {
          batchId: named(session, batch),
          quantity: options.quantity,
          reasonHash: options.reason,
        }),
        { batchId: batch.id, quantity: options.quantity },
      );
      return EXIT_OK;
    },
  );

  const holds = program
    .command("holds")
    .description("holds: a batch quarantined short of a recall, placed by its MAH or a regulator, released by its MAH");
  attestation(
    holds,
    io,
    act,
    "place",
    "hold a batch: no market release, shipping or dispensing until its MAH releases it",
    (c) => batchArgument(c).addOption(hashOption("--reason <reason>", "why (the OOS, complaint or inspection finding)").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(session, await attest(session, "BatchLedger", "HoldPlacement", { batchId: named(session, batch), reasonHash: options.reason }), {
        batchId: batch.id,
      });
      return EXIT_OK;
    },
  );
  attestation(
    holds,
    io,
    act,
    "release",
    "the MAH releases its batch's hold once every deviation is closed",
    (c) => batchArgument(c).addOption(hashOption("--reason <reason>", "the decision to release").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(session, await attest(session, "BatchLedger", "HoldRelease", { batchId: named(session, batch), reasonHash: options.reason }), {
        batchId: batch.id,
      });
      return EXIT_OK;
    },
  );

  const recalls = program.command("recalls").description("recalls: started by the MAH or a regulator, acknowledged by holders, closed by the MAH");
  attestation(
    recalls,
    io,
    act,
    "start",
    "start a recall of a batch",
    (c) =>
      batchArgument(c)
        .requiredOption("--level <level>", "I (most severe), II or III", enumArg(LEVEL_NAMES))
        .addOption(hashOption("--reason <reason>", "why").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(
        session,
        await attest(session, "BatchLedger", "RecallStart", { batchId: named(session, batch), level: options.level, reasonHash: options.reason }),
        { batchId: batch.id },
      );
      return EXIT_OK;
    },
  );
  attestation(
    recalls,
    io,
    act,
    "acknowledge",
    "a holder acknowledges a recall, accounting for its whole holding: quarantined, already dispensed, destroyed and missing must add up to it",
    (c) =>
      batchArgument(c)
        .requiredOption("--quarantined <n>", "packs quarantined", countArg)
        .option("--dispensed <n>", "packs already dispensed (not recorded on the ledger)", countArg, 0n)
        .option("--destroyed <n>", "packs already destroyed (not recorded on the ledger)", countArg, 0n)
        .option("--missing <n>", "packs that cannot be found", countArg, 0n),
    async (session, batch: BatchRef, options: Options) => {
      const account = {
        quarantinedQuantity: options.quarantined,
        dispensedQuantity: options.dispensed,
        destroyedQuantity: options.destroyed,
        missingQuantity: options.missing,
      };
      printSent(session, await attest(session, "BatchLedger", "RecallAcknowledgement", { batchId: named(session, batch), ...account }), {
        batchId: batch.id,
        ...account,
      });
      return EXIT_OK;
    },
  );
  attestation(
    recalls,
    io,
    act,
    "close",
    "the MAH closes a reconciled recall",
    (c) => batchArgument(c).addOption(hashOption("--report <report>", "the recall's final report").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(session, await attest(session, "BatchLedger", "RecallClosure", { batchId: named(session, batch), reportHash: options.report }), {
        batchId: batch.id,
      });
      return EXIT_OK;
    },
  );
}

/** What GET /v1/shipments/:id answers that a receipt needs (src/api/shipments.ts). */
type ShipmentAnswer = { batch: { id: string; batchNumber: string }; shipper: { id: number }; quantity: number };

/** A receipt's batch, shipper and shipped quantity: as given, and what is missing from the API's record of the shipment. */
async function shipmentDetails(session: Session, shipmentId: string, options: Options): Promise<{ batch: BatchRef; from: number; shipped: bigint }> {
  if (options.batch !== undefined && options.from !== undefined && options.shipped !== undefined) {
    return { batch: options.batch as BatchRef, from: options.from as number, shipped: options.shipped as bigint };
  }
  if (!session.api) {
    throw new LedgerError(
      "bad_input",
      "SHIPMENT_DETAILS_REQUIRED",
      "without --api the shipment cannot be looked up: pass --batch, --from and --shipped (as `trace ship` printed them)",
    );
  }
  const { token } = await session.api.signIn(session.key);
  const shipment = await session.api.request<ShipmentAnswer>("GET", `/v1/shipments/${shipmentId}`, undefined, token);
  return {
    batch: (options.batch as BatchRef | undefined) ?? { id: shipment.batch.id, label: shipment.batch.batchNumber },
    from: (options.from as number | undefined) ?? shipment.shipper.id,
    shipped: (options.shipped as bigint | undefined) ?? BigInt(shipment.quantity),
  };
}

/** The batch's tree to prove packs against: a stored tree, or one built from the batch's codes file. */
async function batchTree(options: Options): Promise<{ tree: CodeTree; close(): void }> {
  if (options.tree !== undefined) {
    const tree = openTree(options.tree);
    return { tree, close: () => tree.close() };
  }
  if (options.batchCodes !== undefined) {
    const keys = [...codeTexts(options.batchCodes)].map(({ text }) => parseCode(text).key);
    return { tree: await buildCodeTree(keys), close: () => undefined };
  }
  throw new LedgerError(
    "bad_input",
    "TREE_REQUIRED",
    "dispensing proves the packs against the batch's codes: pass --tree FILE or --batch-codes FILE",
  );
}

/** Every attestation command. */
export function addLedgerCommands(program: Command, io: CliIo, act: Act): void {
  addOrganizationCommands(program, io, act);
  addProductCommands(program, io, act);
  addAgreementCommands(program, io, act);
  addBatchCommands(program, io, act);
  addBatchStepCommands(program, io, act);
}
