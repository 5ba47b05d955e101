import { InvalidArgumentError, type Command } from "commander";
import { LedgerError } from "../ledger/errors";
import { NoticeKind, PersonRole, RiskClass, RiskLevel } from "../ledger";
import { AbiCoder, keccak256 } from "ethers";
import { addressArg, enumArg, idArg, productArg, timeArg, type BatchRef, type ProductRef } from "./args";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { chinaDate } from "../ledger/china-time";
import { attestation, batchArgument, hashOption, type Options } from "./ledger";
import { attest, printSent } from "./session";
import { apiOf, tokenOf, type ReadOptions } from "./reads";
import { jsonOption, printRecord, toJson } from "./output";
import { batchArg } from "./args";

/**
 * The MAH's quality duties (contracts/QualityDuties.sol): risk classes, named responsible persons, sterile records,
 * contract laboratories' certificates and quarterly quality reviews. Reads are under `trace quality show`.
 */

const RISK_CLASS_NAMES = {
  biologic: RiskClass.Biologic,
  sterile: RiskClass.Sterile,
  "tcm-injection": RiskClass.TcmInjection,
  vaccine: RiskClass.Vaccine,
  other: RiskClass.Other,
};
const PERSON_ROLE_NAMES = {
  qp: PersonRole.QualifiedPerson,
  "quality-head": PersonRole.QualityHead,
  "production-head": PersonRole.ProductionHead,
  "pharmacovigilance-head": PersonRole.PharmacovigilanceHead,
};
const RISK_LEVEL_NAMES = { low: RiskLevel.Low, medium: RiskLevel.Medium, high: RiskLevel.High };
const RESULT_NAMES = { passed: 1, failed: 0 };
const NOTICE_KIND_NAMES = {
  "change-control": NoticeKind.ChangeControl,
  deviation: NoticeKind.Deviation,
  complaint: NoticeKind.Complaint,
  "audit-finding": NoticeKind.AuditFinding,
};
const CHANNEL_NAMES = { email: 1, phone: 2, portal: 3, meeting: 4 };

/** Agreed channels, comma-separated (email,portal), as the bitmask CommunicationTerms carries. */
export function channelsArg(text: string): number {
  let mask = 0;
  for (const name of text.split(",").map((part) => part.trim())) {
    const bit = CHANNEL_NAMES[name as keyof typeof CHANNEL_NAMES];
    if (bit === undefined) throw new InvalidArgumentError(`expected channels among ${Object.keys(CHANNEL_NAMES).join(", ")}, comma-separated`);
    mask |= 1 << bit;
  }
  return mask;
}

/** A response time in whole hours, at least 1. */
export function hoursArg(text: string): number {
  const hours = Number(text);
  if (!/^[0-9]+$/.test(text) || hours < 1 || hours * 3600 > 4_294_967_295) throw new InvalidArgumentError("expected whole hours, at least 1");
  return hours;
}

/** A calendar quarter written 2026Q3 (or 2026-Q3). */
export function quarterArg(text: string): { year: number; quarter: number } {
  const match = /^(\d{4})-?Q([1-4])$/i.exec(text.trim());
  if (!match || Number(match[1]) < 2000) throw new InvalidArgumentError("expected a quarter such as 2026Q3 (a year from 2000, quarter 1 to 4)");
  return { year: Number(match[1]), quarter: Number(match[2]) };
}

/** A count of retained sample units: a whole number from 1 to 4,294,967,295 (uint32). */
export function sampleCountArg(text: string): number {
  const count = Number(text);
  if (!/^[0-9]+$/.test(text) || count < 1 || count > 4_294_967_295) throw new InvalidArgumentError("expected a whole number of units, at least 1");
  return count;
}

/** Where retained samples are kept: non-empty text. */
export function locationArg(text: string): string {
  if (text.trim() === "") throw new InvalidArgumentError("expected where the samples are kept (a room, cabinet or shelf)");
  return text;
}

const productArgument = (c: Command) => c.argument("<product>", "product code or 0x product id", productArg);

export function addQualityCommands(program: Command, io: CliIo, act: Act): void {
  const quality = program
    .command("quality")
    .description("the MAH's quality duties: risk class, responsible persons, sterile records, laboratory certificates, quarterly reviews");
  attestation(
    quality,
    io,
    act,
    "classify",
    "the MAH records its product's risk class, once: sterile, tcm-injection and vaccine batches then need sterile records before factory release",
    (c) => productArgument(c).requiredOption("--class <class>", Object.keys(RISK_CLASS_NAMES).join(", "), enumArg(RISK_CLASS_NAMES)),
    async (session, product: ProductRef, options: Options) => {
      printSent(session, await attest(session, "QualityDuties", "RiskClassification", { productId: product.id, riskClass: options.class }), {
        productId: product.id,
      });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "appoint",
    "the MAH names a responsible person of a product by a signing key of its own (add it first with organizations add-key); a QP signs market release",
    (c) =>
      productArgument(c)
        .requiredOption("--person-key <address>", "the person's signing key, registered to the MAH", addressArg)
        .requiredOption("--role <role>", Object.keys(PERSON_ROLE_NAMES).join(", "), enumArg(PERSON_ROLE_NAMES))
        .requiredOption("--name <name>", "the person's name, as it goes on the record"),
    async (session, product: ProductRef, options: Options) => {
      if (String(options.name).trim() === "") throw new LedgerError("bad_input", "EMPTY_PERSON_NAME", "a responsible person must be named", "--name");
      const sent = await attest(session, "QualityDuties", "PersonAppointment", {
        productId: product.id,
        personKey: options.personKey,
        role: options.role,
        name: options.name,
      });
      printSent(session, sent, { productId: product.id, personKey: options.personKey });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "revoke-person",
    "the MAH revokes a responsible person's appointment",
    (c) =>
      productArgument(c)
        .requiredOption("--person-key <address>", "the person's signing key", addressArg)
        .addOption(hashOption("--reason <reason>", "why").makeOptionMandatory()),
    async (session, product: ProductRef, options: Options) => {
      const sent = await attest(session, "QualityDuties", "PersonRevocation", {
        productId: product.id,
        personKey: options.personKey,
        reasonHash: options.reason,
      });
      printSent(session, sent, { productId: product.id, personKey: options.personKey });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "sterile-records",
    "the CMO references a sterile batch's environmental-monitoring and cleaning records (needed before factory release)",
    (c) =>
      batchArgument(c)
        .addOption(hashOption("--environmental-monitoring <record>", "the environmental-monitoring record").makeOptionMandatory())
        .addOption(hashOption("--cleaning <record>", "the cleaning record").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      const sent = await attest(session, "QualityDuties", "SterileRecords", {
        batchId: batch.id,
        environmentalMonitoringHash: options.environmentalMonitoring,
        cleaningRecordHash: options.cleaning,
      });
      printSent(session, sent, { batchId: batch.id });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "certify",
    "a contract laboratory certifies a batch's release testing under its testing agreement (checked at factory release)",
    (c) =>
      batchArgument(c)
        .requiredOption("--agreement <id>", "the laboratory's testing agreement (0x id)", idArg)
        .addOption(hashOption("--certificate <certificate>", "the certificate of analysis").makeOptionMandatory())
        .requiredOption("--result <result>", "passed or failed", enumArg(RESULT_NAMES)),
    async (session, batch: BatchRef, options: Options) => {
      const sent = await attest(session, "QualityDuties", "TestCertificate", {
        agreementId: options.agreement,
        batchId: batch.id,
        certificateHash: options.certificate,
        passed: options.result === 1,
      });
      printSent(session, sent, { batchId: batch.id, passed: options.result === 1 });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "review",
    "the MAH files a product's quarterly quality review with its risk assessment",
    (c) =>
      productArgument(c)
        .requiredOption("--quarter <quarter>", "the quarter reviewed, e.g. 2026Q3", quarterArg)
        .requiredOption("--risk <level>", "low, medium or high", enumArg(RISK_LEVEL_NAMES))
        .addOption(hashOption("--review <review>", "the review report").makeOptionMandatory()),
    async (session, product: ProductRef, options: Options) => {
      const { year, quarter } = options.quarter as { year: number; quarter: number };
      const sent = await attest(session, "QualityDuties", "QualityReview", {
        productId: product.id,
        year,
        quarter,
        riskLevel: options.risk,
        reviewHash: options.review,
      });
      printSent(session, sent, { productId: product.id, quarter: `${year}Q${quarter}` });
      return EXIT_OK;
    },
  );

  // The MAH records the terms and the CMO countersigns the very same ones: one command shape for both.
  const termsCommand = (name: string, description: string, type: "CommunicationTerms" | "TermsCountersignature") =>
    attestation(
      quality,
      io,
      act,
      name,
      description,
      (c) =>
        c
          .argument("<agreement>", "the quality agreement (0x id)", idArg)
          .requiredOption("--channels <list>", "email, phone, portal, meeting, comma-separated", channelsArg)
          .requiredOption("--response-hours <hours>", "hours within which a notice is acknowledged", hoursArg)
          .addOption(hashOption("--clause <clause>", "the agreement's communication clause").makeOptionMandatory()),
      async (session, agreementId: string, options: Options) => {
        const sent = await attest(session, "QualityDuties", type, {
          agreementId,
          channels: options.channels,
          responseSeconds: options.responseHours * 3600,
          termsHash: options.clause,
        });
        printSent(session, sent, { agreementId });
        return EXIT_OK;
      },
    );
  termsCommand("terms", "the MAH records the channels and response time its quality agreement sets for the parties' notices", "CommunicationTerms");
  termsCommand(
    "countersign",
    "the CMO countersigns the communication terms its MAH recorded (the same channels, response time and clause): notices need both",
    "TermsCountersignature",
  );
  attestation(
    quality,
    io,
    act,
    "shortage",
    "a regulator or the product's MAH lists a product as a shortage drug (--delist to take it off the list)",
    (c) =>
      productArgument(c)
        .option("--delist", "take the product off the shortage list")
        .addOption(hashOption("--basis <basis>", "the listing's basis (the shortage list entry)").makeOptionMandatory()),
    async (session, product: ProductRef, options: Options) => {
      const listed = options.delist !== true;
      const sent = await attest(session, "QualityDuties", "ShortageListing", { productId: product.id, listed, basisHash: options.basis });
      printSent(session, sent, { productId: product.id, listed });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "stop-report",
    "the MAH reports the planned stop of a shortage-listed product's production, before the stop",
    (c) =>
      productArgument(c)
        .requiredOption("--stop <time>", "when production stops: a date (China time), ISO date-time or unix seconds", timeArg)
        .addOption(hashOption("--report <report>", "the stop-production report").makeOptionMandatory()),
    async (session, product: ProductRef, options: Options) => {
      const sent = await attest(session, "QualityDuties", "StopProductionReport", {
        productId: product.id,
        stopAt: options.stop,
        reportHash: options.report,
      });
      printSent(session, sent, { productId: product.id, stopAt: options.stop });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "samples",
    "the CMO records a batch's retained samples: how many, where, kept until (at least a year past expiry)",
    (c) =>
      batchArgument(c)
        .requiredOption("--quantity <units>", "retained units", sampleCountArg)
        .requiredOption("--location <where>", "where they are kept", locationArg)
        .requiredOption("--until <time>", "kept until: a date (China time), ISO date-time or unix seconds", timeArg),
    async (session, batch: BatchRef, options: Options) => {
      const sent = await attest(session, "QualityDuties", "RetainedSamples", {
        batchId: batch.id,
        quantity: options.quantity,
        retainUntil: options.until,
        location: options.location,
      });
      printSent(session, sent, { batchId: batch.id });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "approve-samples",
    "the MAH approves the retained samples its CMO recorded (a sterile-class batch is market-released only after)",
    (c) => batchArgument(c).addOption(hashOption("--approval <approval>", "the approval record").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      printSent(session, await attest(session, "QualityDuties", "RetainedSampleApproval", { batchId: batch.id, approvalHash: options.approval }), {
        batchId: batch.id,
      });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "notify",
    "a party of a quality agreement sends the other a notice over an agreed channel, to be acknowledged in the agreed time",
    (c) =>
      c
        .argument("<agreement>", "the quality agreement (0x id)", idArg)
        .requiredOption("--kind <kind>", Object.keys(NOTICE_KIND_NAMES).join(", "), enumArg(NOTICE_KIND_NAMES))
        .requiredOption("--channel <channel>", Object.keys(CHANNEL_NAMES).join(", "), enumArg(CHANNEL_NAMES))
        .addOption(hashOption("--notice <notice>", "the notice").makeOptionMandatory()),
    async (session, agreementId: string, options: Options) => {
      const sent = await attest(session, "QualityDuties", "QualityNotice", {
        agreementId,
        kind: options.kind,
        channel: options.channel,
        noticeHash: options.notice,
      });
      const noticeId = keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [session.organizationId, sent.attestation.message.nonce]));
      printSent(session, sent, { agreementId, noticeId });
      return EXIT_OK;
    },
  );
  attestation(
    quality,
    io,
    act,
    "acknowledge",
    "the addressee acknowledges a notice",
    (c) => c.argument("<notice>", "the notice (0x id)", idArg).addOption(hashOption("--response <response>", "the response").makeOptionMandatory()),
    async (session, noticeId: string, options: Options) => {
      printSent(session, await attest(session, "QualityDuties", "NoticeAcknowledgement", { noticeId, responseHash: options.response }), { noticeId });
      return EXIT_OK;
    },
  );
  const readOptions = (command: Command) =>
    command
      .option("--api <url>", "the ledger's API (env TRACE_API)")
      .option("--keystore <file>", "sign in with this key (env TRACE_KEYSTORE; or TRACE_PRIVATE_KEY)")
      .addOption(jsonOption());
  readOptions(
    quality
      .command("product")
      .description("a product's risk class, responsible persons and quarterly reviews (regulators, its MAH, its CMOs and laboratories)")
      .argument("<product>", "product code or 0x product id", productArg),
  ).action(act((product: ProductRef, options: ReadOptions) => showProduct(io, product, options)));
  readOptions(
    quality
      .command("batch")
      .description("a batch's sterile records, laboratory certificate and who signed its market release")
      .argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg),
  ).action(act((batch: BatchRef, options: ReadOptions) => showBatch(io, batch, options)));
}

type Person = { key: string; name: string; role: string; revoked: boolean };
type ProductQuality = {
  productName: string;
  riskClass: string | null;
  sterileRecordsRequired: boolean;
  responsiblePersons: Person[];
  qualityReviews: { year: number; quarter: number; riskLevel: string; filedAt: number }[];
};
type BatchQuality = {
  riskClass: string | null;
  sterileRecords: { referencedAt: number } | null;
  testCertificate: { laboratory: { name: string }; passed: boolean } | null;
  marketReleasedBy: { key: string; signerName: string; signerRole: string; person: Person | null } | null;
};

const describePerson = (p: Person) => `${p.name} (${p.role}${p.revoked ? ", revoked" : ""}) ${p.key}`;

async function showProduct(io: CliIo, product: ProductRef, options: ReadOptions): Promise<number> {
  const api = apiOf(io, options);
  const answer = await api.request<ProductQuality>("GET", `/v1/products/${product.id}/quality`, undefined, await tokenOf(io, api, options, true));
  if (options.json) io.out(toJson(answer));
  else {
    printRecord(io, false, {
      product: answer.productName,
      "risk class": answer.riskClass ?? "not classified",
      "sterile records": answer.sterileRecordsRequired ? "required before factory release" : "not required",
      "responsible persons": answer.responsiblePersons.map(describePerson).join("; ") || "none named",
      "quality reviews":
        answer.qualityReviews.map((r) => `${r.year}Q${r.quarter} ${r.riskLevel} (${chinaDate(r.filedAt)})`).join("; ") || "none filed",
    });
  }
  return EXIT_OK;
}

async function showBatch(io: CliIo, batch: BatchRef, options: ReadOptions): Promise<number> {
  const api = apiOf(io, options);
  const answer = await api.request<BatchQuality>("GET", `/v1/batches/${batch.id}/quality`, undefined, await tokenOf(io, api, options, true));
  if (options.json) io.out(toJson(answer));
  else {
    const released = answer.marketReleasedBy;
    printRecord(io, false, {
      batch: batch.label ?? batch.id,
      "risk class": answer.riskClass ?? "not classified",
      "sterile records": answer.sterileRecords ? `referenced ${chinaDate(answer.sterileRecords.referencedAt)}` : "none",
      "test certificate": answer.testCertificate
        ? `${answer.testCertificate.laboratory.name}: ${answer.testCertificate.passed ? "passed" : "FAILED"}`
        : "none",
      // as the release attestation states it: a QP by name and role, or the MAH's own key
      "market release signed by": released
        ? released.signerName
          ? `${released.signerName} (${released.signerRole}) ${released.key}`
          : `${released.key} (the MAH's own key, no person named)`
        : "not released",
    });
  }
  return EXIT_OK;
}
