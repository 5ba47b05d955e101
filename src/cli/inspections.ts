import { AbiCoder, keccak256 } from "ethers";
import { InvalidArgumentError, type Command } from "commander";
import { InspectionGrade, InspectionScope } from "../ledger";
import { LedgerError } from "../ledger/errors";
import { chinaTime } from "../ledger/china-time";
import { batchArg, enumArg, expiryArg, idArg, organizationArg, timeArg, type BatchRef } from "./args";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { hasKey, loadKey, SIGNER_KEY } from "./keys";
import { attestation, hashOption } from "./ledger";
import { jsonOption, printRows, toJson } from "./output";
import { attest, printSent, type LedgerOptions, type Session } from "./session";
import { createApiClient } from "./transport";

/** Regulators' commands: licences, inspections and their recognition, sampling, and the risk ratings they read. */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Options = LedgerOptions & Record<string, any>;

const SCOPE_NAMES = {
  routine: InspectionScope.Routine,
  "for-cause": InspectionScope.ForCause,
  licensing: InspectionScope.Licensing,
  "gmp-compliance": InspectionScope.GmpCompliance,
  "follow-up": InspectionScope.FollowUp,
};
const GRADE_NAMES = {
  compliant: InspectionGrade.Compliant,
  "compliant-with-corrections": InspectionGrade.CompliantWithCorrections,
  "non-compliant": InspectionGrade.NonCompliant,
};

/** A count of findings: a whole number up to 65535 (uint16). */
function findingsArg(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value > 65_535) throw new InvalidArgumentError("expected a number of findings from 0 to 65535");
  return value;
}

/** The id the contract gives a regulator's record: keccak256(abi.encode(regulatorId, nonce)). */
function recordIdOf(session: Session, nonce: unknown): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [session.organizationId, nonce]));
}

function addLicenceCommands(program: Command, io: CliIo, act: Act) {
  const licences = program.command("licences").description("organizations' licences and their expiry (a regulator of the organization's province)");
  attestation(
    licences,
    io,
    act,
    "record",
    "record an organization's licence and the last day it is valid: once expired, its attestations are refused until renewed",
    (c) =>
      c
        .argument("<organization>", "organization id", organizationArg)
        .addOption(hashOption("--licence <licence>", "the licence").makeOptionMandatory())
        .requiredOption("--valid-until <date>", "valid to the end of this day, China time (or an ISO date-time, unix seconds)", expiryArg),
    async (session, organizationId: number, options: Options) => {
      const sent = await attest(session, "ConsortiumRegistry", "LicenceRecord", {
        organizationId,
        licenceHash: options.licence,
        validUntil: options.validUntil,
      });
      printSent(session, sent, { subject: organizationId, validUntil: chinaTime(options.validUntil) });
      return EXIT_OK;
    },
  );
}

function addInspectionCommands(program: Command, io: CliIo, act: Act) {
  const inspections = program.command("inspections").description("regulators' inspections, shared by every province and recognised across them");
  attestation(
    inspections,
    io,
    act,
    "record",
    "a regulator records an inspection: site, scope, findings by severity, grade and report",
    (c) =>
      c
        .requiredOption("--organization <id>", "the organization inspected", organizationArg)
        .requiredOption("--site <site>", "the site inspected (1 to 100 bytes)")
        .requiredOption("--scope <scope>", Object.keys(SCOPE_NAMES).join(", "), enumArg(SCOPE_NAMES))
        .requiredOption("--grade <grade>", Object.keys(GRADE_NAMES).join(", "), enumArg(GRADE_NAMES))
        .option("--critical <n>", "critical findings", findingsArg, 0)
        .option("--major <n>", "major findings", findingsArg, 0)
        .option("--minor <n>", "minor findings", findingsArg, 0)
        .requiredOption("--inspected <time>", "when it took place (a date is its start, China time)", timeArg)
        .addOption(hashOption("--report <report>", "the inspection report").makeOptionMandatory()),
    async (session, options: Options) => {
      const sent = await attest(session, "SupervisionRecords", "Inspection", {
        organizationId: options.organization,
        site: options.site,
        scope: options.scope,
        criticalFindings: options.critical,
        majorFindings: options.major,
        minorFindings: options.minor,
        grade: options.grade,
        inspectedAt: options.inspected,
        documentHash: options.report,
      });
      printSent(session, sent, { inspectionId: recordIdOf(session, sent.attestation.message.nonce) });
      return EXIT_OK;
    },
  );
  attestation(
    inspections,
    io,
    act,
    "recognise",
    "a regulator of another province recognises an inspection as its own (mutual recognition)",
    (c) => c.argument("<inspection>", "the inspection's 0x id", idArg),
    async (session, inspectionId: string) => {
      printSent(session, await attest(session, "SupervisionRecords", "InspectionRecognition", { inspectionId }), { inspectionId });
      return EXIT_OK;
    },
  );
  readCommand(inspections.command("list").description("inspections, newest first, with the provinces that recognise each"))
    .option("--organization <id>", "only this organization's", organizationArg)
    .action(
      act(async (options: ReadOptions & { organization?: number }) => {
        const query = options.organization === undefined ? "" : `?organizationId=${options.organization}`;
        const answer = await read<{ inspections: InspectionView[] }>(io, options, `/v1/inspections${query}`);
        if (options.json) io.out(toJson(answer));
        else
          printRows(
            io,
            ["inspection", "inspected (CST)", "organization", "by", "site", "scope", "findings C/M/m", "grade", "recognised by"],
            answer.inspections.map((i) => [
              i.id,
              chinaTime(i.inspectedAt).slice(0, 10),
              `${i.organization.id} ${i.organization.name}`,
              `${i.regulator.id} ${i.regulator.name}`,
              i.site,
              i.scope,
              `${i.findings.critical}/${i.findings.major}/${i.findings.minor}`,
              i.grade,
              i.recognisedBy.map((r) => r.province).join(", "),
            ]),
          );
        return EXIT_OK;
      }),
    );
}

function addSamplingCommands(program: Command, io: CliIo, act: Act) {
  const sampling = program.command("sampling").description("regulators' sampling tests of batches");
  attestation(
    sampling,
    io,
    act,
    "record",
    "a regulator records a sampling test of a batch taken at an organization, passed or failed",
    (c) =>
      c
        .argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg)
        .requiredOption("--at <organization>", "where the sample was taken", organizationArg)
        .requiredOption("--test <test>", "the test made (1 to 100 bytes)")
        .option("--passed", "the sample passed")
        .option("--failed", "the sample failed")
        .addOption(hashOption("--report <report>", "the test report").makeOptionMandatory()),
    async (session, batch: BatchRef, options: Options) => {
      if (options.passed === options.failed) {
        throw new LedgerError("bad_input", "SAMPLING_RESULT_REQUIRED", "say whether the sample --passed or --failed (one of them)", "--passed");
      }
      const sent = await attest(session, "SupervisionRecords", "SamplingResult", {
        batchId: batch.id,
        sampledAtId: options.at,
        test: options.test,
        passed: options.passed === true,
        reportHash: options.report,
      });
      printSent(session, sent, { samplingId: recordIdOf(session, sent.attestation.message.nonce), batchId: batch.id });
      return EXIT_OK;
    },
  );
}

type ReadOptions = { api?: string; keystore?: string; json: boolean };
type InspectionView = {
  id: string;
  inspectedAt: number;
  organization: { id: number; name: string };
  regulator: { id: number; name: string };
  site: string;
  scope: string;
  findings: { critical: number; major: number; minor: number };
  grade: string;
  recognisedBy: { province: number }[];
};
type Contribution = { source: string; points: number; detail: string };
type RatingView = {
  organizationId: number;
  name: string;
  rating: string;
  score: number;
  inspectionsPerYear: number;
  contributions: Contribution[];
};

const readCommand = (command: Command) =>
  command
    .option("--api <url>", "the ledger's API (env TRACE_API)")
    .option("--keystore <file>", "sign in with this key (env TRACE_KEYSTORE; or TRACE_PRIVATE_KEY)")
    .addOption(jsonOption());

/** A signed-in read of the API: regulators' records are read by organizations, not by strangers. */
async function read<T>(io: CliIo, options: ReadOptions, path: string): Promise<T> {
  const url = options.api ?? io.env.TRACE_API;
  if (url === undefined)
    throw new LedgerError("bad_input", "API_REQUIRED", "reads come from the ledger's API: pass --api URL (or set TRACE_API)", "--api");
  const api = createApiClient(url);
  const source = { ...SIGNER_KEY, keystore: options.keystore ?? io.env.TRACE_KEYSTORE };
  if (!hasKey(io, source))
    throw new LedgerError("bad_input", "KEY_REQUIRED", "sign in to read this: pass --keystore FILE (or set TRACE_PRIVATE_KEY)", "--keystore");
  const { token } = await api.signIn(await loadKey(io, source));
  return api.request<T>("GET", path, undefined, token);
}

function addRatingCommands(program: Command, io: CliIo, act: Act) {
  const ratings = program.command("ratings").description("risk ratings: each organization's score with what contributes to it");
  readCommand(
    ratings
      .command("show")
      .description("one organization's rating with its contributions (its own or, for regulators, any), or every organization's for regulators")
      .argument("[organization]", "organization id", organizationArg),
  ).action(
    act(async (organizationId: number | undefined, options: ReadOptions) => {
      const answer =
        organizationId === undefined
          ? await read<{ ratings: RatingView[] }>(io, options, "/v1/risk-ratings")
          : { ratings: [await read<RatingView>(io, options, `/v1/risk-ratings/${organizationId}`)] };
      if (options.json) io.out(toJson(organizationId === undefined ? answer : answer.ratings[0]));
      else
        printRows(
          io,
          ["organization", "rating", "score", "inspections a year", "contributions"],
          answer.ratings.map((r) => [
            `${r.organizationId} ${r.name}`,
            r.rating,
            r.score,
            r.inspectionsPerYear,
            r.contributions
              .filter((c) => c.points !== 0)
              .map((c) => `${c.source} ${c.points > 0 ? "+" : ""}${c.points} (${c.detail})`)
              .join("; "),
          ]),
        );
      return EXIT_OK;
    }),
  );
}

/** Every command for regulators' records: licences, inspections, sampling, ratings. */
export function addRegulatorRecordCommands(program: Command, io: CliIo, act: Act): void {
  addLicenceCommands(program, io, act);
  addInspectionCommands(program, io, act);
  addSamplingCommands(program, io, act);
  addRatingCommands(program, io, act);
}
