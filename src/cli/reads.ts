import { LedgerError } from "../ledger/errors";
import type { Command } from "commander";
import { chinaTime } from "../ledger/china-time";
import { describeExpiry } from "../ledger/expiry";
import { batchArg, type BatchRef } from "./args";
import type { Act } from "./codes";
import { EXIT_NO, EXIT_NOT_HERE, EXIT_OK, type CliIo } from "./io";
import { hasKey, loadKey, SIGNER_KEY } from "./keys";
import { jsonOption, printRecord, printRows, toJson } from "./output";
import { createApiClient, type ApiClient } from "./transport";

export type ReadOptions = { api?: string; keystore?: string; json: boolean };

export function apiOf(io: CliIo, options: ReadOptions): ApiClient {
  const url = options.api ?? io.env.TRACE_API;
  if (url === undefined)
    throw new LedgerError("bad_input", "API_REQUIRED", "reads come from the ledger's API: pass --api URL (or set TRACE_API)", "--api");
  return createApiClient(url);
}

/** A bearer token when a key is configured (scans then carry the custody path and proof); required for provenance. */
export async function tokenOf(io: CliIo, api: ApiClient, options: ReadOptions, required: boolean): Promise<string | undefined> {
  const source = { ...SIGNER_KEY, keystore: options.keystore ?? io.env.TRACE_KEYSTORE };
  if (!required && !hasKey(io, source)) return undefined;
  return (await api.signIn(await loadKey(io, source))).token;
}

type ScanAnswer = {
  verdict: string;
  reason: string;
  code: { format: string; canonicalKey: string; ignoredAis?: string[] };
  product: { code: string; name: string } | null;
  mah: { id: number; name: string } | null;
  batch: {
    id: string;
    batchNumber: string;
    expiresAt: number;
    state: string;
    recall: { status: string; level: string | null } | null;
    hold: string;
  } | null;
  custody?: unknown[];
  proof?: unknown;
};

/**
 * Scans a pack's code; exit 0 only for GENUINE, so a script stops on anything else: 5 for a product this ledger does
 * not hold (NOT_ON_LEDGER: verify elsewhere, not a counterfeit), 1 for every other verdict.
 */
async function scan(io: CliIo, code: string, options: ReadOptions): Promise<number> {
  const api = apiOf(io, options);
  const token = await tokenOf(io, api, options, false);
  const answer = await api.request<ScanAnswer>("POST", "/v1/scans", { code }, token);
  if (options.json) io.out(toJson(answer));
  else {
    printRecord(io, false, {
      verdict: answer.verdict,
      reason: answer.reason,
      code: answer.code.canonicalKey,
      "ignored AIs": answer.code.ignoredAis?.map((ai) => `(${ai})`).join(" "),
      product: answer.product ? `${answer.product.code} ${answer.product.name}` : undefined,
      mah: answer.mah ? `${answer.mah.id} ${answer.mah.name}` : undefined,
      batch: answer.batch ? `${answer.batch.batchNumber} (${answer.batch.id})` : undefined,
      state: answer.batch?.state,
      expires: answer.batch ? describeExpiry(answer.batch.expiresAt) : undefined,
      recall: answer.batch?.recall ? `${answer.batch.recall.status} level ${answer.batch.recall.level ?? ""}` : undefined,
      hold: answer.batch?.hold === "ON_HOLD" ? "on hold: awaiting the MAH's decision" : undefined,
      custody: answer.custody ? `${answer.custody.length} signed hand-overs (--json lists them)` : undefined,
    });
  }
  if (answer.verdict === "GENUINE") return EXIT_OK;
  return answer.verdict === "NOT_ON_LEDGER" ? EXIT_NOT_HERE : EXIT_NO;
}

type Entry = {
  at: number;
  blockNumber: number;
  event: string;
  organization: { id: number; name: string } | null;
  signer: string | null;
  verification: string;
  problem: string | null;
  details: Record<string, unknown>;
};
type Provenance = {
  batch: {
    id: string;
    batchNumber: string;
    product: { code: string; name: string };
    mah: { name: string };
    cmo: { name: string };
    state: string;
    quantity: number;
    recall: unknown;
    accounts: Record<string, number>;
  };
  entries: Entry[];
};

/** The whole provenance, page after page as the API serves it. */
async function wholeProvenance(api: ApiClient, batchId: string, token: string | undefined): Promise<Provenance> {
  const path = `/v1/batches/${batchId}/provenance`;
  let page = await api.request<Provenance & { nextCursor: string | null }>("GET", path, undefined, token);
  const entries = [...page.entries];
  while (page.nextCursor !== null) {
    page = await api.request("GET", `${path}?cursor=${encodeURIComponent(page.nextCursor)}`, undefined, token);
    entries.push(...page.entries);
  }
  return { batch: page.batch, entries };
}

/** The details worth a column: ids and hashes are in --json. */
function summary(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([, value]) => typeof value === "number" || (typeof value === "string" && !/^0x[0-9a-fA-F]{40,}$/.test(value)))
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
}

/** A batch's whole signed history (regulators, the batch's MAH and CMO). */
async function provenance(io: CliIo, batch: BatchRef, options: ReadOptions): Promise<number> {
  const api = apiOf(io, options);
  const token = await tokenOf(io, api, options, true);
  const answer = await wholeProvenance(api, batch.id, token);
  if (options.json) {
    io.out(toJson(answer));
    return EXIT_OK;
  }
  const b = answer.batch;
  printRecord(io, false, {
    batch: `${b.batchNumber} (${b.id})`,
    product: `${b.product.code} ${b.product.name}`,
    mah: b.mah.name,
    cmo: b.cmo.name,
    state: b.state,
    recall: b.recall ?? "none",
    quantity: b.quantity,
    accounts: b.accounts,
  });
  printRows(
    io,
    ["time (CST)", "block", "event", "organization", "signature", "details"],
    answer.entries.map((e) => [
      chinaTime(e.at).slice(0, 19).replace("T", " "),
      e.blockNumber,
      e.event,
      e.organization ? `${e.organization.id} ${e.organization.name}` : "",
      e.problem ? `${e.verification}; ${e.problem}` : e.verification,
      summary(e.details),
    ]),
  );
  return EXIT_OK;
}

export function addReadCommands(program: Command, io: CliIo, act: Act): void {
  const readOptions = (command: Command) =>
    command
      .option("--api <url>", "the ledger's API (env TRACE_API)")
      .option("--keystore <file>", "sign in with this key (env TRACE_KEYSTORE; or TRACE_PRIVATE_KEY)")
      .addOption(jsonOption());
  readOptions(
    program
      .command("scan")
      .description(
        "the verdict on a pack's code: genuine, unknown, not on this ledger, recalled, on hold, expired, dispensed…; exit 0 only if GENUINE, 5 if NOT_ON_LEDGER, else 1",
      )
      .argument("<code>", "the code as scanned"),
  ).action(act((code: string, options: ReadOptions) => scan(io, code, options)));
  readOptions(
    program
      .command("provenance")
      .description("a batch's whole signed history, from its agreements to its recall")
      .argument("<batch>", "0x batch id or PRODUCT/BATCHNUMBER", batchArg),
  ).action(act((batch: BatchRef, options: ReadOptions) => provenance(io, batch, options)));
}
