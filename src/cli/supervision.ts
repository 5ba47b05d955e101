import { id as hashText } from "ethers";
import { InvalidArgumentError, type Command } from "commander";
import { LedgerError } from "../ledger/errors";
import { CaseStatus, PackState, SuspectOutcome } from "../ledger";
import { chinaTime } from "../ledger/china-time";
import { batchArg, enumArg, idArg, quantityArg, type BatchRef } from "./args";
import type { Act } from "./codes";
import { EXIT_OK, type CliIo } from "./io";
import { attestation, batchArgument, named, provedPacks, type Options } from "./ledger";
import { jsonOption, printRecord, printRows, toJson } from "./output";
import { apiOf, tokenOf, type ReadOptions } from "./reads";
import { attest, printSent, type Session } from "./session";

/** What GET /v1/alerts/{id} answers (src/supervision/routes.ts). */
type AlertCase = {
  alertKey: string;
  caseKey: string;
  ownerId: number | null;
  status: string;
  dueAt: number;
  overdue: boolean;
  escalatedAt: number | null;
  reason: string | null;
  reasonHash: string | null;
};
type Alert = {
  id: number;
  rule: string;
  severity: string;
  status: string;
  organizationId: number | null;
  batchId: string | null;
  message: string;
  observedAt: number;
  case: AlertCase;
};
type AlertDetail = {
  alert: Omit<Alert, "case">;
  case: AlertCase;
  history: { revision: number; organizationId: number; organizationName: string | null; action: string; reason: string | null; at: number }[];
};
type SuspectReport = {
  id: string;
  batchId: string;
  batchNumber: string | null;
  filedBy: number;
  filedByName: string | null;
  reason: string | null;
  packs: string[];
  status: string;
  outcome: string;
  terminatedBy: number | null;
  terminationReason: string | null;
  filedAt: number;
  terminatedAt: number | null;
};

const time = (seconds: number | null) => (seconds === null ? "" : chinaTime(seconds).slice(0, 16).replace("T", " "));
const STATUS_NAMES = { "under-investigation": CaseStatus.UnderInvestigation, escalated: CaseStatus.Escalated };
const OUTCOME_NAMES = { cleared: SuspectOutcome.Cleared, illegitimate: SuspectOutcome.Illegitimate };

/** A reason in words: what is signed is its hash; the text is kept by the API under that hash for readers. */
function reasonArg(text: string): string {
  if (text.trim() === "") throw new InvalidArgumentError("a reason in words is required");
  if (text.length > 4_000) throw new InvalidArgumentError("a reason is at most 4000 characters");
  return text;
}

function requireApi(session: Session) {
  if (!session.api)
    throw new LedgerError("bad_input", "API_REQUIRED", "alert cases need --api URL (or TRACE_API): the alert and its key come from the API", "--api");
  return session.api;
}

/** Signs in, keeps the reason's text under its hash, and returns the hash to sign. */
async function keptReason(session: Session, text: string): Promise<string> {
  const api = requireApi(session);
  const { token } = await api.signIn(session.key);
  const kept = await api.request<{ hash: string }>("POST", "/v1/reasons", { text }, token);
  if (kept.hash !== hashText(text)) throw new LedgerError("internal", "REASON_HASH_MISMATCH", "the API kept the reason under another hash");
  return kept.hash;
}

async function alertOf(session: Session, alertId: number): Promise<AlertDetail> {
  const api = requireApi(session);
  const { token } = await api.signIn(session.key);
  return api.request<AlertDetail>("GET", `/v1/alerts/${alertId}`, undefined, token);
}

const alertIdArg = (text: string) => {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new InvalidArgumentError("expected an alert id (a whole number from 1)");
  return Number(text);
};

export const readOptions = (command: Command) =>
  command
    .option("--api <url>", "the ledger's API (env TRACE_API)")
    .option("--keystore <file>", "sign in with this key (env TRACE_KEYSTORE; or TRACE_PRIVATE_KEY)")
    .addOption(jsonOption());

async function listAlerts(io: CliIo, options: ReadOptions & { status?: string; rule?: string; organization?: number; limit?: number }) {
  const api = apiOf(io, options);
  const token = await tokenOf(io, api, options, true);
  const query = new URLSearchParams();
  if (options.status) query.set("status", options.status);
  if (options.rule) query.set("rule", options.rule);
  if (options.organization) query.set("organizationId", String(options.organization));
  if (options.limit) query.set("limit", String(options.limit));
  const { alerts } = await api.request<{ alerts: Alert[] }>("GET", `/v1/alerts?${query}`, undefined, token);
  if (options.json) io.out(toJson({ alerts }));
  else
    printRows(
      io,
      ["id", "rule", "severity", "alert", "organization", "case", "owner", "due (CST)", "message"],
      alerts.map((a) => [
        a.id,
        a.rule,
        a.severity,
        a.status,
        a.organizationId ?? "",
        a.case.status + (a.case.escalatedAt !== null && a.case.status !== "CLOSED" ? " (escalated: overdue)" : a.case.overdue ? " (overdue)" : ""),
        a.case.ownerId ?? "",
        time(a.case.dueAt),
        a.message,
      ]),
    );
  return EXIT_OK;
}

async function showAlert(io: CliIo, alertId: number, options: ReadOptions) {
  const api = apiOf(io, options);
  const token = await tokenOf(io, api, options, true);
  const detail = await api.request<AlertDetail>("GET", `/v1/alerts/${alertId}`, undefined, token);
  if (options.json) {
    io.out(toJson(detail));
    return EXIT_OK;
  }
  const { alert, case: c } = detail;
  printRecord(io, false, {
    alert: `${alert.id} ${alert.rule} (${alert.severity}, ${alert.status})`,
    organization: alert.organizationId ?? undefined,
    batch: alert.batchId ?? undefined,
    message: alert.message,
    case: c.status,
    owner: c.ownerId ?? "nobody yet",
    due: `${time(c.dueAt)}${c.overdue ? " (overdue)" : ""}`,
    escalated: c.escalatedAt === null ? undefined : `${time(c.escalatedAt)} by the alert engine`,
    reason: c.reason ?? c.reasonHash ?? undefined,
    "case key": c.caseKey,
  });
  printRows(
    io,
    ["time (CST)", "step", "organization", "reason"],
    detail.history.map((s) => [time(s.at), s.action, `${s.organizationId} ${s.organizationName ?? ""}`.trim(), s.reason ?? ""]),
  );
  return EXIT_OK;
}

async function listReports(io: CliIo, options: ReadOptions & { status?: string; batch?: BatchRef }) {
  const api = apiOf(io, options);
  const token = await tokenOf(io, api, options, true);
  const query = new URLSearchParams();
  if (options.status) query.set("status", options.status.toUpperCase());
  if (options.batch) query.set("batchId", options.batch.id);
  const { reports } = await api.request<{ reports: SuspectReport[] }>("GET", `/v1/suspect-reports?${query}`, undefined, token);
  if (options.json) io.out(toJson({ reports }));
  else
    printRows(
      io,
      ["report", "batch", "filed by", "filed (CST)", "packs", "status", "outcome", "reason"],
      reports.map((r) => [
        r.id,
        r.batchNumber ?? r.batchId,
        `${r.filedBy} ${r.filedByName ?? ""}`.trim(),
        time(r.filedAt),
        r.packs.length === 0 ? "whole batch" : r.packs.length,
        r.status,
        r.outcome,
        r.reason ?? "",
      ]),
    );
  return EXIT_OK;
}

/** Regulators' and organizations' alert cases: list, show, take, move on, close. */
function addAlertCommands(program: Command, io: CliIo, act: Act) {
  const alerts = program.command("alerts").description("early-warning alerts and their cases: list, show, take, status, close");
  readOptions(
    alerts
      .command("list")
      .description("alerts you may see (regulators: all), newest first, with their case's status, owner and due date")
      .option("--status <status>", "open, resolved or retracted")
      .option("--rule <rule>", "one rule, e.g. receipt_quantity_mismatch")
      .option("--organization <id>", "alerts about one organization", quantityArg)
      .option("--limit <n>", "at most this many (default 100, at most 500)", quantityArg),
  ).action(act((options) => listAlerts(io, options)));
  readOptions(
    alerts.command("show").description("one alert, its case and the case's signed history").argument("<id>", "alert id", alertIdArg),
  ).action(act((alertId: number, options: ReadOptions) => showAlert(io, alertId, options)));
  attestation(
    alerts,
    io,
    act,
    "take",
    "take an alert's case: a regulator, or the organization it concerns (a regulator may take over a case someone owns)",
    (c) => c.argument("<id>", "alert id", alertIdArg),
    async (session, alertId: number) => {
      const { alert, case: c } = await alertOf(session, alertId);
      if (alert.organizationId === null) throw new LedgerError("refused", "ALERT_WITHOUT_ORGANIZATION", `alert ${alertId} concerns no organization`);
      const sent = await attest(session, "AlertCases", "AlertTaking", { alertKey: c.alertKey, subjectId: alert.organizationId });
      printSent(session, sent, { alertId, caseKey: c.caseKey });
      return EXIT_OK;
    },
  );
  attestation(
    alerts,
    io,
    act,
    "status",
    "the case's owner moves it: under-investigation or escalated",
    (c) =>
      c
        .argument("<id>", "alert id", alertIdArg)
        .requiredOption("--to <status>", "under-investigation or escalated", enumArg(STATUS_NAMES))
        .option("--reason <text>", "why, in words (signed as its hash)", reasonArg),
    async (session, alertId: number, options: Options) => {
      const { case: c } = await alertOf(session, alertId);
      const reasonHash = options.reason === undefined ? `0x${"00".repeat(32)}` : await keptReason(session, options.reason);
      const sent = await attest(session, "AlertCases", "AlertStatusChange", { caseKey: c.caseKey, status: options.to, reasonHash });
      printSent(session, sent, {
        alertId,
        status: Object.keys(STATUS_NAMES).find((k) => STATUS_NAMES[k as keyof typeof STATUS_NAMES] === options.to),
      });
      return EXIT_OK;
    },
  );
  attestation(
    alerts,
    io,
    act,
    "close",
    "the case's owner closes it with a reason (an escalated case: a regulator); a closed case stops counting toward the rating",
    (c) => c.argument("<id>", "alert id", alertIdArg).requiredOption("--reason <text>", "why, in words (signed as its hash)", reasonArg),
    async (session, alertId: number, options: Options) => {
      const { case: c } = await alertOf(session, alertId);
      const reasonHash = await keptReason(session, options.reason);
      const sent = await attest(session, "AlertCases", "AlertStatusChange", { caseKey: c.caseKey, status: CaseStatus.Closed, reasonHash });
      printSent(session, sent, { alertId, status: "CLOSED", reason: options.reason });
      return EXIT_OK;
    },
  );
}

/** Suspect-product reports: file (locking the packs first), list, show, terminate. */
function addSuspectCommands(program: Command, io: CliIo, act: Act) {
  const suspect = program
    .command("suspect")
    .description("suspect-product reports (like the DSCSA illegitimate-product notification): file, list, show, terminate");
  attestation(
    suspect,
    io,
    act,
    "file",
    "a holder, the MAH or a regulator reports packs (locked first, in one step each) or, naming no codes, the whole batch",
    (c) =>
      batchArgument(c)
        .argument("[codes...]", "the suspect packs' codes as scanned (none: the whole batch)")
        .option("--tree <file>", "the batch's stored tree (from `codes import` or `batches record --tree`)")
        .option("--batch-codes <file>", "or the batch's whole codes file, to build its tree")
        .requiredOption("--reason <text>", "what makes the product suspect, in words (signed as its hash)", reasonArg),
    async (session, batch: BatchRef, texts: string[], options: Options) => {
      const batchId = named(session, batch);
      const reasonHash = session.api ? await keptReason(session, options.reason) : hashText(options.reason);
      let packs: string[] = [];
      // The report proves its packs against the batch's codes root too (a whole-batch report proves nothing).
      let proof = { proof: [] as string[], proofFlags: [] as boolean[] };
      if (texts.length > 0) {
        const proved = await provedPacks(texts, options);
        packs = proved.packs;
        proof = proved.proof;
        // The packs are locked first, and the lock mined before the report: it is refused unless they are.
        session.options.wait = true;
        const locked = await attest(
          session,
          "BatchLedger",
          "PackStateChange",
          { batchId, state: PackState.Locked, packs, reasonHash },
          { ...proved.proof },
        );
        if (!session.options.json) printSent(session, locked, { batchId, packs: packs.length, state: "LOCKED" });
      }
      const sent = await attest(session, "AlertCases", "SuspectReport", { batchId, packs, reasonHash }, { ...proof });
      printSent(session, sent, { batchId, packs: packs.length === 0 ? "whole batch" : packs.length, reason: options.reason });
      return EXIT_OK;
    },
  );
  readOptions(
    suspect
      .command("list")
      .description("suspect-product reports you may see (regulators: all)")
      .option("--status <status>", "open or terminated")
      .option("--batch <batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg),
  ).action(act((options) => listReports(io, options)));
  readOptions(suspect.command("show").description("one suspect-product report").argument("<report>", "0x report id", idArg)).action(
    act(async (reportId: string, options: ReadOptions) => {
      const api = apiOf(io, options);
      const token = await tokenOf(io, api, options, true);
      const report = await api.request<SuspectReport>("GET", `/v1/suspect-reports/${reportId}`, undefined, token);
      if (options.json) io.out(toJson(report));
      else
        printRecord(io, false, {
          report: report.id,
          batch: `${report.batchNumber ?? ""} (${report.batchId})`,
          "filed by": `${report.filedBy} ${report.filedByName ?? ""}`.trim(),
          filed: time(report.filedAt),
          packs: report.packs.length === 0 ? "whole batch" : report.packs.join(" "),
          reason: report.reason ?? undefined,
          status: report.status,
          outcome: report.outcome,
          "terminated by": report.terminatedBy ?? undefined,
          terminated: report.terminatedAt === null ? undefined : time(report.terminatedAt),
          "termination reason": report.terminationReason ?? undefined,
        });
      return EXIT_OK;
    }),
  );
  attestation(
    suspect,
    io,
    act,
    "terminate",
    "a regulator ends a report: cleared (the holder may then unlock its packs) or illegitimate",
    (c) =>
      c
        .argument("<report>", "0x report id", idArg)
        .requiredOption("--outcome <outcome>", "cleared or illegitimate", enumArg(OUTCOME_NAMES))
        .requiredOption("--reason <text>", "the investigation's conclusion, in words (signed as its hash)", reasonArg),
    async (session, reportId: string, options: Options) => {
      const reasonHash = session.api ? await keptReason(session, options.reason) : hashText(options.reason);
      const sent = await attest(session, "AlertCases", "SuspectTermination", { reportId, outcome: options.outcome, reasonHash });
      printSent(session, sent, { reportId, reason: options.reason });
      return EXIT_OK;
    },
  );
}

/** The regulators' and organizations' supervision commands. */
export function addSupervisionCommands(program: Command, io: CliIo, act: Act): void {
  addAlertCommands(program, io, act);
  addSuspectCommands(program, io, act);
}
